"""Collect labels and model outputs from arrays or datasets, reading each dataset once.

Evaluation, embeddings and reconstruction errors all need the same thing: run a model
over every batch and keep each batch's labels next to its outputs. A shuffling
``tf.data.Dataset`` reshuffles on every pass, so predicting with ``model.predict(ds)``
and then reading the labels in a second pass misaligns them; these helpers read it once.
"""

from __future__ import annotations

import keras
import numpy as np
from tqdm.auto import tqdm

from cxrkeras._inputs import check_images, check_model


def _is_array_pair(data) -> bool:
    # (images, labels): the images are an array with a batch axis; the labels may be any
    # sequence (a Python list of class ids is fine).
    return (
        isinstance(data, (tuple, list))
        and len(data) == 2
        and hasattr(data[0], "shape")
        and len(data[0].shape) >= 2
        and not isinstance(data[1], (str, bytes))
        and hasattr(data[1], "__len__")
    )


def _batches(data):
    """Iterate the batches of a tf.data.Dataset, a PyDataset or any iterable, once."""
    if isinstance(data, keras.utils.PyDataset):
        return (data[i] for i in range(len(data)))
    return iter(data)


def image_batches(data, batch_size: int = 64):
    """Yield ``(images, labels or None)`` batches from arrays, ``(x, y)`` pairs or datasets.

    A dataset or iterable is read once, in order; its batches may be ``(images, labels)``,
    ``(images, labels, weights)`` or images alone.

    Example:
        >>> [(x.shape, y) for x, y in image_batches(np.zeros((5, 4, 4, 1)), batch_size=3)]
        [((3, 4, 4, 1), None), ((2, 4, 4, 1), None)]
    """
    if isinstance(data, np.ndarray) or (hasattr(data, "shape") and len(data.shape) == 4):
        data = (data, None)
    if isinstance(data, tuple) and len(data) == 2 and hasattr(data[0], "shape"):
        x, y = np.asarray(data[0], dtype=np.float32), data[1]
        for start in range(0, len(x), batch_size):
            yb = None if y is None else np.asarray(y)[start : start + batch_size]
            yield x[start : start + batch_size], yb
        return
    for batch in data:
        if isinstance(batch, (tuple, list)):
            yield batch[0], (batch[1] if len(batch) > 1 else None)
        else:
            yield batch, None


def collect_predictions(
    model: keras.Model, data, *, batch_size: int = 64, verbose: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and model outputs for every image, in the same order.

    A dataset is read exactly once, batch by batch, so a shuffling ``tf.data.Dataset``
    keeps its labels aligned with its predictions (``model.predict(ds)`` followed by a
    second pass for the labels would not).

    Args:
        model: A Keras model with one output.
        data: ``(x, y)`` arrays, or a ``tf.data.Dataset`` / iterable of ``(images, labels)``
            or ``(images, labels, sample_weights)`` batches.
        batch_size: Batch size for ``(x, y)`` arrays.
        verbose: Show a progress bar over batches.

    Returns:
        ``(y_true, y_score)``: the labels as given (e.g. one-hot) and the raw outputs.

    Raises:
        ValueError: if a batch has no labels, the model has several outputs, or the
            images are ones the model cannot take (checked as in
            :func:`cxrkeras.gradcam`: integer pixels converted or refused, NaN, empty
            batches, another size or channel count).
        TypeError: if ``model`` is not a Keras model.

    Example:
        >>> import keras
        >>> inputs = keras.Input((4, 4, 1), name="image")
        >>> pooled = keras.layers.GlobalAveragePooling2D(name="pool")(inputs)
        >>> model = keras.Model(inputs, pooled, name="mean_brightness")
        >>> y, p = collect_predictions(model, (np.ones((3, 4, 4, 1)), np.array([1, 1, 0])))
        >>> y.tolist(), p.shape
        ([1, 1, 0], (3, 1))
    """
    return _collect(model, data, batch_size, verbose, "collect_predictions")


def _collect(model, data, batch_size: int, verbose: bool, where: str):
    """:func:`collect_predictions`, with the public function's name for messages."""
    check_model(model, where=where)
    if _is_array_pair(data):
        x, y = data
        x, _ = check_images(x, model, where=where, argument="data[0] (the images)")
        scores = model.predict(x, batch_size=batch_size, verbose=int(verbose))
        return np.asarray(y), _single_output(scores)
    labels, scores = [], []
    total = None
    if hasattr(data, "cardinality"):
        card = int(data.cardinality())
        total = card if card >= 0 else None
    first = None  # the first batch's size: smaller batches are padded up to it
    for batch in tqdm(_batches(data), total=total, disable=not verbose, desc="predict"):
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError(
                "Each batch must be (images, labels); got batches without labels. Build "
                "the dataset with labels, e.g. tf.data.Dataset.from_tensor_slices((x, y))."
            )
        images = batch[0]
        if hasattr(images, "shape"):
            images = _checked_batch(images, model, where)
        if first is None and hasattr(images, "shape"):
            first = int(images.shape[0])
        scores.append(_predict_padded(model, images, first))
        labels.append(np.asarray(batch[1]))
    if not scores:
        raise ValueError("The dataset yielded no batches; nothing to evaluate.")
    return np.concatenate(labels), np.concatenate(scores)


def _checked_batch(images, model, where: str) -> np.ndarray:
    """One dataset batch, checked against the model (an unbatched dataset is named)."""
    try:
        rank = len(model.inputs[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        rank = None
    if rank == 4 and len(images.shape) == 3:
        raise ValueError(
            f"{where}: the dataset yields single images of shape {tuple(images.shape)}, but "
            "the model takes batches (B, H, W, C). Received: an unbatched dataset. Fix: "
            "batch it, e.g. ds.batch(32)."
        )
    batch, _ = check_images(images, model, where=where, argument="the dataset's images")
    return batch


def _predict_padded(model: keras.Model, images, size: int | None) -> np.ndarray:
    """Predict one batch; a smaller (last) batch is zero-padded to ``size`` rows.

    Batches without a ``shape`` (a dict of inputs) are predicted as they are.

    The model's predict function then keeps the one graph traced for the first batch:
    a new batch size would trace it again (seconds for a large backbone, and
    TensorFlow's retracing warning when several models are evaluated in a row).
    """
    if size is None or not hasattr(images, "shape") or images.shape[0] >= size:
        return _single_output(model.predict_on_batch(images))
    n = int(images.shape[0])
    images = np.asarray(images)
    padding = np.zeros((size - n, *images.shape[1:]), dtype=images.dtype)
    return _single_output(model.predict_on_batch(np.concatenate([images, padding])))[:n]


def _single_output(scores) -> np.ndarray:
    if isinstance(scores, (dict, list, tuple)):
        raise ValueError(
            f"The model returns {len(scores)} outputs; evaluate needs a model with one "
            "classification output. Build a sub-model on that output first."
        )
    return np.asarray(keras.ops.convert_to_numpy(scores), dtype=np.float32)
