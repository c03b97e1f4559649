"""Small CNN classifiers of the course reports, built as flat functional models.

Every builder starts from ``keras.Input`` and names every layer: ``f"{name}_conv{i}"``
for the convolutions, ``"embedding"`` for the last hidden dense layer (the vector that
:mod:`cxrkeras.embed` and kNN read) and ``"predictions"`` for the output layer.
Inputs are float32 images in ``[0, 1]``, channels last (see :mod:`cxrkeras._common`).
``num_classes=1`` gives one sigmoid unit (P(PNEUMONIA)); ``num_classes >= 2`` a softmax.
Models come uncompiled; :mod:`cxrkeras.train` compiles them.

* Report B: :func:`binary_cnn` and :func:`categorical_from_binary`.
* Report C: :func:`cnn_94` and :func:`cnn_v2` (LeakyReLU after every conv and dense layer).
* Report A: :func:`convnet`.

Transfer learning lives in :mod:`cxrkeras.backbones` (``transfer_classifier``) and
:mod:`cxrkeras.transfer_models` (ResNet-18, VGG16, report C's EfficientNet,
``replace_head``), AlexNet in :mod:`cxrkeras.classic_nets`, and the registry of every
builder by name (``get_model``, ``MODEL_NAMES``) in :mod:`cxrkeras.registry`.
"""

from __future__ import annotations

import keras
from keras import layers

from cxrkeras._builders import check_shape_and_classes, classifier_output


def binary_cnn(
    input_shape: tuple[int, int, int] = (150, 150, 1),
    *,
    num_classes: int = 1,
    name: str = "binary_cnn",
) -> keras.Model:
    """Report B's binary CNN: three conv blocks, Dense(64) embedding, Dropout(0.5), sigmoid.

    Layer for layer the report's ``Sequential`` model (valid 3x3 convolutions, ReLU,
    2x2 max pooling): Conv16-Conv16-Pool-Conv32-Pool-Conv64-Pool-Flatten-Dense64-
    Dropout(0.5)-Dense(1, sigmoid). The Dense(64) layer before the dropout is named
    ``"embedding"``; report B runs kNN and t-SNE on it.

    Args:
        input_shape: ``(height, width, channels)`` of float32 images in [0, 1]
            (report B: 150x150 grayscale, rescaled by 1/255 outside the model).
        num_classes: 1 (the report's sigmoid unit) or more for a softmax head.
        name: model name and prefix of the layer names.

    Returns:
        An uncompiled, flat functional ``keras.Model``.

    Raises:
        ValueError: for a malformed ``input_shape`` or ``num_classes``.

    Example:
        >>> model = binary_cnn((32, 32, 1))
        >>> model.output_shape, model.get_layer("embedding").units
        ((None, 1), 64)
    """
    input_shape = check_shape_and_classes(input_shape, num_classes)
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(16, 3, activation="relu", name=f"{name}_conv1")(inputs)
    x = layers.Conv2D(16, 3, activation="relu", name=f"{name}_conv2")(x)
    x = layers.MaxPooling2D(2, name=f"{name}_pool1")(x)
    x = layers.Conv2D(32, 3, activation="relu", name=f"{name}_conv3")(x)
    x = layers.MaxPooling2D(2, name=f"{name}_pool2")(x)
    x = layers.Conv2D(64, 3, activation="relu", name=f"{name}_conv4")(x)
    x = layers.MaxPooling2D(2, name=f"{name}_pool3")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(64, activation="relu", name="embedding")(x)
    x = layers.Dropout(0.5, name=f"{name}_dropout")(x)
    outputs = classifier_output(x, num_classes)
    return keras.Model(inputs, outputs, name=name)


