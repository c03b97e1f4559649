"""GAN augmentation: synthesise images per class, mix them into a tf.data pipeline, and
watch a class-conditional generator learn.

Report E used GAN images to rebalance the classes; it found they helped normal vs
pneumonia slightly and did not help bacterial vs viral pneumonia. The usual recipe:

1. ``counts = rebalance_counts(train_labels)`` (how many images each class lacks);
2. ``images, labels = synthesize(gan, counts)``;
3. ``ds = mix_synthetic(train_ds, images, labels, ratio=0.25)``.

Synthetic images are float32 in ``[0, 1]`` with one channel, like the rest of
cxrkeras; labels are class indices (normal=0, bacteria=1, virus=2).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from cxrkeras._common import class_names_for


def _generator(generator_or_gan) -> keras.Model:
    gen = getattr(generator_or_gan, "generator", generator_or_gan)
    if not isinstance(gen, keras.Model) or len(gen.inputs) != 2:
        raise TypeError(
            "Expected an ACGAN or a generator model with inputs [noise, label]; got "
            f"{type(generator_or_gan).__name__}. Build one with cxrkeras.gan.acgan()."
        )
    return gen


def _num_classes(gen: keras.Model) -> int | None:
    for layer in gen.layers:
        if isinstance(layer, keras.layers.Embedding):
            return int(layer.input_dim)
    return None


def _class_index(key, class_names: tuple[str, ...]) -> int:
    if isinstance(key, str):
        lowered = [n.lower() for n in class_names]
        if key.lower() not in lowered:
            raise ValueError(f"Unknown class name {key!r}; expected one of {list(class_names)}.")
        return lowered.index(key.lower())
    index = int(key)
    if not 0 <= index < len(class_names):
        raise ValueError(f"Class index {key!r} out of range; expected 0..{len(class_names) - 1}.")
    return index


def synthesize(
    generator_or_gan,
    class_counts: Mapping[int | str, int],
    *,
    seed: int = 0,
    batch_size: int = 64,
    verbose: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``class_counts[c]`` images of each class ``c``.

    Args:
        generator_or_gan: An :class:`cxrkeras.gan.ACGAN` or its generator.
        class_counts: Images wanted per class, keyed by index or by class name
            (``{"virus": 300}`` or ``{2: 300}``); :func:`rebalance_counts` computes it.
        seed: Seed of the noise; the same seed gives the same images.
        batch_size: Images generated per forward pass.
        verbose: Show a progress bar.

    Returns:
        ``(images, labels)``: float32 ``(N, H, W, 1)`` in ``[0, 1]`` and int32 ``(N,)``.

    Raises:
        TypeError: if ``generator_or_gan`` is not a conditional generator.
        ValueError: for an unknown class or a negative count.

    Example:
        >>> from cxrkeras.gan import acgan
        >>> gan = acgan(image_size=16, latent_dim=8, filters=4, num_blocks=2)
        >>> x, y = synthesize(gan, {"bacteria": 2, 2: 3})
        >>> x.shape, y.tolist()
        ((5, 16, 16, 1), [1, 1, 2, 2, 2])
    """
    gen = _generator(generator_or_gan)
    names = class_names_for(_num_classes(gen) or 3)
    labels = []
    for key, count in class_counts.items():
        if int(count) < 0:
            raise ValueError(f"class_counts[{key!r}]={count} is negative; pass counts >= 0.")
        labels += [_class_index(key, names)] * int(count)
    labels = np.sort(np.asarray(labels, dtype="int32"), kind="stable")
    latent_dim = int(gen.inputs[0].shape[-1])
    noise = np.random.default_rng(seed).standard_normal((len(labels), latent_dim))
    noise = noise.astype("float32")
    out = [np.zeros((0, *gen.output_shape[1:]), dtype="float32")]
    for start in tqdm(range(0, len(labels), batch_size), disable=not verbose, desc="synthesize"):
        stop = start + batch_size
        batch = gen([noise[start:stop], labels[start:stop, None]], training=False)
        out.append(keras.ops.convert_to_numpy(batch).astype("float32"))
    return np.clip(np.concatenate(out), 0.0, 1.0), labels


