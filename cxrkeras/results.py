"""The result of an evaluation, how it renders, and several results side by side."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

LABELS: dict[str, str] = {
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall (sensitivity)",
    "specificity": "Specificity",
    "f1": "F1",
    "macro_precision": "Macro precision",
    "macro_recall": "Macro recall",
    "macro_specificity": "Macro specificity",
    "macro_f1": "Macro F1",
    "balanced_accuracy": "Balanced accuracy",
    "error_rate": "Error rate",
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC (average precision)",
    "loss": "Loss",
}


def format_figure(value: float, ci: tuple[float, float] | None = None, *, digits: int = 2) -> str:
    """``"0.91 [0.88, 0.93]"``; ``"n/a"`` for NaN; no brackets without an interval.

    Example:
        >>> format_figure(0.9123, (0.88, 0.934))
        '0.91 [0.88, 0.93]'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    text = f"{value:.{digits}f}"
    if ci is not None and not any(math.isnan(c) for c in ci):
        text += f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
    return text


def _plain(value):
    """JSON-friendly copy: arrays to lists, NaN to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


@dataclass
class EvaluationResult:
    """Figures with 95% bootstrap confidence intervals, plus the predictions behind them.

    Every figure is also an attribute (``result.accuracy``, ``result.roc_auc``). Binary
    results hold ``accuracy, precision, recall, specificity, f1, macro_f1,
    balanced_accuracy, roc_auc, pr_auc`` for PNEUMONIA (class 1); results with three or
    more classes hold ``accuracy, balanced_accuracy, macro_precision, macro_recall,
    macro_specificity, macro_f1, roc_auc, pr_auc`` (one-vs-rest, macro averaged). NaN
    marks a figure that the data cannot define (see ``notes``).

    Attributes:
        metrics: Figure name -> value.
        ci: Figure name -> ``(low, high)`` 95% percentile-bootstrap interval.
        confusion_matrix: ``(K, K)`` counts, rows true class, columns predicted class.
        per_class: Per-class precision, recall, specificity, F1 and support.
        class_names: Names of the classes, index = class id.
        threshold: The threshold applied to P(class 1); None for argmax decisions.
        n: Number of images.
        loss: The compiled loss of the model on these images, or None.
        y_true, y_score, y_pred: Class ids, scores (``(N,)`` P(class 1) for binary tasks,
            ``(N, K)`` otherwise) and predicted class ids.
        bootstrap: Number of resamples drawn (0: no intervals).
        skipped: Figure name -> resamples left out because they lacked a class.
        notes: Warnings about undefined figures, in words.
    """

    metrics: dict[str, float]
    ci: dict[str, tuple[float, float]]
    confusion_matrix: np.ndarray
    per_class: pd.DataFrame
    class_names: tuple[str, ...]
    threshold: float | None
    n: int
    y_true: np.ndarray
    y_score: np.ndarray
    y_pred: np.ndarray
    loss: float | None = None
    bootstrap: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __getattr__(self, name: str):
        metrics = self.__dict__.get("metrics")
        if name.startswith("_") or metrics is None:
            raise AttributeError(name)
        if name in metrics:
            return metrics[name]
        raise AttributeError(
            f"EvaluationResult has no figure {name!r}; figures here: {sorted(metrics)}."
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per figure: ``value``, ``ci_low``, ``ci_high`` (loss has no interval)."""
        rows = {
            key: (value, *self.ci.get(key, (np.nan, np.nan))) for key, value in self.metrics.items()
        }
        if self.loss is not None:
            rows["loss"] = (self.loss, np.nan, np.nan)
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=["value", "ci_low", "ci_high"])
        frame.index.name = "figure"
        return frame

    def to_dict(self) -> dict:
        """JSON-friendly summary (no per-image arrays); NaN becomes None."""
        return _plain(
            {
                "n": self.n,
                "threshold": self.threshold,
                "class_names": list(self.class_names),
                "metrics": self.metrics,
                "ci": self.ci,
                "loss": self.loss,
                "confusion_matrix": self.confusion_matrix,
                "per_class": self.per_class.to_dict(orient="index"),
                "bootstrap": self.bootstrap,
                "skipped": self.skipped,
                "notes": self.notes,
            }
        )

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def _header(self) -> str:
        decision = "argmax" if self.threshold is None else f"threshold {self.threshold:.3g}"
        ci = f", 95% CI from {self.bootstrap} bootstrap resamples" if self.bootstrap else ""
        return f"Evaluation on {self.n} images ({decision}{ci})"

    def _figure_rows(self, digits: int) -> list[tuple[str, str]]:
        rows = [
            (LABELS.get(k, k), format_figure(v, self.ci.get(k), digits=digits))
            for k, v in self.metrics.items()
        ]
        if self.loss is not None:
            rows.append(("Loss", format_figure(self.loss, digits=digits + 1)))
        return rows

    def _confusion_frame(self) -> pd.DataFrame:
        names = list(self.class_names)
        return pd.DataFrame(
            self.confusion_matrix,
            index=pd.Index(names, name="true"),
            columns=pd.Index(names, name="predicted"),
        )

    def __str__(self) -> str:
        lines = [self._header(), "", "| figure | value [95% CI] |", "|---|---|"]
        lines += [f"| {name} | {text} |" for name, text in self._figure_rows(3)]
        names = list(self.class_names)
        lines += ["", "Confusion matrix (rows true, columns predicted):", ""]
        lines += ["| true \\ predicted | " + " | ".join(names) + " |"]
        lines += ["|---" * (len(names) + 1) + "|"]
        for name, row in zip(names, self.confusion_matrix, strict=True):
            lines.append(f"| {name} | " + " | ".join(str(int(c)) for c in row) + " |")
        lines += [f"\nNote: {note}" for note in self.notes]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        figures = pd.DataFrame(self._figure_rows(3), columns=["figure", "value [95% CI]"])
        notes = "".join(f"<p><em>Note: {note}</em></p>" for note in self.notes)
        return (
            f"<p><strong>{self._header()}</strong></p>"
            + figures.to_html(index=False)
            + "<p>Confusion matrix (rows true, columns predicted)</p>"
            + self._confusion_frame().to_html()
            + notes
        )

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:.3f}" for k, v in self.metrics.items() if k != "pr_auc")
        return f"EvaluationResult(n={self.n}, {shown})"


