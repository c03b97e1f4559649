"""ResNet-18 and AlexNet, which ``keras.applications`` does not provide (report D).

Both follow torchvision's definitions layer for layer (explicit zero padding, so a
stride-2 convolution sees the same pixels as PyTorch's ``padding=1``; batch-norm epsilon
1e-5), which makes their parameter counts the canonical ones: ResNet-18 11,689,512 and
AlexNet 61,100,840 with 1000 classes. Layer names follow ``keras.applications.ResNet50``
(``conv1_conv``, ``conv2_block1_1_conv``, ``conv5_block2_out`` ...).
"""

from __future__ import annotations

import os

import keras
from keras import layers

from cxrkeras._builders import check_shape_and_classes, classifier_output
from cxrkeras.image_layers import imagenet_input


def _bn(x, name: str):
    return layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=name)(x)


def _conv_bn(x, filters: int, kernel_size: int, stride: int, name: str, *, relu: bool):
    """Conv (no bias) + BatchNorm (+ ReLU), torchvision-style padding ``kernel_size // 2``."""
    pad = kernel_size // 2
    if stride > 1 and pad:
        x = layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
        x = layers.Conv2D(
            filters, kernel_size, strides=stride, use_bias=False, name=f"{name}_conv"
        )(x)
    else:
        x = layers.Conv2D(
            filters,
            kernel_size,
            strides=stride,
            padding="same",
            use_bias=False,
            name=f"{name}_conv",
        )(x)
    x = _bn(x, f"{name}_bn")
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _basic_block(x, filters: int, stride: int, name: str):
    """ResNet basic block: two 3x3 convs, identity or 1x1 projection shortcut."""
    if stride != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, stride, f"{name}_0", relu=False)
    else:
        shortcut = x
    y = _conv_bn(x, filters, 3, stride, f"{name}_1", relu=True)
    y = _conv_bn(y, filters, 3, 1, f"{name}_2", relu=False)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.ReLU(name=f"{name}_out")(y)


def resnet18_backbone(
    input_shape: tuple[int, int, int] | None = None,
    *,
    input_tensor=None,
    weights: str | os.PathLike | None = None,
    name: str = "resnet18",
) -> keras.Model:
    """ResNet-18 without its head, in the calling convention of ``keras.applications``.

    Stem (7x7/2 conv, 3x3/2 max pool) and four stages of two basic blocks (64, 128,
    256, 512 filters); output the last feature map, ``(H/32, W/32, 512)``. It expects
    already-normalised input (ImageNet mean/std, torchvision's convention);
    :func:`cxrkeras.transfer_classifier` adds that step. 11,176,512 trainable parameters,
    plus 9,600 batch-norm moving statistics.

    Args:
        input_shape: ``(H, W, C)`` when ``input_tensor`` is None.
        input_tensor: symbolic tensor to build on; its layers then join the caller's
            graph (flat), like ``keras.applications``' ``input_tensor=``.
        weights: None (random) or the path of a weights file saved from this backbone
            (``model.save_weights(...)``). There are no Keras ImageNet weights for ResNet-18.
        name: model name.

    Returns:
        A ``keras.Model`` from the source input(s) to the last feature map.

    Raises:
        ValueError: for ``weights="imagenet"`` or when neither shape nor tensor is given.
        FileNotFoundError: if the weights path does not exist.

    Example:
        >>> resnet18_backbone((64, 64, 3)).output_shape
        (None, 2, 2, 512)
    """
    if weights == "imagenet":
        raise ValueError(
            "There are no Keras ImageNet weights for ResNet-18 (keras.applications has no "
            "ResNet-18). Pass weights=None, or the path of a file saved with "
            "resnet18_backbone(...).save_weights(path)."
        )
    if weights is not None and not os.path.exists(weights):
        raise FileNotFoundError(f"ResNet-18 weights file not found: {weights!r}.")
    if input_tensor is None:
        if input_shape is None:
            raise ValueError("Pass input_shape=(H, W, 3) or input_tensor= to resnet18_backbone.")
        input_tensor = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.ZeroPadding2D(3, name="conv1_pad")(input_tensor)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = _bn(x, "conv1_bn")
    x = layers.ReLU(name="conv1_relu")(x)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, filters in enumerate((64, 128, 256, 512), start=2):
        for block in (1, 2):
            stride = 2 if stage > 2 and block == 1 else 1
            x = _basic_block(x, filters, stride, f"conv{stage}_block{block}")
    model = keras.Model(keras.utils.get_source_inputs(input_tensor), x, name=name)
    if weights is not None:
        model.load_weights(weights)
    return model


