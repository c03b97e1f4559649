"""Transfer learning on ImageNet backbones, built as flat graphs (reports A, C and D).

:func:`transfer_classifier` builds ``keras.applications`` backbones (and ResNet-18) with
``input_tensor=``, so every backbone layer is a layer of the returned model: no nested
``Model`` layer, which Grad-CAM and layer lookups need. A grayscale input is repeated
to three channels and the family's ImageNet preprocessing is applied inside the model
(:mod:`cxrkeras.image_layers`), so every model takes float32 images in ``[0, 1]``.

Weights: ``"imagenet"`` downloads Keras' files (needs the internet); ``None`` is random;
a path loads a local weights file saved from the same backbone without its top, e.g.
``mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5``. Files are read by
building the stand-alone ``keras.applications`` backbone with ``weights=`` and copying its
weights layer by layer, which works for every family and every Keras weights format.
"""

from __future__ import annotations

import os

import keras
from keras import layers

from cxrkeras._builders import check_shape_and_classes, classifier_output
from cxrkeras.classic_nets import resnet18_backbone
from cxrkeras.image_layers import imagenet_input

_FAMILIES = {
    "vgg16": (keras.applications.VGG16, "caffe"),
    "resnet50": (keras.applications.ResNet50, "caffe"),
    "resnet18": (resnet18_backbone, "torch"),
    "densenet121": (keras.applications.DenseNet121, "torch"),
    "efficientnetb0": (keras.applications.EfficientNetB0, "raw"),
    "efficientnetb4": (keras.applications.EfficientNetB4, "raw"),
    "mobilenetv2": (keras.applications.MobileNetV2, "tf"),
    "mobilenet": (keras.applications.MobileNet, "tf"),
}
BACKBONE_NAMES: tuple[str, ...] = tuple(_FAMILIES)
_WITH_ALPHA = ("mobilenet", "mobilenetv2")


def _backbone_kwargs(backbone: str, alpha: float) -> dict:
    if backbone in _WITH_ALPHA:
        return {"alpha": alpha}
    if alpha != 1.0:
        raise ValueError(
            f"alpha={alpha!r} only applies to {list(_WITH_ALPHA)}; got backbone={backbone!r}."
        )
    return {}


def _reference_backbone(backbone: str, weights, shape: tuple[int, int, int], alpha: float):
    """The stand-alone backbone with ``weights`` loaded by Keras' own code."""
    build = _FAMILIES[backbone][0]
    if backbone == "resnet18":
        return resnet18_backbone(shape, weights=weights)
    try:
        return build(
            include_top=False,
            weights=weights,
            input_shape=shape,
            **_backbone_kwargs(backbone, alpha),
        )
    except Exception as exc:  # keras.utils.get_file raises a bare Exception offline
        if isinstance(exc, ValueError) and weights not in (None, "imagenet"):
            hint = " Check alpha= (e.g. 0.25 for a mobilenet_2_5 file)." if alpha else ""
            raise ValueError(
                f"The weights file {weights!r} does not fit backbone {backbone!r} with "
                f"{_backbone_kwargs(backbone, alpha) or 'its default settings'}: {exc}.{hint}"
            ) from exc
        if weights != "imagenet" or isinstance(exc, ValueError):
            raise
        raise ConnectionError(
            f"Could not download the ImageNet weights of {backbone!r} ({exc}). Without "
            "internet, pass weights='/path/to/<file>_no_top.h5' (a local copy of Keras' "
            "file) or weights=None for random weights."
        ) from exc


def _copy_weights(reference: keras.Model, targets: list, backbone: str) -> None:
    """Copy the weights of ``reference``'s layers into ``targets``, in order, shape-checked."""
    sources = [layer for layer in reference.layers if layer.weights]
    targets = [layer for layer in targets if layer.weights]
    if len(sources) != len(targets):
        raise ValueError(
            f"The {backbone!r} weights have {len(sources)} layers with weights; the model "
            f"built here has {len(targets)}. Check that the file belongs to this backbone."
        )
    for src, dst in zip(sources, targets, strict=True):
        values = src.get_weights()
        expected = [tuple(w.shape) for w in dst.weights]
        if [tuple(v.shape) for v in values] != expected:
            raise ValueError(
                f"Weights of layer {src.name!r} have shapes {[v.shape for v in values]}, but "
                f"layer {dst.name!r} of {backbone!r} expects {expected}. Check alpha= and "
                "that the file belongs to this backbone."
            )
        dst.set_weights(values)


