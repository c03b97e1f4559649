"""Input-pipeline throughput: decode-only vs make_dataset vs ImageDataGenerator, and fit.

Run: ``python benchmarks/pipeline.py [--data DIR] [--limit N]``. All figures come from one
run on the same images (the real train split when present, else synthetic phantoms in a
temporary folder), so compare the printed ratios rather than absolute images/second.

Report B's augmentation (its text: "randomized, rotated, flipped, and shifted images";
values typical of its ImageDataGenerator code): rotation_range=20, width_shift_range=0.1,
height_shift_range=0.1, zoom_range=0.2, shear_range=0.2 (degrees, as ImageDataGenerator
reads it), horizontal_flip=True, at 150x150 grayscale, batch 32.

Goals: make_dataset >= 3x legacy and >= 40% of decode-only; fit from files through
make_dataset >= 0.9x fit from in-memory tensors.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from cxrkeras.augment import augment_batch  # noqa: E402
from cxrkeras.data import load_table, make_dataset  # noqa: E402
from cxrkeras.legacy import image_data_generator  # noqa: E402

REPORT_B_AUGMENT = {
    "rotation_range": 20,
    "width_shift_range": 0.1,
    "height_shift_range": 0.1,
    "zoom_range": 0.2,
    "shear_range": 0.2,
    "horizontal_flip": True,
}
SIZE = 150
BATCH = 32
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "chest_xray" / "train"


def images_table(data: Path | None, limit: int, seed: int = 0):
    """A table of at most ``limit`` images (stratified by label) from ``data`` or phantoms."""
    if data is None or not data.is_dir():
        from cxrkeras.phantoms import make_phantoms

        data = Path(tempfile.mkdtemp(prefix="cxrkeras_bench_"))
        make_phantoms(data, num_images=limit, image_size=224)
        print(f"real data not found: wrote {limit} phantoms to {data}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = load_table(data)
    if len(table) > limit:
        table = table.groupby("label", group_keys=False).sample(
            frac=limit / len(table), random_state=seed
        )
    return table.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def decode_only(paths) -> tf.data.Dataset:
    """Plain tf.data: read, decode, resize, batch, prefetch (no augmentation)."""

    def load(path):
        img = tf.io.decode_jpeg(tf.io.read_file(path), channels=1)
        return tf.image.resize(tf.cast(img, tf.float32) / 255.0, (SIZE, SIZE))

    ds = tf.data.Dataset.from_tensor_slices(paths).map(load, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(BATCH).prefetch(tf.data.AUTOTUNE)


def decode_and_warp(paths, implementation: str) -> tf.data.Dataset:
    """decode-only plus the fused batch warp with the given implementation."""
    return decode_only(paths).map(
        lambda x: augment_batch(x, REPORT_B_AUGMENT, implementation=implementation),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def images_per_second(batches, n_batches: int, warmup: int = 2) -> float:
    """Images/second over ``n_batches`` batches after ``warmup`` untimed ones."""
    iterator = iter(batches)
    for _ in range(warmup):
        next(iterator)
    count, start = 0, time.perf_counter()
    for _ in range(n_batches):
        batch = next(iterator)
        images = batch[0] if isinstance(batch, tuple) else batch
        count += int(images.shape[0])
    return count / (time.perf_counter() - start)


def best_of(timers: dict, repeats: int) -> dict:
    """Run each timer ``repeats`` times, interleaved, and keep its best figure.

    Interleaving and keeping the best make the ratios robust to load from other
    processes on a shared machine.
    """
    best = dict.fromkeys(timers, 0.0)
    for _ in range(repeats):
        for name, timer in timers.items():
            best[name] = max(best[name], timer())
    return best


def report_b_binary_cnn() -> keras.Model:
    """Report B's binary CNN (Figure 2), 150x150x1 input, sigmoid output."""
    inputs = keras.Input((SIZE, SIZE, 1), name="image")
    x = layers.Conv2D(16, 3, activation="relu", name="conv1")(inputs)
    x = layers.Conv2D(16, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(32, 3, activation="relu", name="conv3")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv4")(x)
    x = layers.MaxPooling2D(2, name="pool3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="dense")(x)
    x = layers.Dropout(0.5, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="pneumonia")(x)
    model = keras.Model(inputs, outputs, name="report_b_binary_cnn")
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def fit_timer(args: tuple, kwargs: dict, n_images: int):
    """A timer of one training epoch (images/second) of report B's CNN, after a warm-up."""
    keras.utils.set_random_seed(0)
    model = report_b_binary_cnn()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unknown-cardinality note from Keras
        model.fit(*args, epochs=1, verbose=0, **kwargs)  # build and trace

    def timer() -> float:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model.fit(*args, epochs=1, verbose=0, **kwargs)
        return n_images / (time.perf_counter() - start)

    return timer


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Kermany split folder")
    parser.add_argument("--limit", type=int, default=1024, help="number of images to use")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is kept")
    parser.add_argument("--skip-fit", action="store_true", help="only time the input pipelines")
    args = parser.parse_args(argv)

    table = images_table(args.data, args.limit)
    n = len(table)
    n_batches = max(1, n // BATCH - 2)
    paths = table["path"].tolist()
    print(f"{n} images, {SIZE}x{SIZE} grayscale, batch {BATCH}, {n_batches} timed batches, "
          f"best of {args.repeats}")  # fmt: skip
    print(f"augmentation (report B): {REPORT_B_AUGMENT}")

    fused = make_dataset(table, image_size=SIZE, batch_size=BATCH, shuffle=True, seed=0,
                         augment=REPORT_B_AUGMENT)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        old = image_data_generator(table, image_size=SIZE, batch_size=BATCH, seed=0,
                                   augment=REPORT_B_AUGMENT)  # fmt: skip
    ips = best_of(
        {
            "decode": lambda: images_per_second(decode_only(paths), n_batches),
            "fused": lambda: images_per_second(fused, n_batches),
            "legacy": lambda: images_per_second(old, n_batches),
            "v3": lambda: images_per_second(decode_and_warp(paths, "tensorflow"), n_batches),
            "cv": lambda: images_per_second(decode_and_warp(paths, "opencv"), n_batches),
        },
        args.repeats,
    )
    print(f"\n{'pipeline':<54}{'images/s':>10}")
    print(f"{'decode-only (tf.data decode + resize)':<54}{ips['decode']:>10.0f}")
    print(f"{'make_dataset + report B augmentation':<54}{ips['fused']:>10.0f}")
    print(f"{'legacy ImageDataGenerator, same augmentation':<54}{ips['legacy']:>10.0f}")
    print(f"{'decode-only + fused warp, ImageProjectiveTransformV3':<54}{ips['v3']:>10.0f}")
    print(f"{'decode-only + fused warp, OpenCV warpAffine':<54}{ips['cv']:>10.0f}")
    print(f"make_dataset / legacy      = {ips['fused'] / ips['legacy']:5.2f}x  (goal >= 3)")
    print(f"make_dataset / decode-only = {ips['fused'] / ips['decode']:5.2f}   (goal >= 0.40)")

    if args.skip_fit:
        return
    x = np.concatenate([b[0].numpy() for b in make_dataset(table, image_size=SIZE)])
    y = (table["label"] == "PNEUMONIA").to_numpy(np.float32)
    in_memory = (
        tf.data.Dataset.from_tensor_slices((tf.constant(x), tf.constant(y)))
        .shuffle(n, seed=0)
        .batch(BATCH)
        .prefetch(tf.data.AUTOTUNE)
    )
    cached = make_dataset(table, image_size=SIZE, batch_size=BATCH, shuffle=True, seed=0,
                          augment=REPORT_B_AUGMENT, cache=True)  # fmt: skip
    fit = best_of(
        {
            "arrays": fit_timer((x, y), {"batch_size": BATCH, "shuffle": True}, n),
            "memory": fit_timer((in_memory,), {"shuffle": False}, n),
            "files": fit_timer((fused,), {"shuffle": False}, n),
            "cached": fit_timer((cached,), {"shuffle": False}, n),
        },
        args.repeats,
    )
    print(f"\n{'fit report B binary CNN (one epoch)':<54}{'images/s':>10}")
    print(f"{'NumPy arrays, fit(x, y) (no augmentation)':<54}{fit['arrays']:>10.0f}")
    print(f"{'in-memory tensors, tf.data (no augmentation)':<54}{fit['memory']:>10.0f}")
    print(f"{'make_dataset from files + augmentation':<54}{fit['files']:>10.0f}")
    print(f"{'make_dataset(cache=True) + augmentation':<54}{fit['cached']:>10.0f}")
    print(f"files / in-memory tensors  = {fit['files'] / fit['memory']:5.2f}   (goal >= 0.9)")
    print(f"cached / in-memory tensors = {fit['cached'] / fit['memory']:5.2f}   (goal >= 0.9)")
    print(f"files / NumPy arrays       = {fit['files'] / fit['arrays']:5.2f}")


if __name__ == "__main__":
    main()
