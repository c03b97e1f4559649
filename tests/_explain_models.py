"""Planted-signal models for the explainer tests, with weights set by hand.

The images are 24x40 (non-square) with a dim noisy background; positive images carry a
bright patch in the TOP-RIGHT corner. The feature extractor has two channels: channel 0
fires only where the local mean brightness exceeds 0.6 (the patch), channel 1 only on
the dim background. The heads read channel 0 as evidence for class 1 (PNEUMONIA) and
channel 1 as evidence for class 0 (NORMAL), so a correct explainer must put class 1's
maximum in the corner and class 0's elsewhere.
"""

from __future__ import annotations

import keras
import numpy as np

HEIGHT, WIDTH = 24, 40
CORNER = (slice(0, 6), slice(32, 40))
L = keras.layers


def planted_images(num_images: int, *, positive: bool = True, seed: int = 0) -> np.ndarray:
    """Dim noise images ``(N, 24, 40, 1)``, with the bright corner patch when positive."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 0.3, size=(num_images, HEIGHT, WIDTH, 1)).astype("float32")
    if positive:
        images[:, CORNER[0], CORNER[1], :] = 1.0
    return images


def in_corner(heatmap: np.ndarray, margin: int = 2) -> bool:
    """True when the map's maximum lies in the corner patch (give or take ``margin``)."""
    row, col = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    return row < CORNER[0].stop + margin and col >= CORNER[1].start - margin


def _feature_layers(prefix: str = "") -> list:
    conv = L.Conv2D(2, 3, padding="same", activation="relu", name=f"{prefix}detect")
    mix = L.Conv2D(2, 1, activation="relu", name=f"{prefix}mix")
    return [conv, L.MaxPooling2D(2, name=f"{prefix}pool"), mix]


def _set_feature_weights(layers: list) -> None:
    conv, _, mix = layers
    kernel = np.zeros((3, 3, 1, 2), "float32")
    kernel[..., 0, 0] = 1.0 / 9.0
    kernel[..., 0, 1] = -1.0 / 9.0
    conv.set_weights([kernel, np.array([-0.6, 0.35], "float32")])
    mix.set_weights([np.eye(2, dtype="float32")[None, None], np.zeros(2, "float32")])


def _head_layers(head: str) -> list:
    units = 1 if head == "sigmoid" else 3
    return [
        L.GlobalAveragePooling2D(name="gap"),
        L.Dense(units, activation=head, name="scores"),
    ]


def _set_head_weights(dense, head: str) -> None:
    if head == "sigmoid":
        dense.set_weights([np.array([[100.0], [-1.0]], "float32"), np.array([-1.0], "float32")])
    else:
        kernel = np.array([[-100.0, 100.0, 0.0], [1.0, -1.0, 0.0]], "float32")
        dense.set_weights([kernel, np.array([0.0, -1.0, -0.5], "float32")])


def planted_model(head: str = "sigmoid", nesting: str = "flat") -> keras.Model:
    """The planted classifier, ``head`` "sigmoid" or "softmax" (3 classes).

    ``nesting``: "flat" (one functional graph), "functional" (``x = features(inputs)``),
    "sequential" (``Sequential([features, gap, dense])``) or "sequential_of_sequential"
    (report B's categorical layout: a Sequential wrapping a Sequential of layers).
    """
    features = _feature_layers()
    head_layers = _head_layers(head)
    if nesting == "flat":
        inputs = keras.Input((HEIGHT, WIDTH, 1), name="image")
        x = inputs
        for layer in features + head_layers:
            x = layer(x)
        model = keras.Model(inputs, x, name="planted_flat")
    elif nesting == "functional":
        inner_in = keras.Input((HEIGHT, WIDTH, 1))
        x = inner_in
        for layer in features:
            x = layer(x)
        inner = keras.Model(inner_in, x, name="features")
        inputs = keras.Input((HEIGHT, WIDTH, 1), name="image")
        x = inner(inputs)
        for layer in head_layers:
            x = layer(x)
        model = keras.Model(inputs, x, name="planted_functional")
    elif nesting == "sequential":
        inner_in = keras.Input((HEIGHT, WIDTH, 1))
        x = inner_in
        for layer in features:
            x = layer(x)
        inner = keras.Model(inner_in, x, name="features")
        model = keras.Sequential([inner, *head_layers], name="planted_sequential")
        model.build((None, HEIGHT, WIDTH, 1))
    elif nesting == "sequential_of_sequential":
        inner = keras.Sequential([keras.Input((HEIGHT, WIDTH, 1)), *features], name="features")
        model = keras.Sequential([inner, *head_layers], name="planted_seq_seq")
        model.build((None, HEIGHT, WIDTH, 1))
    else:
        raise ValueError(f"unknown nesting {nesting!r}")
    _set_feature_weights(features)
    _set_head_weights(head_layers[-1], head)
    return model


def random_cnn(input_shape=(20, 28, 1), *, num_classes: int = 1, seed: int = 0) -> keras.Model:
    """A small random CNN with BatchNormalization and Dropout (inference must be used)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape, name="image")
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="conv2")(x)
    x = L.Dropout(0.5, name="drop")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    activation = "sigmoid" if num_classes == 1 else "softmax"
    outputs = L.Dense(num_classes, activation=activation, name="scores")(x)
    model = keras.Model(inputs, outputs, name="random_cnn")
    bn = model.get_layer("bn1")
    rng = np.random.default_rng(seed)
    gamma, beta, _, _ = bn.get_weights()
    bn.set_weights([gamma, beta, rng.uniform(0, 0.2, 8), rng.uniform(0.5, 2, 8)])
    return model
