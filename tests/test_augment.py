"""Fused affine augmentation: identity, planted-dot geometry, flips, seeds, ranges, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from cxrkeras.augment import (
    Augmentation,
    affine_matrices,
    apply_affine,
    as_augmentation,
    augment_batch,
    random_matrices,
)

H, W = 24, 40  # non-square on purpose


def _noise(batch=4, channels=1, seed=0):
    return np.random.default_rng(seed).random((batch, H, W, channels), dtype=np.float32)


def _dot(row, col):
    x = np.zeros((1, H, W, 1), np.float32)
    x[0, row, col, 0] = 1.0
    return x


@pytest.mark.parametrize(
    "augment",
    [
        {},
        {"rotation_range": 0, "zoom_range": [1.0, 1.0], "brightness_range": None},
        Augmentation(fill_mode="reflect"),
    ],
)
def test_identity_settings_return_the_input(augment):
    x = _noise()
    np.testing.assert_allclose(augment_batch(x, augment, seed=1).numpy(), x, atol=1e-6)


def test_identity_matrix_warp_is_exact():
    x = _noise(channels=3)
    np.testing.assert_allclose(apply_affine(x, affine_matrices(H, W)).numpy(), x, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rotation": 30.0},
        {"shift": (5.0, -3.0)},
        {"zoom": (0.7, 1.3)},
        {"shear": 15.0},
        {"horizontal_flip": True},
        {"rotation": -20.0, "shift": (2.0, 1.0), "zoom": (0.9, 0.8), "shear": 10.0},
        {"rotation": 90.0, "vertical_flip": True, "horizontal_flip": True},
    ],
)
@pytest.mark.parametrize("implementation", ["tensorflow", "opencv"])
def test_planted_dot_moves_where_the_matrix_says(kwargs, implementation):
    row, col = 7, 12
    m = affine_matrices(H, W, **kwargs).numpy()[0]
    x_out, y_out, _ = np.linalg.inv(m) @ np.array([col, row, 1.0])
    y = apply_affine(_dot(row, col), m[None], fill_mode="constant", implementation=implementation)
    y = y.numpy()[0, :, :, 0]
    got_row, got_col = np.unravel_index(np.argmax(y), y.shape)
    assert y.max() > 0.2
    assert abs(got_row - y_out) <= 1.0 and abs(got_col - x_out) <= 1.0, (got_row, got_col)


def test_shift_moves_content_by_minus_shift():
    m = affine_matrices(H, W, shift=(4.0, 2.0))
    y = apply_affine(_dot(10, 20), m, fill_mode="constant").numpy()[0, :, :, 0]
    assert y[8, 16] == pytest.approx(1.0)


def test_horizontal_flip_mirrors_or_keeps_each_image():
    x = np.repeat(_noise(batch=1), 16, axis=0)
    y = augment_batch(x, {"horizontal_flip": True}, seed=5).numpy()
    mirrored = [np.allclose(img, x[0, :, ::-1], atol=1e-6) for img in y]
    kept = [np.allclose(img, x[0], atol=1e-6) for img in y]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True))
    assert any(mirrored) and any(kept)


def test_seeded_runs_repeat_and_seeds_differ():
    x = _noise()
    aug = {"rotation_range": 20, "width_shift_range": 0.1, "zoom_range": 0.2, "shear_range": 10}
    a = augment_batch(x, aug, seed=7).numpy()
    b = augment_batch(x, aug, seed=7).numpy()
    c = augment_batch(x, aug, seed=8).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert not np.allclose(a[0], a[1])  # each image gets its own transform


def test_single_image_in_single_image_out():
    y = augment_batch(_noise(batch=1)[0], {"rotation_range": 10}, seed=1)
    assert y.shape == (H, W, 1)


def _draw(aug, n=256, seed=(3, 4)):
    return random_matrices(as_augmentation(aug), n, H, W, tf.constant(seed, tf.int64)).numpy()


def test_rotation_range_is_respected_and_used():
    m = _draw({"rotation_range": 15})
    angles = np.degrees(np.arctan2(m[:, 0, 1], m[:, 0, 0]))
    assert np.abs(angles).max() <= 15 + 1e-4
    assert angles.min() < -10 and angles.max() > 10


def test_shift_ranges_are_fractions_of_width_and_height():
    m = _draw({"width_shift_range": 0.1, "height_shift_range": 0.25})
    dx, dy = m[:, 0, 2], m[:, 1, 2]
    assert np.abs(dx).max() <= 0.1 * W + 1e-4 and np.abs(dx).max() > 0.08 * W
    assert np.abs(dy).max() <= 0.25 * H + 1e-4 and np.abs(dy).max() > 0.2 * H


def test_pixel_shift_ranges_as_in_image_data_generator():
    dx = _draw({"width_shift_range": 3})[:, 0, 2]
    assert np.abs(dx).max() <= 3 + 1e-4 and np.abs(dx).max() > 2.5


def test_zoom_range_float_and_pair():
    for zoom, (lo, hi) in ((0.2, (0.8, 1.2)), ([0.9, 1.5], (0.9, 1.5))):
        m = _draw({"zoom_range": zoom})
        diag = np.concatenate([m[:, 0, 0], m[:, 1, 1]])
        assert diag.min() >= lo - 1e-5 and diag.max() <= hi + 1e-5
        assert diag.min() < lo + 0.05 and diag.max() > hi - 0.05


def test_shear_range_in_degrees():
    m = _draw({"shear_range": 20})
    shear = np.degrees(np.arcsin(-m[:, 1, 0]))
    assert np.abs(shear).max() <= 20 + 1e-3 and np.abs(shear).max() > 15


def test_brightness_range_scales_and_clips():
    x = np.full((32, H, W, 1), 0.5, np.float32)
    y = augment_batch(x, {"brightness_range": [0.5, 1.5]}, seed=2).numpy()
    factors = y.mean(axis=(1, 2, 3)) / 0.5
    assert factors.min() >= 0.5 - 1e-5 and factors.max() <= 1.5 + 1e-5
    assert factors.min() < 0.7 and factors.max() > 1.3
    bright = augment_batch(np.ones_like(x), {"brightness_range": [1.5, 2.0]}, seed=2)
    assert float(tf.reduce_max(bright)) == 1.0


def test_constant_fill_uses_cval_and_nearest_repeats_edges():
    x = np.full((1, H, W, 1), 0.5, np.float32)
    m = affine_matrices(H, W, shift=(10.0, 0.0))
    const = apply_affine(x, m, fill_mode="constant", cval=0.25).numpy()[0, :, :, 0]
    assert const[:, -1] == pytest.approx(0.25) and const[:, 0] == pytest.approx(0.5)
    nearest = apply_affine(x, m, fill_mode="nearest").numpy()
    np.testing.assert_allclose(nearest, 0.5, atol=1e-6)


def test_report_b_dict_with_rescale_carries_over():
    aug = as_augmentation({"rescale": 1.0 / 255, "rotation_range": 10, "horizontal_flip": True})
    assert aug == Augmentation(rotation_range=10, horizontal_flip=True)


def test_unknown_key_lists_valid_ones():
    with pytest.raises(ValueError, match="rotation_range.*width_shift_range"):
        as_augmentation({"rotation": 10})


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"rescale": 2.0}, "normalization"),
        ({"cval": 128}, "cval / 255"),
        ({"fill_mode": "mirror"}, "fill_mode"),
        ({"zoom_range": 1.5}, "zoom_range"),
        ({"rotation_range": -5}, "rotation_range"),
        ({"brightness_range": [1.2, 0.8]}, "brightness_range"),
    ],
)
def test_bad_values_raise_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        as_augmentation(bad)


def test_wrong_type_raises_type_error():
    with pytest.raises(TypeError, match="augment must be"):
        as_augmentation(["rotation_range", 10])


def test_rotation_by_90_degrees_matches_numpy_rot90():
    x = np.random.default_rng(1).random((1, 9, 9, 1), dtype=np.float32)
    m = affine_matrices(9, 9, rotation=90.0)
    y = apply_affine(x, m).numpy()[0, :, :, 0]
    candidates = [np.rot90(x[0, :, :, 0], k) for k in (1, 3)]
    assert any(np.allclose(y, c, atol=1e-5) for c in candidates)
    assert math.isclose(float(np.abs(y).sum()), float(np.abs(x).sum()), rel_tol=1e-5)


def test_output_size_resizes_within_the_warp_like_bilinear_resize():
    x = _noise()
    y = augment_batch(x, None, output_size=(16, 30), seed=0)
    ref = tf.image.resize(x, (16, 30), method="bilinear", antialias=False)
    assert y.shape == (4, 16, 30, 1)
    np.testing.assert_allclose(y.numpy(), ref.numpy(), atol=1e-5)


@pytest.mark.parametrize("fill_mode", ["nearest", "constant", "reflect", "wrap"])
@pytest.mark.parametrize("channels", [1, 3])
def test_opencv_and_tensorflow_warps_agree(fill_mode, channels):
    x = _noise(batch=3, channels=channels)
    aug = Augmentation(rotation_range=25, width_shift_range=0.3, zoom_range=0.3, shear_range=10,
                       horizontal_flip=True, fill_mode=fill_mode, cval=0.3)  # fmt: skip
    a = augment_batch(x, aug, seed=9).numpy()
    b = augment_batch(x, aug, seed=9, implementation="opencv").numpy()
    diff = np.abs(a - b)
    if fill_mode == "wrap":  # TF reads the fill value across the wrap seam; OpenCV wraps
        assert (diff > 1e-3).mean() < 0.1
    else:
        assert diff.max() < 1e-4


def test_opencv_warp_runs_in_graph_mode_with_output_size():
    fn = tf.function(
        lambda im: augment_batch(
            im, {"rotation_range": 5}, seed=1, implementation="opencv", output_size=(12, 20)
        )  # fmt: skip
    )
    y = fn(tf.constant(_noise()))
    assert y.shape == (4, 12, 20, 1)


def test_unknown_implementation_raises():
    with pytest.raises(ValueError, match="implementation"):
        apply_affine(_noise(), affine_matrices(H, W), implementation="scipy")
