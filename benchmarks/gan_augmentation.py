"""Does ACGAN augmentation help a small three-class CNN? (report E)

Trains an ACGAN on the training images, synthesises images of the minority classes
(``rebalance_counts`` -> ``synthesize``) and mixes them into the training pipeline
(``mix_synthetic``). The same small CNN (``cxrkeras.models.convnet``, same seed) is
trained with and without the synthetic images and evaluated on the same held-out
patients: three-class accuracy, per-class recall, normal-vs-pneumonia accuracy and
bacteria-vs-virus accuracy (among pneumonia images), and the difference.

Report E found that GAN images helped normal vs pneumonia slightly and did not help
bacterial vs viral pneumonia (three-class accuracy plateaued near 70%).

Default data: phantoms from ``cxrkeras.phantoms`` with Kermany's class balance (27%
normal, 48% bacteria, 25% virus); train and test come from different seeds, hence
different "patients". With ``--data ROOT`` (a Kermany tree) the images are split by
patient with ``cxrkeras.splits.patient_split``.

    python benchmarks/gan_augmentation.py                       # quick, CPU, minutes
    python benchmarks/gan_augmentation.py --data ../shared/data/chest_xray \
        --image-size 64 --gan-epochs 30 --cnn-epochs 10 --max-images 3000
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from cxrkeras._common import THREE_CLASSES  # noqa: E402
from cxrkeras.gan import acgan  # noqa: E402
from cxrkeras.models import convnet  # noqa: E402
from cxrkeras.synthetic import mix_synthetic, rebalance_counts, synthesize  # noqa: E402


def phantom_data(args):
    from cxrkeras.phantoms import KERMANY_BALANCE, phantom_arrays

    kw = dict(image_size=args.image_size, classes=KERMANY_BALANCE)
    x_train, y_train, _ = phantom_arrays(args.num_images, seed=args.seed, **kw)
    x_test, y_test, _ = phantom_arrays(args.num_test, seed=args.seed + 1000, **kw)
    return x_train, y_train, x_test, y_test


def folder_data(args):
    from cxrkeras.datasets import scan
    from cxrkeras.splits import patient_split

    table = scan(args.data, verbose=False)
    table = table[table.subtype.isin(THREE_CLASSES)]
    if args.max_images and len(table) > args.max_images:
        table = table.sample(args.max_images, random_state=args.seed)
    table = patient_split(
        table, val_fraction=0.0, test_fraction=0.2, seed=args.seed, stratify="subtype"
    )

    def load(part):
        images = [
            cv2.resize(cv2.imread(p, cv2.IMREAD_GRAYSCALE), (args.image_size,) * 2)
            for p in tqdm(part.path, desc="load", leave=False)
        ]
        labels = part.subtype.map({c: i for i, c in enumerate(THREE_CLASSES)}).to_numpy()
        return np.stack(images)[..., None].astype("float32") / 255.0, labels.astype(int)

    return (*load(table[table.split == "train"]), *load(table[table.split == "test"]))


def train_cnn(train_ds, x_test, args, seed):
    keras.utils.set_random_seed(seed)
    model = convnet((args.image_size, args.image_size, 1), num_classes=3, filters=(8, 16, 32))
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    model.fit(train_ds, epochs=args.cnn_epochs, verbose=0, shuffle=False)
    return model.predict(x_test, verbose=0).argmax(axis=1)


def figures(y, pred) -> dict[str, float]:
    out = {"accuracy": float(np.mean(pred == y))}
    for i, name in enumerate(THREE_CLASSES):
        out[f"recall_{name}"] = float(np.mean(pred[y == i] == i)) if np.any(y == i) else np.nan
    out["normal_vs_pneumonia_acc"] = float(np.mean((pred > 0) == (y > 0)))
    sick = (y > 0) & (pred > 0)
    out["bacteria_vs_virus_acc"] = float(np.mean(pred[sick] == y[sick])) if sick.any() else np.nan
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", help="Kermany root; phantoms when absent")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--num-images", type=int, default=600, help="phantom training images")
    p.add_argument("--num-test", type=int, default=300, help="phantom test images")
    p.add_argument("--max-images", type=int, default=2000, help="cap on real images")
    p.add_argument("--gan-epochs", type=int, default=15)
    p.add_argument("--cnn-epochs", type=int, default=8)
    p.add_argument("--ratio", type=float, default=None, help="synthetic fraction")
    p.add_argument("--repeats", type=int, default=3, help="CNN seeds per arm")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    x_train, y_train, x_test, y_test = (folder_data if args.data else phantom_data)(args)
    print(
        f"data: {'phantoms' if not args.data else args.data}, {args.image_size}px, "
        f"train {np.bincount(y_train, minlength=3).tolist()}, "
        f"test {np.bincount(y_test, minlength=3).tolist()} (normal/bacteria/virus)"
    )

    keras.utils.set_random_seed(args.seed)
    gan = acgan(image_size=args.image_size, latent_dim=64, filters=16, num_blocks=3, seed=args.seed)
    gan.compile()
    history = gan.fit(x_train, y_train, batch_size=32, epochs=args.gan_epochs, verbose=0)
    last = {k: round(v[-1], 3) for k, v in history.history.items()}
    print(f"ACGAN after {args.gan_epochs} epochs: {last}")

    counts = rebalance_counts(y_train, num_classes=3)
    x_syn, y_syn = synthesize(gan, counts, seed=args.seed)
    n_syn = len(y_syn)
    ratio = args.ratio if args.ratio is not None else n_syn / (n_syn + len(y_train))
    print(f"synthesised {counts} -> {n_syn} images; mixed at ratio {ratio:.3f}")

    real = tf.data.Dataset.from_tensor_slices((x_train, y_train))
    real = real.shuffle(len(y_train), seed=args.seed)
    mixed = mix_synthetic(real, x_syn, y_syn, ratio=ratio, seed=args.seed)
    rows = {"real only": [], "real+GAN": []}
    for r in range(args.repeats):  # same CNN seed for both arms in each repeat
        seed = args.seed + r
        rows["real only"].append(figures(y_test, train_cnn(real.batch(32), x_test, args, seed)))
        rows["real+GAN"].append(figures(y_test, train_cnn(mixed.batch(32), x_test, args, seed)))
    base = {k: np.array([f[k] for f in rows["real only"]]) for k in rows["real only"][0]}
    aug = {k: np.array([f[k] for f in rows["real+GAN"]]) for k in base}
    print(f"\nmean over {args.repeats} CNN seeds (difference: mean +- std over seeds)")
    print(f"{'figure':26s} {'real only':>10s} {'real+GAN':>10s} {'difference':>16s}")
    for key in base:
        diff = aug[key] - base[key]
        print(
            f"{key:26s} {base[key].mean():10.3f} {aug[key].mean():10.3f} "
            f"{diff.mean():+9.3f} +- {diff.std():.3f}"
        )
    print(f"\n(held-out n={len(y_test)}; one GAN, so differences of a few points are noise)")
    print(
        "Report E: GAN images helped normal vs pneumonia slightly and did not help "
        "bacterial vs viral pneumonia."
    )
    print(f"total time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
