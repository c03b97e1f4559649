"""Figures: confusion matrix, training curves, ROC / PR curves, and every other plot.

Every function returns a ``matplotlib.figure.Figure`` built without ``pyplot`` (no
global state, nothing shown, safe with the Agg backend) and saves a PNG when given
``path=``. Notebooks display the returned figure; scripts save it. This module also
re-exports the image grids (:mod:`cxrkeras.plot_images`), the distribution plots
(:mod:`cxrkeras.plot_distributions`) and :func:`cxrkeras.embed.plot_projection`, so
``cxrkeras.plots`` holds every figure.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

from cxrkeras._common import class_names_for
from cxrkeras._figures import Figure, save_figure
from cxrkeras._scoring import check_pair
from cxrkeras.embed import plot_projection
from cxrkeras.plot_distributions import plot_class_distribution, plot_error_histogram
from cxrkeras.plot_images import plot_image_grid, plot_reconstructions
from cxrkeras.results import EvaluationResult, format_figure

__all__ = [
    "plot_class_distribution",
    "plot_confusion_matrix",
    "plot_error_histogram",
    "plot_image_grid",
    "plot_precision_recall",
    "plot_projection",
    "plot_reconstructions",
    "plot_roc",
    "plot_training_curves",
    "save_figure",
]


def plot_confusion_matrix(
    result_or_matrix,
    *,
    class_names=None,
    title: str | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Confusion matrix heatmap: counts and row percentages, coloured by row share.

    Args:
        result_or_matrix: An :class:`~cxrkeras.results.EvaluationResult` or a ``(K, K)``
            count matrix (rows true class, columns predicted class).
        class_names: Names in class-id order; default from the result or the size.
        title: Figure title.
        path: Where to save a PNG.

    Returns:
        The figure; each cell reads ``"count\\nrow %"``.

    Raises:
        ValueError: if the matrix is not square.

    Example:
        >>> fig = plot_confusion_matrix(np.array([[50, 10], [5, 135]]))
        >>> [t.get_text() for t in fig.axes[0].texts][:2]
        ['50\\n83.3%', '10\\n16.7%']
    """
    if isinstance(result_or_matrix, EvaluationResult):
        cm = result_or_matrix.confusion_matrix
        class_names = class_names or result_or_matrix.class_names
    else:
        cm = np.asarray(result_or_matrix)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"Expected a square (K, K) confusion matrix; got shape {cm.shape}.")
    names = list(class_names or class_names_for(cm.shape[0]))
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    annot = np.array(
        [
            [f"{int(c)}\n{100 * p:.1f}%" for c, p in zip(r, q, strict=True)]
            for r, q in zip(cm, share, strict=True)
        ]
    )
    side = 1.4 + 1.3 * len(names)
    fig = Figure(figsize=(side + 0.8, side))
    ax = fig.add_subplot()
    sns.heatmap(
        share, annot=annot, fmt="", cmap="Blues", vmin=0, vmax=1, cbar=False, ax=ax,
        xticklabels=names, yticklabels=names, linewidths=0.5, linecolor="white",
    )  # fmt: skip
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    ax.set_title(title or f"Confusion matrix (n = {int(cm.sum())})")
    return save_figure(fig, path)


def _history_frame(history) -> pd.DataFrame:
    if hasattr(history, "history") and isinstance(history.history, dict):
        history = history.history
    if isinstance(history, (str, os.PathLike)):
        if not Path(history).is_file():
            raise FileNotFoundError(f"Training log {str(history)!r} not found.")
        history = pd.read_csv(history)
    if isinstance(history, dict):
        history = pd.DataFrame({k: pd.Series(v, dtype=float) for k, v in history.items()})
    if not isinstance(history, pd.DataFrame):
        raise TypeError(
            f"Expected a keras History, a dict of lists or a CSVLogger file; got "
            f"{type(history).__name__}."
        )
    frame = history.set_index("epoch") if "epoch" in history.columns else history
    if frame.empty:
        raise ValueError("The training history is empty: no epoch was logged.")
    return frame


