"""Grad-CAM and Grad-CAM++ for any Keras 3 image classifier, nested models included.

Both explain the score BEFORE the final activation: the logit of a single sigmoid unit
(``+logit`` for class 1 = PNEUMONIA, ``-logit`` for class 0 = NORMAL) or the pre-softmax
score of the explained class. Gradients are pooled per image over the spatial axes, never
across the batch, so a batch gives the same maps as one image at a time. Maps are
returned at the input resolution, in ``[0, 1]``, normalised per image by their maximum.

References:
    Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks".
    Chattopadhay et al. 2018, "Grad-CAM++: Generalized Gradient-Based Visual
    Explanations for Deep Convolutional Networks".
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from cxrkeras._compile import _compiled, _is_compiled
from cxrkeras._graph import _forward, find_layer
from cxrkeras._inputs import check_batch_size, check_images, check_model

_EPSILON = 1e-6
_COMPILE_FROM = 16


def _requested_classes(class_index, batch: int, units: int | None) -> np.ndarray:
    """``class_index`` as one int64 per image, -1 where the predicted class is wanted."""
    if class_index is None:
        return np.full(batch, -1, dtype=np.int64)
    classes = np.asarray(class_index)
    if classes.ndim == 0:
        classes = np.full(batch, classes)
    if classes.shape != (batch,) or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(
            f"class_index must be None, an int or {batch} ints (one per image). Received: "
            f"class_index={class_index!r}. Fix: e.g. class_index=1 for PNEUMONIA."
        )
    num_classes = None if units is None else (2 if units == 1 else units)
    if classes.min() < 0 or (num_classes is not None and classes.max() >= num_classes):
        raise ValueError(
            f"class_index is out of range for a head with {units} output unit(s), which "
            f"explains classes 0..{(num_classes or 0) - 1}. Received: "
            f"class_index={class_index!r}."
        )
    return classes.astype(np.int64)


def _num_units(model) -> int | None:
    try:
        return int(model.outputs[0].shape[-1])
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def _class_scores(outputs, classes):
    """Score of each image's class: ``+/-logit`` for one unit, else the class's column."""
    if outputs.shape[-1] == 1:
        sign = tf.where(classes == 1, 1.0, -1.0)
        return outputs[:, 0] * tf.cast(sign, outputs.dtype)
    return tf.gather(outputs, classes, axis=1, batch_dims=1)


def _score_gradients(model, images, classes, path: str):
    """Feature maps of ``path`` and the gradients of each image's explained score."""
    with tf.GradientTape() as tape:
        fmaps, outputs, activation = _forward(model, images, path, pre_logits=True)
        if len(fmaps.shape) != 4:
            raise ValueError(
                "Grad-CAM needs a layer with a 4-D output (batch, height, width, channels); "
                f"layer {path!r} outputs shape {tuple(fmaps.shape)}. Pick a convolutional "
                "layer (layer_name=None picks the last 4-D layer)."
            )
        if len(outputs.shape) != 2:
            raise ValueError(
                f"Expected a classifier with outputs (batch, classes); model {model.name!r} "
                f"returns shape {tuple(outputs.shape)}."
            )
        if outputs.shape[-1] == 1:
            threshold = 0.0 if activation in ("sigmoid", "linear") else 0.5
            predicted = tf.cast(outputs[:, 0] > threshold, tf.int64)
        else:
            predicted = tf.argmax(outputs, axis=-1, output_type=tf.int64)
        scores = _class_scores(outputs, tf.where(classes < 0, predicted, classes))
    grads = tape.gradient(scores, fmaps)
    if grads is None:
        raise ValueError(
            f"The gradient of the class score with respect to layer {path!r} is None: the "
            "output does not depend on that layer (a frozen copy or a side branch?). Pass "
            "layer_name= for a layer on the path to the output."
        )
    return fmaps, grads


def _compiled_step(path: str):
    """Factory of :func:`_score_gradients` compiled for one model and layer."""

    def factory(model_ref):
        @tf.function(reduce_retracing=True, autograph=False)
        def step(images, classes):
            return _score_gradients(model_ref(), images, classes, path)

        return step

    return factory


