"""The legacy ImageDataGenerator path: layouts, labels, augmentation, warning, errors."""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pandas as pd
import pytest

import cxrkeras.legacy as legacy
from cxrkeras.data import make_dataset
from cxrkeras.legacy import generator_arguments, image_data_generator


@pytest.fixture
def root(tmp_path):
    """root/train/{NORMAL,PNEUMONIA} with dark NORMAL and bright PNEUMONIA 12x20 images."""
    for label, value in (("NORMAL", 30), ("PNEUMONIA", 220)):
        folder = tmp_path / "train" / label
        folder.mkdir(parents=True)
        for i in range(3):
            img = np.full((12, 20), value, np.uint8)
            img[:, :5] = i * 10  # a dark left band, so flips are visible
            cv2.imwrite(str(folder / f"person{i}_{'bacteria' if i else 'virus'}_{value}.png"), img)
    return tmp_path


def _table(root):
    paths = sorted(str(p) for p in (root / "train").glob("*/*.png"))
    labels = ["NORMAL" if "/NORMAL/" in p else "PNEUMONIA" for p in paths]
    subtypes = [
        "normal" if lab == "NORMAL" else ("virus" if "virus" in p else "bacteria")
        for p, lab in zip(paths, labels, strict=True)
    ]
    return pd.DataFrame({"path": paths, "label": labels, "subtype": subtypes, "split": "train"})


@pytest.fixture(autouse=True)
def _quiet(recwarn):
    """Each test sees the deprecation note afresh."""
    legacy._warned = False
    yield


def test_directory_with_split_gives_rescaled_binary_batches(root):
    it = image_data_generator(root, split="train", image_size=(12, 20), batch_size=6, shuffle=False)
    x, y = next(it)
    assert x.shape == (6, 12, 20, 1) and 0 <= x.min() and x.max() <= 1
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1, 1])
    assert np.all((x[:, :, 10:].mean(axis=(1, 2, 3)) > 0.5) == (y == 1))
    assert it.class_names == ("NORMAL", "PNEUMONIA")


def test_table_three_class_is_one_hot_by_subtype(root):
    table = _table(root)
    it = image_data_generator(
        table, image_size=8, batch_size=6, class_mode="three_class", shuffle=False
    )
    _, y = next(it)
    expected = table.subtype.map({"normal": 0, "bacteria": 1, "virus": 2}).to_numpy()
    np.testing.assert_array_equal(y.argmax(1), expected)
    assert it.class_names == ("normal", "bacteria", "virus")


def test_same_images_as_make_dataset_without_augmentation(root):
    table = _table(root)
    x_old, y_old = next(
        image_data_generator(table, image_size=(12, 20), batch_size=6, shuffle=False)
    )
    x_new, y_new = next(iter(make_dataset(table, image_size=(12, 20), batch_size=6)))
    np.testing.assert_allclose(x_old, x_new.numpy(), atol=1e-6)
    np.testing.assert_array_equal(y_old, y_new.numpy())


def test_augmentation_is_applied_and_seeded(root):
    table = _table(root)
    aug = {"horizontal_flip": True, "rotation_range": 0}
    kwargs = dict(image_size=(12, 20), batch_size=6, augment=aug, seed=4, shuffle=False)
    x1 = next(image_data_generator(table, **kwargs))[0]
    x2 = next(image_data_generator(table, **kwargs))[0]
    np.testing.assert_array_equal(x1, x2)
    left_dark = x1[:, :, :5].mean(axis=(1, 2, 3)) < x1[:, :, -5:].mean(axis=(1, 2, 3))
    assert left_dark.any() and not left_dark.all()  # some mirrored, some kept


def test_deprecation_note_once(root):
    with pytest.warns(FutureWarning, match="make_dataset") as record:
        image_data_generator(root / "train", image_size=8)
        image_data_generator(root / "train", image_size=8)
    assert sum(issubclass(w.category, FutureWarning) for w in record) == 1


def test_generator_arguments_translate_scales():
    kwargs = generator_arguments({"zoom_range": [0.8, 1.1], "fill_mode": "constant", "cval": 0.5})
    assert kwargs["rescale"] == pytest.approx(1 / 255) and kwargs["cval"] == pytest.approx(127.5)
    assert kwargs["zoom_range"] == (0.8, 1.1)
    assert generator_arguments(None) == {"rescale": 1 / 255}


def test_folder_without_classes_and_bad_modes_raise(root):
    with pytest.raises(ValueError, match="split='train'"):
        image_data_generator(root)
    with pytest.raises(ValueError, match="class_mode"):
        image_data_generator(root / "train", class_mode="int")
    with pytest.raises(ValueError, match="three_class"):
        image_data_generator(root / "train", class_mode="three_class")
    with pytest.raises(ValueError, match="Unknown augmentation"):
        image_data_generator(root / "train", augment={"rotate": 3})


def test_missing_scipy_gives_install_hint(root, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "scipy" else real(name, *a)
    )
    with pytest.raises(ImportError, match="pip install scipy"):
        image_data_generator(root / "train", augment={"rotation_range": 5})
