"""Explanations of chest X-ray classifiers: heatmaps, overlays and side-by-side figures.

The explainers return raw float maps at the input resolution and never modify the
model; :func:`overlay` draws a map over its image, :func:`plot_explanations` draws image,
Grad-CAM and occlusion side by side, and :func:`localization_score` scores maps against
lesion masks. Everything works on nested models (``x = base_model(inputs)``,
``Sequential([base_model, ...])``).
"""

from __future__ import annotations

import matplotlib
import numpy as np
import tensorflow as tf
from keras import ops

from cxrkeras._common import class_names_for
from cxrkeras._figures import Figure
from cxrkeras._graph import _forward, _head_activation, find_layer, forward_with_intermediate
from cxrkeras._inputs import (
    check_heatmap,
    check_images,
    check_model,
    check_number,
    describe,
)
from cxrkeras.gradcam import gradcam, gradcam_plus_plus
from cxrkeras.localization import localization_score
from cxrkeras.occlusion import _probabilities, occlusion

__all__ = [
    "activation_map",
    "find_layer",
    "forward_with_intermediate",
    "gradcam",
    "gradcam_plus_plus",
    "localization_score",
    "occlusion",
    "overlay",
    "plot_explanations",
]

_METHODS = {
    "gradcam": "Grad-CAM",
    "gradcam_plus_plus": "Grad-CAM++",
    "occlusion": "Occlusion",
    "activation": "Activation",
}


def activation_map(model, image, *, layer_name=None, normalize: str = "image") -> np.ndarray:
    """Mean activation over the channels of a convolutional layer, at input resolution.

    These are report C's activation heatmaps: where does a layer fire, whatever the
    class? (Grad-CAM instead weighs channels by their effect on one class.)

    Args:
        model: A functional or Sequential Keras model (nested models allowed).
        image: One image ``(H, W, C)`` or a batch ``(B, H, W, C)`` (checked and converted
            as in :func:`cxrkeras.gradcam`).
        layer_name: Layer name or dotted path; None for the last layer with a 4-D output.
        normalize: ``"image"`` scales each map to [0, 1] by its own min and max;
            ``"batch"`` uses the min and max of the whole batch, so activation levels
            compare across images (healthy vs sick, as in report C).

    Returns:
        float32 ``(H, W)`` or ``(B, H, W)`` maps in [0, 1] (zeros for a constant map).

    Raises:
        ValueError: for an unknown layer, a layer that is not 4-D, a bad ``normalize`` or
            images the model cannot take.
        TypeError: if ``model`` is not a Keras model or the image is not numeric.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((12, 20, 1)),
        ...     keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        ...     keras.layers.GlobalAveragePooling2D(name="gap"),
        ...     keras.layers.Dense(1, activation="sigmoid", name="out")])
        >>> activation_map(model, np.random.rand(12, 20, 1), layer_name="conv").shape
        (12, 20)
    """
    if normalize not in ("image", "batch"):
        raise ValueError(
            f"activation_map: normalize must be 'image' or 'batch'. Received: "
            f"normalize={normalize!r}."
        )
    check_model(model, where="activation_map")
    batch, single = check_images(image, model, where="activation_map", argument="image")
    fmaps, _, _ = _forward(model, batch, layer_name)
    if len(fmaps.shape) != 4:
        raise ValueError(
            f"activation_map needs a layer with a 4-D output; the chosen layer outputs "
            f"shape {tuple(fmaps.shape)}. Pick a convolutional layer."
        )
    mean = ops.mean(fmaps, axis=-1)[..., None]
    maps = tf.image.resize(mean, batch.shape[1:3], method="bilinear").numpy()[..., 0]
    axes = (1, 2) if normalize == "image" else (0, 1, 2)
    low = maps.min(axis=axes, keepdims=True)
    span = maps.max(axis=axes, keepdims=True) - low
    maps = np.where(span > 0, (maps - low) / np.where(span > 0, span, 1.0), 0.0)
    maps = maps.astype(np.float32)
    return maps[0] if single else maps


