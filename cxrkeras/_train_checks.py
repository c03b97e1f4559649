"""Checks that ``cxrkeras.train.fit`` runs before training: data against the model's head.

One batch of the training data is peeked and compared with the model's input shape and
its output head, so that a mismatch (one-hot labels into a sigmoid unit, grayscale
images into an RGB backbone, an unbatched dataset) fails at once with a message that
says how to fix it, instead of deep inside the first training step.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class Head:
    """What a model predicts, as far as picking a loss is concerned.

    ``kind`` is ``"binary"`` (one unit), ``"categorical"`` (N > 1 units),
    ``"reconstruction"`` (an image out), ``"self_supervised"`` (the model computes its
    own loss in ``train_step``, e.g. the VAE) or ``"other"``.
    """

    kind: str
    units: int | None = None
    from_logits: bool = False


def has_own_train_step(model: keras.Model) -> bool:
    """True when the model's class overrides ``train_step`` (it computes its own loss)."""
    return getattr(type(model), "train_step", None) is not keras.Model.train_step


def _last_activation(model: keras.Model) -> str | None:
    try:
        op = model.outputs[0]._keras_history[0]
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    act = getattr(op, "activation", None)
    return getattr(act, "__name__", None) if act is not None else None


def model_head(model: keras.Model) -> Head:
    """Describe the model's head from its output shape and last activation.

    Example:
        >>> inp = keras.Input((8, 8, 1))
        >>> out = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inp))
        >>> model_head(keras.Model(inp, out))
        Head(kind='categorical', units=3, from_logits=False)
    """
    if has_own_train_step(model):
        return Head("self_supervised")
    try:
        outputs = model.outputs
    except AttributeError:
        outputs = None
    if not outputs or len(outputs) != 1:
        return Head("other")
    shape = tuple(outputs[0].shape)
    if len(shape) == 4:
        return Head("reconstruction", units=shape[-1])
    if len(shape) != 2 or shape[-1] is None:
        return Head("other")
    from_logits = _last_activation(model) == "linear"
    kind = "binary" if shape[-1] == 1 else "categorical"
    return Head(kind, units=int(shape[-1]), from_logits=from_logits)


def split_batch(batch) -> tuple:
    """Return ``(x, y, sample_weight)`` for a batch given as ``x``, ``(x,)``,
    ``(x, y)`` or ``(x, y, sample_weight)``; missing parts are ``None``."""
    if isinstance(batch, (tuple, list)):
        parts = list(batch) + [None] * (3 - len(batch))
        if len(batch) > 3:
            raise ValueError(
                f"Expected dataset elements (x,), (x, y) or (x, y, sample_weight); "
                f"got a tuple of {len(batch)} parts."
            )
        return tuple(parts[:3])
    return batch, None, None


def peek(data) -> tuple:
    """First batch of a ``tf.data.Dataset`` or ``keras.utils.PyDataset`` as NumPy."""
    if isinstance(data, tf.data.Dataset):
        try:
            batch = next(iter(data.take(1)))
        except StopIteration:
            raise ValueError("The dataset is empty: it yielded no batch.") from None
    elif isinstance(data, keras.utils.PyDataset):
        if len(data) == 0:
            raise ValueError("The PyDataset is empty: len(data) == 0.")
        batch = data[0]
    else:
        raise TypeError(
            f"Expected a tf.data.Dataset, a keras.utils.PyDataset or a tuple (x, y) of "
            f"arrays; got {type(data).__name__}."
        )
    x, y, w = split_batch(batch)
    if isinstance(x, dict):
        raise TypeError(
            "Dict inputs are not supported by cxrkeras.train.fit; pass x as one tensor."
        )
    as_np = lambda t: None if t is None else np.asarray(t)  # noqa: E731
    return as_np(x), as_np(y), as_np(w)


