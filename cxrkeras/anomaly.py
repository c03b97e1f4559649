"""Anomaly detection with an autoencoder trained on NORMAL images only.

The recipe of reports A, B and D: train an autoencoder to reconstruct NORMAL X-rays
(:func:`normal_only` keeps them), score every image by its reconstruction error
(:func:`reconstruction_errors`), call an image anomalous (PNEUMONIA) when its error
reaches a threshold, and evaluate (:func:`evaluate_anomaly`). Two threshold rules:

* :func:`percentile_threshold` (report B): the error above which the top 5% of the
  NORMAL training errors lie; needs no pneumonia labels.
* :func:`eer_threshold` (report D): the ROC point where the false-positive rate equals
  the false-negative rate; uses labels, so choose it on VALIDATION data.

Example:
    >>> import keras
    >>> keras.utils.set_random_seed(0)
    >>> inputs = keras.Input((8, 8, 1), name="image")
    >>> code = keras.layers.Conv2D(2, 3, strides=2, padding="same", name="enc")(inputs)
    >>> out = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same",
    ...                                    activation="sigmoid", name="dec")(code)
    >>> autoencoder = keras.Model(inputs, out, name="ae")
    >>> autoencoder.compile(optimizer=keras.optimizers.Adam(0.03), loss="mse")
    >>> rng = np.random.default_rng(0)
    >>> def images(n, bright):  # "pneumonia" images carry a bright planted patch
    ...     x = rng.uniform(0.0, 0.2, size=(n, 8, 8, 1)).astype("float32")
    ...     x[:, 2:6, 2:6] += 0.8 * bright
    ...     return x
    >>> x_train, y_train = images(8, 0), np.zeros(8, int)      # NORMAL only
    >>> _ = autoencoder.fit(x_train, x_train, epochs=150, verbose=0)
    >>> normal_errors, _ = reconstruction_errors(autoencoder, (x_train, y_train))
    >>> threshold = percentile_threshold(normal_errors, tail=0.05)  # chosen on training data
    >>> x_test = np.concatenate([images(4, 0), images(4, 1)])
    >>> y_test = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> errors, labels = reconstruction_errors(autoencoder, (x_test, y_test))
    >>> bool(errors[labels == 1].min() > errors[labels == 0].max())
    True
    >>> evaluate_anomaly(errors, labels, threshold=threshold, bootstrap=0).recall
    1.0
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from cxrkeras._scoring import check_pair, coerce_labels
from cxrkeras.evaluate import _score_arrays
from cxrkeras.predictions import image_batches
from cxrkeras.results import EvaluationResult
from cxrkeras.thresholds import equal_error_rate


def normal_only(data, *, batch_size: int = 32):
    """Keep the NORMAL images (label 0) to train an autoencoder on.

    Args:
        data: A scan table (column ``label`` = ``"NORMAL"``/``"PNEUMONIA"``), an
            ``(x, y)`` pair of arrays, or a ``tf.data.Dataset`` of ``(images, labels)``
            (batched or not; labels as ids or one-hot).
        batch_size: Batch size of the returned dataset.

    Returns:
        The filtered table (a copy); the NORMAL images ``x[y == 0]``; or a dataset of
        ``(images, images)`` batches ready for ``autoencoder.fit``.

    Raises:
        ValueError: if no NORMAL image is found or a table lacks ``label``.
        TypeError: for other inputs.
    """
    if isinstance(data, pd.DataFrame):
        if "label" not in data.columns:
            raise ValueError(f"The table has no 'label' column; columns: {list(data.columns)}.")
        kept = data[data["label"] == "NORMAL"].copy()
        if kept.empty:
            raise ValueError("The table holds no NORMAL images (label == 'NORMAL').")
        return kept
    if isinstance(data, tf.data.Dataset):
        images_spec = data.element_spec[0]
        if len(images_spec.shape) == 4:
            data = data.unbatch()

        def is_normal(image, label, *rest):
            label = tf.reshape(label, [-1])
            cls = tf.argmax(label) if label.shape[0] and label.shape[0] > 1 else label[0]
            return tf.equal(tf.cast(cls, tf.int64), 0)

        kept = data.filter(is_normal).map(lambda image, *rest: (image, image))
        return kept.batch(batch_size)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = np.asarray(data[0]), coerce_labels(data[1])
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} images but y has {len(y)} labels.")
        if not np.any(y == 0):
            raise ValueError("No NORMAL image (label 0) among the labels.")
        return x[y == 0]
    raise TypeError(
        f"Expected a scan table, an (x, y) pair or a tf.data.Dataset; got {type(data).__name__}."
    )


def reconstruction_errors(
    autoencoder: keras.Model, data, *, batch_size: int = 64, verbose: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-image mean squared reconstruction error, batched.

    Args:
        autoencoder: A model whose single output has the shape of its input.
        data: Images ``(N, H, W, C)``, an ``(x, y)`` pair, or a ``tf.data.Dataset`` of
            ``(images, labels)`` or image batches (read once, in order).
        batch_size: Batch size for arrays.
        verbose: Show a progress bar.

    Returns:
        ``(errors, labels)``: errors ``(N,)`` (mean over pixels and channels) and class
        ids ``(N,)``, or None when the data has no labels.

    Raises:
        ValueError: if the output shape differs from the input shape.
    """
    errors, labels, unlabeled = [], [], False
    for images, y in tqdm(image_batches(data, batch_size), disable=not verbose, desc="errors"):
        x = np.asarray(images, dtype=np.float32)
        out = autoencoder.predict_on_batch(x)
        if isinstance(out, (list, tuple, dict)):
            raise ValueError(
                "The autoencoder returns several outputs; pass a model whose only output is "
                "the reconstruction (e.g. the decoder applied to the encoder's mean)."
            )
        out = np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float32)
        if out.shape != x.shape:
            raise ValueError(
                f"The autoencoder maps images {x.shape} to {out.shape}; a reconstruction "
                "must have the input's shape (check padding and strides)."
            )
        errors.append(np.mean((out - x) ** 2, axis=tuple(range(1, x.ndim))))
        if y is None:
            unlabeled = True
        else:
            labels.append(coerce_labels(np.asarray(y)))
    if not errors:
        raise ValueError("The data yielded no images; nothing to score.")
    return np.concatenate(errors), (None if unlabeled else np.concatenate(labels))


