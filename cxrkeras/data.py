"""tf.data input pipelines: tables or folders of X-rays to batches of ``(images, labels)``.

:func:`make_dataset` reads a table from :func:`cxrkeras.datasets.scan` (or a folder),
decodes in parallel, resizes or letterboxes, optionally equalises with CLAHE, batches,
augments each batch with one fused affine warp (:mod:`cxrkeras.augment`), normalises and
prefetches. :func:`class_weights` and :func:`oversample_table` handle class imbalance.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from cxrkeras._common import BINARY_CLASSES, LABEL_MODES, THREE_CLASSES
from cxrkeras.augment import as_augmentation, augment_batch
from cxrkeras.preprocessing import (
    COLOR_MODES,
    as_preprocessing,
    as_size,
    clahe,
    decode,
    normalize,
    resize,
)

AUTOTUNE = tf.data.AUTOTUNE
_CACHE_SHUFFLE_BUFFER = 1024


def load_table(source, *, split: str | None = None) -> pd.DataFrame:
    """A copy of ``source`` (DataFrame, or folder read with ``scan``) with ``split`` rows only.

    Raises:
        TypeError: if ``source`` is neither a DataFrame nor a path.
        ValueError: if ``path`` is missing, or ``split`` selects no rows.

    Example:
        >>> t = pd.DataFrame({"path": ["a.png", "b.png"], "label": ["NORMAL", "PNEUMONIA"],
        ...                   "split": ["train", "val"]})
        >>> load_table(t, split="val").path.tolist()
        ['b.png']
    """
    if isinstance(source, pd.DataFrame):
        table = source.copy()
    elif isinstance(source, (str, os.PathLike)):
        from cxrkeras.datasets import scan

        table = scan(source, verbose=False)
    else:
        raise TypeError(
            f"source must be a DataFrame (from cxrkeras.scan) or a folder path; got "
            f"{type(source).__name__}."
        )
    if "path" not in table.columns:
        raise ValueError(
            f"The table has no 'path' column (columns: {list(table.columns)}); build it "
            f"with cxrkeras.scan(root) or add a column of image file paths."
        )
    if split is not None:
        if "split" not in table.columns:
            raise ValueError(f"split={split!r} but the table has no 'split' column.")
        available = sorted(table["split"].dropna().unique().tolist())
        table = table[table["split"] == split]
        if table.empty:
            raise ValueError(f"split={split!r} selects no rows; the table has splits {available}.")
    if table.empty:
        raise ValueError("The table is empty: there are no images to read.")
    return table.reset_index(drop=True)


def class_ids(table: pd.DataFrame, label_mode: str | None = "binary") -> tuple[np.ndarray, tuple]:
    """Integer class ids and class names for ``label_mode`` (``"three_class"`` uses subtype).

    Raises:
        ValueError: for an unknown label mode, a missing column, or a value outside the
            classes (e.g. an ``"unknown"`` subtype for ``"three_class"``).

    Example:
        >>> ids, names = class_ids(pd.DataFrame({"label": ["PNEUMONIA", "NORMAL"]}))
        >>> ids.tolist(), names
        ([1, 0], ('NORMAL', 'PNEUMONIA'))
    """
    if label_mode not in LABEL_MODES:
        raise ValueError(f"label_mode={label_mode!r}; expected one of {list(LABEL_MODES)}.")
    if label_mode is None:
        return np.zeros(len(table), np.int32), BINARY_CLASSES
    column, names = (
        ("subtype", THREE_CLASSES) if label_mode == "three_class" else ("label", BINARY_CLASSES)
    )
    if column not in table.columns:
        raise ValueError(
            f"label_mode={label_mode!r} needs a {column!r} column; the table has "
            f"{list(table.columns)}."
        )
    values = table[column].astype(str)
    bad = sorted(set(values) - set(names))
    if bad:
        hint = " Drop rows with subtype 'unknown' first." if label_mode == "three_class" else ""
        raise ValueError(
            f"Column {column!r} holds {bad}; label_mode={label_mode!r} expects only "
            f"{list(names)}.{hint}"
        )
    lookup = {name: i for i, name in enumerate(names)}
    return values.map(lookup).to_numpy(np.int32), names


def class_weights(source, *, label_mode: str = "binary", split: str | None = None) -> dict:
    """Balanced class weights for ``model.fit(class_weight=...)`` (scikit-learn's rule).

    Args:
        source: A table or a folder, as for :func:`make_dataset`.
        label_mode: ``"binary"``, ``"categorical"``, ``"int"`` or ``"three_class"``.
        split: Only count rows of this split.

    Returns:
        ``{class_id: weight}``; weights are ``n / (k * count)``.

    Raises:
        ValueError: if a class has no images.

    Example:
        >>> t = pd.DataFrame({"path": list("abcd"), "label": ["NORMAL"] + ["PNEUMONIA"] * 3})
        >>> class_weights(t)
        {0: 2.0, 1: 0.6666666666666666}
    """
    if label_mode is None:
        raise ValueError("class_weights needs labels; label_mode=None has none.")
    ids, names = class_ids(load_table(source, split=split), label_mode)
    counts = np.bincount(ids, minlength=len(names))
    if (counts == 0).any():
        raise ValueError(
            f"No images of class(es) {[n for n, c in zip(names, counts, strict=True) if c == 0]}; "
            f"class counts are {dict(zip(names, counts.tolist(), strict=True))}."
        )
    weights = compute_class_weight("balanced", classes=np.arange(len(names)), y=ids)
    return {i: float(w) for i, w in enumerate(weights)}


def oversample_table(
    table: pd.DataFrame, ratio: float = 1.2, *, label_mode: str = "binary", seed: int | None = None
) -> pd.DataFrame:
    """Repeat rows of smaller classes until ``largest / class_count <= ratio``.

    Report C balanced NORMAL to a PNEUMONIA:NORMAL ratio of 1.2 with augmented copies:
    use ``make_dataset(..., oversample=1.2, augment=...)`` so the copies differ. Whole
    copies are repeated, then the remainder is drawn without replacement.

    Args:
        table: Image table.
        ratio: Target ratio ``>= 1`` of the largest class to every other class.
        label_mode: Which classes (``"three_class"`` balances subtypes).
        seed: Seed for drawing the remainder.

    Returns:
        A new table with the added rows at the end and a bool ``oversampled`` column.

    Example:
        >>> t = pd.DataFrame({"path": list("abcdefg"), "label": ["NORMAL"] * 2 + ["PNEUMONIA"] * 5})
        >>> oversample_table(t, 1.2).label.value_counts().sort_index().to_dict()
        {'NORMAL': 5, 'PNEUMONIA': 5}
    """
    if not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or ratio < 1:
        raise ValueError(
            f"oversample ratio={ratio!r}; expected a number >= 1 (largest class count "
            f"over each smaller class count, e.g. 1.2 as in report C)."
        )
    if label_mode is None:
        raise ValueError("oversample needs labels; label_mode=None has none.")
    ids, names = class_ids(table, label_mode)
    counts = np.bincount(ids, minlength=len(names))
    target = int(np.ceil(counts.max() / ratio))
    rng = np.random.default_rng(seed)
    extra = []
    for k, count in enumerate(counts):
        if 0 < count < target:
            rows = np.flatnonzero(ids == k)
            need = target - count
            reps = np.tile(rows, need // count)
            rest = rng.choice(rows, size=need % count, replace=False)
            extra.append(np.concatenate([reps, rest]))
    out = table.assign(oversampled=table.get("oversampled", False))
    if extra:
        copies = table.iloc[np.concatenate(extra)].assign(oversampled=True)
        out = pd.concat([out, copies], ignore_index=True)
    return out


def _file_problem(path: str) -> str | None:
    """Why a file cannot be an image (missing, empty, truncated, unknown format), or None."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
            f.seek(max(0, size - 1024))
            tail = f.read()
    except OSError:
        return "missing or unreadable"
    if size == 0:
        return "empty"
    if head[:3] == b"\xff\xd8\xff":
        return None if tail.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9") else "truncated JPEG"
    if head == b"\x89PNG\r\n\x1a\n":
        return None if b"IEND" in tail[-16:] else "truncated PNG"
    if head[:2] == b"BM" or head[:4] == b"GIF8":
        return None
    return "not a JPEG, PNG, BMP or GIF"


def _exclude_bad_files(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    problems = [_file_problem(p) for p in table["path"]]
    bad = [i for i, p in enumerate(problems) if p is not None]
    if not bad:
        return table, []
    names = [f"{Path(table['path'].iloc[i]).name} ({problems[i]})" for i in bad]
    if len(bad) == len(table):
        raise ValueError(f"None of the {len(table)} files can be read as images: {names[:10]}.")
    warnings.warn(
        f"make_dataset: skipped {len(bad)} of {len(table)} file(s) that cannot be read: "
        f"{names[:10]}{' ...' if len(bad) > 10 else ''}. They are listed in "
        f"dataset.skipped_files; scan(root, validate=True) also finds files corrupt inside.",
        stacklevel=3,
    )
    skipped = [table["path"].iloc[i] for i in bad]
    return table.drop(index=table.index[bad]).reset_index(drop=True), skipped


def _encode(ids: np.ndarray, label_mode: str | None, num_classes: int) -> np.ndarray:
    if label_mode in ("binary",):
        return ids.astype(np.float32)
    if label_mode in ("categorical", "three_class"):
        return np.eye(num_classes, dtype=np.float32)[ids]
    return ids.astype(np.int32)


def make_dataset(
    source,
    *,
    split: str | None = None,
    image_size=224,
    color_mode: str = "grayscale",
    label_mode: str | None = "binary",
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int | None = None,
    augment=None,
    preprocessing=None,
    oversample: float | None = None,
    cache: bool | str = False,
) -> tf.data.Dataset:
    """A batched, prefetched ``tf.data.Dataset`` of ``(images, labels)`` from image files.

    Steps: read and decode in parallel (JPEG / PNG, 8 or 16 bit, any channels), convert
    to ``color_mode``, resize (stretch or letterbox), CLAHE, [cache], [shuffle], batch,
    augment (one fused affine matrix per image, applied to the batch in one call with
    OpenCV's ``warpAffine``, the CPU-fast twin of ``ImageProjectiveTransformV3``),
    normalise, prefetch. Files that are
    missing, empty, truncated or not images are skipped up front with one warning
    (``dataset.skipped_files``); a file that still fails to decode is dropped inside the
    pipeline (TensorFlow logs it) rather than ending the epoch.

    Args:
        source: A table from :func:`cxrkeras.scan` (``path``, ``label``, and ``subtype``
            for three classes) or a Kermany-style folder.
        split: Keep only rows of this split (``"train"``, ``"val"``, ``"test"``).
        image_size: Output size, int or ``(height, width)``.
        color_mode: ``"grayscale"`` (1 channel) or ``"rgb"`` (3 channels).
        label_mode: ``"binary"`` float32 ``(B,)`` 0/1 (NORMAL=0, PNEUMONIA=1);
            ``"categorical"`` one-hot ``(B, 2)``; ``"three_class"`` one-hot ``(B, 3)``
            normal / bacteria / virus; ``"int"`` int32 ``(B,)``; ``None`` images only.
        batch_size: Images per batch (the last batch may be smaller).
        shuffle: Reshuffle every epoch (seeded by ``seed``).
        seed: Seed for shuffling, oversampling and augmentation; the same seed repeats
            the same epochs.
        augment: ImageDataGenerator arguments (dict) or an
            :class:`cxrkeras.augment.Augmentation`; ``None`` for no augmentation.
        preprocessing: A :class:`cxrkeras.preprocessing.Preprocessing` or a dict of its
            fields: ``normalization`` (``"unit"`` [0, 1], ``"imagenet"``, ``"none"``
            [0, 255]), ``resize`` (``"stretch"`` or ``"pad"``), ``clahe``, ``antialias``.
        oversample: Repeat smaller classes to this ratio (see :func:`oversample_table`).
        cache: ``True`` keeps decoded images in memory (float16) after the first epoch;
            a path caches them to that file.

    Returns:
        A ``tf.data.Dataset`` with attributes ``class_names``, ``file_paths`` (table
        order, after oversampling) and ``skipped_files``.

    Raises:
        ValueError: for an unknown option, label value or empty selection.
        TypeError: for a source of the wrong type.

    Example:
        >>> import tempfile, cv2
        >>> folder = tempfile.mkdtemp()
        >>> paths = [f"{folder}/{i}.png" for i in range(3)]
        >>> for p in paths:
        ...     _ = cv2.imwrite(p, np.full((20, 30), 128, np.uint8))
        >>> table = pd.DataFrame({"path": paths, "label": ["NORMAL", "PNEUMONIA", "NORMAL"]})
        >>> ds = make_dataset(table, image_size=(16, 24), batch_size=2,
        ...                   augment={"rotation_range": 10})
        >>> images, labels = next(iter(ds))
        >>> images.shape, labels.numpy().tolist(), ds.class_names
        (TensorShape([2, 16, 24, 1]), [0.0, 1.0], ('NORMAL', 'PNEUMONIA'))
    """
    height, width = as_size(image_size)
    if color_mode not in COLOR_MODES:
        raise ValueError(f"color_mode={color_mode!r}; expected one of {list(COLOR_MODES)}.")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}; expected a positive int.")
    prep = as_preprocessing(preprocessing)
    aug = as_augmentation(augment)
    table = load_table(source, split=split)
    class_ids(table, label_mode)  # validate labels before touching files
    if oversample is not None:
        if aug is None or aug.is_identity:
            warnings.warn(
                "make_dataset: oversample without augment repeats identical images; pass "
                "augment= (e.g. {'rotation_range': 15, 'horizontal_flip': True}) so copies differ.",
                stacklevel=2,
            )
        table = oversample_table(table, oversample, label_mode=label_mode, seed=seed)
    table, skipped = _exclude_bad_files(table)
    ids, names = class_ids(table, label_mode)
    labels = _encode(ids, label_mode, len(names))
    paths = table["path"].astype(str).to_numpy()
    file_paths = paths.tolist()
    if shuffle and cache:  # the cache freezes order: mix once here, then locally per epoch
        order = np.random.default_rng(seed).permutation(len(paths))
        paths, labels = paths[order], labels[order]

    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    if shuffle and not cache:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    settings = prep.clahe_settings

    def load(path, label):
        image = decode(tf.io.read_file(path), color_mode)
        image = resize(image, (height, width), mode=prep.resize, antialias=prep.antialias)
        if settings is not None:
            image = clahe(image, clip_limit=settings[0], tile_grid_size=settings[1])
        return image, label

    ds = ds.map(load, num_parallel_calls=AUTOTUNE).ignore_errors(log_warning=True)
    if cache:
        ds = ds.map(lambda x, y: (tf.cast(x, tf.float16), y))
        ds = ds.cache("" if cache is True else os.fspath(cache))
        ds = ds.map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=AUTOTUNE)
        if shuffle:
            buffer = min(len(paths), _CACHE_SHUFFLE_BUFFER)
            ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if aug is not None and not aug.is_identity:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda xy, s: (augment_batch(xy[0], aug, seed=s, implementation="opencv"), xy[1]),
            num_parallel_calls=AUTOTUNE,
        )
    norm = prep.normalization
    if label_mode is None:
        ds = ds.map(lambda x, y: normalize(x, norm), num_parallel_calls=AUTOTUNE)
    elif norm != "unit":
        ds = ds.map(lambda x, y: (normalize(x, norm), y), num_parallel_calls=AUTOTUNE)
    ds = ds.prefetch(AUTOTUNE)
    ds.class_names = names
    ds.file_paths = file_paths
    ds.skipped_files = skipped
    return ds