def check_images(model: keras.Model, x: np.ndarray, *, where: str = "train") -> None:
    """Raise if a batch of images does not fit the model's input shape.

    Raises:
        ValueError: for an unbatched dataset, a wrong rank, size or channel count.
    """
    try:
        expected = tuple(model.inputs[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        return
    got = tuple(x.shape)
    if len(got) == len(expected) - 1 and all(
        e is None or e == g for e, g in zip(expected[1:], got, strict=False)
    ):
        raise ValueError(
            f"The {where} data yields single images of shape {got}, but the model expects "
            f"batches {expected}. Batch the dataset: ds = ds.batch(32)."
        )
    if len(got) != len(expected):
        raise ValueError(
            f"The {where} images have shape {got} (rank {len(got)}), but the model's input "
            f"is {expected} (rank {len(expected)}). Images must be (batch, height, width, "
            "channels)."
        )
    names = ["batch", "height", "width", "channels"]
    for i, (e, g) in enumerate(zip(expected, got, strict=True)):
        if i == 0 or e is None or e == g:
            continue
        label = names[i] if len(expected) == 4 else f"axis {i}"
        fix = (
            "Load images with the matching colour mode (grayscale: 1 channel, RGB: 3) or "
            "rebuild the model with input_shape=... ."
            if label == "channels"
            else "Resize the images to the model's input size or rebuild the model with "
            "input_shape=... ."
        )
        raise ValueError(
            f"The {where} images have shape {got} but the model expects {expected}: "
            f"{label} is {g}, expected {e}. {fix}"
        )


def check_labels(head: Head, x: np.ndarray, y: np.ndarray | None, *, loss, where: str = "train"):
    """Raise if labels do not match the model's head and the chosen loss.

    Raises:
        ValueError: for missing labels, one-hot labels into one sigmoid unit, integer
            labels into a softmax head (with a categorical loss), a wrong class count,
            or reconstruction targets of another shape than the images.
    """
    if head.kind in ("self_supervised", "other"):
        return
    if y is None:
        raise ValueError(
            f"The {where} data yields images only, but the model's {head.kind} head needs "
            "targets: yield (images, labels) pairs."
        )
    if head.kind == "reconstruction":
        if tuple(y.shape) != tuple(x.shape):
            raise ValueError(
                f"The {where} targets have shape {y.shape} but this model reconstructs its "
                f"input {x.shape}: yield (images, images) pairs."
            )
        return
    loss_name = loss if isinstance(loss, str) else type(loss).__name__
    sparse = "sparse" in loss_name.lower()
    per_image = y.ndim == 1 or (y.ndim == 2 and y.shape[-1] == 1)
    if head.kind == "binary":
        if not per_image:
            raise ValueError(
                f"The {where} labels have shape {y.shape} (one-hot with {y.shape[-1]} "
                "columns), but the model ends in one sigmoid unit that expects one label "
                "0/1 per image (NORMAL=0, PNEUMONIA=1). Use label_mode='binary' in the "
                "data pipeline, or build the model with a softmax head of "
                f"{y.shape[-1]} units."
            )
        if y.size and (float(np.min(y)) < 0.0 or float(np.max(y)) > 1.0):
            raise ValueError(
                f"The {where} labels range from {np.min(y)} to {np.max(y)}, but one "
                "sigmoid unit expects labels in [0, 1]. For three classes build a softmax "
                "head with 3 units and one-hot labels."
            )
        return
    n = head.units
    if sparse:
        if not per_image:
            raise ValueError(
                f"loss={loss_name!r} expects one integer label per image, but the {where} "
                f"labels have shape {y.shape}. Pass one-hot labels with a categorical loss "
                "instead."
            )
        if y.size and int(np.max(y)) >= n:
            raise ValueError(
                f"The {where} labels reach {int(np.max(y))} but the model has {n} output units."
            )
        return
    if per_image:
        raise ValueError(
            f"The {where} labels have shape {y.shape} (one integer per image), but the "
            f"model's head has {n} softmax units and expects one-hot labels of shape "
            f"(batch, {n}). Use label_mode='categorical' in the data pipeline or "
            "keras.utils.to_categorical, or pass loss='sparse_categorical_crossentropy'."
        )
    if y.shape[-1] != n:
        raise ValueError(
            f"The {where} labels are one-hot with {y.shape[-1]} columns, but the model's "
            f"head has {n} units. Build the model with num_classes={y.shape[-1]} or use "
            "labels with the matching class count."
        )
