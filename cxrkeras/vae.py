"""Report A's variational autoencoder as a Keras 3 model that trains with ``fit(x)``.

The encoder is EfficientNet-B4 without its top (or a small conv net for quick runs)
followed by two dense layers for the mean and log-variance of the latent Gaussian; the
decoder is a small fully connected network that outputs the image. Training minimises
``reconstruction_loss + kl_weight * kl_loss`` and reports both terms as metrics. The
model saves to ``.keras`` and loads with ``safe_mode=True``.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from cxrkeras._common import as_batch

ENCODERS: tuple[str, ...] = ("efficientnetb4", "efficientnetb0", "small")


def backbone_features(x, *, encoder: str = "efficientnetb4", weights=None, name: str = "enc"):
    """Apply an image encoder to ``x`` (images in [0, 1]) and return its feature map.

    ``"efficientnetb4"`` / ``"efficientnetb0"`` are Keras' EfficientNets without top, wired
    flat (``input_tensor=``) after a ``x 255`` rescaling (the Keras EfficientNets
    normalise inside) and, for grayscale input, a 3-channel copy. ``"small"`` is two
    stride-2 convolutions (16 and 32 filters), for tests and CPU notebooks.

    Args:
        x: A Keras tensor ``(batch, H, W, C)``.
        encoder: One of :data:`ENCODERS`.
        weights: ``None``, ``"imagenet"`` (downloads) or a local ``.h5`` path
            (EfficientNets only).
        name: Prefix of the layer names added here.

    Raises:
        ValueError: for an unknown encoder, or weights with the small encoder.
    """
    if encoder == "small":
        if weights is not None:
            raise ValueError(f"weights={weights!r} needs an EfficientNet encoder, not 'small'.")
        for i, filters in enumerate((16, 32), start=1):
            x = keras.layers.Conv2D(
                filters, 3, strides=2, padding="same", activation="relu", name=f"{name}_conv{i}"
            )(x)
        return x
    if encoder not in ENCODERS:
        raise ValueError(f"Unknown encoder {encoder!r}. Valid encoders: {list(ENCODERS)}.")
    x = keras.layers.Rescaling(255.0, name=f"{name}_to_255")(x)
    if x.shape[-1] == 1:
        x = keras.layers.Concatenate(name=f"{name}_gray_to_rgb")([x, x, x])
    elif x.shape[-1] != 3:
        raise ValueError(
            f"An EfficientNet encoder needs 1 or 3 channels; got {x.shape[-1]}. "
            "Use encoder='small' for other channel counts."
        )
    app = (
        keras.applications.EfficientNetB4
        if encoder == "efficientnetb4"
        else keras.applications.EfficientNetB0
    )
    base = app(include_top=False, weights=weights, input_tensor=x)
    return base.output


@keras.saving.register_keras_serializable(package="cxrkeras")
class VAE(keras.Model):
    """Variational autoencoder (report A): CNN encoder, dense decoder, MSE + KL loss.

    ``vae.encoder`` maps images to ``[z_mean, z_log_var]``; ``vae.decoder`` maps a
    latent vector to an image. Calling the model samples ``z`` while training and uses
    ``z_mean`` otherwise, so ``predict`` is deterministic. ``fit(x)`` needs images only
    (labels in ``(x, y)`` pairs are ignored).

    The loss per batch is ``reconstruction_loss + kl_weight * kl_loss``, where
    ``reconstruction_loss`` is the mean squared error over pixels and ``kl_loss`` is the
    KL divergence to N(0, I) summed over latent dimensions. ``kl_weight=None`` uses
    1 / (number of pixels), which makes the loss proportional to the usual ELBO (summed
    squared error + KL).

    Args:
        input_shape: ``(H, W, C)`` of the images (float32 in [0, 1]).
        latent_dim: Size of the latent space.
        encoder: ``"efficientnetb4"`` (report A), ``"efficientnetb0"`` or ``"small"``.
        weights: Encoder weights: ``None``, ``"imagenet"`` or a local ``.h5`` path.
        hidden_units: Widths of the decoder's hidden dense layers.
        kl_weight: Weight of the KL term, or ``None`` for 1 / (H * W * C).
        seed: Seed of the sampling noise.

    Example:
        >>> vae = VAE((16, 16, 1), latent_dim=4, encoder="small", hidden_units=(32,))
        >>> vae.compile(optimizer="adam")
        >>> x = np.random.default_rng(0).random((8, 16, 16, 1), dtype=np.float32)
        >>> sorted(vae.fit(x, epochs=1, batch_size=4, verbose=0).history)
        ['kl_loss', 'loss', 'reconstruction_loss']
        >>> vae.encode(x).shape, vae.predict(x, verbose=0).shape
        ((8, 4), (8, 16, 16, 1))
    """

    def __init__(
        self,
        input_shape=(256, 256, 1),
        latent_dim: int = 128,
        *,
        encoder: str = "efficientnetb4",
        weights=None,
        hidden_units=(512,),
        kl_weight: float | None = None,
        seed: int | None = None,
        name: str = "vae",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        input_shape = tuple(int(d) for d in input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"input_shape must be (H, W, C); got {input_shape}.")
        if int(latent_dim) < 1:
            raise ValueError(f"latent_dim must be a positive integer; got {latent_dim}.")
        self.image_shape = input_shape
        self.latent_dim = int(latent_dim)
        self.encoder_name = encoder
        self.weights_source = weights if weights is None or isinstance(weights, str) else None
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.kl_weight = None if kl_weight is None else float(kl_weight)
        self.seed = seed
        self._kl_scale = 1.0 / math.prod(input_shape) if kl_weight is None else float(kl_weight)

        inp = keras.Input(input_shape, name="image")
        feats = backbone_features(inp, encoder=encoder, weights=weights, name="enc")
        h = keras.layers.GlobalAveragePooling2D(name="enc_pool")(feats)
        z_mean = keras.layers.Dense(self.latent_dim, name="z_mean")(h)
        z_log_var = keras.layers.Dense(self.latent_dim, name="z_log_var")(h)
        self.encoder = keras.Model(inp, [z_mean, z_log_var], name="encoder")

        z = keras.Input((self.latent_dim,), name="z")
        h = z
        for i, units in enumerate(self.hidden_units, start=1):
            h = keras.layers.Dense(units, activation="relu", name=f"dec_dense{i}")(h)
        h = keras.layers.Dense(math.prod(input_shape), activation="sigmoid", name="dec_pixels")(h)
        out = keras.layers.Reshape(input_shape, name="reconstruction")(h)
        self.decoder = keras.Model(z, out, name="decoder")

        self.seed_generator = keras.random.SeedGenerator(seed)
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        self.built = True

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def sample_latent(self, z_mean, z_log_var):
        """Reparameterisation: ``z = mean + exp(log_var / 2) * eps``, ``eps ~ N(0, I)``.

        Computed in float32 whatever the layers' policy (under ``mixed_float16`` the
        encoder returns float16, and ``exp`` of a log-variance overflows there first).
        """
        z_mean = keras.ops.cast(z_mean, "float32")
        z_log_var = keras.ops.cast(z_log_var, "float32")
        eps = keras.random.normal(keras.ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + keras.ops.exp(0.5 * z_log_var) * eps

    def call(self, inputs, training=None):
        z_mean, z_log_var = self.encoder(inputs, training=training)
        z = self.sample_latent(z_mean, z_log_var) if training else z_mean
        return self.decoder(z, training=training)

    def _loss_terms(self, x, training):
        z_mean, z_log_var = self.encoder(x, training=training)
        # The loss is computed in float32 (as Keras does for compiled losses) so that a
        # mixed_float16 policy changes the layers' arithmetic, not the objective.
        z_mean = keras.ops.cast(z_mean, "float32")
        z_log_var = keras.ops.cast(z_log_var, "float32")
        z = self.sample_latent(z_mean, z_log_var) if training else z_mean
        recon = keras.ops.cast(self.decoder(z, training=training), "float32")
        x = keras.ops.cast(x, "float32")
        reconstruction = keras.ops.mean(keras.ops.square(x - recon))
        kl = -0.5 * keras.ops.sum(
            1.0 + z_log_var - keras.ops.square(z_mean) - keras.ops.exp(z_log_var), axis=-1
        )
        kl = keras.ops.mean(kl)
        return reconstruction, kl, reconstruction + self._kl_scale * kl

    def _report(self, reconstruction, kl, total):
        self.total_loss_tracker.update_state(total)
        self.reconstruction_loss_tracker.update_state(reconstruction)
        self.kl_loss_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x = keras.ops.cast(keras.utils.unpack_x_y_sample_weight(data)[0], "float32")
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            reconstruction, kl, total = self._loss_terms(x, training=True)
            scaled = self.optimizer.scale_loss(total / replicas)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._report(reconstruction, kl, total)

    def test_step(self, data):
        x = keras.ops.cast(keras.utils.unpack_x_y_sample_weight(data)[0], "float32")
        return self._report(*self._loss_terms(x, training=False))

    def encode(self, images, *, batch_size: int = 32) -> np.ndarray:
        """Latent means ``(N, latent_dim)`` of one image or a batch (deterministic)."""
        batch, _ = as_batch(images)
        return np.asarray(self.encoder.predict(batch, batch_size=batch_size, verbose=0)[0])

    def decode(self, z, *, batch_size: int = 32) -> np.ndarray:
        """Images ``(N, H, W, C)`` in [0, 1] for latent vectors ``(N, latent_dim)``."""
        z = np.atleast_2d(np.asarray(z, dtype=np.float32))
        return np.asarray(self.decoder.predict(z, batch_size=batch_size, verbose=0))

    def get_config(self):
        return {
            "input_shape": list(self.image_shape),
            "latent_dim": self.latent_dim,
            "encoder": self.encoder_name,
            "weights": None,  # weights are restored from the saved file, not re-downloaded
            "hidden_units": list(self.hidden_units),
            "kl_weight": self.kl_weight,
            "seed": self.seed,
            "name": self.name,
        }