def _first_layers(model: keras.Model, count: int) -> list:
    """The first ``count`` layers of ``model`` after its input layer(s)."""
    body = [layer for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    if len(body) < count:
        raise ValueError(
            f"Model {model.name!r} has {len(body)} layers after its input; at least {count} "
            "are needed to reuse them (report B reuses conv, conv, pool, conv). Pass a model "
            "built by cxrkeras.binary_cnn."
        )
    return body[:count]


def categorical_from_binary(
    binary_model: keras.Model,
    *,
    num_classes: int = 3,
    freeze: bool = False,
    name: str = "categorical_cnn",
) -> keras.Model:
    """Report B's three-class model, started from the binary model's first four layers.

    The report writes ``Sequential([Sequential(binary_model.layers[:4]), Conv2D(64) ...])``:
    the binary model's conv, conv, pool, conv (Conv16-Conv16-Pool-Conv32), then a new
    Conv64-Pool-Flatten-Dense64-Dropout(0.5)-Dense(3, softmax). Note that the reused part
    ends at the Conv32, so there is one pooling layer fewer than in the binary model.

    The model is flat: the four layers are rebuilt from their configs and their weights
    are copied, so the new model's weights are independent of ``binary_model`` (sharing
    the layer objects, as the report's nested ``Sequential`` does, would tie them: training
    one model would change the other). ``freeze`` decides whether the copied layers train.

    Args:
        binary_model: a trained (or fresh) model from :func:`binary_cnn`, or any model
            whose first four layers after the input are the ones to reuse.
        num_classes: outputs of the softmax head (report B: 3, normal / bacteria / virus).
        freeze: if True, the copied layers are not trainable.
        name: model name and prefix of the new layer names.

    Returns:
        An uncompiled, flat functional ``keras.Model`` with ``binary_model``'s input shape.

    Raises:
        TypeError: if ``binary_model`` is not a ``keras.Model``.
        ValueError: if it has fewer than four layers after its input, or for a bad
            ``num_classes``.

    Example:
        >>> binary = binary_cnn((32, 32, 1))
        >>> model = categorical_from_binary(binary)
        >>> model.output_shape
        (None, 3)
        >>> bool((model.get_layer("categorical_cnn_conv1").get_weights()[0]
        ...       == binary.get_layer("binary_cnn_conv1").get_weights()[0]).all())
        True
    """
    if not isinstance(binary_model, keras.Model):
        raise TypeError(
            f"binary_model must be a keras.Model (e.g. from cxrkeras.binary_cnn); got "
            f"{type(binary_model).__name__}."
        )
    input_shape = check_shape_and_classes(tuple(binary_model.input_shape[1:]), num_classes)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    conv_i = pool_i = 0
    for source in _first_layers(binary_model, 4):
        config = source.get_config()
        if isinstance(source, layers.Conv2D):
            conv_i += 1
            config["name"] = f"{name}_conv{conv_i}"
        elif isinstance(source, layers.MaxPooling2D):
            pool_i += 1
            config["name"] = f"{name}_pool{pool_i}"
        else:
            config["name"] = f"{name}_{source.name}"
        copy = source.__class__.from_config(config)
        x = copy(x)
        copy.set_weights(source.get_weights())
        copy.trainable = not freeze
    x = layers.Conv2D(64, 3, activation="relu", name=f"{name}_conv{conv_i + 1}")(x)
    x = layers.MaxPooling2D(2, name=f"{name}_pool{pool_i + 1}")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(64, activation="relu", name="embedding")(x)
    x = layers.Dropout(0.5, name=f"{name}_dropout")(x)
    outputs = classifier_output(x, num_classes)
    return keras.Model(inputs, outputs, name=name)


def _conv_leaky(x, filters: int, kernel_size: int, name: str):
    """Valid convolution followed by LeakyReLU (report C's PyTorch defaults: slope 0.01)."""
    x = layers.Conv2D(filters, kernel_size, name=name)(x)
    return layers.LeakyReLU(negative_slope=0.01, name=f"{name}_leaky")(x)


def _torch_batchnorm(name: str) -> layers.BatchNormalization:
    # PyTorch's BatchNorm defaults (momentum 0.1 for the new batch, eps 1e-5) in Keras terms;
    # Keras' own 0.99 makes the running statistics lag far behind after a short run.
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)


def _dense_leaky(x, units: int, name: str):
    x = layers.Dense(units, name=name)(x)
    return layers.LeakyReLU(negative_slope=0.01, name=f"{name}_leaky")(x)


def cnn_94(
    input_shape: tuple[int, int, int] = (100, 100, 1),
    *,
    num_classes: int = 2,
    name: str = "cnn_94",
) -> keras.Model:
    """Report C's CNN_94 (table I), LeakyReLU after every conv and hidden dense layer.

    Conv12(3x3)-Pool-BatchNorm-Conv18(3x3)-Pool-Conv24(3x3)-Flatten-Dense1000-BatchNorm-
    Dropout(0.3)-Dense100-Dropout(0.3)-Dense10-Dense(2). At 100x100 the shapes are the
    table's: 98x98x12, 49x49x12, 47x47x18, 23x23x18, 21x21x24. Choices where the report
    is silent: LeakyReLU slope 0.01 and BatchNorm momentum / epsilon as PyTorch's
    defaults (report C used PyTorch); the activation of a layer comes
    right after it (before the following BatchNorm); the last layer is a softmax (report
    C's PyTorch cross-entropy applies it inside the loss), so no LeakyReLU on it. The
    Dense(10) layer is named ``"embedding"``.

    Args:
        input_shape: ``(height, width, channels)``, float32 in [0, 1] (report C:
            100x100 grayscale, normalised outside the model).
        num_classes: 2 as in the report (softmax); 1 for one sigmoid unit.
        name: model name and prefix of the layer names.

    Returns:
        An uncompiled, flat functional ``keras.Model``.

    Raises:
        ValueError: for a malformed ``input_shape`` or ``num_classes``.

    Example:
        >>> model = cnn_94()
        >>> model.get_layer("cnn_94_conv3").output.shape
        (None, 21, 21, 24)
    """
    input_shape = check_shape_and_classes(input_shape, num_classes)
    inputs = keras.Input(shape=input_shape, name="image")
    x = _conv_leaky(inputs, 12, 3, f"{name}_conv1")
    x = layers.MaxPooling2D(2, name=f"{name}_pool1")(x)
    x = _torch_batchnorm(f"{name}_bn1")(x)
    x = _conv_leaky(x, 18, 3, f"{name}_conv2")
    x = layers.MaxPooling2D(2, name=f"{name}_pool2")(x)
    x = _conv_leaky(x, 24, 3, f"{name}_conv3")
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = _dense_leaky(x, 1000, f"{name}_dense1")
    x = _torch_batchnorm(f"{name}_bn2")(x)
    x = layers.Dropout(0.3, name=f"{name}_dropout1")(x)
    x = _dense_leaky(x, 100, f"{name}_dense2")
    x = layers.Dropout(0.3, name=f"{name}_dropout2")(x)
    x = _dense_leaky(x, 10, "embedding")
    outputs = classifier_output(x, num_classes)
    return keras.Model(inputs, outputs, name=name)