def _gradients(model, batch: np.ndarray, classes: np.ndarray, path: str):
    """Feature maps and gradients as numpy arrays.

    Small batches run eagerly (no tracing cost for one interactive image); batches of
    ``_COMPILE_FROM`` images or more run a compiled graph, cached per model and layer.
    """
    key = ("gradcam", path)
    images, classes = tf.convert_to_tensor(batch), tf.convert_to_tensor(classes)
    if len(batch) >= _COMPILE_FROM or _is_compiled(model, key):
        fmaps, grads = _compiled(model, key, _compiled_step(path))(images, classes)
    else:
        fmaps, grads = _score_gradients(model, images, classes, path)
    return fmaps.numpy(), grads.numpy()


def _to_input_size(cams: np.ndarray, height: int, width: int) -> np.ndarray:
    """ReLU, resize ``(B, h, w)`` maps to ``(B, height, width)`` and scale each to [0, 1].

    The epsilon is relative to each raw map's largest magnitude, so maps of a model
    with tiny activations still reach 1 while round-off noise stays at 0.
    """
    cams = cams.astype(np.float64)
    epsilon = _EPSILON * np.abs(cams).max(axis=(1, 2), keepdims=True) + 1e-30
    positive = np.maximum(cams, 0.0)
    positive = positive / (positive.max(axis=(1, 2), keepdims=True) + epsilon)
    resized = tf.image.resize(positive[..., None], (height, width), method="bilinear")
    resized = np.maximum(resized.numpy()[..., 0], 0.0)
    peak = resized.max(axis=(1, 2), keepdims=True)
    return np.clip(resized / (peak + _EPSILON), 0.0, 1.0).astype(np.float32)


def _average_members(model) -> list:
    """The member models of an ensemble whose output averages them, else ``[]``."""
    layers = getattr(model, "layers", [])
    if len(layers) < 3 or not isinstance(layers[-1], keras.layers.Average):
        return []
    members = [layer for layer in layers[1:-1]]
    if not all(isinstance(m, keras.Model) for m in members):
        return []
    return members


def _explain_ensemble(model, members, batch, class_index, batch_size, weigh, where):
    """Mean of the members' maps for the ensemble's class (predicted or requested)."""
    classes = _requested_classes(class_index, len(batch), _num_units(model))
    if (classes < 0).any():
        probs = np.asarray(model.predict(batch, batch_size=batch_size, verbose=0))
        predicted = (probs[:, 0] >= 0.5) if probs.shape[-1] == 1 else probs.argmax(-1)
        classes = np.where(classes < 0, predicted.astype(np.int64), classes)
    maps = [_explain(m, batch, classes, None, batch_size, weigh, where, True) for m in members]
    maps = np.mean(maps, axis=0)
    peak = maps.max(axis=(1, 2), keepdims=True)
    return np.where(peak > 0, maps / np.where(peak > 0, peak, 1.0), 0.0).astype(np.float32)


def _explain(model, images, class_index, layer_name, batch_size, weigh, where, checked=False):
    if checked:  # a member of an ensemble, on the batch already checked for the ensemble
        batch, single = images, False
    else:
        check_model(model, where=where)
        batch, single = check_images(images, model, where=where)
    check_batch_size(batch_size, where=where, example=32)
    members = _average_members(model) if layer_name is None else []
    if members:
        maps = _explain_ensemble(model, members, batch, class_index, batch_size, weigh, where)
        return maps[0] if single else maps
    _, path = find_layer(model, layer_name)
    classes = _requested_classes(class_index, len(batch), _num_units(model))
    maps = []
    for start in range(0, len(batch), batch_size):
        chunk = slice(start, start + batch_size)
        fmaps, grads = _gradients(model, batch[chunk], classes[chunk], path)
        cams = np.sum(weigh(fmaps, grads)[:, None, None, :] * fmaps, axis=-1)
        maps.append(_to_input_size(cams, batch.shape[1], batch.shape[2]))
    maps = np.concatenate(maps)
    return maps[0] if single else maps


def _gradcam_weights(fmaps, grads):
    return grads.mean(axis=(1, 2))


