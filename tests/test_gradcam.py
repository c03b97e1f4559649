"""Grad-CAM and Grad-CAM++ on planted-signal models, flat and nested, and their contracts."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from _explain_models import (
    CORNER,
    HEIGHT,
    WIDTH,
    in_corner,
    planted_images,
    planted_model,
    random_cnn,
)

from cxrkeras.gradcam import gradcam, gradcam_plus_plus

L = keras.layers
EXPLAINERS = [gradcam, gradcam_plus_plus]
NESTINGS = ["flat", "functional", "sequential", "sequential_of_sequential"]


@pytest.mark.parametrize("head", ["sigmoid", "softmax"])
@pytest.mark.parametrize("nesting", NESTINGS)
def test_planted_corner_is_found_for_class_1_only(head, nesting):
    model = planted_model(head, nesting)
    images = planted_images(3)
    for explainer in EXPLAINERS:
        maps = explainer(model, images, class_index=1)
        assert maps.shape == (3, HEIGHT, WIDTH) and maps.dtype == np.float32
        assert 0.0 <= maps.min() and maps.max() <= 1.0 and maps.max() > 0.9
        assert all(in_corner(m) for m in maps), explainer.__name__
        corner = maps[:, CORNER[0], CORNER[1]].mean()
        assert corner > 5 * maps[:, 10:, :24].mean()
        normal = explainer(model, images, class_index=0)  # -logit, or class 0's score
        assert not any(in_corner(m) for m in normal), explainer.__name__
        assert normal[:, CORNER[0], CORNER[1]].mean() < corner


@pytest.mark.parametrize("head", ["sigmoid", "softmax"])
def test_predicted_class_is_explained_per_image(head):
    model = planted_model(head, "sequential")
    images = np.concatenate([planted_images(2), planted_images(2, positive=False, seed=3)])
    maps = gradcam(model, images)
    np.testing.assert_allclose(maps[:2], gradcam(model, images[:2], class_index=1), atol=1e-6)
    np.testing.assert_allclose(maps[2:], gradcam(model, images[2:], class_index=0), atol=1e-6)
    per_image = gradcam(model, images, class_index=[1, 1, 0, 0])
    np.testing.assert_allclose(maps, per_image, atol=1e-6)


@pytest.mark.parametrize("num_classes", [1, 3])
def test_batch_equals_one_by_one_and_model_is_unchanged(num_classes):
    model = random_cnn(num_classes=num_classes)
    images = np.random.default_rng(0).uniform(size=(4, 20, 28, 1)).astype("float32")
    config = json.dumps(model.get_config(), default=str)
    weights = [w.copy() for w in model.get_weights()]
    before = model.predict(images, verbose=0)
    for explainer in EXPLAINERS:
        batched = explainer(model, tf.constant(images), layer_name="conv2")
        single = np.stack([explainer(model, img, layer_name="conv2") for img in images])
        np.testing.assert_allclose(batched, single, atol=1e-5)
        assert np.ptp(batched, axis=(1, 2)).min() > 0.1  # each map has structure
        chunked = explainer(model, images, layer_name="conv2", batch_size=3)
        np.testing.assert_allclose(batched, chunked, atol=1e-5)
    assert json.dumps(model.get_config(), default=str) == config
    for old, new in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    np.testing.assert_array_equal(model.predict(images, verbose=0), before)


def test_zero_input_and_zero_map_give_zeros_not_nan():
    model = planted_model("sigmoid", "functional")
    zeros = np.zeros((2, HEIGHT, WIDTH, 1), "float32")
    dead = random_cnn()
    dead.get_layer("conv2").set_weights([np.zeros((3, 3, 8, 8), "float32"), np.zeros(8)])
    for explainer in EXPLAINERS:
        maps = explainer(model, zeros, class_index=1)  # no bright patch: no evidence
        assert np.all(np.isfinite(maps)) and np.all(maps == 0.0)
        maps = explainer(dead, np.ones((20, 28, 1)), layer_name="conv2")
        assert np.all(np.isfinite(maps)) and np.all(maps == 0.0)


def test_nested_mobilenet_matches_the_flat_build():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((64, 64, 3))
    flat_base = keras.applications.MobileNetV2(
        input_tensor=inputs, include_top=False, weights=None, alpha=0.35
    )
    head = L.Dense(1, activation="sigmoid", name="head")
    flat = keras.Model(inputs, head(L.GlobalAveragePooling2D(name="gap")(flat_base.output)))
    base = keras.applications.MobileNetV2(
        input_shape=(64, 64, 3), include_top=False, weights=None, alpha=0.35
    )
    base.set_weights(flat_base.get_weights())
    as_sequential = keras.Sequential([base, L.GlobalAveragePooling2D(), L.Dense(1, "sigmoid")])
    as_sequential.build((None, 64, 64, 3))
    wrapper_in = keras.Input((64, 64, 3))
    wrapper_out = L.Dense(1, "sigmoid")(L.GlobalAveragePooling2D()(base(wrapper_in)))
    as_functional = keras.Model(wrapper_in, wrapper_out)
    for nested in (as_sequential, as_functional):
        nested.layers[-1].set_weights(head.get_weights())
    images = np.random.default_rng(2).uniform(size=(2, 64, 64, 3)).astype("float32")
    reference = gradcam(flat, images, layer_name="block_13_expand_relu")
    assert np.all(np.isfinite(reference)) and np.ptp(reference, axis=(1, 2)).min() > 0.1
    for nested in (as_sequential, as_functional):
        path = f"{base.name}.block_13_expand_relu"
        np.testing.assert_allclose(gradcam(nested, images, layer_name=path), reference, atol=1e-4)
        np.testing.assert_allclose(gradcam(nested, images), gradcam(flat, images), atol=1e-4)


def test_errors_are_clear():
    model = planted_model("sigmoid", "sequential")
    images = planted_images(2)
    with pytest.raises(ValueError, match="features.mix"):
        gradcam(model, images, layer_name="conv_pw_13")
    with pytest.raises(ValueError, match="4-D"):
        gradcam(model, images, layer_name="gap")
    with pytest.raises(ValueError, match="out of range"):
        gradcam(model, images, class_index=2)
    with pytest.raises(ValueError, match="one per image"):
        gradcam(model, images, class_index=[1, 0, 1])
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4, 5, 6\)"):
        gradcam(model, np.zeros((2, 3, 4, 5, 6)))


def test_a_layer_the_output_does_not_depend_on_gives_a_clear_error():
    inputs = keras.Input((8, 10, 1))
    features = L.Conv2D(2, 3, name="conv")(inputs)
    frozen = L.Lambda(keras.ops.stop_gradient, name="stop")(features)
    outputs = L.Dense(1, name="out")(L.GlobalAveragePooling2D(name="gap")(frozen))
    model = keras.Model(inputs, outputs)
    with pytest.raises(ValueError, match="gradient .* is None"):
        gradcam(model, np.ones((8, 10, 1)), layer_name="conv")


def test_compiled_and_eager_paths_agree_and_follow_model_changes():
    model = keras.Sequential(
        [
            keras.Input((HEIGHT, WIDTH, 1)),
            L.Conv2D(4, 3, activation="relu", name="conv"),
            L.GlobalAveragePooling2D(name="gap"),
            L.Dense(1, activation="sigmoid", name="out"),
        ]
    )
    images = np.random.default_rng(3).uniform(size=(16, HEIGHT, WIDTH, 1)).astype("float32")
    compiled = gradcam(model, images, class_index=1)  # 16 images: the compiled graph
    np.testing.assert_allclose(compiled[:3], gradcam(model, images[:3], class_index=1), atol=1e-5)
    model.pop()
    model.add(L.Dense(3, activation="softmax", name="out3"))
    changed = gradcam(model, images, class_index=2)  # the old graph must not be reused
    np.testing.assert_allclose(changed[:3], gradcam(model, images[:3], class_index=2), atol=1e-5)
    assert np.abs(changed - compiled).max() > 0.1