def backbone_features(inputs, backbone: str, *, weights=None, alpha: float = 1.0, name: str):
    """Build ``backbone`` on a ``[0, 1]`` input tensor; return ``(feature_map, layers)``.

    Args:
        inputs: symbolic input ``(batch, H, W, 1 or 3)``.
        backbone: one of :data:`BACKBONE_NAMES`.
        weights: ``"imagenet"``, None or a weights file path (see the module).
        alpha: width multiplier for ``"mobilenet"`` / ``"mobilenetv2"``.
        name: prefix of the grayscale-to-RGB and preprocessing layer names.

    Returns:
        The last 4-D feature map tensor and the list of the backbone's own layers.

    Raises:
        ValueError: for an unknown backbone, a bad ``alpha`` or mismatching weights.
        FileNotFoundError: if a weights path does not exist.
        ConnectionError: if ``"imagenet"`` weights cannot be downloaded.

    Example:
        >>> features, own = backbone_features(keras.Input((32, 32, 1)), "mobilenet",
        ...                                   alpha=0.25, name="demo")
        >>> tuple(features.shape), own[0].name
        ((None, 1, 1, 256), 'conv1')
    """
    if backbone not in _FAMILIES:
        raise ValueError(f"Unknown backbone {backbone!r}; expected one of {list(BACKBONE_NAMES)}.")
    if weights not in (None, "imagenet") and not os.path.isfile(weights):
        raise FileNotFoundError(
            f"weights={weights!r} is neither None, 'imagenet' nor an existing weights file."
        )
    build, mode = _FAMILIES[backbone]
    kwargs = _backbone_kwargs(backbone, alpha)
    x = imagenet_input(inputs, mode, name=name)
    pre_layers = (f"{name}_to_rgb", f"{name}_preprocess")
    if backbone == "resnet18":
        base = resnet18_backbone(input_tensor=x)
    else:
        base = build(include_top=False, weights=None, input_tensor=x, **kwargs)
    own = [
        layer
        for layer in base.layers
        if layer.name not in pre_layers and not isinstance(layer, layers.InputLayer)
    ]
    if weights is not None:
        shape = (*tuple(inputs.shape[1:3]), 3)
        _copy_weights(_reference_backbone(backbone, weights, shape, alpha), own, backbone)
    return base.output, own


def _head(x, num_classes: int, head_units, dropout: float, name: str):
    """Dense(ReLU) + Dropout per entry of ``head_units``; the last hidden one is "embedding"."""
    units = tuple(head_units)
    if not all(isinstance(u, int) and u > 0 for u in units):
        raise ValueError(f"head_units must be positive ints; got {head_units!r}.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {dropout!r}.")
    for i, width in enumerate(units, start=1):
        layer_name = "embedding" if i == len(units) else f"{name}_dense{i}"
        x = layers.Dense(width, activation="relu", name=layer_name)(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"{name}_dropout{i}")(x)
    if not units and dropout:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return classifier_output(x, num_classes)


def transfer_classifier(
    backbone: str,
    *,
    num_classes: int = 1,
    input_shape: tuple[int, int, int] = (224, 224, 1),
    weights: str | os.PathLike | None = "imagenet",
    freeze_backbone: bool = True,
    head_units: tuple[int, ...] = (),
    dropout: float = 0.0,
    alpha: float = 1.0,
    bn_momentum: float | None = None,
    name: str | None = None,
) -> keras.Model:
    """An ImageNet backbone with a new classification head, as one flat model.

    Input (float32 in [0, 1]) -> grayscale to RGB -> the family's ImageNet preprocessing
    -> backbone -> global average pooling -> ``head_units`` Dense(ReLU) layers, each
    followed by Dropout(``dropout``) -> output. The layer feeding the output block is
    named ``"embedding"`` (the pooled features when ``head_units=()``).

    Args:
        backbone: one of :data:`BACKBONE_NAMES`.
        num_classes: 1 for one sigmoid unit (P(PNEUMONIA)); >= 2 for a softmax.
        input_shape: ``(H, W, 1 or 3)``; at least 32x32.
        weights: ``"imagenet"`` (download), None (random) or a local weights file of the
            backbone without its top. ResNet-18 has no Keras ImageNet weights.
        freeze_backbone: if True, the backbone's layers are not trainable (batch norm
            then runs in inference mode); the head always trains.
        head_units: widths of the hidden dense layers (report C: ``(500, 100)``).
        dropout: dropout rate after each hidden dense layer (report C: 0.3).
        alpha: width multiplier of MobileNet / MobileNetV2 (0.25 for the 0.25 weights).
        bn_momentum: momentum of the backbone's batch-norm moving statistics when it is
            fine-tuned (``None`` keeps the family's). Keras' MobileNetV2 uses 0.999: after
            a few hundred fine-tuning steps its moving statistics are still mostly
            ImageNet's and validation accuracy collapses while training accuracy rises;
            0.9 lets them follow the new weights.
        name: model name and layer-name prefix; defaults to ``backbone``.

    Returns:
        An uncompiled, flat functional ``keras.Model``.

    Raises:
        ValueError: for an unknown backbone or malformed arguments.
        FileNotFoundError: if a weights path does not exist.
        ConnectionError: if ``"imagenet"`` weights cannot be downloaded.

    Example:
        >>> model = transfer_classifier("mobilenet", input_shape=(32, 32, 1), weights=None,
        ...                             alpha=0.25, head_units=(8,), dropout=0.3)
        >>> model.output_shape, model.get_layer("embedding").units
        ((None, 1), 8)
        >>> any(isinstance(layer, keras.Model) for layer in model.layers)
        False
    """
    name = name or backbone
    input_shape = check_shape_and_classes(input_shape, num_classes)
    if min(input_shape[:2]) < 32:
        raise ValueError(f"ImageNet backbones need inputs of at least 32x32; got {input_shape}.")
    inputs = keras.Input(shape=input_shape, name="image")
    features, own = backbone_features(inputs, backbone, weights=weights, alpha=alpha, name=name)
    if bn_momentum is not None and not 0.0 <= float(bn_momentum) < 1.0:
        raise ValueError(f"bn_momentum must be in [0, 1); got {bn_momentum!r}.")
    for layer in own:
        layer.trainable = not freeze_backbone
        if bn_momentum is not None and isinstance(layer, layers.BatchNormalization):
            layer.momentum = float(bn_momentum)
    pool_name = f"{name}_avg_pool" if head_units else "embedding"
    x = layers.GlobalAveragePooling2D(name=pool_name)(features)
    outputs = _head(x, num_classes, head_units, dropout, name)
    return keras.Model(inputs, outputs, name=name)
