"""holdout_split: the official test split stays the test set; the rest is split by patient."""

from __future__ import annotations

import pandas as pd
import pytest

from cxrkeras.splits import holdout_split, leakage


def _table(n_train: int, n_test: int, *, shared: int = 0) -> pd.DataFrame:
    rows = [
        {
            "patient_id": f"p{i // 3}",
            "label": "PNEUMONIA" if (i // 3) % 3 else "NORMAL",
            "split": "train" if i % 7 else "val",
        }
        for i in range(n_train)
    ]
    rows += [
        {
            "patient_id": f"t{i // 2}" if i >= 2 * shared else f"p{i // 2}",
            "label": "PNEUMONIA" if i % 2 else "NORMAL",
            "split": "test",
        }
        for i in range(n_test)
    ]
    return pd.DataFrame(rows)


def test_official_test_rows_are_kept_unchanged():
    table = _table(300, 40)
    out = holdout_split(table, val_fraction=0.2, seed=3)
    test = out[out["split"] == "test"]
    assert test["patient_id"].tolist() == table.loc[table.split == "test", "patient_id"].tolist()
    rest = out[out["split"] != "test"]
    assert set(rest["split"]) == {"train", "val"}
    assert not leakage(rest[rest.split == "train"], rest[rest.split == "val"])
    assert 0.1 < (rest["split"] == "val").mean() < 0.3
    assert len(out) == len(table)
    assert (table["split"] == "test").sum() == 40  # the input is untouched


def test_without_a_test_split_patients_are_held_out():
    table = _table(300, 0)
    out = holdout_split(table, val_fraction=0.15, test_fraction=0.2, seed=0)
    parts = {s: out[out["split"] == s] for s in ("train", "val", "test")}
    assert all(len(p) for p in parts.values())
    assert not leakage(parts["train"], parts["test"])
    assert not leakage(parts["val"], parts["test"])


def test_patients_shared_with_the_official_test_split_are_reported():
    with pytest.warns(UserWarning, match="2 patient"):
        holdout_split(_table(60, 20, shared=2))
