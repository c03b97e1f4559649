"""Report-specific transfer models and head replacement (reports A, C and D).

* :func:`resnet18` - report D's ResNet-18 classifier;
* :func:`vgg16` - VGG16 with its classic 4096-4096 head (reports A and D);
* :func:`efficientnet_transfer` - report C's EfficientNetB0 with a 500-100-2 head;
* :func:`replace_head` - a new output layer on a trained model's features, as report D
  reuses its binary ResNet-18 for the three-class task.

All take float32 images in ``[0, 1]`` and return flat functional models.
"""

from __future__ import annotations

import os

import keras
from keras import layers

from cxrkeras._builders import check_shape_and_classes, classifier_output
from cxrkeras.backbones import backbone_features, transfer_classifier


def resnet18(
    input_shape: tuple[int, int, int] = (224, 224, 1),
    *,
    num_classes: int = 1,
    weights: str | os.PathLike | None = None,
    freeze_backbone: bool = False,
    name: str = "resnet18",
) -> keras.Model:
    """Report D's ResNet-18 classifier: the backbone, global average pooling, one Dense.

    Report D replaced torchvision ResNet-18's last layer (2 outputs, then 3 for the
    three-class task, see :func:`replace_head`) and fine-tuned the whole network from
    ImageNet weights. Keras has no ImageNet ResNet-18, so ``weights`` is None (random) or
    a file saved from :func:`cxrkeras.classic_nets.resnet18_backbone`. With
    ``input_shape=(224, 224, 3)`` and ``num_classes=1000`` the model has torchvision's
    11,689,512 trainable parameters.

    Args:
        input_shape: ``(H, W, 1 or 3)`` float32 in [0, 1] (report D: 224x224).
        num_classes: 1 for one sigmoid unit, >= 2 for a softmax (report D: 2, then 3).
        weights: None or a ResNet-18 backbone weights file.
        freeze_backbone: report D fine-tuned everything (False).
        name: model name and layer-name prefix.

    Returns:
        An uncompiled, flat functional ``keras.Model``.

    Raises:
        ValueError: for malformed arguments or ``weights="imagenet"``.
        FileNotFoundError: if the weights file does not exist.

    Example:
        >>> resnet18((32, 32, 1), num_classes=2).output_shape
        (None, 2)
    """
    return transfer_classifier(
        "resnet18",
        num_classes=num_classes,
        input_shape=input_shape,
        weights=weights,
        freeze_backbone=freeze_backbone,
        name=name,
    )


def vgg16(
    input_shape: tuple[int, int, int] = (224, 224, 1),
    *,
    num_classes: int = 1,
    weights: str | os.PathLike | None = "imagenet",
    freeze_backbone: bool = False,
    dropout: float = 0.5,
    name: str = "vgg16",
) -> keras.Model:
    """VGG16 with its classic head, as reports A and D fine-tuned it.

    The 13 convolutions of ``keras.applications.VGG16``, then Flatten-Dense4096-Dropout-
    Dense4096 (named ``"embedding"``)-Dropout-output: torchvision's ``vgg16`` classifier
    with the last layer replaced. At 224x224 with 2 classes that is report A's
    134,268,738 parameters. Only the convolutions get ImageNet weights; the dense
    layers start random. Both reports fine-tuned every layer (``freeze_backbone=False``).

    Args:
        input_shape: ``(H, W, 1 or 3)`` float32 in [0, 1], at least 32x32.
        num_classes: 1 for one sigmoid unit, >= 2 for a softmax (report A: 2).
        weights: ``"imagenet"``, None or a local VGG16 no-top weights file.
        freeze_backbone: if True, the convolutions are not trainable.
        dropout: rate of the two dropout layers.
        name: model name and layer-name prefix.

    Returns:
        An uncompiled, flat functional ``keras.Model``.

    Raises:
        ValueError: for malformed arguments.
        FileNotFoundError: if a weights path does not exist.
        ConnectionError: if ``"imagenet"`` weights cannot be downloaded.

    Example:
        >>> vgg16((32, 32, 1), weights=None).get_layer("embedding").units
        4096
    """
    input_shape = check_shape_and_classes(input_shape, num_classes)
    if min(input_shape[:2]) < 32:
        raise ValueError(f"VGG16 needs inputs of at least 32x32; got {input_shape}.")
    inputs = keras.Input(shape=input_shape, name="image")
    features, own = backbone_features(inputs, "vgg16", weights=weights, name=name)
    for layer in own:
        layer.trainable = not freeze_backbone
    x = layers.Flatten(name=f"{name}_flatten")(features)
    x = layers.Dense(4096, activation="relu", name=f"{name}_fc1")(x)
    x = layers.Dropout(dropout, name=f"{name}_dropout1")(x)
    x = layers.Dense(4096, activation="relu", name="embedding")(x)
    x = layers.Dropout(dropout, name=f"{name}_dropout2")(x)
    outputs = classifier_output(x, num_classes)
    return keras.Model(inputs, outputs, name=name)


