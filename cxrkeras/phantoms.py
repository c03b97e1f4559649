"""Synthetic chest X-ray phantoms with known lesion masks, in memory or as a Kermany tree.

Each phantom has a body outline, two lung fields, ribs, a spine and a heart shadow, with
per-image exposure, contrast, noise and small pose jitter. Pneumonia adds opacities
inside the lungs: *bacterial* is a dense focal (lobar) consolidation in one lung,
*viral* a diffuse bilateral interstitial haze. The lesion mask of every pneumonia image
is known, so explanations (Grad-CAM, occlusion) can be scored against it.

Exposure varies more between images than a lesion changes mean brightness, so a single
threshold on mean intensity does not separate the classes; a small CNN does.

Class balance: ``classes="binary"`` is 50% NORMAL / 50% PNEUMONIA (pneumonia half
bacterial, half viral), ``"three_class"`` one third each; pass a mapping such as
:data:`KERMANY_BALANCE` (26% normal, 48% bacteria, 26% virus, as in Kermany's train
split) for realistic imbalance.
"""

from __future__ import annotations

import os
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from cxrkeras._common import BINARY_CLASSES, THREE_CLASSES
from cxrkeras._phantom_render import render_phantom, sample_patient

KERMANY_BALANCE: dict[str, float] = {"normal": 0.26, "bacteria": 0.48, "virus": 0.26}
_PRESETS = {
    "binary": {"NORMAL": 0.5, "PNEUMONIA": 0.5},
    "three_class": {"normal": 1 / 3, "bacteria": 1 / 3, "virus": 1 / 3},
}
_SPLIT_BASE = {"train": 0, "val": 30000, "test": 60000}


def _parse_classes(classes) -> tuple[dict[str, float], bool]:
    """``({subtype-or-label: fraction}, three_class)`` from a preset name or a mapping."""
    if isinstance(classes, str):
        if classes not in _PRESETS:
            raise ValueError(
                f"classes={classes!r} is not supported; expected 'binary', 'three_class' or "
                f"a mapping of class names to fractions, e.g. {KERMANY_BALANCE}."
            )
        classes = _PRESETS[classes]
    if not isinstance(classes, Mapping) or not classes:
        raise TypeError(f"classes must be 'binary', 'three_class' or a mapping; got {classes!r}.")
    keys = set(classes)
    if keys <= set(BINARY_CLASSES):
        three = False
    elif keys <= set(THREE_CLASSES):
        three = True
    else:
        raise ValueError(
            f"classes keys {sorted(keys)} must all come from {list(BINARY_CLASSES)} (binary) "
            f"or all from {list(THREE_CLASSES)} (three-class)."
        )
    fractions = {k: float(v) for k, v in classes.items()}
    if any(not np.isfinite(v) or v < 0 for v in fractions.values()) or sum(fractions.values()) <= 0:
        raise ValueError(f"classes fractions must be >= 0 and not all 0; got {fractions}.")
    order = THREE_CLASSES if three else BINARY_CLASSES
    return {k: fractions[k] for k in order if fractions.get(k, 0) > 0}, three


def _image_shape(image_size) -> tuple[int, int]:
    if isinstance(image_size, (int, np.integer)):
        shape = (int(image_size), int(image_size))
    elif isinstance(image_size, (tuple, list)) and len(image_size) == 2:
        shape = (int(image_size[0]), int(image_size[1]))
    else:
        raise TypeError(f"image_size must be an int or (height, width); got {image_size!r}.")
    if min(shape) < 8:
        raise ValueError(f"image_size must be at least 8 pixels per side; got {image_size!r}.")
    return shape


def _allocate(num_images: int, fractions: dict[str, float]) -> dict[str, int]:
    """Image counts per class: largest remainder, at least one image per class."""
    if not isinstance(num_images, (int, np.integer)) or num_images < len(fractions):
        raise ValueError(
            f"num_images={num_images!r} must be an int >= {len(fractions)} (one image per "
            f"class {list(fractions)})."
        )
    total = sum(fractions.values())
    extra = num_images - len(fractions)
    raw = {k: extra * v / total for k, v in fractions.items()}
    counts = {k: 1 + int(np.floor(r)) for k, r in raw.items()}
    order = sorted(fractions, key=lambda k: -(raw[k] - np.floor(raw[k])))
    for k in order[: num_images - sum(counts.values())]:
        counts[k] += 1
    return counts


def _patient_sizes(n: int, rng: np.random.Generator) -> list[int]:
    """Split ``n`` images into patients of 2-4 images (1 only when ``n == 1``)."""
    sizes, remaining = [], n
    while remaining:
        k = min(int(rng.integers(2, 5)), remaining)
        if remaining - k == 1:
            k = remaining if remaining <= 4 else k - 1
        sizes.append(k)
        remaining -= k
    return sizes


