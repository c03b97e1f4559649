"""Tests for cxrkeras.datasets and cxrkeras.splits: layouts, parsing, validation, splits."""

from __future__ import annotations

import os
import sys
import types
import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from cxrkeras.datasets import (
    COLUMNS,
    download_kermany,
    find_root,
    patient_id_from_name,
    scan,
    subtype_from_name,
)
from cxrkeras.splits import leakage, patient_split, random_split_leakage

NORMAL_NAMES = ["IM-0115-0001.jpeg", "IM-0115-0002.jpeg", "NORMAL2-IM-0927-0001.jpeg"]
PNEUMONIA_NAMES = ["person1_bacteria_1.jpeg", "person1_bacteria_2.jpeg", "person45_virus_99.jpeg"]


def _write_image(path: Path, value: int = 128, shape=(8, 10)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(path.suffix.lower() or ".png", np.full(shape, value, np.uint8))
    assert ok
    path.write_bytes(data.tobytes())


def _make_tree(root: Path, splits=("train", "val", "test")) -> Path:
    for split in splits:
        for name in NORMAL_NAMES:
            _write_image(root / split / "NORMAL" / name)
        for name in PNEUMONIA_NAMES:
            _write_image(root / split / "PNEUMONIA" / name)
    return root


def _snapshot(root: Path) -> dict:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def test_parsers_cover_kermany_names():
    assert patient_id_from_name("person123_bacteria_4.jpeg") == "person123"
    assert patient_id_from_name("person447_virus_921_1.jpeg") == "person447"
    assert patient_id_from_name("IM-0115-0001.jpeg") == "IM-0115"
    assert patient_id_from_name("IM-0429-0001-0002.jpeg") == "IM-0429"
    assert patient_id_from_name("NORMAL2-IM-0927-0001.jpeg") == "NORMAL2-IM-0927"
    assert patient_id_from_name("scan_0001.png") is None
    assert subtype_from_name("person45_virus_99.jpeg", "PNEUMONIA") == "virus"
    assert subtype_from_name("person1_bacteria_2.JPEG", "PNEUMONIA") == "bacteria"
    assert subtype_from_name("person1_2.jpeg", "PNEUMONIA") == "unknown"
    assert subtype_from_name("person1_virus_2.jpeg", "NORMAL") == "normal"


def test_scan_full_tree_columns_order_and_no_writes(tmp_path):
    root = _make_tree(tmp_path / "data")
    before = _snapshot(root)
    table = scan(root)
    assert tuple(table.columns) == COLUMNS
    assert len(table) == 18
    assert table["path"].tolist() == sorted(table["path"])
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in table["path"])
    assert sorted(table["split"].unique()) == ["test", "train", "val"]
    assert table.groupby("label").size().to_dict() == {"NORMAL": 9, "PNEUMONIA": 9}
    row = table[table["path"].str.endswith("val/PNEUMONIA/person45_virus_99.jpeg")].iloc[0]
    assert (row["label"], row["subtype"], row["patient_id"]) == ("PNEUMONIA", "virus", "person45")
    assert table["mask_path"].isna().all() and table["mask_path"].iloc[0] is None
    assert _snapshot(root) == before


def test_scan_single_split_folder_takes_its_name(tmp_path):
    root = _make_tree(tmp_path / "data", splits=("holdout",))
    table = scan(root / "holdout")
    assert set(table["split"]) == {"holdout"} and len(table) == 6


@pytest.mark.parametrize(
    "top, splits",
    [
        ("chest_xray", ("train", "val", "test")),
        ("Pediatric Chest X-ray Pneumonia", ("train", "test")),
    ],
)
def test_scan_descends_through_one_extra_top_folder(tmp_path, top, splits):
    _make_tree(tmp_path / "download" / top, splits=splits)
    (tmp_path / "download" / "__MACOSX").mkdir()
    table = scan(tmp_path / "download")
    assert sorted(table["split"].unique()) == sorted(splits)
    assert len(table) == 6 * len(splits)


def test_scan_reads_one_copy_of_kaggles_nested_duplicate(tmp_path):
    root = _make_tree(tmp_path / "chest_xray")
    _make_tree(root / "chest_xray")  # Kaggle's zip repeats the data set inside itself.
    with pytest.warns(UserWarning, match="chest_xray"):
        table = scan(root)
    assert len(table) == 18 and not table["path"].str.contains("chest_xray/chest_xray").any()


