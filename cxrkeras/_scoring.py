"""Input checks for labels and scores, and vectorised bootstrap statistics.

The bootstrap draws every resample as a row of counts (how often each image was drawn),
so a whole batch of resamples is scored with one matrix product (confusion counts) or
one sort (ROC AUC, average precision) instead of a Python loop over resamples. The
figures equal scikit-learn's with ``sample_weight`` set to those counts.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_CHUNK_ELEMENTS = 4_000_000  # resamples x images held in memory at once


def coerce_labels(y_true, *, num_classes: int | None = None) -> np.ndarray:
    """Class ids ``(N,)`` from ids, 0/1 floats ``(N,)``/``(N, 1)`` or one-hot ``(N, K)``."""
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] > 1:
        if not np.all(np.isfinite(y)):
            raise ValueError("y_true contains NaN or infinite values; drop those rows first.")
        ids = np.argmax(y, axis=1).astype(np.int64)
        if num_classes is not None and y.shape[1] > max(num_classes, 2):
            raise ValueError(
                f"y_true is one-hot over {y.shape[1]} classes but the scores have "
                f"{num_classes} column(s): a {y.shape[1]}-class data set scored by a model "
                f"with {max(num_classes, 2)} classes. Use labels that match the model's head."
            )
        return ids
    if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
        raise ValueError(
            f"Expected labels of shape (N,), (N, 1) or one-hot (N, K); got shape {y.shape}."
        )
    y = y.reshape(-1)
    if y.dtype.kind not in "biuf":
        raise TypeError(
            f"Expected numeric class ids (NORMAL=0, PNEUMONIA=1); got dtype {y.dtype}. "
            "Map class names to ids first."
        )
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            raise ValueError("y_true contains NaN or infinite values; drop those rows first.")
        if not np.all(y == np.round(y)):
            raise ValueError(
                "y_true holds non-integer values (e.g. smoothed labels); expected class ids "
                "such as 0/1. Round them or pass one-hot labels."
            )
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ValueError(f"y_true holds negative class ids ({y.min()}); expected 0 .. K-1.")
    if num_classes is not None and y.size and y.max() >= max(num_classes, 2):
        raise ValueError(
            f"y_true holds class id {y.max()} but the scores have {num_classes} column(s) "
            f"(expected ids 0 .. {max(num_classes, 2) - 1})."
        )
    return y


def coerce_scores(y_score) -> np.ndarray:
    """Scores as ``(N,)`` P(positive) for binary tasks or ``(N, K)`` for K >= 3 classes."""
    s = np.asarray(y_score, dtype=np.float64)
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    elif s.ndim == 2 and s.shape[1] == 2:
        s = s[:, 1]
    elif s.ndim not in (1, 2):
        raise ValueError(f"Expected scores of shape (N,), (N, 1) or (N, K); got shape {s.shape}.")
    if not np.all(np.isfinite(s)):
        bad = int(np.sum(~np.isfinite(s).reshape(len(s), -1).all(axis=1)))
        raise ValueError(
            f"y_score contains NaN or infinite values in {bad} row(s); a diverged model or "
            "an empty image can cause this. Drop or fix those rows before scoring."
        )
    return s


def check_pair(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    """Coerce labels and scores together and check that they line up."""
    s = coerce_scores(y_score)
    k = 2 if s.ndim == 1 else s.shape[1]
    y = coerce_labels(y_true, num_classes=k)
    if len(y) != len(s):
        raise ValueError(
            f"y_true has {len(y)} labels but y_score has {len(s)} rows; they must come "
            "from the same images in the same order."
        )
    if len(y) == 0:
        raise ValueError("No images to score: y_true and y_score are empty.")
    return y, s


def bootstrap_stats(
    fn: Callable[[np.ndarray], dict[str, np.ndarray]],
    n: int,
    *,
    bootstrap: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Call ``fn(counts)`` on chunks of resample counts ``(b, n)``; concatenate the results."""
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_ELEMENTS // max(n, 1))
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, bootstrap, chunk):
        b = min(chunk, bootstrap - start)
        idx = rng.integers(0, n, size=(b, n))
        idx += (np.arange(b) * n)[:, None]
        counts = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        for key, value in fn(counts).items():
            parts.setdefault(key, []).append(value)
    return {key: np.concatenate(value) for key, value in parts.items()}


