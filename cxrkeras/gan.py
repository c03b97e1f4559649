"""Auxiliary classifier GAN (ACGAN, Odena et al. 2017) for grayscale chest X-rays.

Report E trained a GAN to augment the three-class problem (normal / bacteria / virus)
and a classifier beside it. This module builds the textbook ACGAN instead: the
generator is conditioned on the class (an embedding of the label multiplied with the
noise), and the discriminator shares one convolutional trunk between a real/fake head
(one logit) and a class head (softmax over ``num_classes``). After training, the class
head is a three-class classifier of its own (:func:`discriminator_classifier`) and the
generator can synthesise images of the minority classes (:mod:`cxrkeras.synthetic`).

Images are float32 in ``[0, 1]``, channels last, like everywhere in cxrkeras: the
generator ends in ``tanh`` followed by a rescaling to ``[0, 1]``. Labels follow
:mod:`cxrkeras._common` (normal=0, bacteria=1, virus=2). Report E also used a second
data set (Kaggle ``andrewmvd/pediatric-pneumonia-chest-xray``, layout
``Pediatric Chest X-ray Pneumonia/{train,test}/{NORMAL,PNEUMONIA}``), which
``cxrkeras.datasets`` reads like the Kermany tree.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from cxrkeras._common import as_batch
from cxrkeras.gan_builders import acgan_discriminator, acgan_generator

__all__ = [
    "ACGAN",
    "acgan",
    "acgan_discriminator",
    "acgan_generator",
    "discriminator_classifier",
    "predict_classes",
]


@keras.saving.register_keras_serializable(package="cxrkeras")
class ACGAN(keras.Model):
    """An auxiliary classifier GAN trained with plain ``fit(dataset_of_(images, labels))``.

    Each step trains the discriminator on a real batch and on a batch of generated
    images of uniformly drawn classes (binary cross-entropy on the real/fake logit plus
    ``class_loss_weight`` times the class cross-entropy on both), then trains the
    generator to make the discriminator call its images real *and* of the class they
    were conditioned on. Labels may be integers ``(B,)`` / ``(B, 1)`` or one-hot.

    Logged metrics: ``d_loss``, ``g_loss``, ``d_class_accuracy`` (class head on real
    images), ``real_accuracy`` and ``fake_accuracy`` (real/fake head). Report E found
    its GAN "tough to converge": watch the two accuracies (both near 1.0 means the
    discriminator has won and the generator learns little) and the
    :class:`cxrkeras.synthetic.SampleGrid` images rather than the losses alone.

    Args:
        generator: A model ``[noise, label] -> image`` (see :func:`acgan_generator`).
        discriminator: A model ``image -> [logit, class_probs]``
            (see :func:`acgan_discriminator`).
        latent_dim: Noise length; read from the generator when ``None``.
        class_loss_weight: Weight of the class terms in both losses.
        seed: Seed of the noise and fake labels drawn during training.
        **kwargs: Passed to ``keras.Model`` (e.g. ``name``).

    Example:
        >>> gan = acgan(image_size=16, latent_dim=8, filters=4, num_blocks=2, seed=0)
        >>> gan.compile()
        >>> x, y = np.random.rand(8, 16, 16, 1).astype("float32"), np.arange(8) % 3
        >>> h = gan.fit(x, y, batch_size=4, epochs=1, verbose=0)
        >>> sorted(h.history)
        ['d_class_accuracy', 'd_loss', 'fake_accuracy', 'g_loss', 'real_accuracy']
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        *,
        latent_dim: int | None = None,
        class_loss_weight: float = 1.0,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if len(generator.inputs) != 2 or len(discriminator.outputs) != 2:
            raise ValueError(
                "ACGAN expects a generator with inputs [noise, label] and a discriminator "
                f"with outputs [logit, class_probs]; got {len(generator.inputs)} generator "
                f"inputs and {len(discriminator.outputs)} discriminator outputs. Build them "
                "with acgan_generator() and acgan_discriminator()."
            )
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim or generator.inputs[0].shape[-1])
        self.num_classes = int(discriminator.outputs[1].shape[-1])
        self.class_loss_weight = float(class_loss_weight)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.class_accuracy = keras.metrics.SparseCategoricalAccuracy(name="d_class_accuracy")
        self.real_accuracy = keras.metrics.BinaryAccuracy(name="real_accuracy", threshold=0.0)
        self.fake_accuracy = keras.metrics.BinaryAccuracy(name="fake_accuracy", threshold=0.0)
        self._bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self._cce = keras.losses.SparseCategoricalCrossentropy()
        self.built = True  # both sub-models are functional, hence already built

    def build(self, input_shape=None):
        """Both sub-models are functional and built; mark the wrapper built."""
        self.built = True

    def call(self, inputs, training=False):
        """Generate images from ``[noise, label]``."""
        return self.generator(inputs, training=training)

    def compile(
        self,
        d_optimizer: keras.optimizers.Optimizer | str | None = None,
        g_optimizer: keras.optimizers.Optimizer | str | None = None,
        **kwargs,
    ):
        """Set the two optimizers (default: Adam(2e-4, beta_1=0.5) each, as in DCGAN)."""
        super().compile(**kwargs)
        self.d_optimizer = _optimizer(d_optimizer)
        self.g_optimizer = _optimizer(g_optimizer)

    def get_compile_config(self):
        return {
            "d_optimizer": keras.optimizers.serialize(self.d_optimizer),
            "g_optimizer": keras.optimizers.serialize(self.g_optimizer),
        }

    def compile_from_config(self, config):
        self.compile(
            d_optimizer=keras.optimizers.deserialize(config["d_optimizer"]),
            g_optimizer=keras.optimizers.deserialize(config["g_optimizer"]),
        )
        # Build the optimizers now so that their saved state (moments, step) loads.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        return [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.class_accuracy,
            self.real_accuracy,
            self.fake_accuracy,
        ]

    def _int_labels(self, labels):
        if labels.shape.rank == 2 and labels.shape[-1] == self.num_classes > 1:
            labels = tf.argmax(labels, axis=-1)
        return tf.cast(tf.reshape(labels, [-1]), "int32")

    def train_step(self, data):
        if not isinstance(data, tuple) or len(data) < 2:
            raise ValueError(
                "ACGAN.fit needs (images, labels) batches; got a dataset without labels. "
                "Map it to (image, label) pairs, e.g. ds.map(lambda x, y: (x, y))."
            )
        images, labels = data[0], self._int_labels(data[1])
        batch = tf.shape(images)[0]
        noise = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        fake_labels = keras.random.randint((batch,), 0, self.num_classes, seed=self.seed_generator)
        fake_labels = tf.cast(fake_labels, "int32")
        ones, zeros = tf.ones((batch, 1)), tf.zeros((batch, 1))
        w = self.class_loss_weight

        with tf.GradientTape() as tape:
            fakes = self.generator([noise, fake_labels[:, None]], training=True)
            real_logit, real_probs = self.discriminator(images, training=True)
            fake_logit, fake_probs = self.discriminator(fakes, training=True)
            d_loss = 0.5 * (self._bce(ones, real_logit) + self._bce(zeros, fake_logit))
            d_loss += 0.5 * w * (self._cce(labels, real_probs) + self._cce(fake_labels, fake_probs))
        weights = self.discriminator.trainable_weights
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, weights), weights, strict=True))

        with tf.GradientTape() as tape:
            fakes = self.generator([noise, fake_labels[:, None]], training=True)
            fake_logit_g, fake_probs_g = self.discriminator(fakes, training=True)
            g_loss = self._bce(ones, fake_logit_g) + w * self._cce(fake_labels, fake_probs_g)
        weights = self.generator.trainable_weights
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, weights), weights, strict=True))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.class_accuracy.update_state(labels, real_probs)
        self.real_accuracy.update_state(ones, real_logit)
        self.fake_accuracy.update_state(zeros, fake_logit)
        return {m.name: m.result() for m in self.metrics}

    def generate(self, labels, *, seed: int = 0, batch_size: int = 64) -> np.ndarray:
        """Generate one image per label, with noise drawn from ``seed``.

        Example:
            >>> gan = acgan(image_size=16, latent_dim=8, filters=4, num_blocks=2)
            >>> gan.generate([0, 1, 2]).shape
            (3, 16, 16, 1)
        """
        labels = np.asarray(labels, dtype="int32").reshape(-1)
        noise = np.random.default_rng(seed).standard_normal((len(labels), self.latent_dim))
        out = self.generator.predict(
            [noise.astype("float32"), labels[:, None]], batch_size=batch_size, verbose=0
        )
        return np.asarray(out, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            generator=keras.saving.serialize_keras_object(self.generator),
            discriminator=keras.saving.serialize_keras_object(self.discriminator),
            latent_dim=self.latent_dim,
            class_loss_weight=self.class_loss_weight,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        generator = keras.saving.deserialize_keras_object(config.pop("generator"))
        discriminator = keras.saving.deserialize_keras_object(config.pop("discriminator"))
        return cls(generator, discriminator, **config)


def _optimizer(optimizer):
    if optimizer is None:
        return keras.optimizers.Adam(2e-4, beta_1=0.5)
    return keras.optimizers.get(optimizer)


def acgan(
    *,
    image_size: int = 64,
    num_classes: int = 3,
    latent_dim: int = 100,
    filters: int = 64,
    num_blocks: int = 3,
    seed: int | None = None,
) -> ACGAN:
    """Build an uncompiled :class:`ACGAN` from :func:`acgan_generator` and
    :func:`acgan_discriminator` with matching sizes.

    Args:
        image_size: Height and width of the images (64-128 px for X-rays).
        num_classes: Number of classes (3: normal / bacteria / virus).
        latent_dim: Noise length.
        filters: Base filter count of both networks.
        num_blocks: Number of stride-2 blocks in both networks.
        seed: Seed of the initializers, the dropout and the training noise.

    Returns:
        An :class:`ACGAN`; call ``compile()`` then ``fit(images, labels)``.

    Example:
        >>> gan = acgan(image_size=16, latent_dim=8, filters=4, num_blocks=2, seed=1)
        >>> gan.generator.output_shape, gan.num_classes
        ((None, 16, 16, 1), 3)
    """
    generator = acgan_generator(
        image_size=image_size,
        num_classes=num_classes,
        latent_dim=latent_dim,
        filters=filters,
        num_blocks=num_blocks,
        seed=seed,
    )
    discriminator = acgan_discriminator(
        image_size=image_size,
        num_classes=num_classes,
        filters=filters,
        num_blocks=num_blocks,
        seed=seed,
    )
    return ACGAN(generator, discriminator, latent_dim=latent_dim, seed=seed, name="acgan")


def discriminator_classifier(
    gan: ACGAN | keras.Model, *, name: str = "acgan_classifier"
) -> keras.Model:
    """The discriminator's class head as a classifier: ``images -> softmax``.

    The returned functional model shares its layers (and weights) with the GAN, so it
    follows further GAN training; clone it (``keras.models.clone_model`` plus
    ``set_weights``) to freeze a copy. It takes float32 images in ``[0, 1]`` and can be
    evaluated like any cxrkeras classifier (``cxrkeras.evaluate.evaluate``).

    Args:
        gan: An :class:`ACGAN` or its discriminator.
        name: Name of the returned model.

    Returns:
        A ``keras.Model`` from the image input to the ``class_probs`` output.

    Raises:
        TypeError: if ``gan`` has no discriminator with two outputs.

    Example:
        >>> gan = acgan(image_size=16, latent_dim=8, filters=4, num_blocks=2)
        >>> clf = discriminator_classifier(gan)
        >>> clf.predict(np.zeros((2, 16, 16, 1)), verbose=0).shape
        (2, 3)
    """
    disc = getattr(gan, "discriminator", gan)
    if not isinstance(disc, keras.Model) or len(getattr(disc, "outputs", None) or []) != 2:
        raise TypeError(
            f"Expected an ACGAN or a discriminator with outputs [logit, class_probs]; got "
            f"{type(gan).__name__}. Build one with cxrkeras.gan.acgan()."
        )
    return keras.Model(disc.inputs, disc.outputs[1], name=name)


def predict_classes(gan: ACGAN | keras.Model, images) -> np.ndarray:
    """Class probabilities of the discriminator's class head for one image or a batch.

    Example:
        >>> gan = acgan(image_size=16, latent_dim=8, filters=4, num_blocks=2)
        >>> predict_classes(gan, np.zeros((16, 16, 1))).shape
        (1, 3)
    """
    batch, _ = as_batch(images)
    return np.asarray(discriminator_classifier(gan).predict(batch, verbose=0))