def _gradcam_plus_plus_weights(fmaps, grads):
    # With Y = exp(S), dY/dA = Y * g; the Y factors cancel in alpha, and the remaining
    # per-image factor Y in the weights cancels in the per-image normalisation.
    g2, g3 = grads**2, grads**3
    denom = 2.0 * g2 + fmaps.sum(axis=(1, 2), keepdims=True) * g3
    alpha = g2 / np.where(denom != 0.0, denom, 1.0)
    return (alpha * np.maximum(grads, 0.0)).sum(axis=(1, 2))


def gradcam(model, images, *, class_index=None, layer_name=None, batch_size: int = 64):
    """Grad-CAM heatmaps of one image or a batch, at the input resolution.

    Args:
        model: A functional or Sequential Keras classifier (nested models allowed) with
            one sigmoid unit or a softmax head.
        images: One image ``(H, W, C)`` or a batch ``(B, H, W, C)``, as the model takes it.
            Checked by :func:`cxrkeras._inputs.check_images`: integer pixels are divided
            by 255 when the model's range is known (a model from :func:`cxrkeras.load_run`
            or with its own rescaling layer) and refused otherwise (pass ``img / 255.0``);
            one channel is repeated for an RGB model and three equal channels become one
            for a grayscale model; NaN, empty batches and other sizes are refused.
        class_index: Class to explain: None for each image's predicted class, an int for
            all images, or one int per image. For one sigmoid unit, 1 (PNEUMONIA) explains
            ``+logit`` and 0 (NORMAL) explains ``-logit``.
        layer_name: Convolutional layer (name, dotted path into nested models, or layer);
            None picks the last layer with a 4-D output. For an ensemble that averages
            nested member models (:func:`cxrkeras.ensemble.average_models`), None gives
            the mean of the members' maps, each for the ensemble's class.
        batch_size: Images per forward/backward pass.

    Returns:
        float32 ``(H, W)`` or ``(B, H, W)`` maps in ``[0, 1]``; all zeros where no
        location supports the class.

    Raises:
        ValueError: for an unknown layer (candidates are listed), a layer that is not
            4-D, a bad ``class_index`` or ``batch_size``, a gradient that cannot be
            computed, or images the model cannot take (see ``images``).
        TypeError: if ``model`` is not a Keras model (images and model swapped?) or the
            images are not numeric.

    Example:
        >>> import keras, numpy as np
        >>> model = keras.Sequential([keras.Input((12, 20, 1)),
        ...     keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        ...     keras.layers.GlobalAveragePooling2D(name="gap"),
        ...     keras.layers.Dense(1, activation="sigmoid", name="out")])
        >>> heatmap = gradcam(model, np.random.rand(12, 20, 1))
        >>> heatmap.shape, heatmap.dtype, bool(0 <= heatmap.min() <= heatmap.max() <= 1)
        ((12, 20), dtype('float32'), True)
    """
    weights = _gradcam_weights
    return _explain(model, images, class_index, layer_name, batch_size, weights, "gradcam")


def gradcam_plus_plus(model, images, *, class_index=None, layer_name=None, batch_size: int = 64):
    """Grad-CAM++ heatmaps (Chattopadhay et al. 2018), same arguments as :func:`gradcam`.

    The channel weights use the closed form for an exponential of the pre-activation
    score, ``alpha = g^2 / (2 g^2 + sum(A) g^3)`` and ``w = sum(alpha * relu(g))``.

    Returns:
        float32 ``(H, W)`` or ``(B, H, W)`` maps in ``[0, 1]``.

    Raises:
        ValueError: as :func:`gradcam`.

    Example:
        >>> import keras, numpy as np
        >>> model = keras.Sequential([keras.Input((12, 20, 1)),
        ...     keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        ...     keras.layers.GlobalAveragePooling2D(name="gap"),
        ...     keras.layers.Dense(3, activation="softmax", name="out")])
        >>> gradcam_plus_plus(model, np.random.rand(2, 12, 20, 1), class_index=2).shape
        (2, 12, 20)
    """
    weights = _gradcam_plus_plus_weights
    return _explain(
        model, images, class_index, layer_name, batch_size, weights, "gradcam_plus_plus"
    )
