"""Builders of the ACGAN's two networks: a class-conditional generator and a
discriminator with a real/fake head and a class head on one conv trunk.

Used by :func:`cxrkeras.gan.acgan`; see :mod:`cxrkeras.gan` for the model that trains
them. Images are grayscale float32 in ``[0, 1]``, channels last.
"""

from __future__ import annotations

import keras
import numpy as np  # noqa: F401  (used by the doctests)
from keras import layers


def _init(seed: int | None, offset: int, kind: str = "GlorotUniform"):
    """A seeded initializer (distinct per layer), or Keras' default when unseeded."""
    if seed is None:
        return {"GlorotUniform": "glorot_uniform", "RandomUniform": "uniform"}[kind]
    return getattr(keras.initializers, kind)(seed=seed + offset)


def _start_size(image_size: int, num_blocks: int) -> int:
    if not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"image_size must be an int >= 8; got {image_size!r}.")
    if num_blocks < 1 or image_size % (2**num_blocks):
        raise ValueError(
            f"image_size={image_size} is not divisible by 2**num_blocks={2**num_blocks}. "
            f"Use an image_size that is a multiple of {2**num_blocks} (e.g. 64 or 128) "
            "or change num_blocks."
        )
    return image_size // 2**num_blocks


def acgan_generator(
    *,
    image_size: int = 64,
    num_classes: int = 3,
    latent_dim: int = 100,
    filters: int = 64,
    num_blocks: int = 3,
    seed: int | None = None,
) -> keras.Model:
    """Build the class-conditional generator: ``[noise, label] -> image`` in ``[0, 1]``.

    The label is embedded into ``latent_dim`` values and multiplied with the noise, a
    dense layer projects the product to a small feature map, and ``num_blocks``
    stride-2 ``Conv2DTranspose`` blocks (batch norm, ReLU) upsample it to
    ``image_size``. The last convolution has a ``tanh`` output, rescaled to ``[0, 1]``.

    Args:
        image_size: Height and width of the generated images; a multiple of
            ``2**num_blocks``.
        num_classes: Number of classes the generator is conditioned on.
        latent_dim: Length of the noise vector.
        filters: Filters of the last upsampling block; earlier blocks double it.
        num_blocks: Number of stride-2 upsampling blocks.
        seed: Seed of the weight initializers, for reproducible models.

    Returns:
        A functional ``keras.Model`` named ``acgan_generator`` with inputs
        ``noise`` ``(latent_dim,)`` and ``label`` ``(1,)`` (int) and output
        ``(image_size, image_size, 1)``.

    Raises:
        ValueError: if ``image_size`` is not divisible by ``2**num_blocks``.

    Example:
        >>> g = acgan_generator(image_size=16, latent_dim=8, filters=4, num_blocks=2)
        >>> g.predict([np.zeros((2, 8)), np.array([0, 2])], verbose=0).shape
        (2, 16, 16, 1)
    """
    start = _start_size(image_size, num_blocks)
    noise = keras.Input((latent_dim,), name="noise")
    label = keras.Input((1,), dtype="int32", name="label")
    emb = layers.Embedding(
        num_classes,
        latent_dim,
        embeddings_initializer=_init(seed, 0, "RandomUniform"),
        name="gen_label_embedding",
    )(label)
    emb = layers.Flatten(name="gen_label_flatten")(emb)
    x = layers.Multiply(name="gen_condition")([noise, emb])
    width = filters * 2**num_blocks
    x = layers.Dense(start * start * width, kernel_initializer=_init(seed, 1), name="gen_project")(
        x
    )
    x = layers.Reshape((start, start, width), name="gen_reshape")(x)
    x = layers.BatchNormalization(name="gen_project_bn")(x)
    x = layers.ReLU(name="gen_project_relu")(x)
    for i in range(num_blocks):
        width //= 2
        x = layers.Conv2DTranspose(
            width,
            4,
            strides=2,
            padding="same",
            use_bias=False,
            kernel_initializer=_init(seed, 2 + i),
            name=f"gen_block{i + 1}_upconv",
        )(x)
        x = layers.BatchNormalization(name=f"gen_block{i + 1}_bn")(x)
        x = layers.ReLU(name=f"gen_block{i + 1}_relu")(x)
    x = layers.Conv2D(
        1,
        3,
        padding="same",
        activation="tanh",
        kernel_initializer=_init(seed, 2 + num_blocks),
        name="gen_out_conv",
    )(x)
    image = layers.Rescaling(0.5, offset=0.5, name="gen_to_unit_range")(x)
    return keras.Model([noise, label], image, name="acgan_generator")


def acgan_discriminator(
    *,
    image_size: int = 64,
    num_classes: int = 3,
    filters: int = 64,
    num_blocks: int = 3,
    dropout: float = 0.3,
    seed: int | None = None,
) -> keras.Model:
    """Build the discriminator: one conv trunk, a real/fake logit and a class softmax.

    Args:
        image_size: Height and width of the input images (grayscale, ``[0, 1]``).
        num_classes: Number of units of the class head.
        filters: Filters of the first stride-2 convolution; each block doubles them.
        num_blocks: Number of stride-2 convolution blocks (LeakyReLU, dropout).
        dropout: Dropout rate after each block.
        seed: Seed of the weight initializers and dropout.

    Returns:
        A functional ``keras.Model`` named ``acgan_discriminator`` with input
        ``image`` and outputs ``[real_fake_logit (1,), class_probs (num_classes,)]``.

    Example:
        >>> d = acgan_discriminator(image_size=16, filters=4, num_blocks=2)
        >>> [o.shape for o in d.predict(np.zeros((2, 16, 16, 1)), verbose=0)]
        [(2, 1), (2, 3)]
    """
    _start_size(image_size, num_blocks)
    image = keras.Input((image_size, image_size, 1), name="image")
    x = image
    for i in range(num_blocks):
        x = layers.Conv2D(
            filters * 2**i,
            4,
            strides=2,
            padding="same",
            kernel_initializer=_init(seed, 10 + i),
            name=f"disc_block{i + 1}_conv",
        )(x)
        x = layers.LeakyReLU(0.2, name=f"disc_block{i + 1}_lrelu")(x)
        x = layers.Dropout(dropout, seed=seed, name=f"disc_block{i + 1}_dropout")(x)
    x = layers.Flatten(name="disc_flatten")(x)
    logit = layers.Dense(1, kernel_initializer=_init(seed, 20), name="real_fake_logit")(x)
    probs = layers.Dense(
        num_classes, activation="softmax", kernel_initializer=_init(seed, 21), name="class_probs"
    )(x)
    return keras.Model(image, [logit, probs], name="acgan_discriminator")