def alexnet(
    input_shape: tuple[int, int, int] = (224, 224, 1),
    *,
    num_classes: int = 1,
    dropout: float = 0.5,
    name: str = "alexnet",
) -> keras.Model:
    """AlexNet as torchvision defines it (report D compared it with VGG16 and ResNet-18).

    Grayscale to RGB and ImageNet mean/std normalisation inside the model; five convs
    (64 11x11/4, 192 5x5, 384, 256, 256 3x3) with three 3x3/2 max pools; adaptive average
    pooling to 6x6 (so any input of at least 63x63 works and the parameter count does
    not depend on it; a feature map smaller than 6x6, from inputs under 223 pixels, is
    enlarged by repeating pixels, as PyTorch's adaptive pooling does); Dropout-Dense4096-Dropout-Dense4096 (named ``"embedding"``)-output.
    Report D fine-tuned torchvision's ImageNet weights; there are none for Keras, so
    this model starts from random weights.

    Args:
        input_shape: ``(H, W, 1 or 3)`` float32 in [0, 1] (report D: 224x224).
        num_classes: 1 for one sigmoid unit, >= 2 for a softmax (report D: 2 and 3).
        dropout: rate of the two dropout layers of the classifier.
        name: model name and prefix of the layer names.

    Returns:
        An uncompiled, flat functional ``keras.Model``.

    Raises:
        ValueError: for a malformed ``input_shape`` or ``num_classes``, or an input
            smaller than 63x63.

    Example:
        >>> import numpy as np
        >>> model = alexnet((64, 64, 1), num_classes=3)
        >>> tuple(model(np.zeros((1, 64, 64, 1), "float32")).shape)
        (1, 3)
    """
    input_shape = check_shape_and_classes(input_shape, num_classes)
    if min(input_shape[:2]) < 63:
        raise ValueError(f"alexnet needs inputs of at least 63x63 pixels; got {input_shape}.")
    inputs = keras.Input(shape=input_shape, name="image")
    x = imagenet_input(inputs, "torch", name=name)
    specs = ((64, 11, 4, 2, True), (192, 5, 1, 2, True), (384, 3, 1, 1, False))
    specs += ((256, 3, 1, 1, False), (256, 3, 1, 1, True))
    for i, (filters, kernel, stride, pad, pool) in enumerate(specs, start=1):
        x = layers.ZeroPadding2D(pad, name=f"{name}_pad{i}")(x)
        x = layers.Conv2D(
            filters, kernel, strides=stride, activation="relu", name=f"{name}_conv{i}"
        )(x)
        if pool:
            x = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool{i}")(x)
    if min(x.shape[1:3]) >= 6:
        x = layers.AdaptiveAveragePooling2D(6, name=f"{name}_avgpool")(x)
    else:  # Keras' adaptive pooling cannot enlarge; repeat pixels as torch does
        x = layers.Resizing(6, 6, interpolation="nearest", name=f"{name}_avgpool")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dropout(dropout, name=f"{name}_dropout1")(x)
    x = layers.Dense(4096, activation="relu", name=f"{name}_fc1")(x)
    x = layers.Dropout(dropout, name=f"{name}_dropout2")(x)
    x = layers.Dense(4096, activation="relu", name="embedding")(x)
    outputs = classifier_output(x, num_classes)
    return keras.Model(inputs, outputs, name=name)