def test_scan_skips_and_counts_junk_and_pairs_masks(tmp_path):
    root = _make_tree(tmp_path / "data", splits=("train",))
    folder = root / "train" / "PNEUMONIA"
    for junk in (".DS_Store", "Thumbs.db", "notes.txt", "._person1_bacteria_1.jpeg"):
        (folder / junk).write_bytes(b"junk")
    _write_image(folder / "person1_bacteria_1.mask.png", 255)
    _write_image(root / "train" / "NORMAL" / "IM-0200-0001.JPG")
    _write_image(root / "train" / "NORMAL" / "IM-0201-0001.Png")
    with pytest.warns(UserWarning, match="skipped 4 non-image") as record:
        table = scan(root)
    assert len(record) == 1
    assert len(table) == 8
    assert table.attrs["skipped"]["non_image"] == 4 and table.attrs["skipped"]["masks"] == 1
    masked = table[table["mask_path"].notna()]
    assert len(masked) == 1 and masked["path"].iloc[0].endswith("person1_bacteria_1.jpeg")
    assert Path(masked["mask_path"].iloc[0]).is_file()
    assert not table["path"].str.contains(r"\.mask\.png|\._", regex=True).any()


def test_unknown_name_patterns_fall_back_to_stem_with_one_counting_warning(tmp_path):
    root = _make_tree(tmp_path / "data", splits=("train",))
    for name in ("scan_a.png", "scan_b.png", "scan_c.jpg"):
        _write_image(root / "train" / "NORMAL" / name)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        table = scan(root)
    messages = [str(w.message) for w in record if "match no Kermany pattern" in str(w.message)]
    assert len(messages) == 1 and messages[0].startswith("scan: 3 file name(s)")
    fallback = table[table["path"].str.contains("scan_")]
    assert sorted(fallback["patient_id"]) == ["scan_a", "scan_b", "scan_c"]
    assert table["patient_id"].notna().all()


def test_scan_errors_name_the_path_and_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        scan(tmp_path / "nowhere")
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "c").mkdir()
    with pytest.raises(ValueError, match="NORMAL or PNEUMONIA class folders"):
        scan(tmp_path / "a")
    root = _make_tree(tmp_path / "data", splits=("train",))
    (root / "train" / "COVID19").mkdir()
    with pytest.raises(ValueError, match="COVID19"):
        scan(root)
    (root / "train" / "COVID19").rmdir()
    empty = _make_tree(tmp_path / "empty", splits=("train",))
    for path in (empty / "train" / "NORMAL").iterdir():
        path.unlink()
    with pytest.raises(ValueError, match="NORMAL holds no"):
        scan(empty)


def test_validate_excludes_unreadable_and_truncated_images(tmp_path):
    root = _make_tree(tmp_path / "data", splits=("train",))
    good = root / "train" / "PNEUMONIA" / "person7_virus_7.jpeg"
    _write_image(good, shape=(64, 64))
    truncated = root / "train" / "PNEUMONIA" / "person8_virus_8.jpeg"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (root / "train" / "NORMAL" / "IM-0300-0001.jpeg").write_bytes(b"not an image at all")
    assert len(scan(root)) == 9
    with pytest.warns(UserWarning, match="person8_virus_8.jpeg") as record:
        table = scan(root, validate=True, verbose=False)
    assert "IM-0300-0001.jpeg" in str(record[0].message)
    assert len(table) == 7 and table.attrs["skipped"]["unreadable"] == 2
    assert table["path"].str.endswith("person7_virus_7.jpeg").any()


