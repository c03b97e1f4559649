"""How fast are the bootstrap intervals, and do they match a plain resampling loop?

Figures, each beside a baseline measured in the same run:

* ``evaluate_scores`` with 1000 bootstrap resamples (binary, 600 images; three classes,
  600 images) against a Python loop that calls scikit-learn on each resample with the
  same resample indices (the obvious implementation): seconds and speed-up;
* the largest difference between the two sets of interval bounds (should be ~0);
* the coverage of the 95% accuracy interval over repeated synthetic test sets drawn from
  a known population (should be near 0.95);
* embeddings + kNN (report B's recipe) on planted clusters: accuracy against chance.

    python benchmarks/evaluate.py [--n 600] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn import metrics as skm

from cxrkeras.embed import evaluate_knn, knn_classifier
from cxrkeras.evaluate import evaluate_scores


def _timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def _binary(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, 1 / (1 + np.exp(-(rng.normal(size=n) + (2 * y - 1))))


def _loop_binary(y, s, resamples, seed):
    idx = np.random.default_rng(seed).integers(0, len(y), size=(resamples, len(y)))
    pred = (s >= 0.5).astype(int)
    out = {"accuracy": [], "recall": [], "specificity": [], "f1": [], "roc_auc": [], "pr_auc": []}
    for row in idx:
        yt, yp, ys = y[row], pred[row], s[row]
        out["accuracy"].append(skm.accuracy_score(yt, yp))
        out["recall"].append(skm.recall_score(yt, yp))
        out["specificity"].append(skm.recall_score(yt, yp, pos_label=0))
        out["f1"].append(skm.f1_score(yt, yp))
        out["roc_auc"].append(skm.roc_auc_score(yt, ys))
        out["pr_auc"].append(skm.average_precision_score(yt, ys))
    return {k: np.percentile(v, [2.5, 97.5]) for k, v in out.items()}


def _loop_three(y, p, resamples, seed):
    idx = np.random.default_rng(seed).integers(0, len(y), size=(resamples, len(y)))
    pred = p.argmax(axis=1)
    f1, auc = [], []
    for row in idx:
        f1.append(skm.f1_score(y[row], pred[row], average="macro"))
        auc.append(skm.roc_auc_score(y[row], p[row], multi_class="ovr"))
    return {"macro_f1": np.percentile(f1, [2.5, 97.5]), "roc_auc": np.percentile(auc, [2.5, 97.5])}


def bench_bootstrap(n: int, resamples: int) -> None:
    y, s = _binary(n, 0)
    result, fast = _timed(evaluate_scores, y, s, bootstrap=resamples, seed=1)
    loop, slow = _timed(_loop_binary, y, s, resamples, 1)
    gap = max(np.max(np.abs(np.subtract(result.ci[k], v))) for k, v in loop.items())
    print(f"binary, {n} images, {resamples} resamples (all 9 figures):")
    print(f"  evaluate_scores            {fast:7.3f} s")
    print(f"  sklearn loop (6 figures)   {slow:7.3f} s   speed-up x{slow / fast:.0f}")
    print(f"  largest bound difference   {gap:.2e}")

    rng = np.random.default_rng(2)
    y3 = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) + 1.5 * np.eye(3)[y3]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    result, fast = _timed(evaluate_scores, y3, p, bootstrap=resamples, seed=1)
    loop, slow = _timed(_loop_three, y3, p, resamples, 1)
    gap = max(np.max(np.abs(np.subtract(result.ci[k], v))) for k, v in loop.items())
    print(f"three classes, {n} images, {resamples} resamples:")
    print(f"  evaluate_scores            {fast:7.3f} s")
    print(f"  sklearn loop (2 figures)   {slow:7.3f} s   speed-up x{slow / fast:.0f}")
    print(f"  largest bound difference   {gap:.2e}")


def bench_coverage(n: int, trials: int = 200) -> None:
    # population: P(PNEUMONIA) = 0.6, scores N(+-1, 1); true accuracy at 0.5 computed
    # from a very large sample
    y_big, s_big = _binary(400_000, 99)
    truth = np.mean((s_big >= 0.5) == y_big)
    hits = 0
    for t in range(trials):
        y, s = _binary(n, 1000 + t)
        lo, hi = evaluate_scores(y, s, bootstrap=500, seed=t).ci["accuracy"]
        hits += lo <= truth <= hi
    print(f"coverage of the 95% accuracy interval, {trials} test sets of {n}: "
          f"{hits / trials:.3f} (nominal 0.95)")  # fmt: skip


def bench_knn() -> None:
    rng = np.random.default_rng(5)

    def clusters(n):
        y = rng.integers(0, 2, n)
        return rng.normal(size=(n, 64)) + 0.12 * (2 * y - 1)[:, None], y

    (xt, yt), (xe, ye) = clusters(1000), clusters(600)
    result = evaluate_knn(knn_classifier(xt, yt, k=5), xe, ye)
    lo, hi = result.ci["accuracy"]
    print(f"kNN (k=5) on planted 64-D clusters: accuracy {result.accuracy:.3f} "
          f"[{lo:.3f}, {hi:.3f}] vs chance {max(np.mean(ye), 1 - np.mean(ye)):.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    bench_bootstrap(args.n, args.resamples)
    bench_coverage(args.n)
    bench_knn()


if __name__ == "__main__":
    main()