def _as_rgb(image: np.ndarray) -> np.ndarray:
    raw = np.asarray(image)
    if raw.dtype == bool or not np.issubdtype(raw.dtype, np.number):
        raise TypeError(
            f"overlay: image must hold pixel values. Received: image of dtype {raw.dtype}. "
            "Fix: pass the image array the heatmap was made for."
        )
    img = raw.astype(np.float32)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[-1] not in (1, 3) or img.size == 0:
        raise ValueError(
            f"overlay: image must be a grayscale (H, W) / (H, W, 1) or RGB (H, W, 3) image. "
            f"Received: image={describe(raw)}. Fix: drop an alpha channel with image[..., :3]."
        )
    if not np.all(np.isfinite(img)):
        raise ValueError(
            f"overlay: image contains NaN or infinite values. Received: image={describe(raw)}."
        )
    if np.issubdtype(raw.dtype, np.integer) and img.max() > 255.0:
        img = img / 65535.0  # 16-bit pixels
    elif img.max() > 255.0:
        raise ValueError(
            f"overlay: image values exceed 255, so they are neither [0, 1] nor 0-255 pixels. "
            f"Received: image={describe(raw)}. Fix: pass image / image.max()."
        )
    elif img.max() > 1.0:
        img = img / 255.0
    low, high = img.min(), img.max()
    if low < 0.0:
        img = (img - low) / (high - low) if high > low else np.zeros_like(img)
    return np.repeat(img, 3, axis=-1) if img.shape[-1] == 1 else img


def overlay(image, heatmap, *, alpha: float = 0.4, cmap: str = "jet") -> np.ndarray:
    """Blend a heatmap, coloured by ``cmap``, over an image.

    Args:
        image: Grayscale ``(H, W)`` / ``(H, W, 1)`` or RGB ``(H, W, 3)``, or a batch of
            them. Values in [0, 1] are used as they are; an image whose maximum exceeds
            1 is taken as [0, 255] and divided by 255 (integer images above 255 as 16-bit
            and divided by 65535; ImageNet-normalised images with negative values are
            rescaled by their min and max).
        heatmap: ``(H, W)`` map (a batch for a batch of images). A map of another size
            with the image's aspect ratio (a layer's coarser grid) is resized to the
            image; a map with another aspect ratio (a transposed map, another image's
            map) is refused rather than stretched. Maps in [0, 1] are used as they are;
            others (e.g. occlusion drops) are rescaled by their min and max.
        alpha: Weight of the heatmap colour, in [0, 1].
        cmap: A matplotlib colormap name.

    Returns:
        float32 RGB ``(H, W, 3)`` (or ``(B, H, W, 3)``) in [0, 1].

    Raises:
        ValueError: for bad shapes, a heatmap with another aspect ratio than the image,
            NaN values, ``alpha`` outside [0, 1] or an unknown ``cmap``.
        TypeError: for a non-numeric ``alpha``, image or heatmap.

    Example:
        >>> rgb = overlay(np.full((6, 10), 200.0), np.eye(6, 10))
        >>> rgb.shape, bool(0.0 <= rgb.min() <= rgb.max() <= 1.0)
        ((6, 10, 3), True)
    """
    alpha = check_number(alpha, where="overlay", argument="alpha", low=0.0, high=1.0,
                         fix="the heatmap colour's weight, e.g. alpha=0.4.")  # fmt: skip
    if not isinstance(cmap, str) or cmap not in matplotlib.colormaps:
        raise ValueError(
            f"overlay: cmap must be a matplotlib colormap name. Received: cmap={cmap!r}. "
            "Fix: e.g. cmap='jet', 'inferno' or 'viridis'."
        )
    heat = np.asarray(heatmap)
    img = np.asarray(image)
    if heat.ndim == 3 and img.ndim == 4:
        if len(heat) != len(img):
            raise ValueError(
                f"overlay: pass one heatmap per image. Received: {len(img)} images and "
                f"{len(heat)} heatmaps."
            )
        pairs = zip(img, heat, strict=True)
        return np.stack([overlay(i, h, alpha=alpha, cmap=cmap) for i, h in pairs])
    rgb = _as_rgb(img)
    height, width = rgb.shape[:2]
    heat = check_heatmap(heat, (height, width), where="overlay")
    if heat.shape != (height, width):
        heat = tf.image.resize(heat[..., None], (height, width)).numpy()[..., 0]
    if heat.min() < 0.0 or heat.max() > 1.0:
        span = heat.max() - heat.min()
        heat = (heat - heat.min()) / span if span > 0 else np.zeros_like(heat)
    colour = matplotlib.colormaps[cmap](heat)[..., :3]
    return np.clip((1.0 - alpha) * rgb + alpha * colour, 0.0, 1.0).astype(np.float32)


