"""The deprecated ``ImageDataGenerator`` path, kept for fidelity to report B.

Report B trained with ``ImageDataGenerator(rescale=1./255, ...)`` and
``flow_from_directory``. Keras 3 only keeps that class as
``tf.keras.preprocessing.image.ImageDataGenerator`` (deprecated, one image at a time in
Python, SciPy for the affine transforms). :func:`cxrkeras.data.make_dataset` takes the
same augmentation arguments and is several times faster; use it for new work.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path

import pandas as pd
import tensorflow as tf

from cxrkeras._common import BINARY_CLASSES, THREE_CLASSES
from cxrkeras.augment import as_augmentation
from cxrkeras.data import _exclude_bad_files, load_table
from cxrkeras.preprocessing import as_size

CLASS_MODES: tuple = ("binary", "categorical", "sparse", "three_class", None)
_warned = False


def _deprecation_note() -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(
            "ImageDataGenerator is deprecated in Keras 3 and processes one image at a time. "
            "cxrkeras.make_dataset(source, augment={...same arguments...}) gives the same "
            "augmentation as a tf.data pipeline, several times faster.",
            FutureWarning,
            stacklevel=3,
        )


def generator_arguments(augment) -> dict:
    """ImageDataGenerator keyword arguments for ``augment`` (dict or Augmentation), rescaled.

    ``rescale=1/255`` is always set; ``cval`` goes back to the raw 0-255 scale.

    Example:
        >>> generator_arguments({"rotation_range": 10, "zoom_range": 0.1})["zoom_range"]
        (0.9, 1.1)
    """
    aug = as_augmentation(augment)
    kwargs = {"rescale": 1.0 / 255}
    if aug is None:
        return kwargs
    kwargs.update(
        rotation_range=aug.rotation_range,
        width_shift_range=aug.width_shift_range,
        height_shift_range=aug.height_shift_range,
        zoom_range=aug.zoom_bounds,
        shear_range=aug.shear_range,
        horizontal_flip=aug.horizontal_flip,
        vertical_flip=aug.vertical_flip,
        brightness_range=aug.brightness_range,
        fill_mode=aug.fill_mode,
        cval=aug.cval * 255.0,
    )
    return kwargs


def image_data_generator(
    source,
    *,
    split: str | None = None,
    image_size=224,
    batch_size: int = 32,
    color_mode: str = "grayscale",
    class_mode: str | None = "binary",
    augment=None,
    shuffle: bool = True,
    seed: int | None = None,
):
    """Report B's ``ImageDataGenerator(rescale=1/255, **augment).flow_from_...`` iterator.

    A folder goes to ``flow_from_directory`` and a table to ``flow_from_dataframe``;
    classes are fixed to NORMAL=0 / PNEUMONIA=1 (or normal / bacteria / virus for
    ``class_mode="three_class"``, one-hot from the table's ``subtype``). Emits one
    ``FutureWarning`` per session pointing at :func:`cxrkeras.make_dataset`.

    Args:
        source: A Kermany split folder (``NORMAL/``, ``PNEUMONIA/`` inside), a root with
            split folders plus ``split=``, or a table from :func:`cxrkeras.scan`.
        split: Split folder name (folder source) or ``split`` value (table source).
        image_size: int or ``(height, width)``.
        batch_size: Images per batch.
        color_mode: ``"grayscale"``, ``"rgb"`` or ``"rgba"``.
        class_mode: ``"binary"``, ``"categorical"``, ``"sparse"``, ``"three_class"`` or
            ``None``.
        augment: ImageDataGenerator arguments (``rotation_range``, ``width_shift_range``,
            ``zoom_range``, ...) as a dict or :class:`cxrkeras.augment.Augmentation`.
        shuffle: Shuffle every epoch.
        seed: Seed for shuffling and augmentation.

    Returns:
        Keras' ``DirectoryIterator`` or ``DataFrameIterator`` (images in ``[0, 1]``),
        with ``class_names`` added.

    Raises:
        ImportError: if augmentation needs SciPy and it is not installed.
        ValueError: for an unknown class or colour mode, or a folder without classes.

    Example:
        >>> import tempfile, cv2, numpy as np
        >>> folder = tempfile.mkdtemp()
        >>> for label in ("NORMAL", "PNEUMONIA"):
        ...     os.makedirs(f"{folder}/{label}")
        ...     _ = cv2.imwrite(f"{folder}/{label}/a.png", np.zeros((20, 30), np.uint8))
        >>> it = image_data_generator(folder, image_size=(16, 24), batch_size=2, shuffle=False)
        Found 2 images belonging to 2 classes.
        >>> images, labels = next(it)
        >>> images.shape, labels.tolist(), it.class_names
        ((2, 16, 24, 1), [0.0, 1.0], ('NORMAL', 'PNEUMONIA'))
    """
    if class_mode not in CLASS_MODES:
        raise ValueError(f"class_mode={class_mode!r}; expected one of {list(CLASS_MODES)}.")
    if color_mode not in ("grayscale", "rgb", "rgba"):
        raise ValueError(f"color_mode={color_mode!r}; expected 'grayscale', 'rgb' or 'rgba'.")
    kwargs = generator_arguments(augment)
    aug = as_augmentation(augment)
    if aug is not None and aug.warps and importlib.util.find_spec("scipy") is None:
        raise ImportError(
            "ImageDataGenerator needs SciPy for rotation, shift, zoom, shear and flips; "
            "install it with `pip install scipy`, or use cxrkeras.make_dataset, which "
            "does not need it."
        )
    _deprecation_note()
    generator = tf.keras.preprocessing.image.ImageDataGenerator(**kwargs)
    three = class_mode == "three_class"
    classes = list(THREE_CLASSES if three else BINARY_CLASSES)
    common = dict(
        target_size=as_size(image_size),
        color_mode=color_mode,
        class_mode="categorical" if three else class_mode,
        classes=classes,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
    )
    if isinstance(source, (str, os.PathLike)):
        if three:
            raise ValueError(
                "class_mode='three_class' needs a table with a 'subtype' column; pass "
                "cxrkeras.scan(folder) instead of the folder."
            )
        folder = Path(source) / split if split else Path(source)
        if not all((folder / c).is_dir() for c in classes):
            raise ValueError(
                f"{folder} does not hold {classes} folders. Point source at one split "
                f"folder (e.g. chest_xray/train) or pass split='train'."
            )
        iterator = generator.flow_from_directory(str(folder), **common)
    else:
        table = load_table(source, split=split)
        table, _ = _exclude_bad_files(table)
        y_col = "subtype" if three else "label"
        if y_col not in table.columns:
            raise ValueError(f"class_mode={class_mode!r} needs a {y_col!r} column in the table.")
        frame = pd.DataFrame({"path": table["path"].astype(str), y_col: table[y_col].astype(str)})
        iterator = generator.flow_from_dataframe(
            frame, x_col="path", y_col=y_col, validate_filenames=False, **common
        )
    iterator.class_names = tuple(classes)
    return iterator
