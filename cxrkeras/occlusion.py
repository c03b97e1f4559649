"""Occlusion sensitivity, batched: how much does hiding each patch lower the class score?

Every occluded copy of every image goes through the model in chunks of ``batch_size``
(``model(x, training=False)``), never one ``predict`` per patch, so memory is bounded by
``batch_size`` copies. The map is built by covered-pixel averaging: each pixel gets the
mean score drop over the patches that covered it, so it is aligned with the image, rows
with rows and columns with columns, at the input resolution. Kermany et al. (2018) used
20x20 blank patches, the defaults here.
"""

from __future__ import annotations

import cv2
import numpy as np
import tensorflow as tf
from keras import ops
from tqdm.auto import tqdm

from cxrkeras._compile import _compiled
from cxrkeras._graph import _head_activation
from cxrkeras._inputs import check_batch_size, check_images, check_model, check_patch
from cxrkeras.gradcam import _requested_classes

_BASELINES = ("zero", "mean", "blur")
_AUTO_PROGRESS_CHUNKS = 10


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if np.ndim(value) == 0 else tuple(value)
    valid = len(pair) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in pair
    )
    if not valid:
        raise ValueError(
            f"occlusion: {name} must be a positive int or a (height, width) pair of them. "
            f"Received: {name}={value!r}. Fix: e.g. {name}=10."
        )
    return int(pair[0]), int(pair[1])


