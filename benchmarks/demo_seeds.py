"""Run ``cxrkeras demo`` for several seeds and print its figures, with mean and sd.

Each seed runs :func:`cxrkeras.demo.demo` with its defaults (or the settings given)
into a temporary folder, which is deleted afterwards. Printed per seed: wall-clock
seconds of the whole demo, epochs run, held-out accuracy, ROC AUC, sensitivity and
specificity, and the Grad-CAM and occlusion localisation scores on the lesion masks
(pointing game, energy in mask) beside their chance level (the lesions' share of the
image area, the same for both scores). Then the mean and standard deviation over seeds.
Nothing is asserted: the seconds depend on the machine and on what else runs on it.

    python benchmarks/demo_seeds.py                       # seeds 0, 1, 2, demo defaults
    python benchmarks/demo_seeds.py --seeds 0 --num-images 800 --epochs 15
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from cxrkeras.demo import demo  # noqa: E402

COLUMNS = (
    ("seed", "{:>4d}"),
    ("seconds", "{:>7.1f}"),
    ("epochs", "{:>6d}"),
    ("accuracy", "{:>8.3f}"),
    ("roc_auc", "{:>7.3f}"),
    ("sensitivity", "{:>11.3f}"),
    ("specificity", "{:>11.3f}"),
    ("gradcam_pg", "{:>10.3f}"),
    ("gradcam_energy", "{:>14.3f}"),
    ("occlusion_pg", "{:>12.3f}"),
    ("occlusion_energy", "{:>16.3f}"),
    ("chance", "{:>6.3f}"),
)


def _row(seed: int, metrics: dict) -> dict:
    test, loc = metrics["test"], metrics["localization"]
    nan = {"pointing_game": np.nan, "energy_inside": np.nan, "chance": np.nan}
    gradcam, occ = loc.get("gradcam", nan), loc.get("occlusion", nan)
    return {
        "seed": seed,
        "seconds": metrics["seconds"],
        "epochs": metrics["training"]["epochs_run"],
        "accuracy": test["accuracy"],
        "roc_auc": test["roc_auc"],
        "sensitivity": test["sensitivity"],
        "specificity": test["specificity"],
        "gradcam_pg": gradcam["pointing_game"],
        "gradcam_energy": gradcam["energy_inside"],
        "occlusion_pg": occ["pointing_game"],
        "occlusion_energy": occ["energy_inside"],
        "chance": gradcam["chance"],  # same images for both methods: the same chance
    }


def _print_table(rows: list[dict]) -> None:
    print("  ".join(name.rjust(len(fmt.format(0))) for name, fmt in COLUMNS))
    for row in rows:
        print("  ".join(fmt.format(row[name]) for name, fmt in COLUMNS))
    if len(rows) < 2:
        return
    for label, fn in (("mean", np.mean), ("sd", lambda v: np.std(v, ddof=1))):
        cells = [label.rjust(4)]
        for name, fmt in COLUMNS[1:]:
            value = float(fn([row[name] for row in rows]))
            width = len(fmt.format(0))
            cells.append(f"{value:>{width}.3f}" if name != "seconds" else f"{value:>{width}.1f}")
        print("  ".join(cells))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--num-images", type=int, help="default: demo()'s")
    parser.add_argument("--image-size", type=int, help="default: demo()'s")
    parser.add_argument("--epochs", type=int, help="default: demo()'s")
    parser.add_argument("--json", help="also write every seed's metrics.json to this file")
    args = parser.parse_args(argv)
    settings = {
        k: v
        for k, v in {
            "num_images": args.num_images,
            "image_size": args.image_size,
            "epochs": args.epochs,
        }.items()
        if v is not None
    }
    rows, everything = [], {}
    root = Path(tempfile.mkdtemp(prefix="cxrkeras_demo_seeds_"))
    try:
        for seed in args.seeds:
            metrics = demo(root / f"seed{seed}", seed=seed, verbose=False, **settings)
            everything[seed] = metrics
            rows.append(_row(seed, metrics))
            print(json.dumps({k: round(v, 3) for k, v in rows[-1].items()}), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    shown = everything[args.seeds[0]]["settings"]
    print(f"\ndemo settings: {json.dumps(shown)}")
    print("pg = pointing game, energy = share of the map's positive heat inside the lesion;")
    print("chance = lesions' share of the image area (a random map's pointing game and energy)\n")
    _print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=2))


if __name__ == "__main__":
    main()
