"""Train the presets best_binary and best_three_class and score them on held-out patients.

For each seed the Kermany train and val folders are pooled and 20% of the patients are
held out (``holdout_split(test_fraction=0.2, seed=SEED)``, stratified by label, or by
subtype for three classes). The preset trains on the rest exactly as
``cxrkeras train --model PRESET`` does (its own patient-grouped validation split, its
time budget, threshold chosen on validation patients) and ``evaluate_run`` scores the
held-out patients with the run's saved threshold, with 95% bootstrap intervals.

Printed per run: the headline figures with intervals, training time, epochs per member,
and each member alone (ROC AUC for binary, accuracy for three classes): the baseline the
ensemble is compared with in the same run. For binary runs the held-out figures at the
other threshold rules (Youden, EER, 0.5, all chosen without the held-out labels) are
printed too. Then mean and standard deviation over seeds.

Held-out patients of the training folder are easier than the official test folder (see
the README): read these figures as an upper bound for official-test performance.

    python benchmarks/accuracy.py                                  # both presets, seed 0
    python benchmarks/accuracy.py --seeds 0 1 2 --json accuracy.json
    python benchmarks/accuracy.py --presets best_binary --time-budget 3 --limit 300
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

import cxrkeras  # noqa: E402
from cxrkeras.data import make_dataset  # noqa: E402
from cxrkeras.ensemble import preset_split, train_preset  # noqa: E402
from cxrkeras.evaluate import collect_predictions  # noqa: E402
from cxrkeras.presets import PRESETS  # noqa: E402
from cxrkeras.thresholds import choose_threshold  # noqa: E402
from cxrkeras.workflow import evaluate_run  # noqa: E402

BINARY = ("accuracy", "sensitivity", "specificity", "roc_auc", "f1")
THREE = ("accuracy", "macro_f1")


def _cell(summary: dict, key: str) -> str:
    value, ci = summary.get(key), summary.get(f"{key}_ci95")
    if value is None:
        return "n/a"
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{value:.3f}"


def _limit(table: pd.DataFrame, patients: int | None, seed: int) -> pd.DataFrame:
    if not patients:
        return table
    ids = table["patient_id"].drop_duplicates().sample(frac=1.0, random_state=seed)
    return table[table["patient_id"].isin(set(ids[:patients]))].reset_index(drop=True)


def _run_validation(table: pd.DataFrame, config) -> pd.DataFrame:
    """The run's validation patients, as split ``test`` (the split ``_scores`` reads)."""
    three = config.label_mode == "three_class"
    pool = preset_split(table, seed=config.training["seed"], three_class=three)
    return pool.assign(split=pool["split"].replace({"val": "test", "train": "unused"}))


def _scores(model, table: pd.DataFrame, label_mode: str, size: int, preprocessing=None):
    """Labels and scores on the table's test rows, preprocessed as the run was."""
    ds = make_dataset(table, split="test", image_size=size, label_mode=label_mode, batch_size=64,
                      preprocessing=preprocessing or None)  # fmt: skip
    return collect_predictions(model, ds)


def _threshold_rules(run: Path, table: pd.DataFrame, size: int) -> dict:
    """Held-out accuracy / sensitivity / specificity at other validation-chosen rules."""
    model, config = cxrkeras.load_run(run)
    val = _run_validation(table, config)
    y_val, s_val = _scores(model, val, "binary", size, config.preprocessing)
    y_test, s_test = _scores(model, table, "binary", size, config.preprocessing)
    out = {}
    for rule in ("youden", "eer", "fixed"):
        thr = float(choose_threshold(y_val, s_val, method=rule))
        pred = s_test.ravel() >= thr
        y = y_test.ravel().astype(bool)
        out[rule] = {
            "threshold": thr,
            "accuracy": float((pred == y).mean()),
            "sensitivity": float(pred[y].mean()),
            "specificity": float((~pred)[~y].mean()),
        }
    return out


def _members(run: Path, table: pd.DataFrame, label_mode: str, size: int) -> list[float]:
    """Each member alone: ROC AUC (binary) or accuracy (three classes) on held-out."""
    figures = []
    preprocessing = json.loads((run / "run.json").read_text()).get("preprocessing")
    for path in sorted((run / "members").glob("*/model.keras")):
        member = keras.saving.load_model(path)
        y, s = _scores(member, table, label_mode, size, preprocessing)
        if label_mode == "binary":
            figures.append(float(roc_auc_score(y.ravel(), s.ravel())))
        else:
            figures.append(float((np.argmax(y, 1) == np.argmax(s, 1)).mean()))
        del member
    return figures