def _starts(size: int, patch: int, stride: int) -> list[int]:
    """Patch origins along one axis; the last patch always reaches the far edge."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] + patch < size:
        starts.append(size - patch)
    return starts


def _fill_values(batch: np.ndarray, baseline, patch: tuple[int, int]) -> np.ndarray:
    """The values that replace a covered patch, one full-size array per image."""
    if isinstance(baseline, str):
        if baseline == "zero":
            return np.zeros_like(batch)
        if baseline == "mean":
            return np.broadcast_to(batch.mean(axis=(1, 2), keepdims=True), batch.shape)
        if baseline == "blur":
            sigma = max(patch) / 2.0
            blurred = [cv2.GaussianBlur(img, (0, 0), sigma).reshape(img.shape) for img in batch]
            return np.stack(blurred).astype(np.float32)
    elif (
        np.ndim(baseline) == 0
        and isinstance(baseline, (int, float, np.number))
        and not isinstance(baseline, bool)
        and np.isfinite(baseline)
    ):
        return np.full_like(batch, float(baseline))
    raise ValueError(
        f"occlusion: baseline must be one of {_BASELINES} or a number (the fill value). "
        f"Received: baseline={baseline!r}. Fix: e.g. baseline='zero'."
    )


def _inference(model_ref):
    """Factory of a compiled ``model(x, training=False)`` (see ``_graph._compiled``)."""

    @tf.function(reduce_retracing=True, autograph=False)
    def call(images):
        return model_ref()(images, training=False)

    return call


def _probabilities(outputs, activation: str | None) -> np.ndarray:
    """Model outputs as class probabilities (logit heads are squashed first)."""
    if activation == "linear":
        outputs = ops.sigmoid(outputs) if outputs.shape[-1] == 1 else ops.softmax(outputs)
    return ops.convert_to_numpy(outputs).astype(np.float64)


def _class_probability(probs: np.ndarray, classes: np.ndarray) -> np.ndarray:
    if probs.shape[1] == 1:
        return np.where(classes == 1, probs[:, 0], 1.0 - probs[:, 0])
    return probs[np.arange(len(classes)), classes]


def occlusion(
    model,
    images,
    *,
    patch_size=20,
    stride=None,
    baseline="zero",
    class_index=None,
    batch_size: int = 64,
    verbose="auto",
) -> np.ndarray:
    """Occlusion sensitivity map: the drop in the explained class's probability.

    The score is the PROBABILITY of the explained class (``p`` for class 1 and
    ``1 - p`` for class 0 of a single sigmoid unit; the softmax column otherwise; a
    linear head is squashed by sigmoid/softmax first). Each pixel holds the mean of
    ``score(image) - score(image with a patch covered)`` over the patches covering it:
    positive where hiding the region lowers the class probability.

    Args:
        model: A Keras classifier (any kind: it is only called on batches).
        images: One image ``(H, W, C)`` or a batch ``(B, H, W, C)``, as the model takes it
            (checked and converted as in :func:`cxrkeras.gradcam`).
        patch_size: Side of the square patch, or ``(height, width)``; it must fit inside
            the image without covering all of it (that map would be constant).
        stride: Step between patches (int or pair); None for ``patch_size`` (no overlap).
            The last row and column of patches always reach the image edge.
        baseline: What covers a patch: ``"zero"`` (blank, as Kermany et al. 2018),
            ``"mean"`` (the image's mean per channel), ``"blur"`` (a Gaussian blur of the
            image, sigma = patch side / 2) or a number (a constant fill value).
        class_index: None for each image's predicted class, an int, or one int per image.
        batch_size: Occluded copies per model call; bounds memory.
        verbose: True/False, or ``"auto"`` for a progress bar when there are many calls.

    Returns:
        float32 ``(H, W)`` or ``(B, H, W)`` maps of probability drops (in ``[-1, 1]``).

    Raises:
        ValueError: for a bad ``patch_size`` (or one larger than the image), ``stride``
            (larger than the patch, which would leave pixels uncovered), ``baseline``,
            ``class_index`` or ``batch_size``, or images the model cannot take.
        TypeError: if ``model`` is not a Keras model or the images are not numeric.

    Example:
        >>> import keras, numpy as np
        >>> model = keras.Sequential([keras.Input((12, 20, 1)),
        ...     keras.layers.GlobalAveragePooling2D(name="gap"),
        ...     keras.layers.Dense(1, activation="sigmoid", name="out")])
        >>> occlusion(model, np.random.rand(12, 20, 1), patch_size=4, stride=2).shape
        (12, 20)
    """
    check_model(model, where="occlusion")
    batch, single = check_images(images, model, where="occlusion")
    num_images, height, width, _ = batch.shape
    patch = check_patch(patch_size, (height, width), where="occlusion", argument="patch_size")
    step = patch if stride is None else _pair(stride, "stride")
    if step[0] > patch[0] or step[1] > patch[1]:
        raise ValueError(
            f"occlusion: stride is larger than the patch, which leaves pixels never "
            f"covered. Received: stride={stride!r}, patch_size={patch_size!r}. Fix: use a "
            "stride no larger than the patch (stride=None: the patch size)."
        )
    check_batch_size(batch_size, where="occlusion", example=64)
    if verbose not in (True, False, "auto"):
        raise ValueError(
            f"occlusion: verbose must be True, False or 'auto'. Received: verbose={verbose!r}."
        )
    fills = _fill_values(batch, baseline, patch)
    activation = _head_activation(model)
    call = _compiled(model, ("inference",), _inference)

    probs = [
        _probabilities(call(batch[i : i + batch_size]), activation)
        for i in range(0, num_images, batch_size)
    ]
    probs = np.concatenate(probs)
    classes = _requested_classes(class_index, num_images, probs.shape[1])
    predicted = (probs[:, 0] > 0.5) if probs.shape[1] == 1 else probs.argmax(axis=1)
    classes = np.where(classes < 0, predicted, classes)
    reference = _class_probability(probs, classes)

    jobs = [
        (i, r, c)
        for i in range(num_images)
        for r in _starts(height, patch[0], step[0])
        for c in _starts(width, patch[1], step[1])
    ]
    chunks = range(0, len(jobs), batch_size)
    show = verbose is True or (verbose == "auto" and len(chunks) >= _AUTO_PROGRESS_CHUNKS)
    total = np.zeros((num_images, height, width), dtype=np.float64)
    count = np.zeros((num_images, height, width), dtype=np.float64)
    for start in tqdm(chunks, desc="occlusion", unit="batch", disable=not show):
        chunk = jobs[start : start + batch_size]
        covered = batch[[i for i, _, _ in chunk]].copy()
        for k, (i, r, c) in enumerate(chunk):
            window = (slice(r, r + patch[0]), slice(c, c + patch[1]))
            covered[k][window] = fills[i][window]
        out = _probabilities(call(covered), activation)
        idx = np.array([i for i, _, _ in chunk])
        drops = reference[idx] - _class_probability(out, classes[idx])
        for (i, r, c), drop in zip(chunk, drops, strict=True):
            total[i, r : r + patch[0], c : c + patch[1]] += drop
            count[i, r : r + patch[0], c : c + patch[1]] += 1.0
    maps = (total / count).astype(np.float32)
    return maps[0] if single else maps