def _maps(method, model, batch, class_index, layer_name, patch_size):
    if method == "gradcam":
        return gradcam(model, batch, class_index=class_index, layer_name=layer_name)
    if method == "gradcam_plus_plus":
        return gradcam_plus_plus(model, batch, class_index=class_index, layer_name=layer_name)
    if method == "occlusion":
        return occlusion(model, batch, class_index=class_index, patch_size=patch_size)
    return activation_map(model, batch, layer_name=layer_name)


def plot_explanations(
    model,
    images,
    *,
    methods=("gradcam", "occlusion"),
    class_names=None,
    class_index=None,
    layer_name=None,
    patch_size=20,
    threshold: float = 0.5,
) -> Figure:
    """Draw each image beside its explanations, titled with the predicted class.

    Args:
        model: A Keras classifier (nested models allowed).
        images: One image ``(H, W, C)`` or a batch ``(B, H, W, C)``, as the model takes it.
        methods: Any of ``"gradcam"``, ``"gradcam_plus_plus"``, ``"occlusion"``,
            ``"activation"``, one column each.
        class_names: Names of the classes; None for cxrkeras' defaults
            (NORMAL / PNEUMONIA, or normal / bacteria / virus).
        class_index: Class to explain (None: each image's predicted class).
        layer_name: Layer for Grad-CAM and activation maps (None: last 4-D layer).
        patch_size: Occlusion patch size.
        threshold: Decision threshold on P(class 1) of a single-sigmoid model (e.g. the
            one chosen on validation data); it decides the predicted class shown and
            explained. Softmax models use the argmax.

    Returns:
        A matplotlib ``Figure`` (not attached to pyplot, so it is safe with Agg and is
        shown once in a notebook); save it with ``fig.savefig(path)``.

    Raises:
        ValueError: for an unknown method or class names that do not fit the head.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((12, 20, 1)),
        ...     keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        ...     keras.layers.GlobalAveragePooling2D(name="gap"),
        ...     keras.layers.Dense(1, activation="sigmoid", name="out")])
        >>> fig = plot_explanations(model, np.random.rand(2, 12, 20, 1), patch_size=4)
        >>> len(fig.axes)
        6
    """
    if isinstance(methods, str):
        methods = (methods,)
    unknown = [m for m in methods if m not in _METHODS]
    if unknown or not methods:
        raise ValueError(
            f"plot_explanations: Unknown methods {unknown or methods!r}. Received: "
            f"methods={methods!r}. Fix: choose from {list(_METHODS)}."
        )
    check_model(model, where="plot_explanations")
    threshold = check_number(threshold, where="plot_explanations", argument="threshold",
                             fix="a probability such as run.json's threshold.")  # fmt: skip
    batch, _ = check_images(images, model, where="plot_explanations")
    probs = _probabilities(model(batch, training=False), _head_activation(model))
    single_sigmoid = probs.shape[1] == 1
    if single_sigmoid:
        probs = np.concatenate([1.0 - probs, probs], axis=1)
    names = list(class_names or class_names_for(probs.shape[1]))
    if len(names) != probs.shape[1]:
        raise ValueError(
            f"plot_explanations: class_names has {len(names)} names but the model scores "
            f"{probs.shape[1]} classes. Received: class_names={names!r}."
        )
    predicted = (probs[:, 1] >= threshold).astype(int) if single_sigmoid else probs.argmax(axis=1)
    explained = predicted if class_index is None else np.broadcast_to(class_index, (len(batch),))
    explained = np.asarray(explained, dtype=int)
    maps = {m: _maps(m, model, batch, explained, layer_name, patch_size) for m in methods}
    cols = 1 + len(methods)
    fig = Figure(figsize=(2.6 * cols, 2.6 * len(batch) * batch.shape[1] / batch.shape[2] + 0.4))
    axes = fig.subplots(len(batch), cols, squeeze=False)
    for row, img in enumerate(batch):
        pred = int(predicted[row])
        axes[row, 0].imshow(_as_rgb(img))
        axes[row, 0].set_title(f"{names[pred]} {probs[row, pred]:.2f}", fontsize=9)
        for col, method in enumerate(methods, start=1):
            axes[row, col].imshow(overlay(img, maps[method][row]))
            label = f"{_METHODS[method]}: {names[int(explained[row])]}"
            axes[row, col].set_title(label, fontsize=9)
        for ax in axes[row]:
            ax.set_axis_off()
    fig.tight_layout()
    return fig
