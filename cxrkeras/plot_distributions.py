"""Distribution figures: images per class and split, and error histograms per class.

Like :mod:`cxrkeras.plots`, every function returns a ``matplotlib.figure.Figure`` built
without ``pyplot`` and saves a PNG when given ``path=``.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from cxrkeras._common import class_names_for
from cxrkeras._figures import Figure, save_figure


def plot_class_distribution(
    table: pd.DataFrame,
    *,
    by: str = "label",
    title: str | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Bar chart of images per class in each split, counts on the bars (data exploration).

    Args:
        table: A scan table (see :func:`cxrkeras.datasets.scan`) with a ``split`` column
            and the ``by`` column.
        by: ``"label"`` (NORMAL / PNEUMONIA) or ``"subtype"`` (normal / bacteria / virus).
        title: Figure title.
        path: Where to save a PNG.

    Returns:
        The figure.

    Raises:
        ValueError: if a column is missing or the table is empty.

    Example:
        >>> t = pd.DataFrame({"split": ["train"] * 3 + ["val"], "label": ["NORMAL", "PNEUMONIA", "PNEUMONIA", "NORMAL"]})
        >>> fig = plot_class_distribution(t)
        >>> sorted(int(float(x.get_text())) for x in fig.axes[0].texts)
        [0, 1, 1, 2]
    """
    missing = [c for c in ("split", by) if c not in getattr(table, "columns", ())]
    if missing:
        raise ValueError(
            f"The table lacks column(s) {missing}; expected a scan table with 'split' and "
            f"{by!r} (cxrkeras.datasets.scan)."
        )
    if len(table) == 0:
        raise ValueError("The table is empty: no images to count.")
    counts = pd.crosstab(table["split"], table[by])
    fig = Figure(figsize=(1.6 + 1.4 * len(counts) * max(1, counts.shape[1] / 2), 4.0))
    ax = fig.add_subplot()
    counts.plot.bar(ax=ax, rot=0)
    for container in ax.containers:
        ax.bar_label(container, fontsize="small")
    ax.set(xlabel="split", ylabel="images")
    ax.legend(title=by)
    ax.set_title(title or f"Images per {by} and split (n = {len(table)})")
    return save_figure(fig, path)


def plot_error_histogram(
    errors,
    labels,
    *,
    threshold: float | None = None,
    class_names=None,
    bins: int = 50,
    title: str | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Histograms of reconstruction errors (or any score) per class, with the threshold.

    Args:
        errors: Per-image errors ``(N,)``.
        labels: Class ids ``(N,)`` (NORMAL=0, PNEUMONIA=1).
        threshold: Draws a vertical line at the decision threshold.
        class_names: Names in class-id order.
        bins: Number of bins, shared by all classes.
        title: Figure title.
        path: Where to save a PNG.

    Returns:
        The figure; densities, so classes of different size compare.

    Raises:
        ValueError: for misaligned or NaN inputs.

    Example:
        >>> fig = plot_error_histogram([0.1, 0.2, 0.5, 0.7], [0, 0, 1, 1], threshold=0.3)
        >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        ['NORMAL (n = 2)', 'PNEUMONIA (n = 2)', 'threshold 0.3']
    """
    e = np.asarray(errors, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if len(e) != len(y):
        raise ValueError(f"errors has {len(e)} values but labels has {len(y)}.")
    if len(e) == 0 or not np.all(np.isfinite(e)):
        raise ValueError("errors is empty or holds NaN/inf values; drop those images first.")
    classes = np.unique(y).astype(int)
    names = list(class_names or class_names_for(max(2, classes.max() + 1)))
    edges = np.histogram_bin_edges(e, bins=bins)
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    for c in classes:
        ax.hist(e[y == c], bins=edges, density=True, alpha=0.55,
                label=f"{names[c]} (n = {int(np.sum(y == c))})")  # fmt: skip
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3g}")
    ax.set(xlabel="reconstruction error (MSE)", ylabel="density")
    ax.legend(fontsize="small")
    ax.set_title(title or "Error distribution by class")
    return save_figure(fig, path)
