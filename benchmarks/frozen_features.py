"""How accurate are frozen ImageNet features + logistic regression on held-out patients?

The Kermany train and val folders are pooled and split by patient
(``holdout_split(val_fraction=0.15, test_fraction=0.2, seed=SEED)``). Each backbone
embeds every image once at ``--image-size`` (global-average-pooled features of
``transfer_classifier(..., head_units=())``'s ``"embedding"`` layer); a standardised
logistic regression is fitted on the train patients, with ``C`` chosen by validation ROC
AUC, once plain and once with ``class_weight="balanced"``. The decision threshold is
chosen on the validation patients (Youden) and the held-out test patients are scored
with 95% bootstrap intervals (by image). ``pixels`` (logistic regression on the image
downsampled to 32x32) is the baseline measured in the same run.

Held-out patients of the training folder are easier than the official test folder,
whose NORMAL images come from a different population: expect these figures, above all
specificity, to overstate official-test performance.

Features are cached in ``--cache`` (one ``.npz`` per backbone / size / CLAHE setting,
keyed by file path), so reruns and other seeds only refit the regression.

    python benchmarks/frozen_features.py                                  # MobileNet 0.25 + pixels
    python benchmarks/frozen_features.py --clahe                          # the same with CLAHE
    python benchmarks/frozen_features.py --backbones mobilenet_0.25 mobilenetv2 --seeds 0 1 2
    python benchmarks/frozen_features.py --limit 100                      # 100 patients, quick
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import cxrkeras  # noqa: E402
from cxrkeras.preprocessing import Preprocessing  # noqa: E402

WEIGHTS = {
    "mobilenet_0.25": ("mobilenet", 0.25, "mobilenet_2_5_224_tf_no_top.h5"),
    "mobilenetv2": ("mobilenetv2", 1.0, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"),
}  # fmt: skip
BASELINE = "pixels"
C_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
FIGURES = ("accuracy", "recall", "specificity", "roc_auc", "f1")


def _cache_path(folder: str, name: str, size: int, clahe: bool) -> str:
    return os.path.join(folder, f"cxr_features_{name}_{size}px_clahe{int(clahe)}.npz")


def _extract(name: str, table: pd.DataFrame, args) -> np.ndarray:
    """Features ``(N, D)`` of ``table``'s images, in table order."""
    prep = Preprocessing(clahe=args.clahe)
    if name == BASELINE:
        ds = cxrkeras.make_dataset(table, image_size=32, batch_size=64, preprocessing=prep)
        return np.concatenate([x.numpy().reshape(len(x), -1) for x, _ in ds])
    family, alpha, filename = WEIGHTS[name]
    size = args.image_size
    model = cxrkeras.transfer_classifier(
        family,
        weights=os.path.join(args.weights, filename),
        alpha=alpha,
        input_shape=(size, size, 1),
        num_classes=1,
    )
    ds = cxrkeras.make_dataset(table, image_size=size, batch_size=64, preprocessing=prep)
    if len(ds.file_paths) != len(table):
        raise ValueError(
            f"{len(table) - len(ds.file_paths)} unreadable image(s): {ds.skipped_files}"
        )
    features, _ = cxrkeras.embeddings(model, ds, layer_name="embedding", verbose=True)
    return features


def features_for(name: str, table: pd.DataFrame, args) -> tuple[np.ndarray, float]:
    """Features of every row of ``table`` (cached by path) and the seconds spent extracting."""
    size = 32 if name == BASELINE else args.image_size
    path = _cache_path(args.cache, name, size, args.clahe)
    cached: dict[str, np.ndarray] = {}
    if os.path.exists(path):
        with np.load(path) as f:
            cached = dict(zip(f["paths"].tolist(), f["features"], strict=True))
    missing = table[~table["path"].isin(cached)]
    seconds = 0.0
    if len(missing):
        print(
            f"extracting {name} features of {len(missing)} images ({size} px, clahe={args.clahe})"
        )
        start = time.perf_counter()
        new = _extract(name, missing, args)
        seconds = time.perf_counter() - start
        cached.update(zip(missing["path"].tolist(), new, strict=True))
        os.makedirs(args.cache, exist_ok=True)
        np.savez(path, paths=np.array(list(cached)), features=np.stack(list(cached.values())))
    return np.stack([cached[p] for p in table["path"]]), seconds


def fit_logistic(x_train, y_train, x_val, y_val, *, balanced: bool):
    """Standardised logistic regression with ``C`` chosen by validation ROC AUC."""
    best = None
    for c in C_GRID:
        model = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=c, max_iter=2000, class_weight="balanced" if balanced else None),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings at the largest C
            model.fit(x_train, y_train)
        auc = roc_auc_score(y_val, model.predict_proba(x_val)[:, 1])
        if best is None or auc > best[0] + 1e-6:
            best = (auc, c, model)
    return best


