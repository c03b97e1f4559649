"""tf.data pipelines: decoding, labels, geometry, shuffling, caching, CLAHE, imbalance, bad files."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from cxrkeras.data import class_weights, load_table, make_dataset, oversample_table
from cxrkeras.preprocessing import Preprocessing, clahe, decode, resize

SUBTYPES = ["normal", "bacteria", "virus"]


@pytest.fixture
def table(tmp_path) -> pd.DataFrame:
    """12 non-square images whose brightness encodes the row index (so order is checkable)."""
    rows = []
    for i in range(12):
        label = "NORMAL" if i % 3 == 0 else "PNEUMONIA"
        subtype = "normal" if label == "NORMAL" else ("bacteria" if i % 3 == 1 else "virus")
        path = tmp_path / f"img{i:02d}.png"
        cv2.imwrite(str(path), np.full((12, 20), 10 + 20 * i, np.uint8))
        rows.append({"path": str(path), "split": "train" if i < 9 else "val", "label": label,
                     "subtype": subtype})  # fmt: skip
    return pd.DataFrame(rows)


def _index(images) -> np.ndarray:
    """Recover each image's row index from its brightness."""
    return np.rint((np.asarray(images).mean(axis=(1, 2, 3)) * 255 - 10) / 20).astype(int)


