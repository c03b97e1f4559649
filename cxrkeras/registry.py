"""Every classifier builder by name, for ``cxrkeras train --model NAME`` and notebooks.

Every builder accepts ``input_shape=`` and ``num_classes=``; other keyword arguments
pass through unchanged (``weights=``, ``freeze_backbone=``, ``head_units=`` ...).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import keras

from cxrkeras.backbones import transfer_classifier
from cxrkeras.classic_nets import alexnet
from cxrkeras.models import binary_cnn, categorical_from_binary, cnn_94, cnn_v2, convnet
from cxrkeras.transfer_models import efficientnet_transfer, resnet18, vgg16


def categorical_cnn(
    input_shape: tuple[int, int, int] = (150, 150, 1),
    *,
    num_classes: int = 3,
    freeze: bool = False,
    name: str = "categorical_cnn",
) -> keras.Model:
    """Report B's three-class model built on a fresh (untrained) :func:`binary_cnn`.

    The report starts from a trained binary model: train :func:`binary_cnn` first and
    call :func:`categorical_from_binary` on it to reproduce that.

    Example:
        >>> categorical_cnn((32, 32, 1)).output_shape
        (None, 3)
    """
    binary = binary_cnn(input_shape)
    return categorical_from_binary(binary, num_classes=num_classes, freeze=freeze, name=name)


def _transfer(backbone: str) -> Callable[..., keras.Model]:
    @functools.wraps(transfer_classifier)
    def build(input_shape=(224, 224, 1), **kwargs) -> keras.Model:
        return transfer_classifier(backbone, input_shape=input_shape, **kwargs)

    return build


_REGISTRY: dict[str, Callable[..., keras.Model]] = {
    "binary_cnn": binary_cnn,
    "categorical_cnn": categorical_cnn,
    "cnn_94": cnn_94,
    "cnn_v2": cnn_v2,
    "convnet": convnet,
    "resnet18": resnet18,
    "alexnet": alexnet,
    "vgg16": vgg16,
    "efficientnet_transfer": efficientnet_transfer,
    "resnet50": _transfer("resnet50"),
    "densenet121": _transfer("densenet121"),
    "efficientnetb0": _transfer("efficientnetb0"),
    "efficientnetb4": _transfer("efficientnetb4"),
    "mobilenetv2": _transfer("mobilenetv2"),
    "mobilenet": _transfer("mobilenet"),
}
MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def get_model(name: str, **kwargs) -> keras.Model:
    """Build the classifier registered as ``name`` (one of :data:`MODEL_NAMES`).

    ``"binary_cnn"``, ``"categorical_cnn"`` (report B), ``"cnn_94"``, ``"cnn_v2"``,
    ``"efficientnet_transfer"`` (report C), ``"convnet"`` (report A), ``"resnet18"``,
    ``"alexnet"``, ``"vgg16"`` (reports A and D) and the plain transfer classifiers
    ``"resnet50"``, ``"densenet121"``, ``"efficientnetb0"``, ``"efficientnetb4"``,
    ``"mobilenetv2"``, ``"mobilenet"`` (:func:`cxrkeras.transfer_classifier` with that
    backbone; their default ``weights="imagenet"`` needs the internet).

    Args:
        name: registered model name.
        **kwargs: passed to the builder, e.g. ``input_shape=(64, 64, 1), num_classes=3``.

    Returns:
        An uncompiled, flat functional ``keras.Model``.

    Raises:
        ValueError: for an unknown name (the message lists the valid ones).
        TypeError: for a keyword argument the builder does not take.

    Example:
        >>> get_model("binary_cnn", input_shape=(32, 32, 1)).output_shape
        (None, 1)
    """
    if name not in _REGISTRY:
        raise ValueError(f"Unknown model {name!r}; expected one of {list(MODEL_NAMES)}.")
    try:
        return _REGISTRY[name](**kwargs)
    except TypeError as exc:
        if "keyword argument" not in str(exc):
            raise
        raise TypeError(
            f"get_model({name!r}): {exc}. See help(cxrkeras.registry.get_model)."
        ) from exc