def compare(
    results: dict[str, EvaluationResult],
    *,
    reported: dict[str, dict[str, float]] | None = None,
    digits: int = 2,
) -> pd.DataFrame:
    """Several evaluations side by side, with a report's own figures beside them.

    Args:
        results: Row name -> :class:`EvaluationResult`.
        reported: Row name -> ``{figure: value}`` as printed in a report, e.g.
            ``{"ResNet18 (report D)": {"accuracy": 0.93, "recall": 0.97}}``; figure
            names as in :class:`EvaluationResult` (``accuracy``, ``recall``, ``roc_auc`` ...).
        digits: Decimal places.

    Returns:
        A DataFrame of strings, one row per model, one column per figure:
        ``"0.91 [0.88, 0.93]"`` for measured figures, ``"0.93"`` for reported ones, and
        an empty cell where a row lacks the figure.

    Raises:
        TypeError: if a value in ``results`` is not an EvaluationResult.

    Example:
        >>> from cxrkeras.evaluate import evaluate_scores
        >>> r = evaluate_scores([0, 0, 1, 1], [0.2, 0.6, 0.7, 0.9], bootstrap=0)
        >>> table = compare({"ours": r}, reported={"report": {"accuracy": 0.9}})
        >>> table.loc[:, "accuracy"].tolist(), table.loc["ours", "n"]
        (['0.75', '0.90'], '4')
    """
    rows: dict[str, dict[str, str]] = {}
    for name, result in results.items():
        if not isinstance(result, EvaluationResult):
            raise TypeError(
                f"results[{name!r}] is a {type(result).__name__}; expected an "
                "EvaluationResult from cxrkeras.evaluate()."
            )
        row = {"n": str(result.n)}
        for key, value in result.metrics.items():
            row[key] = format_figure(value, result.ci.get(key), digits=digits)
        if result.loss is not None:
            row["loss"] = format_figure(result.loss, digits=digits + 1)
        rows[name] = row
    for name, figures in (reported or {}).items():
        rows[name] = {k: format_figure(float(v), digits=digits) for k, v in figures.items()}
    frame = pd.DataFrame.from_dict(rows, orient="index").fillna("")
    frame.index.name = "model"
    return frame