def _synthetic_table(num_patients=120, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(num_patients):
        subtype = rng.choice(["normal", "bacteria", "virus"], p=[0.27, 0.48, 0.25])
        for k in range(int(rng.integers(1, 6))):
            rows.append(
                {
                    "path": f"/x/{p}_{k}.jpeg",
                    "split": "train",
                    "label": "NORMAL" if subtype == "normal" else "PNEUMONIA",
                    "subtype": subtype,
                    "patient_id": f"person{p}",
                    "mask_path": None,
                }
            )
    return pd.DataFrame(rows)


def test_patient_split_groups_stratifies_and_is_deterministic():
    table = _synthetic_table()
    original = table.copy()
    out = patient_split(table, val_fraction=0.15, test_fraction=0.2, seed=3)
    pd.testing.assert_frame_equal(table, original)
    assert out is not table and set(out["split"]) == {"train", "val", "test"}
    assert (
        out["patient_id"]
        .groupby(out["patient_id"])
        .size()
        .equals(table["patient_id"].groupby(table["patient_id"]).size())
    )
    assert out.groupby("patient_id")["split"].nunique().max() == 1
    shares = out["split"].value_counts(normalize=True)
    assert abs(shares["test"] - 0.2) < 0.03 and abs(shares["val"] - 0.15) < 0.03
    whole = (table["label"] == "PNEUMONIA").mean()
    for _, part in out.groupby("split"):
        assert abs((part["label"] == "PNEUMONIA").mean() - whole) < 0.06
    pd.testing.assert_frame_equal(
        out, patient_split(table, val_fraction=0.15, test_fraction=0.2, seed=3)
    )
    other = patient_split(table, val_fraction=0.15, test_fraction=0.2, seed=4)
    assert not other["split"].equals(out["split"])
    by_subtype = patient_split(table, stratify="subtype", test_fraction=0.25, val_fraction=0)
    assert set(by_subtype["split"]) == {"train", "test"}
    for subtype, part in by_subtype.groupby("subtype"):
        assert abs((part["split"] == "test").mean() - 0.25) < 0.08, subtype


def test_patient_split_rejects_bad_arguments():
    table = _synthetic_table(10)
    with pytest.raises(ValueError, match="leaves no training"):
        patient_split(table, val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="test_fraction=-0.1"):
        patient_split(table, test_fraction=-0.1)
    with pytest.raises(ValueError, match="stratify='age'"):
        patient_split(table, stratify="age")
    with pytest.raises(ValueError, match="patient_id"):
        patient_split(table.drop(columns="patient_id"))
    with pytest.raises(TypeError, match="DataFrame"):
        patient_split(table.to_dict())


def test_random_image_split_leaks_while_patient_split_does_not():
    table = _synthetic_table(200)
    stats = random_split_leakage(table, test_fraction=0.2, seed=1)
    assert stats["leaked_patients"] > 10 and 0 < stats["leaked_image_fraction"] <= 1
    single = table.drop_duplicates("patient_id")
    assert random_split_leakage(single)["leaked_patients"] == 0
    out = patient_split(table, test_fraction=0.2, val_fraction=0.1)
    assert leakage(out[out["split"] == "train"], out[out["split"] == "test"]) == set()
    assert leakage(table.iloc[:5], table.iloc[3:9]) == set(table["patient_id"].iloc[3:5])


def _fake_kagglehub(monkeypatch, download_root: Path, calls: list):
    def dataset_download(handle, path=None, *, output_dir=None, force_download=False):
        calls.append((handle, output_dir))
        return str(Path(output_dir) if output_dir else download_root)

    module = types.ModuleType("kagglehub")
    module.dataset_download = dataset_download
    monkeypatch.setitem(sys.modules, "kagglehub", module)


def test_download_kermany_locates_the_root_inside_kaggles_archive(tmp_path, monkeypatch):
    versions = tmp_path / "cache" / "datasets" / "paultimothymooney" / "versions" / "2"
    _make_tree(versions / "chest_xray")
    _make_tree(versions / "chest_xray" / "chest_xray")
    (versions / "chest_xray" / "__MACOSX").mkdir()
    calls = []
    _fake_kagglehub(monkeypatch, versions, calls)
    root = download_kermany()
    assert calls == [("paultimothymooney/chest-xray-pneumonia", None)]
    assert root == versions / "chest_xray"
    with pytest.warns(UserWarning, match="ignored folder"):
        table = scan(root)
    assert len(table) == 18
    dest = tmp_path / "mine"
    _make_tree(dest / "chest_xray")
    assert download_kermany(dest) == dest / "chest_xray"
    assert calls[-1][1] == str(dest)
    assert find_root(dest / "chest_xray" / "train") == dest / "chest_xray" / "train"


def test_download_kermany_without_kagglehub_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "kagglehub", None)
    with pytest.raises(ImportError, match=r"pip install cxrkeras\[kaggle\]"):
        download_kermany()


@pytest.mark.slow
def test_real_data_counts_patients_and_split(real_data):
    table = scan(real_data)
    counts = table.groupby("split").size().to_dict()
    on_disk = {
        split: sum(
            1
            for label in ("NORMAL", "PNEUMONIA")
            for p in (real_data / split / label).iterdir()
            if p.suffix.lower() in (".jpeg", ".jpg", ".png")
        )
        for split in ("train", "val")
    }
    assert counts == on_disk == {"train": 5216, "val": 16}
    assert table["patient_id"].notna().all() and table.attrs["skipped"]["unknown_patient"] == 0
    assert set(table["subtype"]) == {"normal", "bacteria", "virus"}
    out = patient_split(table, val_fraction=0.1, test_fraction=0.15, seed=0)
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert leakage(out[out["split"] == a], out[out["split"] == b]) == set()
    whole = (table["label"] == "PNEUMONIA").mean()
    for _, part in out.groupby("split"):
        assert abs((part["label"] == "PNEUMONIA").mean() - whole) < 0.02
    assert random_split_leakage(table)["leaked_image_fraction"] > 0.3


@pytest.mark.slow
def test_real_data_validates_and_aspect_tree_scans(real_data, aspect_data):
    assert len(scan(real_data / "val", validate=True, verbose=False)) == 16
    table = scan(aspect_data, validate=True, verbose=False)
    assert len(table) == 1613 and set(table["split"]) == {"train"}
    shapes = {cv2.imread(p, cv2.IMREAD_GRAYSCALE).shape for p in table["path"].iloc[::200]}
    assert any(h != w for h, w in shapes)
