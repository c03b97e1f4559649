"""Size and speed of every cxrkeras classifier at its report's input size, on this CPU.

For each builder: parameter counts (beside the report's figure where the report gives
one), training and inference throughput in images/s (random [0, 1] images, small
batches, after one warm-up step), and peak memory. Each model runs in a fresh process
(spawn), and "peak MB" is that process's ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
after the run minus its value just before the model was built (TensorFlow already
imported), so it counts weights, optimizer slots, activations and traced graphs.
Throughputs are also given as ratios to report B's ``binary_cnn``, measured in the same
run. "ratio" is trainable parameters over the report's figure (PyTorch counts leave
out batch-norm statistics, as Keras' trainable count does). Transfer backbones use
``weights=None`` (sizes and speeds do not depend on them).

Usage::

    python benchmarks/models.py            # every builder, 3 timed steps
    python benchmarks/models.py --quick    # the small ones, 2 timed steps
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import time

_REPORT_A = {"weights": None, "freeze_backbone": False}  # report A fine-tuned every layer
# (registry name, input shape, builder kwargs, report's parameter count, its source)
SPECS = [
    ("binary_cnn", (150, 150, 1), {}, None, "B (not given)"),
    ("categorical_cnn", (150, 150, 1), {}, None, "B (not given)"),
    ("cnn_94", (100, 100, 1), {}, None, "C (not given)"),
    ("cnn_v2", (100, 100, 1), {}, None, "C (not given)"),
    ("efficientnet_transfer", (224, 224, 1), {"weights": None}, None, "C (not given)"),
    ("convnet", (256, 256, 1), {}, 19_578_946, "A table"),
    ("vgg16", (224, 224, 1), {"weights": None, "num_classes": 2}, 134_268_738, "A table"),
    ("resnet50", (224, 224, 1), {**_REPORT_A, "num_classes": 2}, 23_512_130, "A table"),
    ("densenet121", (224, 224, 1), {**_REPORT_A, "num_classes": 2}, 4_022_920, "A table"),
    ("resnet18", (224, 224, 1), {"num_classes": 2}, 11_177_538, "torchvision, 2 cls"),
    ("alexnet", (224, 224, 1), {"num_classes": 2}, 57_012_034, "torchvision, 2 cls"),
    ("mobilenetv2", (224, 224, 1), {"weights": None}, None, "-"),
    ("mobilenet", (224, 224, 1), {"weights": None, "alpha": 0.25}, None, "-"),
]
QUICK = ("binary_cnn", "categorical_cnn", "cnn_94", "cnn_v2", "convnet", "mobilenet", "resnet18")


def measure(name: str, input_shape, kwargs: dict, batch_size: int, steps: int) -> dict:
    """Build, train and run one model in this process; return its figures."""
    import resource

    import keras
    import numpy as np

    from cxrkeras.registry import get_model

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model = get_model(name, input_shape=input_shape, **kwargs)
    num_classes = model.output_shape[-1]
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    rng = np.random.default_rng(0)
    x = rng.random((batch_size, *input_shape), dtype=np.float32)
    if num_classes == 1:
        y, loss = rng.integers(0, 2, (batch_size, 1)).astype("float32"), "binary_crossentropy"
    else:
        y, loss = rng.integers(0, num_classes, batch_size), "sparse_categorical_crossentropy"
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=loss)
    model.train_on_batch(x, y)  # warm-up: tracing and optimizer slots
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    train_s = time.perf_counter() - start
    model.predict_on_batch(x)
    start = time.perf_counter()
    for _ in range(steps):
        model.predict_on_batch(x)
    infer_s = time.perf_counter() - start
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "params": model.count_params(),
        "trainable": trainable,
        "train_ips": batch_size * steps / train_s,
        "infer_ips": batch_size * steps / infer_s,
        "peak_mb": (rss_after - rss_before) / 1024.0,  # ru_maxrss is in KiB on Linux
    }


def _warm_import() -> None:
    import keras  # noqa: F401  (import TensorFlow before the RSS baseline)


def run(specs, batch_size: int, steps: int) -> list[tuple]:
    context = multiprocessing.get_context("spawn")
    rows = []
    for name, shape, kwargs, figure, source in specs:
        with concurrent.futures.ProcessPoolExecutor(
            1, mp_context=context, initializer=_warm_import
        ) as pool:
            stats = pool.submit(measure, name, shape, kwargs, batch_size, steps).result()
        rows.append((name, shape, figure, source, stats))
        print(f"  measured {name}", flush=True)
    return rows


def report(rows, batch_size: int, steps: int) -> None:
    base = next((r[4] for r in rows if r[0] == "binary_cnn"), None)
    print(
        f"\nbatch {batch_size}, {steps} timed steps, {os.cpu_count()} CPUs; "
        "x base = ratio to binary_cnn in this run\n"
    )
    header = (
        f"{'model':<22}{'input':>13}{'params':>13}{'trainable':>13}{'report':>13}"
        f"{'ratio':>7}  {'source':<19}{'train/s':>8}{'x base':>7}{'infer/s':>9}{'x base':>7}"
        f"{'peak MB':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, shape, figure, source, s in rows:
        ratio = f"{s['trainable'] / figure:.3f}" if figure else "-"
        fig = f"{figure:,}" if figure else "-"
        tb = f"{s['train_ips'] / base['train_ips']:.3f}" if base else "-"
        ib = f"{s['infer_ips'] / base['infer_ips']:.3f}" if base else "-"
        size = "x".join(str(v) for v in shape)
        print(
            f"{name:<22}{size:>13}{s['params']:>13,}{s['trainable']:>13,}{fig:>13}{ratio:>7}  "
            f"{source:<19}{s['train_ips']:>8.1f}{tb:>7}{s['infer_ips']:>9.1f}{ib:>7}"
            f"{s['peak_mb']:>9.0f}"
        )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small models, fewer steps")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=None, help="timed steps per model")
    parser.add_argument("--models", nargs="*", help="registry names to run (default: all)")
    args = parser.parse_args(argv)
    steps = args.steps or (2 if args.quick else 3)
    specs = [s for s in SPECS if not args.quick or s[0] in QUICK]
    if args.models:
        specs = [s for s in SPECS if s[0] in args.models]
    report(run(specs, args.batch_size, steps), args.batch_size, steps)


if __name__ == "__main__":
    main()
