"""Score explanation heatmaps against lesion masks: pointing game, energy inside, AUC.

Chance levels to compare with: a random map's maximum lands in the mask with
probability ``mask_fraction``, puts ``mask_fraction`` of its energy inside it, and has
an AUC of 0.5.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import roc_auc_score


def _as_stack(array, name: str) -> np.ndarray:
    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3:
        raise ValueError(
            f"{name} must be one map (H, W) or a batch (B, H, W); got shape {np.shape(array)}."
        )
    return arr


def _one_image(heat: np.ndarray, inside: np.ndarray) -> tuple[float, float, float]:
    flat = heat.ravel()
    hit = bool(flat.max() > flat.min() and inside.ravel()[np.argmax(flat)])
    positive = np.maximum(heat, 0.0)
    total = positive.sum()
    energy = float(positive[inside].sum() / total) if total > 0 else 0.0
    auc = 0.5 if inside.all() else float(roc_auc_score(inside.ravel(), flat))
    return float(hit), energy, auc


def localization_score(heatmap, mask) -> dict:
    """How well heatmaps point at lesions: pointing game, energy fraction and AUC.

    Args:
        heatmap: One map ``(H, W)`` or a batch ``(B, H, W)`` (higher = more important;
            any range, e.g. Grad-CAM in [0, 1] or occlusion drops).
        mask: Lesion masks of the same shape; any value above 0 is lesion (bool, 0/1
            and 0/255 masks all work). Images with an empty mask are skipped with a
            warning, since nothing can be localized in them.

    Returns:
        A dict of means over the scored images: ``"pointing_game"`` (fraction whose
        maximum lies in the mask; a constant map never hits), ``"energy_inside"``
        (fraction of the positive heat inside the mask), ``"auc"`` (ROC AUC of the
        heat as a pixel-wise lesion detector), ``"mask_fraction"`` (the chance level of
        the first two), ``"num_images"`` scored and ``"num_skipped"``.

    Raises:
        ValueError: if the shapes differ, the heatmap holds NaN, or no mask is non-empty.

    Example:
        >>> heat = np.zeros((8, 10)); heat[1, 8] = 1.0
        >>> mask = np.zeros((8, 10), bool); mask[0:3, 7:10] = True
        >>> scores = localization_score(heat, mask)
        >>> scores["pointing_game"], scores["energy_inside"], round(scores["mask_fraction"], 3)
        (1.0, 1.0, 0.113)
    """
    heat = _as_stack(heatmap, "heatmap").astype(np.float64)
    inside = _as_stack(mask, "mask") > 0
    if heat.shape != inside.shape:
        raise ValueError(
            f"heatmap and mask must have the same shape; got {heat.shape} and "
            f"{inside.shape}. Resize the masks to the image size the heatmaps were made at."
        )
    if not np.all(np.isfinite(heat)):
        raise ValueError("heatmap contains NaN or infinite values; it cannot be scored.")
    keep = inside.reshape(len(inside), -1).any(axis=1)
    skipped = int((~keep).sum())
    if not keep.any():
        raise ValueError(
            f"All {len(inside)} masks are empty; localization needs images with lesions "
            "(pass the positive images only)."
        )
    if skipped:
        warnings.warn(
            f"Skipped {skipped} of {len(inside)} images with an empty lesion mask.",
            stacklevel=2,
        )
    scores = np.array([_one_image(h, m) for h, m in zip(heat[keep], inside[keep], strict=True)])
    return {
        "pointing_game": float(scores[:, 0].mean()),
        "energy_inside": float(scores[:, 1].mean()),
        "auc": float(scores[:, 2].mean()),
        "mask_fraction": float(inside[keep].mean()),
        "num_images": int(keep.sum()),
        "num_skipped": skipped,
    }