def run_one(name: str, table: pd.DataFrame, seed: int, args, work: Path) -> dict:
    preset = PRESETS[name]
    three = preset.classes == "three_class"
    split = cxrkeras.holdout_split(
        table, val_fraction=0.15, test_fraction=0.2, seed=seed,
        stratify="subtype" if three else "label",
    )  # fmt: skip
    overrides = {"epochs": args.epochs} if args.epochs else {}
    budget = None if args.time_budget is None else args.time_budget * 60
    run = work / f"{name}_seed{seed}"
    start = time.perf_counter()
    train_preset(
        split, name, out_dir=run, seed=seed, time_budget=budget, weights=args.weights,
        verbose=args.verbose, **overrides,
    )  # fmt: skip
    wall = time.perf_counter() - start
    _, summary = evaluate_run(run, split, split="test", bootstrap=args.bootstrap)
    config = json.loads((run / "run.json").read_text())
    size = config["image_size"][0]
    label_mode = "three_class" if three else "binary"
    row = {
        "preset": name,
        "seed": seed,
        "summary": summary,
        "train_seconds": config["training"]["seconds"],
        "wall_seconds": round(wall, 1),
        "epochs_run": config["training"]["epochs_run"],
        "stopped_by_time_budget": config["training"]["stopped_by_time_budget"],
        "held_out_images": int(summary["n"]),
        "members": _members(run, split, label_mode, size),
    }
    if not three:
        row["threshold_rules"] = _threshold_rules(run, split, size)
    if not args.keep_runs:
        shutil.rmtree(run, ignore_errors=True)
    return row


def print_row(row: dict) -> None:
    s = row["summary"]
    keys = THREE if row["preset"] == "best_three_class" else BINARY
    figures = "  ".join(f"{k} {_cell(s, k)}" for k in keys)
    print(f"\n{row['preset']} seed {row['seed']} ({row['held_out_images']} held-out images)")
    print(f"  {figures}")
    if "per_class_recall" in s:
        print("  recall " + ", ".join(f"{k} {v:.3f}" for k, v in s["per_class_recall"].items()))
    member_kind = "accuracy" if row["preset"] == "best_three_class" else "ROC AUC"
    ensemble = s["accuracy"] if member_kind == "accuracy" else s["roc_auc"]
    members = ", ".join(f"{m:.3f}" for m in row["members"])
    print(f"  members alone ({member_kind}): {members}; ensemble {ensemble:.3f}")
    for rule, r in row.get("threshold_rules", {}).items():
        print(
            f"  rule {rule:6s} threshold {r['threshold']:.3f}: accuracy {r['accuracy']:.3f} "
            f"sensitivity {r['sensitivity']:.3f} specificity {r['specificity']:.3f}"
        )
    print(
        f"  training {row['train_seconds'] / 60:.1f} min (budget stop: "
        f"{row['stopped_by_time_budget']}), epochs per member {row['epochs_run']}"
    )


def print_spread(rows: list[dict]) -> None:
    print("\nmean +- sd over seeds")
    for name in dict.fromkeys(r["preset"] for r in rows):
        group = [r for r in rows if r["preset"] == name]
        keys = THREE if name == "best_three_class" else BINARY
        cells = []
        for k in keys:
            values = np.array([r["summary"][k] for r in group], dtype=float)
            cells.append(
                f"{k} {values.mean():.3f} +- {values.std(ddof=1) if len(values) > 1 else 0:.3f}"
            )
        minutes = np.mean([r["train_seconds"] for r in group]) / 60
        print(
            f"  {name} ({len(group)} seeds): " + "  ".join(cells) + f"  training {minutes:.1f} min"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data/chest_xray")
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--time-budget", type=float, help="minutes (default: the preset's)")
    parser.add_argument("--epochs", type=int, help="override the preset's epochs")
    parser.add_argument("--weights", default="auto", help="auto, imagenet or a local file")
    parser.add_argument("--limit", type=int, help="keep N random patients (quick runs)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--json", help="also write every row to this JSON file")
    parser.add_argument("--keep-runs", help="keep the run folders under this folder")
    parser.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity")
    args = parser.parse_args()
    tf.get_logger().setLevel("ERROR")  # retracing notes: one graph per member

    table = cxrkeras.scan(args.data)
    table = table[table["split"] != "test"].reset_index(drop=True)
    work = Path(args.keep_runs or tempfile.mkdtemp(prefix="cxrkeras_accuracy_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"{len(table)} images of {table['patient_id'].nunique()} patients; runs in {work}")
    rows = []
    for seed in args.seeds:
        for name in args.presets:
            rows.append(run_one(name, _limit(table, args.limit, seed), seed, args, work))
            print_row(rows[-1])
            if args.json:
                Path(args.json).write_text(json.dumps(rows, indent=2))
    print_spread(rows)
    if not args.keep_runs:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