def efficientnet_transfer(
    input_shape: tuple[int, int, int] = (224, 224, 1),
    *,
    num_classes: int = 2,
    weights: str | os.PathLike | None = "imagenet",
    freeze_backbone: bool = True,
    name: str = "efficientnet_transfer",
) -> keras.Model:
    """Report C's transfer model (table III): EfficientNetB0, then 500-100-2.

    EfficientNetB0 (1280 pooled features) - Dense500 - Dropout(0.3) - Dense100 (named
    ``"embedding"``) - Dropout(0.3) - Dense(2, softmax). The report does not say which
    activation its hidden layers use, nor whether the backbone was frozen: this builder
    uses ReLU and a frozen backbone.

    Args:
        input_shape: ``(H, W, 1 or 3)`` float32 in [0, 1], at least 32x32.
        num_classes: 2 as in the report (softmax); 1 for one sigmoid unit.
        weights: ``"imagenet"``, None or a local EfficientNetB0 no-top weights file.
        freeze_backbone: if True, EfficientNetB0's layers are not trainable.
        name: model name and layer-name prefix.

    Returns:
        An uncompiled, flat functional ``keras.Model``.

    Raises:
        ValueError: for malformed arguments.
        FileNotFoundError: if a weights path does not exist.
        ConnectionError: if ``"imagenet"`` weights cannot be downloaded.
    """
    return transfer_classifier(
        "efficientnetb0",
        num_classes=num_classes,
        input_shape=input_shape,
        weights=weights,
        freeze_backbone=freeze_backbone,
        head_units=(500, 100),
        dropout=0.3,
        name=name,
    )


def replace_head(model: keras.Model, *, num_classes: int, name: str | None = None) -> keras.Model:
    """A copy of ``model`` whose output layer is replaced by a new one with ``num_classes``.

    Every layer up to the output is cloned with its weights and ``trainable`` flag, so
    the result does not share weights with ``model`` (training it leaves ``model``
    unchanged). The new output layer is Dense(``num_classes``), sigmoid for 1 and softmax
    otherwise, named like the old one, with fresh weights. Report D trains a binary
    ResNet-18, then reuses its backbone this way for normal / bacteria / virus.

    Args:
        model: a single-input, single-output functional model whose last layer is a
            ``Dense`` output layer (every cxrkeras classifier is).
        num_classes: outputs of the new head.
        name: name of the new model; defaults to ``f"{model.name}_{num_classes}class"``.

    Returns:
        An uncompiled, flat functional ``keras.Model``.

    Raises:
        TypeError: if ``model`` is not a ``keras.Model``.
        ValueError: if the model has several inputs or outputs, its last layer is not
            ``Dense``, or ``num_classes`` is not a positive int.

    Example:
        >>> from cxrkeras.models import binary_cnn
        >>> binary = binary_cnn((32, 32, 1))
        >>> three = replace_head(binary, num_classes=3)
        >>> three.output_shape
        (None, 3)
        >>> bool((three.get_layer("embedding").get_weights()[0]
        ...       == binary.get_layer("embedding").get_weights()[0]).all())
        True
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model; got {type(model).__name__}.")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"replace_head needs a model with one input and one output; {model.name!r} has "
            f"{len(model.inputs)} inputs and {len(model.outputs)} outputs."
        )
    head = model.layers[-1]
    if not isinstance(head, layers.Dense):
        raise ValueError(
            f"The last layer of {model.name!r} is {head.name!r} ({type(head).__name__}); "
            "replace_head expects a Dense output layer."
        )
    check_shape_and_classes(tuple(model.input_shape[1:]), num_classes)
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    features = clone.layers[-1].input
    outputs = classifier_output(features, num_classes, name=head.name)
    return keras.Model(clone.input, outputs, name=name or f"{model.name}_{num_classes}class")
