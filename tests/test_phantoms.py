"""Tests for cxrkeras.phantoms: arrays, files on disk, masks, marker and learnability."""

from __future__ import annotations

import warnings

import cv2
import keras
import numpy as np
import pytest

from cxrkeras._phantom_render import render_phantom, sample_patient
from cxrkeras.datasets import scan
from cxrkeras.phantoms import KERMANY_BALANCE, make_phantoms, phantom_arrays
from cxrkeras.splits import leakage, patient_split


def test_arrays_shapes_ranges_labels_and_determinism():
    images, labels, masks = phantom_arrays(30, image_size=(40, 56), seed=5)
    assert images.shape == (30, 40, 56, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.std() > 0.05
    assert labels.shape == (30,) and sorted(set(labels.tolist())) == [0, 1]
    assert (labels == 1).sum() == 15
    assert masks.shape == (30, 40, 56) and masks.dtype == np.uint8
    assert set(np.unique(masks)) <= {0, 255}
    assert (masks[labels == 0] == 0).all() and (
        masks[labels == 1].reshape(15, -1).max(1) == 255
    ).all()
    again = phantom_arrays(30, image_size=(40, 56), seed=5)
    for a, b in zip((images, labels, masks), again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(images, phantom_arrays(30, image_size=(40, 56), seed=6)[0])


def test_class_presets_and_custom_balance():
    _, labels, _ = phantom_arrays(9, image_size=16, classes="three_class")
    assert np.bincount(labels).tolist() == [3, 3, 3]
    _, labels, _ = phantom_arrays(100, image_size=16, classes=KERMANY_BALANCE)
    assert np.bincount(labels).tolist() == [26, 48, 26]
    _, labels, _ = phantom_arrays(100, image_size=16, classes={"NORMAL": 0.26, "PNEUMONIA": 0.74})
    assert np.bincount(labels).tolist() == [26, 74]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"classes": "four"}, ValueError, "three_class"),
        ({"classes": {"normal": 1, "PNEUMONIA": 1}}, ValueError, "all from"),
        ({"classes": {"NORMAL": -1, "PNEUMONIA": 1}}, ValueError, ">= 0"),
        ({"image_size": (4, 64)}, ValueError, "at least 8"),
        ({"image_size": "big"}, TypeError, "height, width"),
    ],
)
def test_arrays_reject_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        phantom_arrays(4, **kwargs)
    with pytest.raises(ValueError, match="num_images=1"):
        phantom_arrays(1)


def _lesion_side(mask: np.ndarray, lungs: np.ndarray) -> set[str]:
    """Which lung fields (left / right connected components) a mask touches."""
    count, components = cv2.connectedComponents(lungs)
    assert count == 3, "expected two separate lung fields"
    centres = {c: np.argwhere(components == c)[:, 1].mean() for c in (1, 2)}
    left = min(centres, key=centres.get)
    touched = set(np.unique(components[mask > 0])) - {0}
    return {"left" if c == left else "right" for c in touched}


@pytest.mark.parametrize("shape", [(96, 96), (80, 120)])
def test_lesions_lie_inside_the_lungs_focal_vs_diffuse(shape):
    rng = np.random.default_rng(0)
    sides = {"bacteria": [], "virus": []}
    for i in range(24):
        subtype = ("bacteria", "virus")[i % 2]
        image, mask, lungs = render_phantom(sample_patient(rng, subtype), shape, rng)
        assert mask.any() and not (mask & ~lungs).any()
        sides[subtype].append(_lesion_side(mask, lungs))
        # The opacity is visible: brighter inside the lesion than in the rest of the lungs.
        rest = (lungs > 0) & (mask == 0)
        assert image[mask > 0].mean() > image[rest].mean()
        area = (mask > 0).sum() / (lungs > 0).sum()
        assert (area < 0.22) if subtype == "bacteria" else (area > 0.22)
    assert all(len(s) == 1 for s in sides["bacteria"])  # focal: one lung
    assert {"left", "right"} == set().union(*sides["bacteria"])
    assert all(s == {"left", "right"} for s in sides["virus"])  # diffuse: bilateral
    _, normal_mask, _ = render_phantom(sample_patient(rng, "normal"), shape, rng)
    assert not normal_mask.any()


def test_wide_images_keep_the_chest_shape():
    patient = sample_patient(np.random.default_rng(3), "bacteria")
    _, _, square = render_phantom(patient, (64, 64), np.random.default_rng(1))
    _, _, wide = render_phantom(patient, (64, 128), np.random.default_rng(1))
    centre = wide[:, 32:96]
    iou = (np.logical_and(square, centre).sum()) / np.logical_or(square, centre).sum()
    assert iou > 0.9 and not wide[:, :20].any() and not wide[:, -20:].any()


def test_marker_corner_follows_the_label():
    images, labels, _ = phantom_arrays(200, image_size=64, marker=True, seed=2)
    corner = 12
    left = images[:, :corner, :corner, 0].max(axis=(1, 2)) > 0.95
    right = images[:, :corner, -corner:, 0].max(axis=(1, 2)) > 0.95
    assert (left ^ right).all()
    agreement = (left == (labels == 1)).mean()
    assert 0.8 < agreement < 0.98  # a strong shortcut, not a perfect one
    plain, _, _ = phantom_arrays(200, image_size=64, marker=False, seed=2)
    assert (plain[:, :corner, :corner, 0].max(axis=(1, 2)) < 0.95).mean() > 0.9


