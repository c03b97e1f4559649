"""Tests for cxrkeras.train.fit and cxrkeras.recipes: tiny models, planted signals."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from cxrkeras import recipes
from cxrkeras._train_checks import model_head
from cxrkeras.train import fit, make_loss


def planted(n=32, size=8, channels=1, seed=0):
    """Dark noise images; PNEUMONIA (label 1) images carry a bright 3x3 patch."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 0.3, (n, size, size, channels)).astype("float32")
    y = (np.arange(n) % 2).astype("float32")
    x[y == 1, 2:5, 3:6, :] = 1.0
    return x, y


def classifier(units=1, size=8, channels=1, activation="sigmoid", seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((size, size, channels), name="image")
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    h = keras.layers.GlobalMaxPooling2D(name="pool")(h)
    out = keras.layers.Dense(units, activation=activation, name="head")(h)
    return keras.Model(inp, out, name="tiny")


def dataset(x, y, batch=8):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)


# ---------------------------------------------------------------- recipes


def test_recipes_match_reports():
    d = recipes.get_recipe("report_d")
    assert (d.optimizer, d.learning_rate, d.momentum, d.weight_decay) == ("sgd", 0.001, 0.9, 0.01)
    assert (d.lr_step_epochs, d.lr_step_factor, d.loss) == (10, 0.1, "focal")
    assert (d.focal_alpha, d.focal_gamma) == (0.25, 2.0)
    a = recipes.get_recipe("report_a")
    assert (a.optimizer, a.learning_rate, a.lr_step_epochs, a.patience) == ("adam", 0.001, 10, 5)
    assert set(recipes.RECIPES) == {"report_a", "report_b", "report_c", "report_d"}
    with pytest.raises(dataclass_error()):
        d.epochs = 3  # frozen


def dataclass_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_unknown_recipe_and_setting_are_clear():
    with pytest.raises(ValueError, match=r"report_a.*report_d"):
        recipes.get_recipe("report_z")
    with pytest.raises(ValueError, match="learning_rat"):
        recipes.get_recipe("report_b", learning_rat=0.1)
    x, y = planted(8)
    with pytest.raises(ValueError, match="Valid recipes"):
        fit(classifier(), (x, y), recipe="nope", verbose=0)


def test_focal_loss_follows_the_head():
    r = recipes.get_recipe("report_d")
    binary = make_loss(r, model_head(classifier(1)))
    assert isinstance(binary, keras.losses.BinaryFocalCrossentropy)
    cfg = binary.get_config()
    assert cfg["apply_class_balancing"] and cfg["alpha"] == 0.25 and cfg["gamma"] == 2.0
    cat = make_loss(r, model_head(classifier(3, activation="softmax")))
    assert isinstance(cat, keras.losses.CategoricalFocalCrossentropy)
    logits = make_loss(recipes.get_recipe("report_b"), model_head(classifier(1, activation=None)))
    assert logits.get_config()["from_logits"] is True


# ---------------------------------------------------------------- training


def test_fit_learns_planted_patch_and_reports_metrics():
    x, y = planted(32)
    xv, yv = planted(16, seed=1)
    model = classifier()
    h = fit(model, dataset(x, y), dataset(xv, yv), epochs=15, learning_rate=0.05, verbose=0)
    assert {"loss", "accuracy", "auc", "val_loss", "val_accuracy", "val_auc"} <= set(h.history)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert h.history["val_auc"][-1] > 0.9
    assert h.model is model


def test_fit_accepts_builder_arrays_and_softmax_head():
    x, y = planted(16)
    onehot = keras.utils.to_categorical(y, 2)
    h = fit(
        lambda: classifier(2, activation="softmax"),
        (x, onehot),
        epochs=2,
        batch_size=8,
        class_weight={0: 1.0, 1: 3.0},
        verbose=0,
    )
    assert len(h.history["loss"]) == 2 and np.isfinite(h.history["loss"]).all()
    h = fit(
        classifier(3, activation="softmax"),
        (x, y.astype("int32")),
        epochs=1,
        verbose=0,
        loss="sparse_categorical_crossentropy",
    )
    assert "accuracy" in h.history


def test_step_lr_schedule_is_applied():
    x, y = planted(8)
    seen = []
    cb = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: seen.append(float(h_model[0].optimizer.learning_rate))
    )
    model = classifier()
    h_model = [model]
    fit(
        model,
        (x, y),
        recipe="report_d",
        epochs=4,
        lr_step_epochs=2,
        lr_step_factor=0.5,
        callbacks=[cb],
        verbose=0,
    )
    np.testing.assert_allclose(seen, [0.001, 0.001, 0.0005, 0.0005], rtol=1e-6)
    assert type(model.optimizer).__name__ == "SGD"