def _generate(num_images, image_size, classes, seed, marker, split="train") -> list[dict]:
    """Every phantom of one split, grouped by patient, as ``{image, mask, label, ...}``.

    Patients (count, sizes, anatomy, lesions) come from one random stream and the
    per-image pose, exposure and noise from another, so file names and anatomy do
    not depend on ``image_size``.
    """
    shape = _image_shape(image_size)
    fractions, three = _parse_classes(classes)
    counts = _allocate(num_images, fractions)
    entropy = [int(seed), zlib.crc32(split.encode())]
    plan_rng = np.random.default_rng(np.random.SeedSequence([*entropy, 0]))
    image_rng = np.random.default_rng(np.random.SeedSequence([*entropy, 1]))
    plan = []
    for name, count in counts.items():
        for size in _patient_sizes(count, plan_rng):
            if name in ("NORMAL", "normal"):
                subtype = "normal"
            elif name == "PNEUMONIA":
                subtype = "bacteria" if plan_rng.random() < 0.5 else "virus"
            else:
                subtype = name
            plan.append((subtype, size, sample_patient(plan_rng, subtype)))
    records = []
    for patient_index, (subtype, size, patient) in enumerate(plan):
        label = THREE_CLASSES.index(subtype) if three else int(subtype != "normal")
        for _ in range(size):
            image, mask, _ = render_phantom(patient, shape, image_rng)
            if marker:
                _burn_marker(image, subtype != "normal", image_rng)
            records.append(
                {
                    "image": image,
                    "mask": mask,
                    "label": label,
                    "subtype": subtype,
                    "patient": patient_index,
                }
            )
    return records


