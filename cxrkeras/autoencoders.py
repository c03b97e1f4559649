"""Autoencoders of the course reports, for anomaly scores and encoder features.

Every builder returns a flat functional ``keras.Model`` that maps float32 images in
[0, 1] to a sigmoid reconstruction of the same shape; its bottleneck is the layer named
``"encoded"``, and :func:`encoder_of` cuts the model there for kNN or t-SNE features.
Report A's VAE is :class:`cxrkeras.vae.VAE` (re-exported here).

* :func:`conv_autoencoder` - report B's small conv autoencoder (exact layers).
* :func:`transposed_autoencoder` - report D's strided-conv / transposed-conv autoencoder.
* :func:`efficientnet_autoencoder` - report A's EfficientNet-B4 encoder with a
  transposed-conv + SELU decoder.
"""

from __future__ import annotations

import keras

from cxrkeras.vae import ENCODERS, VAE, backbone_features

__all__ = [
    "VAE",
    "conv_autoencoder",
    "efficientnet_autoencoder",
    "encoder_of",
    "transposed_autoencoder",
]


def _check_shape(input_shape, factor: int, builder: str) -> tuple[int, int, int]:
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels); got {input_shape}.")
    h, w, _ = shape
    if h % factor or w % factor:
        size = (-(-h // factor) * factor, -(-w // factor) * factor)
        raise ValueError(
            f"{builder} needs a height and width divisible by {factor} so that the output "
            f"matches the input; got {h}x{w}. Resize the images to e.g. {size[0]}x{size[1]}."
        )
    return shape


def conv_autoencoder(
    input_shape=(224, 224, 1), *, dropout: float = 0.2, name: str = "conv_autoencoder"
) -> keras.Model:
    """Report B's conv autoencoder (train it with MSE on NORMAL images only).

    Encoder Conv(32)-MaxPool-Conv(16)-MaxPool-Dropout (``"encoded"``); decoder
    Conv(16)-UpSampling-Conv(32)-UpSampling-Dropout-Conv(C, sigmoid). 3x3 kernels, ReLU,
    ``"same"`` padding, as in the report.

    Args:
        input_shape: ``(H, W, C)``, H and W divisible by 4 (the report: grayscale).
        dropout: Dropout rate after the encoder and before the last convolution.
        name: Model name.

    Returns:
        A functional ``keras.Model`` from images to reconstructions of the same shape.

    Raises:
        ValueError: if H or W is not divisible by 4.

    Example:
        >>> model = conv_autoencoder((16, 12, 1))
        >>> model.output.shape, model.get_layer("encoded").output.shape
        ((None, 16, 12, 1), (None, 4, 3, 16))
    """
    shape = _check_shape(input_shape, 4, "conv_autoencoder")
    conv = dict(kernel_size=3, activation="relu", padding="same")
    inp = keras.Input(shape, name="image")
    x = keras.layers.Conv2D(32, name="enc_conv1", **conv)(inp)
    x = keras.layers.MaxPooling2D(2, padding="same", name="enc_pool1")(x)
    x = keras.layers.Conv2D(16, name="enc_conv2", **conv)(x)
    x = keras.layers.MaxPooling2D(2, padding="same", name="enc_pool2")(x)
    encoded = keras.layers.Dropout(dropout, name="encoded")(x)
    x = keras.layers.Conv2D(16, name="dec_conv1", **conv)(encoded)
    x = keras.layers.UpSampling2D(2, name="dec_up1")(x)
    x = keras.layers.Conv2D(32, name="dec_conv2", **conv)(x)
    x = keras.layers.UpSampling2D(2, name="dec_up2")(x)
    x = keras.layers.Dropout(dropout, name="dec_dropout")(x)
    out = keras.layers.Conv2D(
        shape[-1], 3, activation="sigmoid", padding="same", name="reconstruction"
    )(x)
    return keras.Model(inp, out, name=name)


def transposed_autoencoder(
    input_shape=(224, 224, 1),
    *,
    filters=(32, 64, 128),
    name: str = "transposed_autoencoder",
) -> keras.Model:
    """Report D's autoencoder: strided convolutions down, transposed convolutions up.

    The report gives the design (convolutional encoder, transposed-convolution decoder,
    MSE loss) but not the layer sizes; each encoder stage here is a 3x3 stride-2
    convolution with ReLU (the last one is ``"encoded"``), each decoder stage a 3x3
    stride-2 transposed convolution, then a 3x3 sigmoid convolution.

    Args:
        input_shape: ``(H, W, C)``; H and W divisible by ``2 ** len(filters)``.
        filters: Encoder widths; the decoder mirrors them.
        name: Model name.

    Returns:
        A functional ``keras.Model`` from images to reconstructions of the same shape.

    Raises:
        ValueError: if ``filters`` is empty or H, W are not divisible as needed.

    Example:
        >>> model = transposed_autoencoder((16, 8, 1), filters=(4, 8))
        >>> model.output.shape, model.get_layer("encoded").output.shape
        ((None, 16, 8, 1), (None, 4, 2, 8))
    """
    filters = tuple(int(f) for f in filters)
    if not filters:
        raise ValueError("filters must list at least one encoder width, e.g. (32, 64, 128).")
    shape = _check_shape(input_shape, 2 ** len(filters), "transposed_autoencoder")
    inp = keras.Input(shape, name="image")
    x = inp
    for i, f in enumerate(filters, start=1):
        last = i == len(filters)
        x = keras.layers.Conv2D(
            f,
            3,
            strides=2,
            padding="same",
            activation="relu",
            name="encoded" if last else f"enc_conv{i}",
        )(x)
    for i, f in enumerate(reversed(filters), start=1):
        x = keras.layers.Conv2DTranspose(
            f, 3, strides=2, padding="same", activation="relu", name=f"dec_convT{i}"
        )(x)
    out = keras.layers.Conv2D(
        shape[-1], 3, activation="sigmoid", padding="same", name="reconstruction"
    )(x)
    return keras.Model(inp, out, name=name)


def efficientnet_autoencoder(
    input_shape=(256, 256, 1),
    *,
    encoder: str = "efficientnetb4",
    weights=None,
    decoder_filters=(256, 128, 64, 32, 16),
    name: str = "efficientnet_autoencoder",
) -> keras.Model:
    """Report A's autoencoder: EfficientNet-B4 without top, transposed-conv + SELU decoder.

    The encoder is Keras' EfficientNet-B4 (``include_top=False``, wired flat with
    ``input_tensor=``), whose last feature map (H/32 x W/32 x 1792) is the ``"encoded"``
    layer. Five stride-2 ``Conv2DTranspose`` layers with SELU bring it back to H x W, and
    a 3x3 sigmoid convolution gives the image. Report A trained it with cross-entropy
    and Adam; pass ``loss="binary_crossentropy"`` to ``cxrkeras.train.fit`` to match
    (MSE is the default there).

    Args:
        input_shape: ``(H, W, C)`` with C = 1 or 3 and H, W divisible by 32 (report: 256).
        encoder: ``"efficientnetb4"`` (report A), ``"efficientnetb0"`` or ``"small"``
            (two stride-2 convolutions, for tests and CPU runs).
        weights: ``None`` (default), ``"imagenet"`` (downloads) or a local ``.h5`` path.
        decoder_filters: Widths of the five transposed convolutions.
        name: Model name.

    Returns:
        A functional ``keras.Model`` from images to reconstructions of the same shape.

    Raises:
        ValueError: for a size not divisible by the encoder's stride, an unknown encoder
            or a decoder that does not upsample back to the input size.

    Example:
        >>> model = efficientnet_autoencoder((16, 16, 1), encoder="small",
        ...                                  decoder_filters=(8, 4))
        >>> model.output.shape, model.get_layer("encoded").output.shape
        ((None, 16, 16, 1), (None, 4, 4, 32))
    """
    if encoder not in ENCODERS:
        raise ValueError(f"Unknown encoder {encoder!r}. Valid encoders: {list(ENCODERS)}.")
    stride = 4 if encoder == "small" else 32
    shape = _check_shape(input_shape, stride, "efficientnet_autoencoder")
    decoder_filters = tuple(int(f) for f in decoder_filters)
    if 2 ** len(decoder_filters) != stride:
        raise ValueError(
            f"The {encoder!r} encoder downsamples by {stride}, so the decoder needs "
            f"{stride.bit_length() - 1} transposed convolutions; got decoder_filters="
            f"{decoder_filters}."
        )
    inp = keras.Input(shape, name="image")
    feats = backbone_features(inp, encoder=encoder, weights=weights, name="enc")
    x = keras.layers.Identity(name="encoded")(feats)
    for i, f in enumerate(decoder_filters, start=1):
        x = keras.layers.Conv2DTranspose(
            f,
            3,
            strides=2,
            padding="same",
            activation="selu",
            kernel_initializer="lecun_normal",
            name=f"dec_convT{i}",
        )(x)
    out = keras.layers.Conv2D(
        shape[-1], 3, activation="sigmoid", padding="same", name="reconstruction"
    )(x)
    return keras.Model(inp, out, name=name)


def encoder_of(model, *, layer_name: str = "encoded", pooling: str | None = None):
    """The encoder half of an autoencoder: images to bottleneck features.

    Args:
        model: A model from this module (cut at ``layer_name``) or a
            :class:`~cxrkeras.vae.VAE` (images to the latent mean).
        layer_name: The bottleneck layer of a functional autoencoder.
        pooling: ``None`` keeps the feature map, ``"flatten"`` or ``"avg"`` give one
            vector per image (for kNN).

    Returns:
        A functional ``keras.Model`` sharing the autoencoder's layers and weights.

    Raises:
        ValueError: if the layer does not exist or ``pooling`` is unknown.

    Example:
        >>> enc = encoder_of(conv_autoencoder((8, 8, 1)), pooling="flatten")
        >>> enc.output.shape
        (None, 64)
    """
    if pooling not in (None, "flatten", "avg"):
        raise ValueError(f"pooling must be None, 'flatten' or 'avg'; got {pooling!r}.")
    if isinstance(model, VAE):
        enc = model.encoder
        return keras.Model(enc.inputs, enc.get_layer("z_mean").output, name="vae_encoder")
    try:
        features = model.get_layer(layer_name).output
    except ValueError:
        names = [layer.name for layer in model.layers if len(layer.output.shape) == 4]
        raise ValueError(
            f"layer_name={layer_name!r} not found in {model.name!r}. 4-D layers: {names}."
        ) from None
    if pooling == "flatten":
        features = keras.layers.Flatten(name="encoded_flat")(features)
    elif pooling == "avg" and len(features.shape) == 4:
        features = keras.layers.GlobalAveragePooling2D(name="encoded_avg")(features)
    return keras.Model(model.inputs, features, name=f"{model.name}_encoder")