def rebalance_counts(labels, *, num_classes: int | None = None, target: int | None = None) -> dict:
    """How many images to synthesise per class to bring every class to ``target``.

    Args:
        labels: Integer labels ``(N,)`` or one-hot labels ``(N, C)``.
        num_classes: Number of classes; inferred from the labels when ``None``.
        target: Images wanted per class; the largest class count when ``None``.

    Returns:
        ``{class_index: count}`` for every class (0 for classes already at ``target``).

    Example:
        >>> rebalance_counts([0, 0, 0, 0, 1, 1, 2])
        {0: 0, 1: 2, 2: 3}
        >>> rebalance_counts([[1, 0], [0, 1]], target=3)
        {0: 2, 1: 2}
    """
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[1] > 1:
        num_classes = num_classes or arr.shape[1]
        arr = arr.argmax(axis=1)
    arr = arr.reshape(-1).astype(int)
    if arr.size and arr.min() < 0:
        raise ValueError(f"Labels must be class indices >= 0; got a minimum of {arr.min()}.")
    counts = np.bincount(arr, minlength=num_classes or 0)
    goal = int(counts.max()) if target is None else int(target)
    return {c: max(goal - int(n), 0) for c, n in enumerate(counts)}


def _mixable(real_dataset: tf.data.Dataset):
    spec = real_dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise ValueError(
            "mix_synthetic needs a dataset of (image, label) pairs; got elements "
            f"{spec}. Drop sample weights or map dict inputs to (image, label) first."
        )
    return spec


def mix_synthetic(
    real_dataset: tf.data.Dataset,
    synthetic_images,
    synthetic_labels,
    *,
    ratio: float = 0.25,
    seed: int = 0,
    batch_size: int | None = None,
) -> tf.data.Dataset:
    """Mix synthetic images into a tf.data pipeline so a fraction ``ratio`` is synthetic.

    Works on batched or unbatched datasets of ``(image, label)``: a batched one is
    unbatched, mixed per image and batched again (with ``batch_size``, or the size of
    its first batch). Synthetic labels (class indices) are converted to the real
    labels' encoding: one-hot when the real labels are vectors of ``C`` > 1 values,
    otherwise integers or floats of the real dtype and shape. For a binary data set
    (NORMAL=0 / PNEUMONIA=1) fed by a three-class generator, pass
    ``np.minimum(labels, 1)``. Every real element is used once per pass and the
    synthetic images are drawn (cycling through a shuffled pool) to make up ``ratio``
    of the result. When the real dataset's size is known (an unbatched
    ``from_tensor_slices`` pipeline), the mix holds exactly
    ``round(N_real * ratio / (1 - ratio))`` synthetic elements in a reshuffled order
    and keeps a known cardinality; otherwise each element is drawn at random with
    ``tf.data.Dataset.sample_from_datasets`` (about ``ratio`` synthetic; the epoch
    length varies, and Keras may warn that the input "ran out of data").

    Args:
        real_dataset: The real ``(image, label)`` dataset.
        synthetic_images: ``(N, H, W, C)`` images matching the real image shape.
        synthetic_labels: ``(N,)`` class indices.
        ratio: Fraction of synthetic elements, in ``[0, 1)``.
        seed: Seed of the sampling and of the synthetic shuffle.
        batch_size: Batch size of the result when the input is batched.

    Returns:
        The mixed ``tf.data.Dataset``, batched like the input.

    Raises:
        ValueError: for a ratio outside ``[0, 1)``, or mismatched shapes or counts.

    Example:
        >>> real = tf.data.Dataset.from_tensor_slices((np.zeros((300, 4, 4, 1)), np.zeros(300)))
        >>> ds = mix_synthetic(real, np.ones((10, 4, 4, 1)), np.ones(10), ratio=0.5)
        >>> labels = np.array([float(y) for _, y in ds])
        >>> bool(0.4 < labels.mean() < 0.6)
        True
    """
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"ratio={ratio} is outside [0, 1); pass e.g. ratio=0.25.")
    x_spec, y_spec = _mixable(real_dataset)
    batched = x_spec.shape.rank == 4
    if batched and batch_size is None:
        batch_size = int(next(iter(real_dataset.take(1)))[0].shape[0])
    if batched:
        real_dataset = real_dataset.unbatch()
        x_spec, y_spec = real_dataset.element_spec
    if not x_spec.dtype.is_floating or None in y_spec.shape:
        raise ValueError(
            f"mix_synthetic needs float images and labels of known shape; got images "
            f"{x_spec.dtype.name} and labels of shape {y_spec.shape}. Rescale to float32 "
            "in [0, 1] before mixing (cxrkeras.data pipelines do)."
        )
    images = np.asarray(synthetic_images)
    labels = np.asarray(synthetic_labels).reshape(-1).astype(int)
    if images.shape[1:] != tuple(x_spec.shape) or len(images) != len(labels) or not len(images):
        raise ValueError(
            f"Synthetic images {images.shape} with {len(labels)} labels do not fit real images "
            f"of shape {tuple(x_spec.shape)}. Generate at the same size (resize first), with "
            "one label per image; repeat the channel for RGB pipelines: np.repeat(x, 3, -1)."
        )
    if y_spec.shape.rank >= 1 and y_spec.shape[-1] > 1:
        labels = np.eye(int(y_spec.shape[-1]))[labels]
    else:
        labels = labels.reshape((-1, *y_spec.shape))
    synthetic = tf.data.Dataset.from_tensor_slices(
        (images.astype(x_spec.dtype.as_numpy_dtype), labels.astype(y_spec.dtype.as_numpy_dtype))
    )
    synthetic = synthetic.shuffle(len(images), seed=seed).repeat()
    if ratio == 0:
        mixed = real_dataset
    elif (n_real := int(real_dataset.cardinality())) > 0:
        # Known size: an exact, reshuffled pattern of real / synthetic picks, so the
        # result has a known cardinality (Keras then knows the epoch length).
        n_syn = round(n_real * ratio / (1.0 - ratio))
        pattern = tf.data.Dataset.from_tensor_slices(np.repeat([0, 1], [n_real, n_syn]))
        pattern = pattern.shuffle(n_real + n_syn, seed=seed, reshuffle_each_iteration=True)
        mixed = tf.data.Dataset.choose_from_datasets([real_dataset, synthetic], pattern)
        mixed = mixed.apply(tf.data.experimental.assert_cardinality(n_real + n_syn))
    else:
        mixed = tf.data.Dataset.sample_from_datasets(
            [real_dataset, synthetic], weights=[1.0 - ratio, ratio], seed=seed,
            stop_on_empty_dataset=True,
        )  # fmt: skip
    return mixed.batch(batch_size) if batched else mixed