def _burn_marker(image: np.ndarray, pneumonia: bool, rng: np.random.Generator) -> None:
    """Burn a bright "R" in the upper left (pneumonia) or upper right (normal) corner.

    The rule holds for 90% of images, so a model can reach ~90% accuracy from the
    marker alone: the shortcut that the real data's laterality markers invite.
    """
    height, width = image.shape
    left = pneumonia if rng.random() < 0.9 else not pneumonia
    scale = max(min(height, width) / 224.0, 0.15)
    thickness = max(1, round(2.5 * scale))
    (text_w, text_h), _ = cv2.getTextSize("R", cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    margin = max(1, round(0.04 * min(height, width)))
    x = margin if left else width - margin - text_w
    canvas = np.zeros((height, width), np.uint8)  # cv2.putText draws on 8-bit images only
    cv2.putText(
        canvas,
        "R",
        (x, margin + text_h),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        255,
        thickness,
        cv2.LINE_8,
    )
    image[canvas > 0] = 1.0


def phantom_arrays(
    num_images: int,
    *,
    image_size: int | tuple[int, int] = 64,
    classes: str | Mapping[str, float] = "binary",
    seed: int = 0,
    marker: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic chest X-ray phantoms in memory, in a seeded random order.

    Args:
        num_images: number of images (at least one per class).
        image_size: an int, or ``(height, width)`` for non-square phantoms.
        classes: ``"binary"`` (labels NORMAL=0 / PNEUMONIA=1, balanced), ``"three_class"``
            (normal=0 / bacteria=1 / virus=2, balanced) or a mapping of those class names
            to fractions, e.g. :data:`KERMANY_BALANCE`.
        seed: random seed; the same seed gives the same arrays.
        marker: burn an "R" marker whose corner follows the label 90% of the time
            (a planted shortcut).

    Returns:
        ``(images, labels, masks)``: float32 ``(N, H, W, 1)`` in [0, 1], int64 ``(N,)``
        and uint8 lesion masks ``(N, H, W)`` with values 0 / 255 (all 0 for normal).

    Raises:
        ValueError: for a bad ``classes``, ``num_images`` or ``image_size``.

    Example:
        >>> images, labels, masks = phantom_arrays(6, image_size=(32, 40))
        >>> images.shape, images.dtype, labels.tolist().count(1), masks.shape
        ((6, 32, 40, 1), dtype('float32'), 3, (6, 32, 40))
    """
    records = _generate(num_images, image_size, classes, seed, marker)
    order = np.random.default_rng(seed).permutation(len(records))
    images = np.stack([records[i]["image"] for i in order])[..., None]
    labels = np.array([records[i]["label"] for i in order], dtype=np.int64)
    masks = np.stack([records[i]["mask"] for i in order])
    return images, labels, masks


def _file_names(records: list[dict], split: str) -> list[str]:
    """Kermany-style names: ``IM-0001-0001``, ``NORMAL2-IM-0002-0001``, ``person3_virus_7``."""
    base = _SPLIT_BASE.get(split, 100000 * (1 + zlib.crc32(split.encode()) % 9000))
    names, seen = [], {}
    for number, record in enumerate(records, start=base + 1):
        patient = base + 1 + record["patient"]
        index = seen[patient] = seen.get(patient, 0) + 1
        if record["subtype"] == "normal":
            prefix = "NORMAL2-IM" if patient % 2 else "IM"
            names.append(f"{prefix}-{patient:04d}-{index:04d}.jpeg")
        else:
            names.append(f"person{patient}_{record['subtype']}_{number}.jpeg")
    return names


def make_phantoms(
    out_dir: str | os.PathLike,
    *,
    num_images: int = 200,
    image_size: int | tuple[int, int] = 224,
    classes: str | Mapping[str, float] = "binary",
    seed: int = 0,
    marker: bool = False,
    split: str = "train",
    overwrite: bool = False,
) -> pd.DataFrame:
    """Write phantoms as 8-bit grayscale JPEGs in the Kermany layout and scan them.

    Files go to ``out_dir/<split>/{NORMAL,PNEUMONIA}/`` with Kermany-style names and
    2-4 images per synthetic patient; each pneumonia image gets its lesion mask
    ``<stem>.mask.png`` (uint8 0/255) beside it. Three-class phantoms keep the binary
    folders and say bacteria or virus in the file name, as the real data does.

    Args:
        out_dir: root folder (created if missing).
        num_images: number of images (at least one per class).
        image_size: an int, or ``(height, width)`` for non-square phantoms.
        classes: ``"binary"``, ``"three_class"`` or a mapping of class names to
            fractions (see :func:`phantom_arrays`).
        seed: random seed; each split name gets its own stream of the seed.
        marker: burn a label-correlated "R" marker (a planted shortcut).
        split: name of the split folder to write.
        overwrite: allow writing into a split folder that already holds images.

    Returns:
        The :func:`cxrkeras.datasets.scan` table of the images written.

    Raises:
        FileExistsError: if the split folder already holds images and ``overwrite``
            is False.
        ValueError: for a bad ``classes``, ``num_images``, ``image_size`` or ``split``.

    Example:
        >>> import tempfile
        >>> table = make_phantoms(tempfile.mkdtemp(), num_images=12, image_size=32,
        ...                       classes="three_class", split="val")
        >>> table.groupby("subtype").size().to_dict()
        {'bacteria': 4, 'normal': 4, 'virus': 4}
        >>> int(table.mask_path.notna().sum()), sorted(table.split.unique())
        (8, ['val'])
    """
    from cxrkeras.datasets import IMAGE_EXTENSIONS, scan

    if not isinstance(split, str) or not split or split != Path(split).name or split[0] == ".":
        raise ValueError(f"split={split!r} must be a plain folder name such as 'train'.")
    split_dir = Path(out_dir).expanduser() / split
    folders = {label: split_dir / label for label in BINARY_CLASSES}
    existing = [
        p
        for f in folders.values()
        if f.is_dir()
        for p in f.iterdir()
        if p.name.lower().endswith(IMAGE_EXTENSIONS)
    ]
    if existing and not overwrite:
        raise FileExistsError(
            f"{split_dir} already holds {len(existing)} image(s), e.g. {existing[0].name}. "
            f"Choose an empty out_dir or another split, or pass overwrite=True."
        )
    records = _generate(num_images, image_size, classes, seed, marker, split)
    names = _file_names(records, split)
    written = set()
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    for record, name in zip(records, names, strict=True):
        folder = folders["NORMAL" if record["subtype"] == "normal" else "PNEUMONIA"]
        pixels = np.round(record["image"] * 255).astype(np.uint8)
        ok = cv2.imwrite(str(folder / name), pixels, [cv2.IMWRITE_JPEG_QUALITY, 95])
        if record["subtype"] != "normal":
            ok &= cv2.imwrite(str(folder / (Path(name).stem + ".mask.png")), record["mask"])
        if not ok:
            raise OSError(f"Could not write {folder / name}; check that the folder is writable.")
        written.add(str((folder / name).absolute()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = scan(split_dir, verbose=False)
    stale = len(table) - len(written)
    if stale:
        warnings.warn(
            f"make_phantoms: {stale} older image(s) in {split_dir} were left in place and are "
            f"not in the returned table.",
            stacklevel=2,
        )
    return table[table["path"].isin(written)].reset_index(drop=True)
