"""Image figures: a grid of X-rays with true and predicted labels, and reconstructions.

Like :mod:`cxrkeras.plots`, every function returns a ``matplotlib.figure.Figure`` built
without ``pyplot`` and saves a PNG when given ``path=``.
"""

from __future__ import annotations

import os

import numpy as np

from cxrkeras._common import as_batch, class_names_for
from cxrkeras._figures import Figure, save_figure

CORRECT, WRONG = "tab:green", "tab:red"


def _display(img: np.ndarray) -> tuple[np.ndarray, str | None]:
    """An image ready for imshow: grayscale 2-D with a gray colormap, or RGB clipped to [0, 1]."""
    if img.shape[-1] == 1:
        return img[..., 0], "gray"
    if img.shape[-1] == 3:
        lo, hi = float(img.min()), float(img.max())
        if lo < 0.0 or hi > 1.0:  # e.g. ImageNet-normalised: rescale for display only
            img = (img - lo) / max(hi - lo, 1e-12)
        return img, None
    raise ValueError(f"Expected 1 or 3 channels; got an image of shape {img.shape}.")


def _predicted_ids(predictions, n: int, threshold: float):
    p = np.asarray(predictions)
    if len(p) != n:
        raise ValueError(f"predictions has {len(p)} rows but there are {n} images.")
    if p.ndim == 2 and p.shape[1] > 1:
        return p.argmax(axis=1), p.max(axis=1)
    p = p.reshape(-1)
    if p.dtype.kind in "iub":
        return p.astype(int), None
    return (p >= threshold).astype(int), p


def plot_image_grid(
    images,
    *,
    labels=None,
    predictions=None,
    class_names=None,
    threshold: float = 0.5,
    ncols: int = 4,
    path: str | os.PathLike | None = None,
) -> Figure:
    """A grid of images titled with the true and predicted class; green right, red wrong.

    Args:
        images: One image ``(H, W, C)`` or a batch ``(B, H, W, C)``, C = 1 or 3.
        labels: True class ids ``(B,)`` (or one-hot ``(B, K)``).
        predictions: Predicted class ids (integers), P(PNEUMONIA) scores ``(B,)`` /
            ``(B, 1)`` (thresholded at ``threshold``) or class probabilities ``(B, K)``.
        class_names: Names in class-id order; default NORMAL / PNEUMONIA or the 3 classes.
        threshold: Threshold for P(PNEUMONIA) scores.
        ncols: Images per row.
        path: Where to save a PNG.

    Returns:
        The figure, one axes per image.

    Raises:
        ValueError: for labels or predictions that do not match the number of images.

    Example:
        >>> fig = plot_image_grid(np.zeros((2, 8, 6, 1)), labels=[0, 1], predictions=[0.2, 0.3])
        >>> [ax.get_title() for ax in fig.axes]
        ['true NORMAL\\npred NORMAL (0.20)', 'true PNEUMONIA\\npred NORMAL (0.30)']
    """
    batch, _ = as_batch(images)
    n = len(batch)
    y = None
    if labels is not None:
        y = np.asarray(labels)
        y = y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1).astype(int)
        if len(y) != n:
            raise ValueError(f"labels has {len(y)} entries but there are {n} images.")
    pred, conf = (None, None)
    if predictions is not None:
        pred, conf = _predicted_ids(predictions, n, threshold)
    k = max([2] + [int(a.max()) + 1 for a in (y, pred) if a is not None and len(a)])
    if predictions is not None and np.ndim(predictions) == 2:
        k = max(k, np.shape(predictions)[1])
    names = list(class_names or class_names_for(k))
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    h, w = batch.shape[1:3]
    cell = 2.4
    fig = Figure(figsize=(cell * ncols, cell * nrows * h / w + 0.5 * nrows), layout="constrained")
    for i in range(n):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        img, cmap = _display(batch[i])
        ax.imshow(img, cmap=cmap, vmin=0 if cmap else None, vmax=1 if cmap else None)
        ax.set_xticks([])
        ax.set_yticks([])
        parts, color = [], "black"
        if y is not None:
            parts.append(f"true {names[y[i]]}")
        if pred is not None:
            parts.append(
                f"pred {names[pred[i]]}" + (f" ({conf[i]:.2f})" if conf is not None else "")
            )
            if y is not None:
                color = CORRECT if pred[i] == y[i] else WRONG
        ax.set_title("\n".join(parts), color=color, fontsize="small")
    return save_figure(fig, path)


def plot_reconstructions(
    originals,
    reconstructions,
    *,
    errors=None,
    n: int = 8,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Originals (top row) above their autoencoder reconstructions (bottom row).

    Args:
        originals: Images ``(B, H, W, C)``.
        reconstructions: The autoencoder's outputs for them, same shape.
        errors: Optional per-image errors ``(B,)`` shown above each reconstruction.
        n: At most this many pairs are drawn (the first ``n``).
        path: Where to save a PNG.

    Returns:
        The figure, ``2 x min(n, B)`` axes.

    Raises:
        ValueError: if the shapes differ.

    Example:
        >>> x = np.random.default_rng(0).uniform(size=(3, 8, 8, 1))
        >>> fig = plot_reconstructions(x, x * 0.9, errors=[0.1, 0.2, 0.3])
        >>> len(fig.axes), fig.axes[4].get_title()
        (6, 'MSE 0.2')
    """
    a, _ = as_batch(originals)
    b, _ = as_batch(reconstructions)
    if a.shape != b.shape:
        raise ValueError(
            f"originals {a.shape} and reconstructions {b.shape} differ in shape; pass the "
            "autoencoder's outputs for exactly these images."
        )
    m = min(n, len(a))
    fig = Figure(figsize=(1.8 * m, 4.0), layout="constrained")
    for row, (batch, name) in enumerate(((a, "original"), (b, "reconstruction"))):
        for i in range(m):
            ax = fig.add_subplot(2, m, row * m + i + 1)
            img, cmap = _display(batch[i])
            ax.imshow(img, cmap=cmap, vmin=0 if cmap else None, vmax=1 if cmap else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(name)
            if row == 1 and errors is not None:
                ax.set_title(
                    f"MSE {float(np.asarray(errors).reshape(-1)[i]):.3g}", fontsize="small"
                )
    return save_figure(fig, path)