class SampleGrid(keras.callbacks.Callback):
    """Save a grid of generated images after each epoch: one row per class.

    The noise is drawn once from ``seed`` and reused every epoch (and for every row),
    so the PNGs show the same "patients" improving across epochs, and each column
    shows what the class label alone changes. Files are written as
    ``{directory}/{prefix}_epoch{NNN}.png``; the folder is created if needed.

    Args:
        directory: Folder for the PNG files.
        samples_per_class: Columns of the grid.
        seed: Seed of the fixed noise.
        class_names: Row titles; from the number of classes when ``None``.
        prefix: File name prefix.
        every: Save every ``every`` epochs.

    Example:
        >>> import tempfile
        >>> from cxrkeras.gan import acgan
        >>> gan = acgan(image_size=16, latent_dim=8, filters=4, num_blocks=2)
        >>> cb = SampleGrid(tempfile.mkdtemp(), samples_per_class=2)
        >>> cb.set_model(gan)
        >>> cb.on_epoch_end(0)
        >>> [p.name for p in cb.paths]
        ['samples_epoch001.png']
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        samples_per_class: int = 8,
        seed: int = 0,
        class_names: tuple[str, ...] | None = None,
        prefix: str = "samples",
        every: int = 1,
    ):
        super().__init__()
        self.directory = Path(directory)
        self.samples_per_class = int(samples_per_class)
        self.seed = seed
        self.class_names = class_names
        self.prefix = prefix
        self.every = max(int(every), 1)
        self.paths: list[Path] = []
        self._noise = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        gen = _generator(self.model)
        names = self.class_names or class_names_for(_num_classes(gen) or 3)
        k = self.samples_per_class
        if self._noise is None:
            rng = np.random.default_rng(self.seed)
            self._noise = rng.standard_normal((k, int(gen.inputs[0].shape[-1]))).astype("f4")
        noise = np.tile(self._noise, (len(names), 1))
        labels = np.repeat(np.arange(len(names), dtype="int32"), k)[:, None]
        images = keras.ops.convert_to_numpy(gen([noise, labels], training=False))
        fig = Figure(figsize=(1.2 * k, 1.3 * len(names)))
        axes = fig.subplots(len(names), k, squeeze=False)
        for i, ax in enumerate(axes.flat):
            ax.imshow(images[i, ..., 0], cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if i % k == 0:
                ax.set_ylabel(names[i // k])
        fig.suptitle(f"epoch {epoch + 1}")
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self.prefix}_epoch{epoch + 1:03d}.png"
        fig.savefig(path, dpi=80)
        self.paths.append(path)