def run_one(name: str, x: np.ndarray, split: pd.DataFrame, y: np.ndarray, args) -> dict:
    parts = {s: (split["split"] == s).to_numpy() for s in ("train", "val", "test")}
    rows = []
    for balanced in (False, True):
        start = time.perf_counter()
        val_auc, c, model = fit_logistic(
            x[parts["train"]], y[parts["train"]], x[parts["val"]], y[parts["val"]],
            balanced=balanced,
        )  # fmt: skip
        fit_s = time.perf_counter() - start
        p_val = model.predict_proba(x[parts["val"]])[:, 1]
        threshold = cxrkeras.choose_threshold(y[parts["val"]], p_val, method="youden")
        p_test = model.predict_proba(x[parts["test"]])[:, 1]
        result = cxrkeras.evaluate_scores(
            y[parts["test"]], p_test, threshold=threshold, bootstrap=args.bootstrap, seed=0
        )
        rows.append(
            {
                "backbone": name,
                "weights": "balanced" if balanced else "plain",
                "C": c,
                "val_auc": val_auc,
                "threshold": threshold,
                "fit_s": fit_s,
                **{k: result.metrics[k] for k in FIGURES},
                **{f"{k}_ci": result.ci[k] for k in FIGURES},
            }
        )
    return rows


def _cell(value, ci) -> str:
    return f"{value:.3f} [{ci[0]:.3f},{ci[1]:.3f}]"


def print_table(rows: list[dict], extract_s: dict, dims: dict) -> None:
    head = f"{'backbone':<15}{'LR':<9}{'dim':>5}{'C':>7}{'valAUC':>7}{'thr':>6}"
    head += "".join(f"  {k[:11]:<22}" for k in FIGURES) + f"{'extract s':>10}{'fit s':>7}"
    print(head)
    for r in rows:
        line = f"{r['backbone']:<15}{r['weights']:<9}{dims[r['backbone']]:>5}{r['C']:>7.0e}"
        line += f"{r['val_auc']:>7.3f}{r['threshold']:>6.2f}"
        line += "".join(f"  {_cell(r[k], r[k + '_ci']):<22}" for k in FIGURES)
        line += f"{extract_s[r['backbone']]:>10.1f}{r['fit_s']:>7.1f}"
        print(line)


def print_spread(rows: list[dict]) -> None:
    frame = pd.DataFrame(rows)
    print("\nspread over split seeds (mean ± sd, min-max)")
    for (name, weights), group in frame.groupby(["backbone", "weights"], sort=False):
        cells = [
            f"{k[:11]} {group[k].mean():.3f}±{group[k].std(ddof=1):.3f} "
            f"({group[k].min():.3f}-{group[k].max():.3f})"
            for k in FIGURES
        ]
        print(f"{name:<15}{weights:<9}" + "  ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data/chest_xray")
    parser.add_argument("--weights", default="../shared/weights")
    parser.add_argument("--backbones", nargs="+", default=["mobilenet_0.25"], choices=list(WEIGHTS))
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--limit", type=int, default=None, help="keep N random patients")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="split seeds")
    parser.add_argument("--clahe", action="store_true", help="Preprocessing(clahe=True)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--cache", default="/tmp/cxrkeras_accuracy_cache")
    parser.add_argument("--no-baseline", action="store_true", help="skip the pixels baseline")
    args = parser.parse_args()

    table = cxrkeras.scan(args.data, verbose=False)
    if args.limit:
        patients = table["patient_id"].drop_duplicates().sample(frac=1.0, random_state=0)
        table = table[table["patient_id"].isin(patients[: args.limit])]
    table = table.reset_index(drop=True)
    y = (table["label"] == "PNEUMONIA").to_numpy().astype(int)
    names = ([] if args.no_baseline else [BASELINE]) + list(args.backbones)
    digest = hashlib.sha1("".join(table["path"]).encode()).hexdigest()[:8]
    print(
        f"{len(table)} images, {table['patient_id'].nunique()} patients "
        f"({int(y.sum())} PNEUMONIA / {int(len(y) - y.sum())} NORMAL; set {digest}); "
        f"size {args.image_size}, clahe={args.clahe}, bootstrap {args.bootstrap}"
    )
    features, extract_s, dims = {}, {}, {}
    for name in names:
        features[name], extract_s[name] = features_for(name, table, args)
        dims[name] = features[name].shape[1]

    all_rows = []
    for seed in args.seeds:
        split = cxrkeras.holdout_split(table, val_fraction=0.15, test_fraction=0.2, seed=seed)
        # holdout_split keeps row order when there is no official test split; re-align anyway
        split = split.set_index("path").loc[table["path"]].reset_index()
        counts = split.groupby(["split", "label"]).size().unstack().to_dict("index")
        print(f"\nsplit seed {seed}: " + "; ".join(
            f"{s} {c.get('NORMAL', 0)}N/{c.get('PNEUMONIA', 0)}P" for s, c in counts.items()
        ))  # fmt: skip
        rows = [r for name in names for r in run_one(name, features[name], split, y, args)]
        print_table(rows, extract_s, dims)
        all_rows += [{**r, "seed": seed} for r in rows]
    if len(args.seeds) > 1:
        print_spread(all_rows)
    print("\nextract s: 0 means the features came from the cache; CIs bootstrap images.")


if __name__ == "__main__":
    main()
