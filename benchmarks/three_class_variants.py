"""Variants of best_three_class, one network each, on the same held-out patients.

Each variant trains ONE network (``members=1``) through ``train_preset`` with some preset
fields replaced, on split seed ``--seed`` (20% of the patients of the pooled train+val
folders held out, stratified by subtype, as in ``accuracy.py``), and prints held-out
accuracy, per-class recall and the bacteria-vs-virus ROC AUC (log p(virus) - log
p(bacteria) on the pneumonia images), plus, on the same network:

- ``x prior``: probabilities multiplied by the validation patients' class shares (undoes
  the balanced class weights for the decision);
- ``virus bias``: a log-odds offset for virus chosen on validation patients;
- ``tta``: the mean of the plain and the horizontally flipped / 0.9 centre-cropped image.

``specialist`` (after ``base``) trains a bacteria-vs-virus network on the pneumonia
images only (best_binary's settings, 10 epochs, one network) and splits the base
network's pneumonia probability between bacteria and virus by the specialist's.

With two or more network variants, the run ends with the figures of every average of
two or more of their held-out probabilities (an ensemble of different recipes).

The baseline is the ``base`` variant (the preset's own settings) in the same run.

    python benchmarks/three_class_variants.py base e20 mild
    python benchmarks/three_class_variants.py smooth focal clahe
    python benchmarks/three_class_variants.py base v2 v2_bn --json variants.json
    python benchmarks/three_class_variants.py base specialist
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from accuracy import _limit, _run_validation  # noqa: E402  (benchmarks/accuracy.py)
from sklearn.metrics import roc_auc_score  # noqa: E402

import cxrkeras  # noqa: E402
from cxrkeras.data import make_dataset  # noqa: E402
from cxrkeras.ensemble import train_preset  # noqa: E402
from cxrkeras.evaluate import collect_predictions  # noqa: E402
from cxrkeras.presets import PRESETS  # noqa: E402

MILD = {"rotation_range": 10, "width_shift_range": 0.1, "height_shift_range": 0.1,
        "zoom_range": 0.1}  # fmt: skip
VARIANTS: dict[str, dict] = {
    "base": {},
    "e20": {"epochs": 20},
    "mild": {"augment": MILD},
    "unweighted": {"class_weight": None},
    "smooth": {"label_smoothing": 0.1},
    "focal": {"focal_gamma": 2.0},
    "clahe": {"clahe": True},
    "v2": {"backbone": "mobilenetv2", "alpha": 1.0, "learning_rate": 3e-4, "epochs": 6},
    "v2_bn": {"backbone": "mobilenetv2", "alpha": 1.0, "learning_rate": 3e-4, "epochs": 6,
              "bn_momentum": 0.9},
}  # fmt: skip
TTA = {
    "flip": tf.image.flip_left_right,
    "crop": lambda x: tf.image.resize(tf.image.central_crop(x, 0.9), tf.shape(x)[1:3]),
}


def _predict(model, dataset, transform=None) -> tuple[np.ndarray, np.ndarray]:
    """Class ids and probabilities; ``transform`` alters the images first (TTA)."""
    if transform is not None:
        dataset = dataset.map(lambda x, y: (transform(x), y))
    y, s = collect_predictions(model, dataset)
    return y.argmax(1), s


def _figures(y: np.ndarray, s: np.ndarray, bias: np.ndarray | float = 0.0) -> dict:
    pred = (np.log(s + 1e-9) + bias).argmax(1)
    pneumonia = y > 0
    margin = np.log(s[pneumonia, 2] + 1e-9) - np.log(s[pneumonia, 1] + 1e-9)
    return {
        "accuracy": float(np.mean(pred == y)),
        "recall": [float(np.mean(pred[y == c] == c)) for c in range(3)],
        "bacteria_virus_auc": float(roc_auc_score(y[pneumonia] == 2, margin)),
    }


def run_variant(
    name: str, split, seed: int, work: Path, epochs: int | None = None
) -> tuple[dict, np.ndarray, np.ndarray]:
    """The variant's row, its held-out probabilities and the held-out class ids."""
    spec = PRESETS["best_three_class"].replace(members=1, **VARIANTS[name])
    spec = spec.replace(epochs=epochs) if epochs else spec
    run = work / name
    start = time.perf_counter()
    train_preset(split, spec, out_dir=run, seed=seed, time_budget=3600, verbose=2)
    minutes = (time.perf_counter() - start) / 60
    model, config = cxrkeras.load_run(run)
    size = spec.image_size
    val = _run_validation(split, config)
    common = {"split": "test", "image_size": size, "label_mode": "three_class", "batch_size": 64,
              "preprocessing": config.preprocessing}  # fmt: skip
    y_val, s_val = _predict(model, make_dataset(val, **common))
    test_ds = make_dataset(split, **common)
    y, s = _predict(model, test_ds)
    prior = np.bincount(y_val, minlength=3) / len(y_val)
    grid = [(np.mean((np.log(s_val + 1e-9) + [0, 0, b]).argmax(1) == y_val), b)
            for b in np.linspace(-2, 2, 41)]  # fmt: skip
    bias = max(grid)[1]
    row = {
        "variant": name,
        "settings": VARIANTS[name],
        "minutes": round(minutes, 1),
        "epochs_run": config.training["epochs_run"],
        "plain": _figures(y, s),
        "x prior": _figures(y, s, np.log(prior)),
        f"virus bias {bias:+.1f}": _figures(y, s, np.array([0.0, 0.0, bias])),
    }
    for tag, transform in TTA.items():
        _, s_t = _predict(model, test_ds, transform)
        row[f"tta {tag}"] = _figures(y, (s + s_t) / 2)
    return row, s, y