def test_make_phantoms_writes_the_kermany_layout(tmp_path):
    table = make_phantoms(tmp_path, num_images=30, image_size=(40, 56), classes="three_class")
    assert table.equals(scan(tmp_path / "train"))
    assert len(table) == 30 and set(table["split"]) == {"train"}
    assert table.groupby("subtype").size().to_dict() == {"bacteria": 10, "normal": 10, "virus": 10}
    assert table.groupby("patient_id").size().between(2, 4).all()
    assert table["patient_id"].str.match(r"^(IM-\d{4}|NORMAL2-IM-\d{4}|person\d+)$").all()
    assert table.attrs["skipped"]["unknown_patient"] == 0
    for row in table.itertuples():
        image = cv2.imread(row.path, cv2.IMREAD_UNCHANGED)
        assert image.dtype == np.uint8 and image.shape == (40, 56)
        folder = "NORMAL" if row.subtype == "normal" else "PNEUMONIA"
        assert f"/train/{folder}/" in row.path
        if row.subtype == "normal":
            assert row.mask_path is None
        else:
            mask = cv2.imread(row.mask_path, cv2.IMREAD_UNCHANGED)
            assert mask.shape == (40, 56) and set(np.unique(mask)) == {0, 255}


def test_make_phantoms_is_deterministic_and_refuses_to_overwrite(tmp_path):
    first = make_phantoms(tmp_path / "a", num_images=10, image_size=24, seed=1)
    second = make_phantoms(tmp_path / "b", num_images=10, image_size=24, seed=1)
    for a, b in zip(first["path"], second["path"], strict=True):
        assert a.replace("/a/", "/b/") == b
        assert open(a, "rb").read() == open(b, "rb").read()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        make_phantoms(tmp_path / "a", num_images=10, image_size=24, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same names are rewritten: nothing stale
        again = make_phantoms(
            tmp_path / "a", num_images=10, image_size=(24, 32), seed=1, overwrite=True
        )
    assert again["path"].tolist() == first["path"].tolist()
    assert cv2.imread(again["path"][0], cv2.IMREAD_UNCHANGED).shape == (24, 32)
    with pytest.warns(UserWarning, match="4 older image"):  # seed 3 names other patients
        bigger = make_phantoms(tmp_path / "a", num_images=14, image_size=24, seed=3, overwrite=True)
    assert len(bigger) == 14 and len(scan(tmp_path / "a")) == 18
    with pytest.raises(ValueError, match="plain folder name"):
        make_phantoms(tmp_path / "a", num_images=10, split="../escape")


def test_splits_in_one_root_have_distinct_patients(tmp_path):
    make_phantoms(tmp_path, num_images=40, image_size=16, split="train")
    make_phantoms(tmp_path, num_images=12, image_size=16, split="val")
    table = scan(tmp_path)
    assert table.groupby("split").size().to_dict() == {"train": 40, "val": 12}
    assert leakage(table[table["split"] == "train"], table[table["split"] == "val"]) == set()
    resplit = patient_split(table, val_fraction=0.2, test_fraction=0.2)
    assert resplit.groupby("patient_id")["split"].nunique().max() == 1


def _small_cnn(shape) -> keras.Model:
    inputs = keras.Input(shape, name="image")
    # Per-image standardisation undoes the exposure and contrast spread of the phantoms.
    x = keras.layers.LayerNormalization(axis=(1, 2, 3), name="standardise")(inputs)
    for i, filters in enumerate((8, 16, 32)):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = keras.layers.MaxPooling2D(name=f"pool{i}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="pneumonia")(x)
    model = keras.Model(inputs, outputs, name="small_cnn")
    model.compile(keras.optimizers.Adam(3e-3), "binary_crossentropy", metrics=["accuracy"])
    return model


def _best_mean_threshold_accuracy(images: np.ndarray, labels: np.ndarray) -> float:
    means = images.mean(axis=(1, 2, 3))
    return max(
        max(((means > t) == labels).mean(), ((means <= t) == labels).mean())
        for t in np.unique(means)
    )


def _fit_accuracy(x, y, x_test, y_test, epochs: int) -> float:
    keras.utils.set_random_seed(0)
    model = _small_cnn(x.shape[1:])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return float(((model.predict(x_test, verbose=0)[:, 0] > 0.5) == y_test).mean())


def test_small_cnn_learns_binary_phantoms_but_mean_intensity_does_not():
    x, y, _ = phantom_arrays(600, image_size=64, seed=1)
    x_test, y_test, _ = phantom_arrays(200, image_size=64, seed=2)
    assert (
        _best_mean_threshold_accuracy(np.concatenate([x, x_test]), np.concatenate([y, y_test]))
        < 0.75
    )
    assert _fit_accuracy(x, y, x_test, y_test, epochs=10) > 0.9


@pytest.mark.slow
def test_small_cnn_tells_bacteria_from_virus():
    x, y, _ = phantom_arrays(600, image_size=64, classes="three_class", seed=1)
    x_test, y_test, _ = phantom_arrays(300, image_size=64, classes="three_class", seed=2)
    x, y = x[y > 0], y[y > 0] - 1
    x_test, y_test = x_test[y_test > 0], y_test[y_test > 0] - 1
    assert _fit_accuracy(x, y, x_test, y_test, epochs=15) > 0.9
