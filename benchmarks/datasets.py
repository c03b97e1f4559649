"""How fast are the phantoms and the folder scan, and how much does a per-image split leak?

Figures, each beside a baseline measured in the same run:

* phantom rendering (images/s, 224 px) against allocating and adding noise to the same
  number of blank images with NumPy (the floor for any per-pixel generator);
* ``make_phantoms`` to disk against ``cv2.imwrite`` of the same number of blank JPEGs;
* ``scan`` (files/s) against a bare ``os.walk`` of the same tree, and ``scan(validate=True)``
  against reading every file's bytes;
* ``patient_split`` time, and the patient leakage of a per-image random split
  (``random_split_leakage``) against the leakage of ``patient_split`` (zero);
* how well one threshold on mean intensity separates the phantom classes (chance: 0.5).

    python benchmarks/datasets.py                        # phantoms only
    python benchmarks/datasets.py --data ../shared/data/chest_xray
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from cxrkeras.datasets import scan
from cxrkeras.phantoms import make_phantoms, phantom_arrays
from cxrkeras.splits import leakage, patient_split, random_split_leakage


def _timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def bench_phantoms(num_images: int, image_size: int) -> None:
    (images, labels, _), seconds = _timed(phantom_arrays, num_images, image_size=image_size)

    def blank():
        rng = np.random.default_rng(0)
        return [
            np.clip(np.full((image_size, image_size), 0.5, np.float32)
                    + rng.normal(0, 0.02, (image_size, image_size)), 0, 1)
            for _ in range(num_images)
        ]  # fmt: skip

    _, base = _timed(blank)
    print(f"phantom_arrays  {num_images / seconds:8.0f} img/s at {image_size} px "
          f"(blank+noise baseline {num_images / base:8.0f} img/s, ratio {seconds / base:5.1f}x)")  # fmt: skip
    means = images.mean(axis=(1, 2, 3))
    best = max(max(((means > t) == labels).mean(), ((means <= t) == labels).mean())
               for t in np.unique(means))  # fmt: skip
    print(f"mean-intensity threshold accuracy {best:.3f} (chance 0.5)")
    with tempfile.TemporaryDirectory() as tmp:
        table, seconds = _timed(make_phantoms, tmp, num_images=num_images, image_size=image_size)
        blank_dir = Path(tmp) / "blank"
        blank_dir.mkdir()
        zero = np.zeros((image_size, image_size), np.uint8)

        def write_blank():
            for i in range(num_images):
                cv2.imwrite(str(blank_dir / f"{i}.jpeg"), zero, [cv2.IMWRITE_JPEG_QUALITY, 95])

        _, base = _timed(write_blank)
        print(f"make_phantoms   {len(table) / seconds:8.0f} img/s to disk "
              f"(blank JPEG writes {num_images / base:8.0f} img/s, ratio {seconds / base:5.1f}x)")  # fmt: skip


def bench_scan(root: Path) -> None:
    def walk():
        return sum(len(files) for _, _, files in os.walk(root))

    count, base = _timed(walk)
    table, seconds = _timed(scan, root)
    print(f"scan            {len(table) / seconds:8.0f} files/s for {len(table)} images "
          f"(os.walk {count / base:8.0f} files/s, ratio {seconds / base:5.1f}x)")  # fmt: skip
    _, base = _timed(lambda: [Path(p).read_bytes() for p in table["path"]])
    _, seconds = _timed(scan, root, validate=True, verbose=False)
    print(f"scan(validate)  {len(table) / seconds:8.0f} files/s "
          f"(read bytes {len(table) / base:8.0f} files/s, ratio {seconds / base:5.1f}x)")  # fmt: skip
    split, seconds = _timed(patient_split, table, val_fraction=0.1, test_fraction=0.15)
    whole = (table["label"] == "PNEUMONIA").mean()
    ratios = split.groupby("split")["label"].apply(lambda s: (s == "PNEUMONIA").mean())
    print(
        f"patient_split   {seconds * 1000:8.0f} ms; PNEUMONIA share whole {whole:.3f}, "
        + ", ".join(f"{k} {v:.3f}" for k, v in ratios.items())
    )
    shared = leakage(split[split["split"] == "train"], split[split["split"] == "test"])
    stats = random_split_leakage(table, test_fraction=0.15)
    print(
        f"leakage: per-image split {stats['leaked_patients']} patients, "
        f"{stats['leaked_image_fraction']:.1%} of test images; patient_split {len(shared)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a Kermany tree to scan")
    parser.add_argument("--num-images", type=int, default=500)
    parser.add_argument("--image-size", type=int, default=224)
    args = parser.parse_args()
    bench_phantoms(args.num_images, args.image_size)
    if args.data:
        bench_scan(args.data)


if __name__ == "__main__":
    main()