def percentile_threshold(normal_errors, *, tail: float = 0.05) -> float:
    """Report B's rule: the error exceeded by a fraction ``tail`` of NORMAL training images.

    Args:
        normal_errors: Reconstruction errors of NORMAL (training) images.
        tail: Share of NORMAL images allowed above the threshold (false positives).

    Returns:
        The ``1 - tail`` quantile of ``normal_errors``.

    Raises:
        ValueError: for ``tail`` outside ``(0, 1)`` or empty / NaN errors.

    Example:
        >>> percentile_threshold(np.arange(101) / 100, tail=0.05)
        0.95
    """
    e = np.asarray(normal_errors, dtype=np.float64).reshape(-1)
    if not 0.0 < tail < 1.0:
        raise ValueError(f"tail={tail} must lie in (0, 1), e.g. 0.05 for report B's 5% tail.")
    if e.size == 0 or not np.all(np.isfinite(e)):
        raise ValueError("normal_errors is empty or holds NaN/inf values.")
    return float(np.quantile(e, 1.0 - tail))


def eer_threshold(y_true, errors, *, max_gap: float = 5e-3) -> float:
    """Report D's rule: the threshold where |FPR - FNR| is smallest on the ROC curve.

    Choose it on VALIDATION data (it uses labels). With few images the closest ROC point
    can be far from equal error rates; a warning reports the gap when it exceeds
    ``max_gap`` (report D accepted gaps below 5e-3).

    Args:
        y_true: Labels, NORMAL=0 and PNEUMONIA=1.
        errors: Reconstruction errors (higher means anomalous).
        max_gap: The gap |FPR - FNR| above which a warning is given.

    Returns:
        The threshold; an image is anomalous when ``error >= threshold``.

    Example:
        >>> eer_threshold([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
        0.4
    """
    y, e = check_pair(y_true, errors)
    _, threshold = equal_error_rate(y, e)
    pred = e >= threshold
    gap = abs(np.mean(pred[y == 0]) - np.mean(~pred[y == 1]))
    if gap > max_gap:
        warnings.warn(
            f"At the equal-error threshold {threshold:.4g}, |FPR - FNR| = {gap:.4f} exceeds "
            f"{max_gap:g}: the ROC curve has no point with equal error rates (few images "
            "or tied errors).",
            stacklevel=2,
        )
    return threshold


def evaluate_anomaly(
    errors,
    labels,
    *,
    threshold: float,
    class_names=None,
    bootstrap: int = 1000,
    seed: int = 0,
) -> EvaluationResult:
    """Report D's five figures (error rate, precision, sensitivity, specificity, F1) and
    ROC AUC, each with a 95% bootstrap interval.

    Args:
        errors: Reconstruction errors ``(N,)``; ``error >= threshold`` means PNEUMONIA.
        labels: Class ids, NORMAL=0 and PNEUMONIA=1.
        threshold: From :func:`percentile_threshold` or :func:`eer_threshold`, chosen on
            training or validation data.
        class_names: Default NORMAL / PNEUMONIA.
        bootstrap: Resamples for the intervals (0: none).
        seed: Seed of the resampling.

    Returns:
        An :class:`~cxrkeras.results.EvaluationResult` whose figures start with
        ``error_rate`` (1 - accuracy); ``recall`` is the sensitivity.

    Example:
        >>> r = evaluate_anomaly([0.1, 0.2, 0.3, 0.6, 0.7, 0.25], [0, 0, 0, 1, 1, 1],
        ...                      threshold=0.5, bootstrap=0)
        >>> round(r.error_rate, 3), r.specificity, round(r.recall, 3)
        (0.167, 1.0, 0.667)
    """
    y, e = check_pair(labels, errors)
    if e.ndim != 1:
        raise ValueError(f"Expected one error per image (N,); got shape {e.shape}.")
    result = _score_arrays(y, e, threshold, class_names, bootstrap, seed, probabilities=False)
    result.metrics = {"error_rate": 1.0 - result.metrics["accuracy"], **result.metrics}
    if "accuracy" in result.ci:
        lo, hi = result.ci["accuracy"]
        result.ci["error_rate"] = (1.0 - hi, 1.0 - lo)
    return result
