"""Conventions shared by every cxrkeras module: class names, label codes, image batches.

Label codes (everywhere in cxrkeras):

* binary: ``NORMAL = 0``, ``PNEUMONIA = 1`` (one sigmoid unit predicts PNEUMONIA);
* three-class: ``normal = 0``, ``bacteria = 1``, ``virus = 2``.

Images handed to models built by :mod:`cxrkeras.models` are float32 in ``[0, 1]``,
channels last; models that need another range (ImageNet backbones) convert inside.
"""

from __future__ import annotations

import dataclasses

import numpy as np

BINARY_CLASSES: tuple[str, ...] = ("NORMAL", "PNEUMONIA")
THREE_CLASSES: tuple[str, ...] = ("normal", "bacteria", "virus")
LABEL_MODES: tuple[str, ...] = ("binary", "categorical", "three_class", "int", None)

# Each builder's input size and training recipe in its report.
MODEL_DEFAULTS: dict[str, tuple[int, str]] = {
    "binary_cnn": (150, "report_b"),
    "categorical_cnn": (150, "report_b"),
    "cnn_94": (100, "report_c"),
    "cnn_v2": (100, "report_c"),
    "efficientnet_transfer": (224, "report_c"),
    "convnet": (256, "report_a"),
    "vgg16": (224, "report_a"),
    "resnet50": (224, "report_a"),
    "densenet121": (224, "report_a"),
    "resnet18": (224, "report_d"),
    "alexnet": (224, "report_d"),
    "efficientnetb0": (224, "report_a"),
    "efficientnetb4": (224, "report_a"),
    "mobilenetv2": (224, "report_a"),
    "mobilenet": (224, "report_a"),
}
THREE_CLASS_MODELS = {"categorical_cnn"}


def class_names_for(num_classes: int) -> tuple[str, ...]:
    """Default class names for a head with ``num_classes`` outputs.

    A single sigmoid unit (``num_classes=1``) and two softmax units both mean
    NORMAL vs PNEUMONIA; three units mean normal / bacteria / virus.

    Example:
        >>> class_names_for(1)
        ('NORMAL', 'PNEUMONIA')
        >>> class_names_for(3)
        ('normal', 'bacteria', 'virus')
    """
    if num_classes in (1, 2):
        return BINARY_CLASSES
    if num_classes == 3:
        return THREE_CLASSES
    return tuple(f"class_{i}" for i in range(num_classes))


def as_batch(images) -> tuple[np.ndarray, bool]:
    """Return ``(batch, was_single)`` for one image ``(H, W, C)`` or a batch ``(B, H, W, C)``.

    A 2-D array ``(H, W)`` is taken as one grayscale image.

    Raises:
        ValueError: if the array is not 2-D, 3-D or 4-D.

    Example:
        >>> batch, single = as_batch(np.zeros((8, 6, 1)))
        >>> batch.shape, single
        ((1, 8, 6, 1), True)
    """
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim == 2:
        return arr[None, :, :, None], True
    if arr.ndim == 3:
        return arr[None], True
    if arr.ndim == 4:
        return arr, False
    raise ValueError(
        f"Expected one image (H, W, C) or a batch (B, H, W, C); got an array of shape "
        f"{arr.shape}. Add a channel axis for grayscale images: img[..., None]."
    )


def replace_fields(settings, overrides: dict, kind: str):
    """``dataclasses.replace`` that names unknown fields (``kind``: "recipe", "preset").

    Example:
        >>> from cxrkeras.recipes import get_recipe
        >>> replace_fields(get_recipe("report_b"), {"epochs": 2}, "recipe").epochs
        2
    """
    valid = [f.name for f in dataclasses.fields(settings)]
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(f"Unknown {kind} setting(s) {unknown}. Valid settings: {valid}.")
    return dataclasses.replace(settings, **overrides)
