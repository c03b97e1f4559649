"""Evaluate a classifier: figures from scikit-learn with 95% bootstrap confidence intervals.

:func:`evaluate` takes a Keras model and data (a ``tf.data.Dataset`` of
``(images, labels)`` batches, or an ``(x, y)`` pair of arrays); :func:`evaluate_scores`
takes labels and scores that were computed elsewhere (an ensemble, test-time
augmentation, a kNN on embeddings). The intervals resample images with replacement; all
resamples are scored at once with vectorised confusion counts (see
:mod:`cxrkeras._scoring`). Choose thresholds on validation data with
:func:`cxrkeras.thresholds.choose_threshold`, never on the test data.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    roc_auc_score,
)

from cxrkeras._common import class_names_for
from cxrkeras._inputs import check_number
from cxrkeras._scoring import (
    bootstrap_stats,
    check_pair,
    figures_from_counts,
    nanmean,
    per_class_figures,
    percentile_ci,
    weighted_auc_ap,
    weighted_confusion,
)
from cxrkeras.predictions import _collect, collect_predictions, image_batches
from cxrkeras.results import LABELS, EvaluationResult

__all__ = ["collect_predictions", "evaluate", "evaluate_scores", "image_batches"]

_NAN = float("nan")


def _point_figures(y, s, y_pred, k: int, notes: list[str], names=()) -> dict[str, float]:
    """The figures themselves, from scikit-learn."""
    labels = list(range(k))
    present = np.unique(y)
    nan = np.nan
    if k == 2:
        both = len(present) == 2
        figures = {
            "accuracy": accuracy_score(y, y_pred),
            "precision": precision_score(y, y_pred, zero_division=nan),
            "recall": recall_score(y, y_pred, zero_division=nan),
            "specificity": recall_score(y, y_pred, pos_label=0, zero_division=nan),
            "f1": f1_score(y, y_pred, zero_division=nan),
            "macro_f1": f1_score(y, y_pred, labels=labels, average="macro", zero_division=nan),
            "balanced_accuracy": balanced_accuracy_score(y, y_pred) if both else nan,
            "roc_auc": roc_auc_score(y, s) if both else nan,
            "pr_auc": average_precision_score(y, s) if both else nan,
        }
    else:
        p, r, f, _ = precision_recall_fscore_support(y, y_pred, labels=labels, zero_division=nan)
        spec = per_class_figures(confusion_matrix(y, y_pred, labels=labels))["specificity"]
        all_present = len(present) == k
        figures = {
            "accuracy": accuracy_score(y, y_pred),
            "balanced_accuracy": float(np.mean(r[present])),
            "macro_precision": float(nanmean(p, 0)),
            "macro_recall": float(nanmean(r, 0)),
            "macro_specificity": float(nanmean(spec, 0)),
            "macro_f1": float(nanmean(f, 0)),
            "roc_auc": nan,
            "pr_auc": nan,
        }
        if all_present:
            onehot = np.eye(k)[y]
            figures["roc_auc"] = float(
                np.mean([roc_auc_score(onehot[:, c], s[:, c]) for c in labels])
            )
            figures["pr_auc"] = float(average_precision_score(onehot, s, average="macro"))
    figures = {key: float(value) for key, value in figures.items()}
    reasons = []
    if len(present) < k:
        missing = sorted(set(labels) - set(present.tolist()))
        shown = f" ({', '.join(str(names[i]) for i in missing)})" if names else ""
        reasons.append(f"y_true lacks class id(s) {missing}{shown}")
    single = len(np.unique(y_pred)) == 1
    if single:
        reasons.append(f"every image was predicted as class {int(y_pred[0])}")
    if reasons:  # binary: a missing class leaves ROC AUC undefined; the others add a phrase
        undefined = [LABELS.get(key, key) for key, value in figures.items() if np.isnan(value)]
        undefined = [u if u[:2].isupper() else u[0].lower() + u[1:] for u in undefined]
        if len(present) < k and k > 2:
            undefined.append("the missing classes' recall")
        if single and "precision" not in undefined:
            undefined.append("the precision of the class(es) never predicted")
        listed = ", ".join(undefined[:-1]) + (" and " if len(undefined) > 1 else "") + undefined[-1]
        note = f"{' and '.join(reasons)}: {listed} {'are' if len(undefined) > 1 else 'is'} "
        note += "undefined (NaN)."
        if single and len(present) == k:
            note += " Check the threshold and the model's output."
        notes.append(note[0].upper() + note[1:] if note.startswith("every") else note)
    return figures


def _bootstrap_figures(y, s, y_pred, k: int, *, bootstrap: int, seed: int):
    def fn(w):
        out = figures_from_counts(weighted_confusion(w, y, y_pred, k), binary=k == 2)
        if k == 2:
            out["roc_auc"], out["pr_auc"] = weighted_auc_ap(w, y.astype(np.float64), s)
        else:
            per = [weighted_auc_ap(w, (y == c).astype(np.float64), s[:, c]) for c in range(k)]
            out["roc_auc"] = np.mean([a for a, _ in per], axis=0)
            out["pr_auc"] = np.mean([b for _, b in per], axis=0)
        return out

    return bootstrap_stats(fn, len(y), bootstrap=bootstrap, seed=seed)


def evaluate_scores(
    y_true,
    y_score,
    *,
    threshold: float = 0.5,
    class_names=None,
    bootstrap: int = 1000,
    seed: int = 0,
) -> EvaluationResult:
    """Score precomputed predictions (an ensemble, test-time augmentation, a kNN ...).

    Args:
        y_true: Class ids ``(N,)``, 0/1 floats ``(N,)``/``(N, 1)`` or one-hot ``(N, K)``.
        y_score: P(PNEUMONIA) ``(N,)``/``(N, 1)``, or class probabilities ``(N, K)``;
            ``(N, 2)`` is read as binary with column 1 the positive class.
        threshold: Binary decision threshold (positive when ``score >= threshold``);
            choose it on validation data. Ignored for three or more classes (argmax).
        class_names: Names in class-id order; default from the number of classes.
        bootstrap: Number of bootstrap resamples for the 95% intervals (0: none).
        seed: Seed of the resampling.

    Returns:
        An :class:`~cxrkeras.results.EvaluationResult`.

    Raises:
        ValueError: for empty, misaligned or NaN inputs, class ids beyond the scores, a
            NaN threshold or a negative ``bootstrap``.
        TypeError: for a ``threshold`` or ``bootstrap`` that is not a number.

    Example:
        >>> r = evaluate_scores([0, 0, 1, 1, 1], [0.1, 0.7, 0.4, 0.8, 0.9], bootstrap=200)
        >>> round(r.accuracy, 2), round(r.recall, 3), r.confusion_matrix.tolist()
        (0.6, 0.667, [[1, 1], [1, 2]])
        >>> r.ci["accuracy"][0] <= r.accuracy <= r.ci["accuracy"][1]
        True
    """
    return _score_arrays(y_true, y_score, threshold, class_names, bootstrap, seed)


def _score_arrays(
    y_true, y_score, threshold, class_names, bootstrap, seed, *, probabilities: bool = True
) -> EvaluationResult:
    """:func:`evaluate_scores` with positional arguments; ``probabilities=False`` accepts
    binary scores outside [0, 1] (reconstruction errors) without a warning."""
    threshold = check_number(threshold, where="evaluate", argument="threshold",
                             fix="a number such as 0.5, or the threshold chosen on "
                             "validation data (cxrkeras.choose_threshold).")  # fmt: skip
    bootstrap = check_number(bootstrap, where="evaluate", argument="bootstrap", low=0,
                             integer=True, fix="e.g. bootstrap=1000, or 0 for no "
                             "intervals.")  # fmt: skip
    y, s = check_pair(y_true, y_score)
    k = 2 if s.ndim == 1 else s.shape[1]
    if k == 2:
        if probabilities and (s.min() < 0.0 or s.max() > 1.0):
            warnings.warn(
                f"Scores range over [{s.min():.3g}, {s.max():.3g}], outside [0, 1]: they look "
                "like logits. Apply a sigmoid, or pass a threshold on the logit scale "
                "(0.0 matches probability 0.5).",
                stacklevel=3,
            )
        y_pred = (s >= threshold).astype(np.int64)
    else:
        y_pred = np.argmax(s, axis=1).astype(np.int64)
    names = tuple(class_names) if class_names is not None else class_names_for(k)
    if len(names) != k:
        raise ValueError(f"class_names has {len(names)} names {names} but there are {k} classes.")
    notes: list[str] = []
    metrics = _point_figures(y, s, y_pred, k, notes, names)
    ci: dict[str, tuple[float, float]] = {}
    skipped: dict[str, int] = {}
    if bootstrap:
        samples = _bootstrap_figures(y, s, y_pred, k, bootstrap=int(bootstrap), seed=seed)
        for key in metrics:
            ci[key] = percentile_ci(samples[key])
            bad = int(np.sum(~np.isfinite(samples[key])))
            if bad and np.isfinite(metrics[key]):
                skipped[key] = bad
    for note in notes:
        warnings.warn(note, stacklevel=3)
    if skipped.get("roc_auc"):
        notes.append(
            f"{skipped['roc_auc']} of {bootstrap} resamples lacked a class and were "
            "left out of the ROC AUC / PR AUC intervals."
        )
    cm = confusion_matrix(y, y_pred, labels=list(range(k)))
    pc = per_class_figures(cm)
    per_class = {
        name: {key: float(pc[key][i]) for key in ("precision", "recall", "specificity", "f1")}
        | {"support": int(pc["support"][i])}
        for i, name in enumerate(names)
    }
    return EvaluationResult(
        metrics=metrics,
        ci=ci,
        confusion_matrix=cm,
        per_class=pd.DataFrame.from_dict(per_class, orient="index"),
        class_names=names,
        threshold=float(threshold) if k == 2 else None,
        n=len(y),
        y_true=y,
        y_score=s,
        y_pred=y_pred,
        bootstrap=int(bootstrap),
        skipped=skipped,
        notes=notes,
    )


def _compiled_loss(model: keras.Model, y_raw: np.ndarray, scores: np.ndarray) -> float | None:
    if not getattr(model, "compiled", False) or getattr(model, "loss", None) is None:
        return None
    y_arg = y_raw.reshape(scores.shape) if y_raw.size == scores.size else y_raw
    loss = model.compute_loss(y=y_arg.astype(np.float32), y_pred=scores, training=False)
    return float(keras.ops.convert_to_numpy(loss))


def evaluate(
    model_or_scores,
    data=None,
    *,
    threshold: float = 0.5,
    class_names=None,
    bootstrap: int = 1000,
    seed: int = 0,
    verbose: bool = False,
) -> EvaluationResult:
    """Evaluate a model on data, or precomputed ``(y_true, y_score)``, with 95% intervals.

    Args:
        model_or_scores: A Keras model (sigmoid ``(B, 1)`` or softmax ``(B, K)`` output),
            or a pair ``(y_true, y_score)`` computed elsewhere.
        data: ``(x, y)`` arrays or a ``tf.data.Dataset`` of ``(images, labels)`` batches;
            None with precomputed scores. A dataset's ``class_names`` are used.
        threshold: Binary decision threshold, chosen on validation data.
        class_names: Class names in id order; default from the data or the output size.
        bootstrap: Bootstrap resamples for the intervals (0: none).
        seed: Seed of the resampling.
        verbose: Show a progress bar while predicting.

    Returns:
        An :class:`~cxrkeras.results.EvaluationResult`; ``loss`` is the compiled loss
        (``model.compute_loss``, regularisation included) when the model is compiled.

    Raises:
        TypeError: if ``model_or_scores`` is neither a model nor a pair, or
            ``threshold`` is not a number.
        ValueError: for empty, misaligned or NaN inputs, or images the model cannot
            take (integer pixels for a model of unknown range, another size or channel
            count: see :func:`cxrkeras.gradcam`).

    Example:
        >>> import keras
        >>> inputs = keras.Input((4, 4, 1), name="image")
        >>> pooled = keras.layers.GlobalAveragePooling2D(name="pool")(inputs)
        >>> model = keras.Model(inputs, pooled, name="mean_brightness")
        >>> x = np.concatenate([np.full((3, 4, 4, 1), 0.2), np.full((3, 4, 4, 1), 0.8)])
        >>> r = evaluate(model, (x, np.array([0, 0, 0, 1, 1, 1])), bootstrap=100)
        >>> r.accuracy, r.class_names
        (1.0, ('NORMAL', 'PNEUMONIA'))
    """
    if not isinstance(model_or_scores, keras.Model):
        if isinstance(model_or_scores, (tuple, list)) and len(model_or_scores) == 2:
            if data is not None:
                raise ValueError("Pass data only with a model, not with (y_true, y_score).")
            y_true, y_score = model_or_scores
            return evaluate_scores(
                y_true, y_score, threshold=threshold, class_names=class_names,
                bootstrap=bootstrap, seed=seed,
            )  # fmt: skip
        raise TypeError(
            f"Expected a keras.Model with data, or a pair (y_true, y_score); got "
            f"{type(model_or_scores).__name__}."
        )
    if data is None:
        raise ValueError("evaluate(model, data): data is missing; pass (x, y) or a dataset.")
    y_raw, scores = _collect(model_or_scores, data, 64, verbose, "evaluate")
    if class_names is None:
        class_names = getattr(data, "class_names", None)
        if class_names is not None and len(class_names) != max(scores.shape[-1], 2):
            class_names = None  # e.g. a 3-class folder dataset scored by a binary model
    result = evaluate_scores(
        y_raw, scores, threshold=threshold, class_names=class_names,
        bootstrap=bootstrap, seed=seed,
    )  # fmt: skip
    result.loss = _compiled_loss(model_or_scores, y_raw, scores)
    return result
