"""Occlusion sensitivity: planted corner on a non-square image, batching, baselines."""

from __future__ import annotations

import numpy as np
import pytest
from _explain_models import (
    CORNER,
    HEIGHT,
    WIDTH,
    in_corner,
    planted_images,
    planted_model,
    random_cnn,
)

from cxrkeras.occlusion import occlusion


def _naive_occlusion(model, image, patch, stride, class_index):
    """One model call per patch position, pixels averaged over the patches covering them."""
    height, width = image.shape[:2]
    rows = sorted({*range(0, height - patch + 1, stride), height - patch})
    cols = sorted({*range(0, width - patch + 1, stride), width - patch})
    prob = float(model(image[None], training=False)[0, 0])
    score = prob if class_index == 1 else 1.0 - prob
    total = np.zeros((height, width))
    count = np.zeros((height, width))
    for r in rows:
        for c in cols:
            covered = image.copy()
            covered[r : r + patch, c : c + patch] = 0.0
            p = float(model(covered[None], training=False)[0, 0])
            total[r : r + patch, c : c + patch] += score - (p if class_index == 1 else 1.0 - p)
            count[r : r + patch, c : c + patch] += 1
    return total / count


@pytest.mark.parametrize("head", ["sigmoid", "softmax"])
@pytest.mark.parametrize("nesting", ["flat", "sequential_of_sequential"])
def test_planted_corner_is_found_on_a_non_square_image(head, nesting):
    model = planted_model(head, nesting)
    images = planted_images(2)
    for baseline in ("zero", "mean", "blur", 0.1):
        maps = occlusion(model, images, patch_size=4, stride=2, baseline=baseline, verbose=False)
        assert maps.shape == (2, HEIGHT, WIDTH) and maps.dtype == np.float32
        assert all(in_corner(m) for m in maps), baseline
        corner = maps[:, CORNER[0], CORNER[1]].mean()  # hiding the patch costs probability
        assert corner > 0.01 and corner > 5 * np.abs(maps[:, 10:, :24]).mean(), baseline
    single = occlusion(model, images[0], patch_size=(4, 6), verbose=False)
    assert single.shape == (HEIGHT, WIDTH) and in_corner(single)


def test_batched_map_equals_a_naive_loop_with_overlap_and_edge_patches():
    model = random_cnn((20, 27, 1))
    images = np.random.default_rng(4).uniform(size=(2, 20, 27, 1)).astype("float32")
    maps = occlusion(model, images, patch_size=6, stride=4, class_index=1, batch_size=7)
    for image, got in zip(images, maps, strict=True):
        expected = _naive_occlusion(model, image, 6, 4, class_index=1)
        np.testing.assert_allclose(got, expected, atol=1e-5)
    one = occlusion(model, images[1], patch_size=6, stride=4, class_index=1, batch_size=64)
    np.testing.assert_allclose(one, maps[1], atol=1e-5)
    assert np.ptp(maps[1]) > 0


def test_sigmoid_class_0_is_the_mirror_of_class_1():
    model = planted_model("sigmoid", "functional")
    images = np.concatenate([planted_images(1), planted_images(1, positive=False, seed=2)])
    pneumonia = occlusion(model, images, patch_size=4, class_index=1)
    normal = occlusion(model, images, patch_size=4, class_index=0)
    np.testing.assert_allclose(normal, -pneumonia, atol=1e-6)
    predicted = occlusion(model, images, patch_size=4)  # image 0 is PNEUMONIA, image 1 NORMAL
    np.testing.assert_allclose(predicted[0], pneumonia[0], atol=1e-6)
    np.testing.assert_allclose(predicted[1], normal[1], atol=1e-6)


def test_progress_bar_follows_verbose(capsys):
    model = planted_model("sigmoid", "flat")
    image = planted_images(1)[0]
    occlusion(model, image, patch_size=4, stride=2, batch_size=16, verbose=True)
    assert "occlusion" in capsys.readouterr().err
    occlusion(model, image, patch_size=4, stride=2, batch_size=16, verbose=False)
    assert capsys.readouterr().err == ""


def test_bad_arguments_are_rejected_with_the_fix():
    model = planted_model("sigmoid", "flat")
    image = planted_images(1)[0]
    with pytest.raises(ValueError, match="leaves pixels never covered"):
        occlusion(model, image, patch_size=4, stride=6)
    with pytest.raises(ValueError, match="baseline must be one of"):
        occlusion(model, image, baseline="noise")
    with pytest.raises(ValueError, match="patch_size must be"):
        occlusion(model, image, patch_size=0)
    with pytest.raises(ValueError, match="batch_size"):
        occlusion(model, image, batch_size=0)
    with pytest.raises(ValueError, match="out of range"):
        occlusion(model, image, class_index=3)