def run_specialist(split, seed: int, work: Path, base: np.ndarray, epochs: int | None) -> dict:
    """Bacteria vs virus on pneumonia images; p(normal) from the base network."""
    pneumonia = split[split["label"] == "PNEUMONIA"].copy()
    pneumonia["label"] = np.where(pneumonia["subtype"] == "virus", "PNEUMONIA", "NORMAL")
    spec = PRESETS["best_binary"].replace(name="bacteria_vs_virus", members=1,
                                          epochs=epochs or 10)  # fmt: skip
    run = work / "specialist"
    start = time.perf_counter()
    train_preset(pneumonia, spec, out_dir=run, seed=seed, time_budget=3600, verbose=2)
    minutes = (time.perf_counter() - start) / 60
    model, _ = cxrkeras.load_run(run)
    test_ds = make_dataset(split, split="test", image_size=spec.image_size,
                           label_mode="three_class", batch_size=64)  # fmt: skip
    y, virus = _predict(model, test_ds)
    virus = virus.ravel()
    sick = 1.0 - base[:, 0]
    combined = np.stack([base[:, 0], sick * (1.0 - virus), sick * virus], axis=1)
    return {"variant": "specialist", "settings": {"epochs": spec.epochs}, "minutes": round(
        minutes, 1), "epochs_run": [spec.epochs], "plain": _figures(y, combined)}  # fmt: skip


def print_row(row: dict) -> None:
    if row["settings"] == "average":
        print(f"\n{row['variant']}: the average of their held-out probabilities")
    else:
        print(f"\n{row['variant']} {row['settings']}: {row['minutes']} min, "
              f"epochs {row['epochs_run']}")  # fmt: skip
    for key, f in row.items():
        if isinstance(f, dict) and "accuracy" in f:
            recall = " / ".join(f"{r:.3f}" for r in f["recall"])
            print(f"  {key:16s} accuracy {f['accuracy']:.3f}  recall normal / bacteria / "
                  f"virus {recall}  bacteria-vs-virus AUC {f['bacteria_virus_auc']:.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("variants", nargs="*", default=["base"],
                        choices=[*VARIANTS, "specialist"])  # fmt: skip
    parser.add_argument("--data", default="../shared/data/chest_xray")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write every row to this JSON file")
    parser.add_argument("--limit", type=int, help="keep N random patients (quick check)")
    parser.add_argument("--epochs", type=int, help="override every variant's epochs")
    args = parser.parse_args()
    tf.get_logger().setLevel("ERROR")
    table = cxrkeras.scan(args.data)
    table = table[table["split"] != "test"].reset_index(drop=True)
    table = _limit(table, args.limit, args.seed)
    split = cxrkeras.holdout_split(table, val_fraction=0.15, test_fraction=0.2, seed=args.seed,
                                   stratify="subtype")  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="cxrkeras_variants_"))
    names = args.variants
    if "specialist" in names and (
        "base" not in names or names.index("base") > names.index("specialist")
    ):
        parser.error("specialist needs base before it (it splits base's pneumonia probability).")
    rows, scores, y_test = [], {}, None
    try:
        for name in args.variants:
            if name == "specialist":
                rows.append(run_specialist(split, args.seed, work, scores["base"], args.epochs))
            else:
                row, scores[name], y_test = run_variant(name, split, args.seed, work,
                                                        args.epochs)  # fmt: skip
                rows.append(row)
            print_row(rows[-1])
            if args.json:
                Path(args.json).write_text(json.dumps(rows, indent=2))
        for size in range(2, len(scores) + 1):
            for names_ in itertools.combinations(scores, size):
                mean = np.mean([scores[n] for n in names_], axis=0)
                row = {"variant": " + ".join(names_), "settings": "average", "minutes": 0.0,
                       "epochs_run": [], "plain": _figures(y_test, mean)}  # fmt: skip
                rows.append(row)
                print_row(row)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