def _all(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def test_binary_labels_match_images_in_order(table):
    ds = make_dataset(table, image_size=(8, 16), batch_size=5)
    x, y = _all(ds)
    assert x.shape == (12, 8, 16, 1) and x.dtype == np.float32 and y.dtype == np.float32
    np.testing.assert_array_equal(_index(x), np.arange(12))
    np.testing.assert_array_equal(y, (table.label == "PNEUMONIA").astype(np.float32))
    assert ds.class_names == ("NORMAL", "PNEUMONIA")
    assert ds.file_paths == table.path.tolist() and ds.skipped_files == []


@pytest.mark.parametrize(
    "label_mode, shape, dtype",
    [("categorical", (12, 2), np.float32), ("three_class", (12, 3), np.float32),
     ("int", (12,), np.int32)],
)  # fmt: skip
def test_label_modes(table, label_mode, shape, dtype):
    ds = make_dataset(table, image_size=8, label_mode=label_mode, batch_size=4)
    _, y = _all(ds)
    assert y.shape == shape and y.dtype == dtype
    if label_mode == "three_class":
        np.testing.assert_array_equal(y.argmax(1), table.subtype.map(SUBTYPES.index))
        assert ds.class_names == tuple(SUBTYPES)
    elif label_mode == "categorical":
        np.testing.assert_array_equal(y.argmax(1), table.label == "PNEUMONIA")
    else:
        np.testing.assert_array_equal(y, table.label == "PNEUMONIA")


def test_label_mode_none_gives_images_only(table):
    batch = next(iter(make_dataset(table, image_size=8, label_mode=None, batch_size=3)))
    assert isinstance(batch, tf.Tensor) and batch.shape == (3, 8, 8, 1)


def test_three_class_rejects_unknown_subtype(table):
    table.loc[1, "subtype"] = "unknown"
    with pytest.raises(ValueError, match="unknown"):
        make_dataset(table, label_mode="three_class")


def test_split_selects_rows_and_bad_split_lists_available(table):
    ds = make_dataset(table, split="val", image_size=8)
    np.testing.assert_array_equal(_index(_all(ds)[0]), [9, 10, 11])
    with pytest.raises(ValueError, match=r"\['train', 'val'\]"):
        load_table(table, split="test")


def test_shuffle_is_seeded_complete_and_reshuffles_each_epoch(table):
    ds = make_dataset(table, image_size=8, batch_size=12, shuffle=True, seed=3)
    first, second = (_all(ds) for _ in range(2))
    again = _all(make_dataset(table, image_size=8, batch_size=12, shuffle=True, seed=3))
    order = _index(first[0])
    assert sorted(order) == list(range(12)) and list(order) != list(range(12))
    assert list(order) != list(_index(second[0]))
    np.testing.assert_array_equal(order, _index(again[0]))
    np.testing.assert_array_equal(first[1], table.label.iloc[order] == "PNEUMONIA")


def test_augmented_pipeline_repeats_with_seed_and_varies_per_epoch(table):
    aug = {"rotation_range": 30, "width_shift_range": 0.2, "horizontal_flip": True}
    gradient = np.tile(np.linspace(0, 255, 20, dtype=np.uint8), (12, 1))
    cv2.imwrite(table.path[0], gradient)
    ds = make_dataset(table, image_size=(12, 20), augment=aug, seed=1, batch_size=4)
    a1, a2 = (next(iter(ds))[0].numpy() for _ in range(2))
    b1 = next(iter(make_dataset(table, image_size=(12, 20), augment=aug, seed=1, batch_size=4)))
    np.testing.assert_array_equal(a1, b1[0].numpy())
    assert not np.allclose(a1[0], a2[0])


def test_cache_in_memory_and_on_disk_match_uncached(table, tmp_path):
    plain = _all(make_dataset(table, image_size=8))[0]
    for cache in (True, str(tmp_path / "cache")):
        ds = make_dataset(table, image_size=8, cache=cache)
        for _ in range(2):
            np.testing.assert_allclose(_all(ds)[0], plain, atol=1e-3)
    shuffled = make_dataset(table, image_size=8, cache=True, shuffle=True, seed=0, batch_size=12)
    order = _index(_all(shuffled)[0])
    assert sorted(order) == list(range(12)) and list(order) != list(range(12))


def test_formats_bit_depths_and_channels(tmp_path):
    gray16 = np.full((6, 10), 32768, np.uint16)
    rgba = np.dstack([np.full((6, 10), v, np.uint8) for v in (0, 0, 255, 128)])  # BGRA red
    files = {
        "g16.png": gray16,
        "rgba.png": rgba,
        "rgb.jpg": rgba[..., :3],
        "g8.jpeg": gray16 // 257,
    }
    for name, arr in files.items():
        cv2.imwrite(str(tmp_path / name), arr)
    x = {n: decode(tf.io.read_file(str(tmp_path / n)), "grayscale").numpy() for n in files}
    assert x["g16.png"].mean() == pytest.approx(32768 / 65535, abs=1e-4)
    assert x["g8.jpeg"].mean() == pytest.approx(127 / 255, abs=2e-2)
    assert x["rgba.png"].mean() == pytest.approx(0.2989, abs=1e-2)  # red luminance
    rgb = decode(tf.io.read_file(str(tmp_path / "rgba.png")), "rgb").numpy()
    assert rgb.shape == (6, 10, 3) and rgb[..., 0].min() > 0.99 and rgb[..., 1:].max() < 0.01
    gray_as_rgb = decode(tf.io.read_file(str(tmp_path / "g16.png")), "rgb").numpy()
    assert gray_as_rgb.shape == (6, 10, 3) and np.ptp(gray_as_rgb, axis=-1).max() == 0


def test_non_square_stretch_and_letterbox(tmp_path):
    img = np.zeros((20, 60), np.uint8)
    img[:, 30:] = 255  # right half bright
    path = tmp_path / "wide.png"
    cv2.imwrite(str(path), img)
    t = pd.DataFrame({"path": [str(path)], "label": ["NORMAL"]})
    x = next(iter(make_dataset(t, image_size=(10, 30))))[0].numpy()[0, :, :, 0]
    assert x[:, :14].max() < 0.05 and x[:, 16:].min() > 0.95
    p = next(iter(make_dataset(t, image_size=30, preprocessing={"resize": "pad"})))[0]
    p = p.numpy()[0, :, :, 0]
    assert p[:9].max() == 0 and p[-9:].max() == 0  # black bars top and bottom
    assert p[12:18, 16:].min() > 0.95 and p[12:18, :14].max() < 0.05


def test_auto_antialias_filters_only_large_shrinks():
    checker = tf.constant((np.indices((63, 63)).sum(0) % 2)[..., None], tf.float32)
    auto = resize(checker, 9).numpy()
    plain = resize(checker, 9, antialias=False).numpy()
    assert auto.std() < 0.05 and plain.std() > 0.4  # 7x shrink: filtered vs aliased
    small = tf.random.uniform((12, 12, 1), seed=0)
    np.testing.assert_allclose(
        resize(small, 9).numpy(), resize(small, 9, antialias=False).numpy(), atol=1e-6
    )


def test_rgb_and_normalizations(table):
    x_unit = next(iter(make_dataset(table, image_size=8, color_mode="rgb")))[0].numpy()
    assert x_unit.shape[-1] == 3
    x_none = next(iter(make_dataset(table, image_size=8, preprocessing={"normalization": "none"})))
    x_gray = next(iter(make_dataset(table, image_size=8)))[0].numpy()
    np.testing.assert_allclose(x_none[0].numpy(), x_gray * 255, rtol=1e-5)
    prep = Preprocessing(normalization="imagenet")
    x_net = next(iter(make_dataset(table, image_size=8, color_mode="rgb", preprocessing=prep)))
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(x_net[0].numpy(), (x_unit - mean) / std, rtol=1e-4, atol=1e-5)


def _local_contrast(img):
    tiles = img[:32, :32, 0].reshape(4, 8, 4, 8)
    return tiles.std(axis=(1, 3)).mean()


def test_clahe_raises_local_contrast_in_graph_mode(tmp_path):
    rng = np.random.default_rng(0)
    low = (110 + 12 * rng.random((32, 48))).astype(np.uint8)  # faint texture
    path = tmp_path / "flat.png"
    cv2.imwrite(str(path), low)
    t = pd.DataFrame({"path": [str(path)], "label": ["NORMAL"]})
    plain = next(iter(make_dataset(t, image_size=(32, 48))))[0].numpy()[0]
    eq = next(iter(make_dataset(t, image_size=(32, 48), preprocessing={"clahe": True})))[0]
    assert eq.shape == (1, 32, 48, 1)
    assert _local_contrast(eq.numpy()[0]) > 2 * _local_contrast(plain)
    graph = tf.function(lambda im: clahe(im, clip_limit=3.0))(tf.constant(plain))
    assert graph.shape == plain.shape and _local_contrast(graph.numpy()) > 2 * _local_contrast(
        plain
    )


def test_class_weights_are_balanced(table):
    w = class_weights(table)
    counts = (table.label == "PNEUMONIA").value_counts()
    assert w[0] == pytest.approx(12 / (2 * counts[False])) and w[1] == pytest.approx(
        12 / (2 * counts[True])
    )
    w3 = class_weights(table, label_mode="three_class", split="train")
    assert set(w3) == {0, 1, 2}
    with pytest.raises(ValueError, match="No images of class"):
        class_weights(table[table.label == "PNEUMONIA"])


def test_oversample_reaches_ratio_and_copies_differ_when_augmented(table):
    big = pd.concat([table] + [table[table.label == "PNEUMONIA"]] * 4, ignore_index=True)
    out = oversample_table(big, 1.2, seed=0)
    counts = out.label.value_counts()
    assert (
        counts["PNEUMONIA"] / counts["NORMAL"] <= 1.2 < counts["PNEUMONIA"] / (counts["NORMAL"] - 1)
    )
    assert out.oversampled.sum() == len(out) - len(big)
    assert set(out.path[out.oversampled]) <= set(big.path[big.label == "NORMAL"])
    ds = make_dataset(table.iloc[:2], image_size=(12, 20), oversample=1.0, augment={"rotation_range": 40,
                      "width_shift_range": 0.3}, seed=2, batch_size=4)  # fmt: skip
    x, y = _all(ds)
    assert len(x) == 2 and y.tolist() == [0.0, 1.0]  # already balanced: nothing added
    cv2.imwrite(table.path[0], np.tile(np.linspace(0, 255, 20, dtype=np.uint8), (12, 1)))
    t = table.iloc[[0, 1, 2]]
    with pytest.warns(UserWarning, match="identical"):
        make_dataset(t, oversample=1.0)
    x, y = _all(make_dataset(t, image_size=(12, 20), oversample=1.0, seed=2, batch_size=8,
                             augment={"rotation_range": 40, "width_shift_range": 0.3}))  # fmt: skip
    assert y.tolist() == [0.0, 1.0, 1.0, 0.0] and not np.allclose(x[0], x[3])


def test_truncated_and_corrupt_files_do_not_kill_the_epoch(table):
    data = open(table.path[0], "rb").read()
    trunc = table.path[0].replace(".png", "_trunc.jpg")
    ok_jpeg = cv2.imencode(".jpg", np.full((12, 20), 50, np.uint8))[1].tobytes()
    open(trunc, "wb").write(ok_jpeg[: len(ok_jpeg) // 2])
    corrupt = table.path[0].replace(".png", "_corrupt.png")  # valid head and tail, bad body
    open(corrupt, "wb").write(data[:16] + b"\x00" * 40 + data[-12:])
    bad = pd.DataFrame({"path": [trunc, corrupt, "/no/such/file.png"],
                        "label": ["NORMAL"] * 3, "subtype": ["normal"] * 3})  # fmt: skip
    t = pd.concat([table, bad], ignore_index=True)
    with pytest.warns(UserWarning, match="skipped 2 of 15"):
        ds = make_dataset(t, image_size=8, batch_size=4)
    assert sorted(ds.skipped_files) == sorted([trunc, "/no/such/file.png"])
    for _ in range(2):  # the corrupt PNG fails inside the pipeline and is dropped
        x, y = _all(ds)
        np.testing.assert_array_equal(_index(x), np.arange(12))


def test_directory_source_uses_scan(tmp_path):
    for split in ("train", "val"):
        for label, value in (("NORMAL", 40), ("PNEUMONIA", 200)):
            folder = tmp_path / split / label
            folder.mkdir(parents=True)
            for i in range(2):
                cv2.imwrite(
                    str(folder / f"IM-00{i}{value}-0001.jpeg"), np.full((10, 14), value, np.uint8)
                )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = make_dataset(tmp_path, split="val", image_size=8)
    x, y = _all(ds)
    assert len(y) == 4 and np.all((x.mean(axis=(1, 2, 3)) > 0.5) == (y == 1))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [({"label_mode": "sparse"}, ValueError, "label_mode"), ({"color_mode": "rgba"}, ValueError, "color_mode"),
     ({"image_size": (8,)}, ValueError, "image_size"), ({"batch_size": 0}, ValueError, "batch_size"),
     ({"preprocessing": {"clip": 2}}, ValueError, "valid ones"),
     ({"preprocessing": {"resize": "crop"}}, ValueError, "resize"),
     ({"augment": {"rotate": 5}}, ValueError, "valid ones")],
)  # fmt: skip
def test_bad_options_raise_clear_errors(table, kwargs, error, match):
    with pytest.raises(error, match=match):
        make_dataset(table, **kwargs)


def test_bad_sources_raise_clear_errors(table, tmp_path):
    with pytest.raises(TypeError, match="DataFrame"):
        make_dataset([1, 2])
    with pytest.raises(ValueError, match="'path' column"):
        make_dataset(table.rename(columns={"path": "file"}))
    with pytest.raises(ValueError, match="PNEUMONIA"):
        make_dataset(table.assign(label="COVID"))
    with pytest.raises(FileNotFoundError):
        make_dataset(tmp_path / "missing")


@pytest.mark.slow
def test_real_data_pipeline(real_data):
    t = load_table(real_data, split="train").groupby("label").head(16)
    ds = make_dataset(t, image_size=150, batch_size=16, shuffle=True, seed=0,
                      augment={"rotation_range": 10, "zoom_range": 0.1, "horizontal_flip": True})  # fmt: skip
    x, y = _all(ds)
    assert x.shape == (32, 150, 150, 1) and 0 <= x.min() and x.max() <= 1 and y.sum() == 16


@pytest.mark.slow
def test_real_aspect_images_letterbox(aspect_data):
    t = load_table(aspect_data).head(8)
    ds = make_dataset(t, image_size=128, batch_size=8, preprocessing={"resize": "pad"})
    x = next(iter(ds))[0].numpy()[..., 0]
    for img, path in zip(x, t.path, strict=True):
        h, w = cv2.imread(path, cv2.IMREAD_GRAYSCALE).shape
        bar = int((128 - round(128 * h / w)) / 2)
        assert w > h and bar >= 2
        assert img[: bar - 1].max() == 0 and img[-(bar - 1) :].max() == 0
        assert img[bar + 2 : -(bar + 2)].mean(axis=1).min() > 0