def plot_training_curves(
    history,
    *,
    metrics=None,
    title: str | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Loss and each metric per epoch, training (solid) against validation (dashed).

    Args:
        history: The ``History`` returned by ``model.fit``, its ``.history`` dict, a
            DataFrame, or the path of a ``keras.callbacks.CSVLogger`` file.
        metrics: Names to draw (without ``val_``); default every logged one, loss first.
        title: Figure title.
        path: Where to save a PNG.

    Returns:
        The figure, one panel per metric; epochs count from 1.

    Raises:
        ValueError: for an empty history or a metric that was not logged.

    Example:
        >>> fig = plot_training_curves({"loss": [0.7, 0.5], "val_loss": [0.8, 0.6],
        ...                             "accuracy": [0.6, 0.7], "val_accuracy": [0.5, 0.6]})
        >>> [ax.get_title() for ax in fig.axes]
        ['loss', 'accuracy']
    """
    frame = _history_frame(history)
    logged = [c for c in frame.columns if not c.startswith("val_")]
    logged += [c[4:] for c in frame.columns if c.startswith("val_") and c[4:] not in logged]
    if metrics is None:
        metrics = sorted(logged, key=lambda c: (c != "loss", c in ("learning_rate", "lr")))
    unknown = [m for m in metrics if m not in logged]
    if unknown:
        raise ValueError(f"metrics {unknown} were not logged; logged: {logged}.")
    epochs = np.arange(1, len(frame) + 1)
    cols = min(len(metrics), 3)
    rows = int(np.ceil(len(metrics) / cols))
    fig = Figure(figsize=(4.5 * cols, 3.4 * rows), layout="constrained")
    for i, name in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, i + 1)
        if name in frame:
            ax.plot(epochs, frame[name].to_numpy(), "-o", ms=3, label="train")
        if f"val_{name}" in frame:
            ax.plot(epochs, frame[f"val_{name}"].to_numpy(), "--o", ms=3, label="validation")
        if name in ("learning_rate", "lr"):
            ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def _curves_input(results) -> dict[str, tuple[np.ndarray, np.ndarray, EvaluationResult | None]]:
    if isinstance(results, EvaluationResult) or (isinstance(results, tuple) and len(results) == 2):
        results = {"model": results}
    if not isinstance(results, dict) or not results:
        raise TypeError(
            "Expected an EvaluationResult, a (y_true, y_score) pair, or a non-empty dict of "
            f"them keyed by model name; got {type(results).__name__}."
        )
    out = {}
    for name, item in results.items():
        if isinstance(item, EvaluationResult):
            out[name] = (item.y_true, item.y_score, item)
        else:
            y, s = check_pair(*item)
            out[name] = (y, s, None)
    return out


def _plot_curves(results, kind: str, title, path) -> Figure:
    fig = Figure(figsize=(5.6, 5.0))
    ax = fig.add_subplot()
    for name, (y, s, result) in _curves_input(results).items():
        k = 2 if s.ndim == 1 else s.shape[1]
        columns = [(name, y == 1, s)] if k == 2 else [
            (f"{name}: {cls}", y == c, s[:, c])
            for c, cls in enumerate(result.class_names if result else class_names_for(k))
        ]  # fmt: skip
        for label, positive, score in columns:
            if positive.all() or not positive.any():
                raise ValueError(f"{label!r}: labels hold one class only; no curve to draw.")
            key = "roc_auc" if kind == "roc" else "pr_auc"
            ci = result.ci.get(key) if (result is not None and k == 2) else None
            if kind == "roc":
                fpr, tpr, _ = roc_curve(positive, score)
                value = auc(fpr, tpr)
                ax.plot(fpr, tpr, label=f"{label} (AUC {format_figure(value, ci, digits=3)})")
            else:
                precision, recall, _ = precision_recall_curve(positive, score)
                value = average_precision_score(positive, score)
                ax.step(recall, precision, where="post",
                        label=f"{label} (AP {format_figure(value, ci, digits=3)})")  # fmt: skip
            if kind == "roc" and result is not None and k == 2:
                ax.plot(1 - result.specificity, result.recall, "o", color=ax.lines[-1].get_color())
    if kind == "roc":
        ax.plot([0, 1], [0, 1], ":", color="grey", label="chance")
        ax.set(xlabel="False-positive rate (1 - specificity)", ylabel="Sensitivity (recall)")
    else:
        ax.set(xlabel="Recall (sensitivity)", ylabel="Precision")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01))
    ax.set_title(title or ("ROC curve" if kind == "roc" else "Precision-recall curve"))
    ax.legend(loc="lower right" if kind == "roc" else "lower left", fontsize="small")
    return save_figure(fig, path)


def plot_roc(results, *, title: str | None = None, path: str | os.PathLike | None = None) -> Figure:
    """ROC curves of one or several models on one axes, AUC (with its 95% CI) in the legend.

    A dot marks each binary result's operating point (its threshold). Results with three
    or more classes draw one one-vs-rest curve per class.

    Args:
        results: An :class:`~cxrkeras.results.EvaluationResult`, a ``(y_true, y_score)``
            pair, or a dict ``{model name: either}``.
        title: Figure title.
        path: Where to save a PNG.

    Returns:
        The figure.

    Raises:
        ValueError: if a model's labels hold one class only.

    Example:
        >>> fig = plot_roc({"a": ([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])})
        >>> fig.axes[0].get_legend().get_texts()[0].get_text()
        'a (AUC 0.750)'
    """
    return _plot_curves(results, "roc", title, path)


def plot_precision_recall(
    results, *, title: str | None = None, path: str | os.PathLike | None = None
) -> Figure:
    """Precision-recall curves, average precision (PR AUC) in the legend; as :func:`plot_roc`.

    Example:
        >>> fig = plot_precision_recall(([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]))
        >>> fig.axes[0].get_legend().get_texts()[0].get_text()
        'model (AP 0.833)'
    """
    return _plot_curves(results, "pr", title, path)
