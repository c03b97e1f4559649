"""Decision thresholds for a binary score: fixed 0.5, Youden's J, a target sensitivity, EER.

A threshold is a choice made from data, so it must be chosen on VALIDATION data and then
applied, unchanged, to the test data. Choosing it on the test set and reporting test
figures at that threshold is leakage: the figures are optimistic, because the test set
was used to tune the model. The usual recipe::

    t = choose_threshold(y_val, p_val, method="youden")
    result = evaluate(model, test_data, threshold=t)

Every rule returns a threshold ``t`` on the score scale, and an image is called positive
(PNEUMONIA, or "anomalous" for reconstruction errors) when ``score >= t``.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_curve

from cxrkeras._scoring import check_pair

METHODS: tuple[str, ...] = ("fixed", "youden", "sensitivity", "eer")


def _roc(y_true, y_score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, s = check_pair(y_true, y_score)
    if s.ndim != 1:
        raise ValueError(
            f"Thresholds apply to binary scores (N,) or (N, 1); got {s.shape[1]} classes. "
            "Use argmax for multi-class predictions."
        )
    present = np.unique(y)
    if len(present) < 2:
        raise ValueError(
            f"Choosing a threshold needs both classes in y_true; only class {present[0]} "
            f"is present among {len(y)} labels. Use a validation split that holds both."
        )
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    finite = np.isfinite(thr)  # the first point (no image positive) has threshold +inf
    return fpr[finite], tpr[finite], thr[finite]


def choose_threshold(
    y_true,
    y_score,
    *,
    method: str = "youden",
    target: float | None = None,
) -> float:
    """Choose a decision threshold on validation scores.

    Choose it on VALIDATION data, then apply it to the test data: a threshold chosen on
    the test set leaks the test labels into the reported figures.

    Args:
        y_true: Validation labels, 0/1 (NORMAL=0, PNEUMONIA=1), ``(N,)``, ``(N, 1)`` or
            one-hot ``(N, 2)``.
        y_score: Validation scores P(PNEUMONIA), ``(N,)``, ``(N, 1)`` or softmax ``(N, 2)``
            (higher means positive; reconstruction errors work too).
        method: ``"fixed"`` (``target`` or 0.5), ``"youden"`` (maximises sensitivity +
            specificity - 1), ``"sensitivity"`` (the highest threshold, hence lowest
            false-positive rate, whose sensitivity reaches ``target``; default target
            0.95) or ``"eer"`` (equal error rate: false-positive rate closest to the
            false-negative rate).
        target: The fixed threshold for ``"fixed"``; the sensitivity to reach, in
            ``(0, 1]``, for ``"sensitivity"``. Ignored otherwise.

    Returns:
        The threshold; predict positive where ``score >= threshold``.

    Raises:
        ValueError: for an unknown method, a target outside ``(0, 1]``, labels with one
            class only, or misaligned / NaN inputs.

    Example:
        >>> y = [0, 0, 0, 0, 1, 1, 1, 1, 1]
        >>> p = [0.1, 0.2, 0.3, 0.5, 0.4, 0.6, 0.8, 0.85, 0.9]
        >>> choose_threshold(y, p, method="youden")
        0.6
        >>> choose_threshold(y, p, method="sensitivity", target=1.0)
        0.4
        >>> choose_threshold(y, p, method="eer")
        0.5
        >>> choose_threshold(y, p, method="fixed")
        0.5
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not known; choose one of {METHODS}.")
    if method == "fixed":
        check_pair(y_true, y_score)
        return 0.5 if target is None else float(target)
    fpr, tpr, thr = _roc(y_true, y_score)
    if method == "youden":
        return float(thr[int(np.argmax(np.round(tpr - fpr, 12)))])  # ties: highest
    if method == "eer":
        return float(thr[int(np.argmin(np.round(np.abs(fpr - (1.0 - tpr)), 12)))])
    target = 0.95 if target is None else float(target)
    if not 0.0 < target <= 1.0:
        raise ValueError(
            f"target={target} is not a sensitivity; pass a value in (0, 1], e.g. 0.95."
        )
    # Thresholds fall and sensitivity rises along the curve: the first point that
    # reaches the target has the lowest false-positive rate among those that do.
    return float(thr[int(np.argmax(tpr >= target - 1e-12))])


def equal_error_rate(y_true, y_score) -> tuple[float, float]:
    """The equal error rate and its threshold (report D's rule for anomaly scores).

    The ROC point whose false-positive rate is closest to its false-negative rate;
    the rate reported is their mean at that point (report D accepted a gap below 5e-3).

    Args:
        y_true: Labels 0/1, as in :func:`choose_threshold`.
        y_score: Scores where higher means positive.

    Returns:
        ``(eer, threshold)``.

    Raises:
        ValueError: for labels with one class only, or misaligned / NaN inputs.

    Example:
        >>> equal_error_rate([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
        (0.5, 0.6)
    """
    fpr, tpr, thr = _roc(y_true, y_score)
    i = int(np.argmin(np.round(np.abs(fpr - (1.0 - tpr)), 12)))
    return float((fpr[i] + 1.0 - tpr[i]) / 2.0), float(thr[i])
