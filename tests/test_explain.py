"""Activation maps, overlays, figures and localization scores against lesion masks."""

from __future__ import annotations

import io

import keras
import numpy as np
import pytest
from _explain_models import CORNER, HEIGHT, WIDTH, in_corner, planted_images, planted_model
from matplotlib.figure import Figure

from cxrkeras.explain import (
    activation_map,
    gradcam,
    localization_score,
    occlusion,
    overlay,
    plot_explanations,
)
from cxrkeras.phantoms import phantom_arrays

L = keras.layers


def _corner_mask(num_images: int = 1) -> np.ndarray:
    mask = np.zeros((num_images, HEIGHT, WIDTH), np.uint8)
    mask[:, CORNER[0], CORNER[1]] = 255
    return mask


def test_localization_score_of_perfect_inverted_and_flat_maps():
    mask = _corner_mask(2)
    fraction = (mask > 0).mean()
    perfect = localization_score(mask / 255.0, mask)
    assert perfect["pointing_game"] == 1.0 and perfect["energy_inside"] == 1.0
    assert perfect["auc"] == 1.0 and perfect["mask_fraction"] == pytest.approx(fraction)
    inverted = localization_score(1.0 - mask / 255.0, mask > 0)
    assert inverted["pointing_game"] == 0.0 and inverted["energy_inside"] == 0.0
    assert inverted["auc"] == 0.0
    flat = localization_score(np.ones((2, HEIGHT, WIDTH)), mask)
    assert flat["pointing_game"] == 0.0 and flat["auc"] == 0.5
    assert flat["energy_inside"] == pytest.approx(fraction)


def test_localization_score_skips_empty_masks_and_checks_shapes():
    heat = planted_images(3)[..., 0]
    mask = _corner_mask(3)
    mask[1] = 0
    with pytest.warns(UserWarning, match="Skipped 1 of 3"):
        scores = localization_score(heat, mask)
    assert scores["num_images"] == 2 and scores["num_skipped"] == 1
    with pytest.raises(ValueError, match="same shape"):
        localization_score(heat, mask[:, :, :-1])
    with pytest.raises(ValueError, match="empty"):
        localization_score(heat, np.zeros_like(mask))
    with pytest.raises(ValueError, match="NaN"):
        localization_score(np.full_like(heat, np.nan), mask)


def test_gradcam_of_a_small_cnn_trained_on_phantoms_points_at_lesions():
    def standardize(images):
        mean = images.mean(axis=(1, 2, 3), keepdims=True)
        return (images - mean) / images.std(axis=(1, 2, 3), keepdims=True)

    images, labels, _ = phantom_arrays(320, image_size=48, seed=0)
    test_images, test_labels, test_masks = phantom_arrays(64, image_size=48, seed=1)
    images, test_images = standardize(images), standardize(test_images)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((48, 48, 1))
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = L.MaxPooling2D(2, name="pool1")(x)
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = L.MaxPooling2D(2, name="pool2")(x)
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="conv3")(x)
    x = L.GlobalMaxPooling2D(name="gmp")(x)
    model = keras.Model(inputs, L.Dense(1, activation="sigmoid", name="out")(x))
    model.compile(keras.optimizers.Adam(3e-3), "binary_crossentropy", metrics=["accuracy"])
    model.fit(images, labels, epochs=8, batch_size=16, verbose=0)
    _, accuracy = model.evaluate(test_images, test_labels, verbose=0)
    assert accuracy >= 0.9  # the model must really have learned the lesions
    sick = test_labels == 1
    scores = localization_score(gradcam(model, test_images[sick]), test_masks[sick])
    chance = scores["mask_fraction"]
    assert scores["pointing_game"] > max(0.5, 5 * chance)
    assert scores["energy_inside"] > 2 * chance
    assert scores["auc"] > 0.75
    drops = occlusion(model, test_images[sick][:8], patch_size=8, stride=4, verbose=False)
    occluded = localization_score(drops, test_masks[sick][:8])
    assert occluded["pointing_game"] > 5 * occluded["mask_fraction"]