def weighted_confusion(w: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, k: int):
    """Confusion matrices ``(b, k, k)`` (rows true, columns predicted) for weights ``(b, n)``."""
    cells = np.zeros((len(y_true), k * k))
    cells[np.arange(len(y_true)), y_true * k + y_pred] = 1.0
    return (w @ cells).reshape(-1, k, k)


def _tie_groups(score: np.ndarray):
    order = np.argsort(score, kind="mergesort")
    sorted_scores = score[order]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(sorted_scores)) + 1])
    return order, starts


def weighted_auc_ap(w: np.ndarray, positive: np.ndarray, score: np.ndarray):
    """ROC AUC and average precision ``(b,)`` each; NaN where a resample lacks a class.

    Ties count one half in the AUC; average precision is scikit-learn's step-wise sum of
    precision times recall increments over distinct thresholds.
    """
    order, starts = _tie_groups(score)
    pos_w = w[:, order] * positive[order]
    neg_w = w[:, order] * (1.0 - positive[order])
    pos = np.add.reduceat(pos_w, starts, axis=1)  # per distinct score, ascending
    neg = np.add.reduceat(neg_w, starts, axis=1)
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    valid = (n_pos > 0) & (n_neg > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        below = np.cumsum(neg, axis=1) - neg
        auc = (pos * (below + 0.5 * neg)).sum(axis=1) / (n_pos * n_neg)
        pos_d, neg_d = pos[:, ::-1], neg[:, ::-1]
        tp, fp = np.cumsum(pos_d, axis=1), np.cumsum(neg_d, axis=1)
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1e-300), 0.0)
        ap = (pos_d * precision).sum(axis=1) / n_pos
    auc[~valid] = np.nan
    ap[~valid] = np.nan
    return auc, ap


def safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where ``den == 0``."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def percentile_ci(samples: np.ndarray, *, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite values in ``samples`` (NaN, NaN when none)."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    tail = 50.0 * (1.0 - level)
    lo, hi = np.percentile(finite, [tail, 100.0 - tail])
    return (float(lo), float(hi))


def nanmean(a: np.ndarray, axis: int) -> np.ndarray:
    """Mean of the finite values along ``axis``; NaN (no warning) where there are none."""
    finite = np.isfinite(a)
    count = finite.sum(axis=axis)
    return safe_div(np.where(finite, a, 0.0).sum(axis=axis), count)


def per_class_figures(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class figures from confusion counts ``(..., K, K)`` (rows true)."""
    diag = np.diagonal(cm, axis1=-2, axis2=-1)
    rows, cols = cm.sum(axis=-1), cm.sum(axis=-2)
    total = rows.sum(axis=-1, keepdims=True)
    return {
        "precision": safe_div(diag, cols),
        "recall": safe_div(diag, rows),
        "specificity": safe_div(total - rows - cols + diag, total - rows),
        "f1": safe_div(2 * diag, rows + cols),
        "support": rows,
    }


def figures_from_counts(cm: np.ndarray, binary: bool) -> dict[str, np.ndarray]:
    """Threshold figures for confusion counts ``(b, K, K)``; the bootstrap's fast path."""
    pc = per_class_figures(cm)
    present = pc["support"] > 0
    out = {"accuracy": safe_div(np.trace(cm, axis1=1, axis2=2), cm.sum(axis=(1, 2)))}
    recall_present = np.where(present, pc["recall"], np.nan)
    if binary:
        out.update(
            precision=pc["precision"][:, 1],
            recall=pc["recall"][:, 1],
            specificity=pc["recall"][:, 0],
            f1=pc["f1"][:, 1],
            macro_f1=nanmean(pc["f1"], axis=1),
            balanced_accuracy=np.where(present.all(axis=1), nanmean(recall_present, 1), np.nan),
        )
    else:
        out.update(
            balanced_accuracy=nanmean(recall_present, axis=1),
            macro_precision=nanmean(pc["precision"], axis=1),
            macro_recall=nanmean(recall_present, axis=1),
            macro_specificity=nanmean(pc["specificity"], axis=1),
            macro_f1=nanmean(pc["f1"], axis=1),
        )
    return out