def cnn_v2(
    input_shape: tuple[int, int, int] = (100, 100, 1),
    *,
    num_classes: int = 2,
    name: str = "cnn_v2",
) -> keras.Model:
    """Report C's CNN_V2 (table II), deeper than CNN_94, LeakyReLU after every layer.

    Conv12(5x5)-Pool-BatchNorm-Conv12-Conv16-Conv12-Conv12 (3x3)-Dropout(0.3)-Pool-Flatten-
    Dense1000-BatchNorm-Dense100-Dropout(0.3)-Dense10-Dense(2). At 100x100 the shapes are
    the table's (96x96x12 ... 40x40x12, 20x20x12). Same choices as :func:`cnn_94`:
    slope 0.01, softmax output, ``"embedding"`` is the Dense(10) layer.

    Args:
        input_shape: ``(height, width, channels)``, float32 in [0, 1] (report C: 100x100).
        num_classes: 2 as in the report (softmax); 1 for one sigmoid unit.
        name: model name and prefix of the layer names.

    Returns:
        An uncompiled, flat functional ``keras.Model``.

    Raises:
        ValueError: for a malformed ``input_shape`` or ``num_classes``.

    Example:
        >>> model = cnn_v2()
        >>> model.get_layer("cnn_v2_pool2").output.shape
        (None, 20, 20, 12)
    """
    input_shape = check_shape_and_classes(input_shape, num_classes)
    inputs = keras.Input(shape=input_shape, name="image")
    x = _conv_leaky(inputs, 12, 5, f"{name}_conv1")
    x = layers.MaxPooling2D(2, name=f"{name}_pool1")(x)
    x = _torch_batchnorm(f"{name}_bn1")(x)
    for i, filters in enumerate((12, 16, 12, 12), start=2):
        x = _conv_leaky(x, filters, 3, f"{name}_conv{i}")
    x = layers.Dropout(0.3, name=f"{name}_dropout1")(x)
    x = layers.MaxPooling2D(2, name=f"{name}_pool2")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = _dense_leaky(x, 1000, f"{name}_dense1")
    x = _torch_batchnorm(f"{name}_bn2")(x)
    x = _dense_leaky(x, 100, f"{name}_dense2")
    x = layers.Dropout(0.3, name=f"{name}_dropout2")(x)
    x = _dense_leaky(x, 10, "embedding")
    outputs = classifier_output(x, num_classes)
    return keras.Model(inputs, outputs, name=name)


def convnet(
    input_shape: tuple[int, int, int] = (256, 256, 1),
    *,
    num_classes: int = 2,
    filters: tuple[int, ...] = (32, 64, 128, 256),
    name: str = "convnet",
) -> keras.Model:
    """Report A's ConvNet: conv + max-pool blocks, then one hidden dense layer, at 256x256.

    Report A only says "multiple convolutional and max-pooling layers, ending with a
    fully connected layer" at 256x256 and gives 19,578,946 parameters; the layer sizes
    are not given. This builder uses four blocks of 3x3 'same' convolution + ReLU + 2x2
    max pooling with ``filters`` (32, 64, 128, 256), Flatten, Dense(256, ReLU) named
    ``"embedding"``, Dropout(0.5) and the output layer: 17.2 M parameters at 256x256x1.

    Args:
        input_shape: ``(height, width, channels)``, float32 in [0, 1] (report A: 256x256).
        num_classes: 2 as in the report (softmax, cross-entropy); 1 for a sigmoid unit.
        filters: filters of each conv block; one block per entry.
        name: model name and prefix of the layer names.

    Returns:
        An uncompiled, flat functional ``keras.Model``.

    Raises:
        ValueError: for a malformed ``input_shape``, ``num_classes`` or ``filters``.

    Example:
        >>> convnet((32, 32, 1), filters=(4, 8)).output_shape
        (None, 2)
    """
    input_shape = check_shape_and_classes(input_shape, num_classes)
    if not filters or not all(isinstance(f, int) and f > 0 for f in filters):
        raise ValueError(f"filters must be a non-empty tuple of positive ints; got {filters!r}.")
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for i, width in enumerate(filters, start=1):
        x = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"{name}_conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"{name}_pool{i}")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(256, activation="relu", name="embedding")(x)
    x = layers.Dropout(0.5, name=f"{name}_dropout")(x)
    outputs = classifier_output(x, num_classes)
    return keras.Model(inputs, outputs, name=name)