def test_activation_map_fires_on_the_patch_and_batch_scaling_compares_images():
    model = planted_model("sigmoid", "sequential")
    images = np.concatenate([planted_images(1), planted_images(1, positive=False, seed=5)])
    per_image = activation_map(model, images, layer_name="features.detect")
    assert per_image.shape == (2, HEIGHT, WIDTH) and per_image.dtype == np.float32
    assert in_corner(per_image[0])
    assert per_image.max(axis=(1, 2)).tolist() == pytest.approx([1.0, 1.0])
    shared = activation_map(model, images, layer_name="features.detect", normalize="batch")
    assert shared[0].max() == pytest.approx(1.0) and shared[1].max() < 0.8
    assert activation_map(model, images[0], layer_name="detect").shape == (HEIGHT, WIDTH)


def test_overlay_detects_range_and_keeps_orientation():
    image = planted_images(1, positive=False)[0]
    heat = np.zeros((HEIGHT // 2, WIDTH // 2), np.float32)
    heat[0, -1] = 1.0  # a hot spot in the top-right corner, at half resolution
    rgb = overlay(image, heat)
    assert rgb.shape == (HEIGHT, WIDTH, 3) and rgb.dtype == np.float32
    assert 0.0 <= rgb.min() and rgb.max() <= 1.0
    redness = rgb[..., 0] - rgb[..., 2]
    assert in_corner(redness)
    np.testing.assert_allclose(overlay(image * 255.0, heat), rgb, atol=1e-5)
    np.testing.assert_allclose(overlay(np.repeat(image, 3, -1), heat), rgb, atol=1e-6)
    np.testing.assert_allclose(overlay(image, heat, alpha=0.0), np.repeat(image, 3, -1))
    batch = overlay(np.stack([image, image]), np.stack([heat, heat]))
    assert batch.shape == (2, HEIGHT, WIDTH, 3)
    with pytest.raises(ValueError, match="NaN"):
        overlay(image, np.full((HEIGHT, WIDTH), np.nan))
    with pytest.raises(ValueError, match="alpha"):
        overlay(image, heat, alpha=1.5)


def test_plot_explanations_titles_carry_class_names_and_probabilities():
    model = planted_model("sigmoid", "functional")
    images = np.concatenate([planted_images(1), planted_images(1, positive=False, seed=5)])
    probability = float(model.predict(images[:1], verbose=0)[0, 0])
    fig = plot_explanations(
        model, images, methods=("gradcam", "gradcam_plus_plus", "occlusion"), patch_size=4
    )
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 4
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == f"PNEUMONIA {probability:.2f}"
    assert titles[4].startswith("NORMAL") and titles[1] == "Grad-CAM: PNEUMONIA"
    fig.savefig(io.BytesIO(), format="png")
    named = plot_explanations(
        model, images[:1], methods=("activation",), class_names=["ok", "sick"]
    )
    assert named.axes[0].get_title().startswith("sick")
    with pytest.raises(ValueError, match="Unknown methods"):
        plot_explanations(model, images, methods=("lime",))
    with pytest.raises(ValueError, match="class_names"):
        plot_explanations(model, images, class_names=["a", "b", "c"])


def test_plot_explanations_uses_the_decision_threshold_for_sigmoid_heads():
    import keras

    inputs = keras.Input((8, 10, 1))
    pooled = keras.layers.GlobalAveragePooling2D()(
        keras.layers.Conv2D(2, 3, padding="same", name="conv")(inputs)
    )
    dense = keras.layers.Dense(1, activation="sigmoid", name="out")
    model = keras.Model(inputs, dense(pooled))
    dense.set_weights([np.zeros((2, 1)), np.array([np.log(0.4 / 0.6)])])  # p = 0.4 always
    image = np.random.default_rng(0).random((8, 10, 1)).astype("float32")
    default = plot_explanations(model, image, methods=("gradcam",))
    lowered = plot_explanations(model, image, methods=("gradcam",), threshold=0.3)
    assert default.axes[0].get_title().startswith("NORMAL")
    assert default.axes[1].get_title().endswith("NORMAL")
    assert lowered.axes[0].get_title().startswith("PNEUMONIA")
    assert lowered.axes[1].get_title().endswith("PNEUMONIA")
