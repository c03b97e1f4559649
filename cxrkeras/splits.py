"""Patient-grouped, stratified splits of a :func:`cxrkeras.datasets.scan` table.

Kermany's data holds several images per patient (``person123_bacteria_4.jpeg``,
``person123_bacteria_5.jpeg``). A split made per image puts images of one patient in
both train and test, and test accuracy then rewards recognising patients.
:func:`patient_split` keeps every patient in one split; :func:`leakage` and
:func:`random_split_leakage` measure the problem.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

SPLITS: tuple[str, ...] = ("train", "val", "test")


def _check_table(table, columns: tuple[str, ...]) -> None:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"Expected a pandas DataFrame from cxrkeras.scan(); got {type(table)}.")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(
            f"Table lacks column(s) {missing}; it has {list(table.columns)}. Build it with "
            f"cxrkeras.scan(root)."
        )


def patient_split(
    table: pd.DataFrame,
    *,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    stratify: str = "label",
) -> pd.DataFrame:
    """A copy of ``table`` whose ``split`` is train / val / test, grouped by patient.

    Patients are grouped by ``patient_id`` and given the most common value of the
    ``stratify`` column among their images. Within each such stratum the patients are
    shuffled (seeded) and dealt one by one to the split that is furthest below its
    target number of images, so split sizes and class ratios follow the fractions
    closely and no patient appears in two splits. The original split is ignored.

    Args:
        table: a :func:`cxrkeras.datasets.scan` table (needs ``patient_id`` and the
            ``stratify`` column).
        val_fraction: share of images for validation (0 for none).
        test_fraction: share of images for test (0 for none).
        seed: random seed; the same seed gives the same split.
        stratify: ``"label"`` (NORMAL / PNEUMONIA) or ``"subtype"``
            (normal / bacteria / virus).

    Returns:
        A new DataFrame (same rows and order; ``table`` is untouched).

    Raises:
        ValueError: for fractions outside [0, 1) or summing to 1 or more, an unknown
            ``stratify``, or missing columns.

    Example:
        >>> table = pd.DataFrame({
        ...     "path": [f"{i}.jpeg" for i in range(40)], "split": "train",
        ...     "label": ["NORMAL"] * 20 + ["PNEUMONIA"] * 20,
        ...     "patient_id": [f"p{i // 2}" for i in range(40)]})
        >>> out = patient_split(table, val_fraction=0.2, test_fraction=0.2)
        >>> out.groupby("split").size().to_dict()
        {'test': 8, 'train': 24, 'val': 8}
        >>> leakage(out[out.split == "train"], out[out.split == "test"])
        set()
    """
    if stratify not in ("label", "subtype"):
        raise ValueError(f"stratify={stratify!r}; expected 'label' or 'subtype'.")
    _check_table(table, ("patient_id", stratify))
    fractions = {"val": val_fraction, "test": test_fraction}
    for name, value in fractions.items():
        if not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ValueError(f"{name}_fraction={value!r}; expected a number in [0, 1).")
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction + test_fraction = {val_fraction + test_fraction} leaves no training "
            f"images; keep their sum below 1."
        )
    fractions = {"train": 1 - val_fraction - test_fraction, **fractions}
    if table["patient_id"].isna().any() or table[stratify].isna().any():
        raise ValueError(
            f"Table has missing patient_id or {stratify} values; every image needs both "
            f"(cxrkeras.scan fills patient_id from the file name)."
        )
    # Each patient's stratum is their most common value (ties: the first in sort order).
    counts = table.groupby(["patient_id", stratify]).size().rename("n").reset_index()
    counts = counts.sort_values(["patient_id", "n", stratify], ascending=[True, False, True])
    patients = counts.drop_duplicates("patient_id").set_index("patient_id")
    patients = patients.rename(columns={stratify: "stratum"})
    patients["images"] = table.groupby("patient_id").size()
    rng = np.random.default_rng(seed)
    assignment = {}
    for _, group in patients.groupby("stratum", sort=True):
        order = rng.permutation(len(group))
        total = group["images"].sum()
        filled = dict.fromkeys(SPLITS, 0)
        for patient, images in zip(
            group.index[order], group["images"].to_numpy()[order], strict=True
        ):
            # Deal to the split furthest below its target (ties go to train, val, test).
            split = max(SPLITS, key=lambda s: fractions[s] * total - filled[s])
            assignment[patient] = split
            filled[split] += images
    out = table.copy()
    out["split"] = table["patient_id"].map(assignment).to_numpy()
    return out


def holdout_split(
    table: pd.DataFrame,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.2,
    seed: int = 0,
    stratify: str = "label",
) -> pd.DataFrame:
    """Train / val / test for an experiment: the official test split if there is one.

    When ``table`` has rows in a ``test`` split (the official Kermany test folder), they
    stay the test set and every other row (official ``train`` and the 16-image ``val``)
    is re-split by patient into train and val. Without a ``test`` split, ``test_fraction``
    of the images are held out by patient as well. Patients of the official test set
    that also appear among the other images are counted in a warning.

    Args:
        table: A :func:`cxrkeras.scan` table.
        val_fraction: Share of the non-test images for validation.
        test_fraction: Share held out for test when there is no ``test`` split.
        seed: Random seed.
        stratify: ``"label"`` or ``"subtype"``, as in :func:`patient_split`.

    Returns:
        A new table (official test rows last) with ``split`` in train / val / test.

    Example:
        >>> t = pd.DataFrame({"patient_id": [f"p{i // 2}" for i in range(40)],
        ...                   "label": ["NORMAL", "PNEUMONIA"] * 20, "split": "train"})
        >>> out = holdout_split(t, val_fraction=0.2, test_fraction=0.2)
        >>> sorted(out["split"].unique()), len(leakage(out[out.split == "train"],
        ...                                                out[out.split == "test"]))
        (['test', 'train', 'val'], 0)
    """
    _check_table(table, ("patient_id", "split", stratify))
    official = table["split"] == "test"
    if not official.any():
        return patient_split(
            table, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
            stratify=stratify,
        )  # fmt: skip
    rest = patient_split(
        table[~official], val_fraction=val_fraction, test_fraction=0.0, seed=seed,
        stratify=stratify,
    )  # fmt: skip
    shared = leakage(rest, table[official])
    if shared:
        warnings.warn(
            f"{len(shared)} patient(s) of the official test split also have images in "
            f"train/val (e.g. {sorted(shared)[:3]}).",
            stacklevel=2,
        )
    return pd.concat([rest, table[official]], ignore_index=True)


def leakage(table_a: pd.DataFrame, table_b: pd.DataFrame) -> set[str]:
    """Patient ids that have images in both tables (empty for a clean split).

    Example:
        >>> a = pd.DataFrame({"patient_id": ["person1", "person2"]})
        >>> b = pd.DataFrame({"patient_id": ["person2", "IM-0003"]})
        >>> leakage(a, b)
        {'person2'}
    """
    _check_table(table_a, ("patient_id",))
    _check_table(table_b, ("patient_id",))
    return set(table_a["patient_id"]) & set(table_b["patient_id"])


def random_split_leakage(
    table: pd.DataFrame, *, test_fraction: float = 0.2, seed: int = 0
) -> dict[str, float]:
    """How much a per-image random split leaks patients from train into test.

    Args:
        table: a table with a ``patient_id`` column.
        test_fraction: share of images drawn at random for test.
        seed: random seed.

    Returns:
        ``{"test_images", "test_patients", "leaked_patients", "leaked_images",
        "leaked_image_fraction"}``: leaked patients have images on both sides, and
        leaked images are test images whose patient is also in train.

    Example:
        >>> table = pd.DataFrame({"patient_id": [f"p{i // 4}" for i in range(400)]})
        >>> stats = random_split_leakage(table, test_fraction=0.25)
        >>> stats["leaked_image_fraction"] > 0.5
        True
    """
    _check_table(table, ("patient_id",))
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction={test_fraction!r}; expected a number in (0, 1).")
    rng = np.random.default_rng(seed)
    is_test = np.zeros(len(table), bool)
    is_test[rng.permutation(len(table))[: round(test_fraction * len(table))]] = True
    ids = table["patient_id"].to_numpy()
    leaked = set(ids[is_test]) & set(ids[~is_test])
    leaked_images = int(np.isin(ids[is_test], list(leaked)).sum())
    return {
        "test_images": int(is_test.sum()),
        "test_patients": len(set(ids[is_test])),
        "leaked_patients": len(leaked),
        "leaked_images": leaked_images,
        "leaked_image_fraction": leaked_images / max(1, int(is_test.sum())),
    }