def test_early_stopping_restores_best_weights(tmp_path):
    x, y = planted(32)
    # Validation labels are flipped: the better the model learns, the worse val_loss gets.
    xv, yv = planted(16, seed=1)
    model = classifier()
    best = {}

    class Track(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs["val_loss"] < best.get("loss", np.inf):
                best.update(loss=logs["val_loss"], weights=self.model.get_weights())

    h = fit(
        model,
        dataset(x, y),
        dataset(xv, 1 - yv),
        epochs=30,
        learning_rate=0.05,
        patience=2,
        callbacks=[Track()],
        verbose=0,
    )
    assert len(h.history["loss"]) < 30
    for a, b in zip(model.get_weights(), best["weights"], strict=True):
        np.testing.assert_array_equal(a, b)


def test_out_dir_files(tmp_path):
    x, y = planted(16)
    fit(classifier(), dataset(x, y), dataset(x, y), epochs=2, out_dir=tmp_path, verbose=0)
    assert (tmp_path / "best.keras").is_file()
    assert not (tmp_path / "backup").exists()  # removed after a finished run
    rows = list(csv.DictReader(open(tmp_path / "history.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1"] and "val_auc" in rows[0]
    assert json.loads((tmp_path / "recipe.json").read_text())["name"] == "report_b"
    restored = keras.models.load_model(tmp_path / "best.keras")
    assert restored.predict(x, verbose=0).shape == (16, 1)


def test_resume_continues_at_epoch_three_with_epoch_two_weights(tmp_path):
    x, y = planted(16)
    saved = {}

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                saved["weights"] = [w.copy() for w in self.model.get_weights()]

        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt("simulated kill at the start of epoch 3")

    with pytest.raises(KeyboardInterrupt):
        fit(
            classifier(seed=0),
            dataset(x, y),
            epochs=4,
            out_dir=tmp_path,
            callbacks=[Kill()],
            verbose=0,
        )
    assert (tmp_path / "backup").is_dir()

    resumed = {}

    class Watch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if "epoch" not in resumed:
                resumed.update(epoch=epoch, weights=self.model.get_weights())

    fresh = classifier(seed=123)  # different initial weights, as after a restart
    h = fit(fresh, dataset(x, y), epochs=4, out_dir=tmp_path, callbacks=[Watch()], verbose=0)
    assert resumed["epoch"] == 2
    assert len(h.history["loss"]) == 2
    for a, b in zip(resumed["weights"], saved["weights"], strict=True):
        np.testing.assert_array_equal(a, b)
    rows = list(csv.DictReader(open(tmp_path / "history.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1", "2", "3"]


@pytest.mark.parametrize("log_lost_last_row", [False, True])
def test_resume_keeps_early_stopping_patience_and_best_weights(tmp_path, log_lost_last_row):
    # Validation labels are the training labels flipped: val_loss grows as the network
    # learns, so epoch 1 stays the best and patience 2 stops an uninterrupted run after
    # epoch 3, restoring epoch 1's weights. ``log_lost_last_row``: the kill came after
    # the backup of epoch 2 but before its row reached history.csv.
    x, y = planted(16)
    args = {"epochs": 10, "learning_rate": 0.05, "patience": 2, "verbose": 0}
    plain = fit(classifier(seed=0), dataset(x, y), dataset(x, 1 - y), **args)
    assert np.all(np.diff(plain.history["val_loss"]) > 0)
    assert len(plain.history["loss"]) == 3

    class Kill(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt("simulated kill at the start of epoch 3")

    with pytest.raises(KeyboardInterrupt):
        fit(classifier(seed=0), dataset(x, y), dataset(x, 1 - y), out_dir=tmp_path,
            callbacks=[Kill()], **args)  # fmt: skip
    if log_lost_last_row:
        lines = (tmp_path / "history.csv").read_text().splitlines(keepends=True)
        (tmp_path / "history.csv").write_text("".join(lines[:-1]))
    best = keras.saving.load_model(tmp_path / "best.keras").get_weights()
    fresh = classifier(seed=123)
    resumed = fit(fresh, dataset(x, y), dataset(x, 1 - y), out_dir=tmp_path, **args)
    # Only epoch 3 is left: patience counts the two epochs logged before the kill.
    assert len(resumed.history["loss"]) == 1
    rows = list(csv.DictReader(open(tmp_path / "history.csv")))
    assert [r["epoch"] for r in rows] == (["0", "2"] if log_lost_last_row else ["0", "1", "2"])
    for a, b in zip(fresh.get_weights(), best, strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- errors before training


@pytest.mark.parametrize(
    ("units", "activation", "labels", "match"),
    [
        (3, "softmax", "binary", r"3 softmax units.*one-hot"),
        (1, "sigmoid", "onehot", r"one sigmoid unit"),
        (1, "sigmoid", "three", r"\[0, 1\]"),
        (2, "softmax", "onehot3", r"3 columns.*2 units"),
    ],
)
def test_label_head_mismatch_is_reported_before_training(units, activation, labels, match):
    x, y = planted(8)
    y = {
        "binary": y,
        "onehot": keras.utils.to_categorical(y, 2),
        "three": np.arange(8) % 3,
        "onehot3": keras.utils.to_categorical(np.arange(8) % 3, 3),
    }[labels].astype("float32")
    model = classifier(units, activation=activation)
    with pytest.raises(ValueError, match=match):
        fit(model, dataset(x, y), verbose=0)
    assert getattr(model, "optimizer", None) is None  # nothing was compiled or trained


def test_image_shape_mismatch_is_reported():
    x, y = planted(8, channels=1)
    with pytest.raises(ValueError, match=r"channels is 1, expected 3"):
        fit(classifier(channels=3), dataset(x, y), verbose=0)
    x2, y2 = planted(8, size=10)
    with pytest.raises(ValueError, match=r"height is 10, expected 8"):
        fit(classifier(), dataset(x2, y2), verbose=0)
    with pytest.raises(ValueError, match=r"Batch the dataset"):
        fit(classifier(), tf.data.Dataset.from_tensor_slices((x, y)), verbose=0)
    with pytest.raises(ValueError, match=r"validation"):
        fit(classifier(), dataset(x, y), dataset(x2, y2), verbose=0)
    with pytest.raises(TypeError, match="keras.Model"):
        fit("not a model", dataset(x, y), verbose=0)


# ---------------------------------------------------------------- scale-out


def test_one_device_strategy_clones_and_copies_weights_back():
    x, y = planted(16)
    model = classifier()
    before = [w.copy() for w in model.get_weights()]
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    h = fit(model, dataset(x, y), epochs=2, strategy=strategy, learning_rate=0.05, verbose=0)
    assert h.model is not model
    for a, b in zip(model.get_weights(), h.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(model.get_weights(), before, strict=True))


def test_mixed_precision_on_cpu_warns_and_keeps_policy():
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is visible")
    x, y = planted(8)
    before = keras.mixed_precision.dtype_policy().name
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(lambda: classifier(), dataset(x, y), epochs=1, mixed_precision=True, verbose=0)
    assert any("no GPU" in str(w.message) for w in caught)
    assert keras.mixed_precision.dtype_policy().name == before


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    import keras
    from cxrkeras.train import fit

    def build():
        keras.utils.set_random_seed(0)
        inp = keras.Input((8, 8, 1), name="image")
        h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
        h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
        return keras.Model(inp, keras.layers.Dense(1, activation="sigmoid", name="head")(h))

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 0.3, (32, 8, 8, 1)).astype("float32")
    y = (np.arange(32) % 2).astype("float32")
    x[y == 1, 2:5, 3:6] = 1.0
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    single = fit(build, ds, epochs=3, learning_rate=0.05, verbose=0)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    mirrored = fit(build, ds, epochs=3, learning_rate=0.05, strategy=strategy, verbose=0)
    mirrored_vars = isinstance(mirrored.model.weights[0].value, tf.distribute.DistributedValues)
    print("RESULT", json.dumps({"replicas": strategy.num_replicas_in_sync, "mirrored_vars": mirrored_vars,
        "single": single.history["loss"], "mirrored": mirrored.history["loss"]}))
    """
)


def test_mirrored_strategy_on_two_cpus_matches_single_device():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    result = json.loads(line[len("RESULT ") :])
    assert result["replicas"] == 2 and result["mirrored_vars"]
    assert result["single"][-1] < result["single"][0]
    np.testing.assert_allclose(result["mirrored"], result["single"], rtol=1e-4, atol=1e-5)


def test_fit_on_a_file_pipeline_does_not_report_running_out_of_data(tmp_path):
    import warnings

    import cv2
    import pandas as pd

    from cxrkeras.data import make_dataset

    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        path = tmp_path / f"{i}.png"
        cv2.imwrite(str(path), rng.integers(0, 255, (16, 16), dtype=np.uint8))
        rows.append({"path": str(path), "label": "PNEUMONIA" if i % 2 else "NORMAL"})
    ds = make_dataset(pd.DataFrame(rows), image_size=16, batch_size=4)
    inputs = keras.Input((16, 16, 1))
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(inputs))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = fit(keras.Model(inputs, outputs), ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert not [w for w in caught if "ran out of data" in str(w.message)]
