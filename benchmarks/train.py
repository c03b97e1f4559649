"""What does ``cxrkeras.train.fit`` cost on top of a plain ``model.fit``, and what does a
resumed run save?

Figures, each beside a baseline measured in the same run:

* seconds per epoch of ``fit`` (checks, recipe, no ``out_dir``) against ``compile`` +
  ``model.fit`` with the same optimiser and loss;
* the same with ``out_dir`` (BackupAndRestore, ModelCheckpoint, CSVLogger) against the
  plain run, i.e. the price of being able to resume;
* the VAE's seconds per epoch against the conv autoencoder's on the same images.

    python benchmarks/train.py                 # 64 px, 256 images, 3 epochs
    python benchmarks/train.py --size 128 --epochs 5
"""

from __future__ import annotations

import argparse
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from cxrkeras.autoencoders import VAE, conv_autoencoder
from cxrkeras.train import fit


def classifier(size: int) -> keras.Model:
    keras.utils.set_random_seed(0)
    inp = keras.Input((size, size, 1), name="image")
    x = keras.layers.Conv2D(16, 3, activation="relu", name="conv1")(inp)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(32, 3, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inp, keras.layers.Dense(1, activation="sigmoid", name="head")(x))


def per_epoch(run, epochs: int) -> float:
    """Seconds per epoch after the first (the first one traces the graph)."""
    times: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    run(Clock())
    return float(np.median(times[1:])) if len(times) > 1 else times[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((args.images, args.size, args.size, 1), dtype=np.float32)
    y = (rng.random(args.images) > 0.5).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).cache()
    e = max(args.epochs, 2)

    def plain(clock):
        m = classifier(args.size)
        m.compile(
            optimizer=keras.optimizers.Adam(),
            loss="binary_crossentropy",
            metrics=["accuracy", "auc"],
        )
        m.fit(ds, epochs=e, callbacks=[clock], verbose=0, shuffle=False)

    def ours(clock):
        fit(classifier(args.size), ds, epochs=e, callbacks=[clock], verbose=0)

    def ours_out(clock):
        with tempfile.TemporaryDirectory() as d:
            fit(classifier(args.size), ds, epochs=e, out_dir=d, callbacks=[clock], verbose=0)

    base = per_epoch(plain, e)
    print(f"plain compile + model.fit : {base:.3f} s/epoch (baseline)")
    t = per_epoch(ours, e)
    print(f"cxrkeras fit              : {t:.3f} s/epoch  ratio {t / base:.2f}")
    t = per_epoch(ours_out, e)
    print(f"cxrkeras fit + out_dir    : {t:.3f} s/epoch  ratio {t / base:.2f}")

    images = tf.data.Dataset.from_tensor_slices(x).batch(32).cache()
    ae = per_epoch(
        lambda c: fit(conv_autoencoder((args.size,) * 2 + (1,)), images, epochs=e,
                      callbacks=[c], verbose=0), e,
    )  # fmt: skip
    vae = per_epoch(
        lambda c: fit(VAE((args.size, args.size, 1), latent_dim=16, encoder="small"), images,
                      epochs=e, callbacks=[c], verbose=0), e,
    )  # fmt: skip
    print(f"conv_autoencoder          : {ae:.3f} s/epoch (baseline)")
    print(f"VAE (small encoder)       : {vae:.3f} s/epoch  ratio {vae / ae:.2f}")


if __name__ == "__main__":
    main()
