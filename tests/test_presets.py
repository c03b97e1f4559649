"""Presets (best_binary, best_three_class): settings, weights lookup, budgeted training."""

from __future__ import annotations

import json
import shutil
import time

import keras
import numpy as np
import pytest

from cxrkeras.cli import main
from cxrkeras.data import make_dataset
from cxrkeras.ensemble import CosineBudget, average_models, train_preset
from cxrkeras.phantoms import make_phantoms
from cxrkeras.presets import PRESETS, find_weights, get_preset, weight_file_name
from cxrkeras.runs import load_run
from cxrkeras.workflow import evaluate_run, train_run

TINY = {"image_size": 32, "epochs": 1, "batch_size": 16}


@pytest.fixture(scope="module")
def phantom_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("preset_phantoms")
    make_phantoms(root, num_images=64, image_size=32, seed=3, split="train")
    make_phantoms(root, num_images=24, image_size=32, seed=4, split="test")
    return root


@pytest.fixture(scope="module")
def three_class_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("preset_phantoms3")
    make_phantoms(root, num_images=72, image_size=32, classes="three_class", seed=5)
    make_phantoms(root, num_images=24, image_size=32, classes="three_class", seed=6, split="test")
    return root


def test_presets_are_complete_and_overridable():
    assert set(PRESETS) == {"best_binary", "best_three_class"}
    for preset in PRESETS.values():
        assert preset.time_budget == 1800.0 and preset.description
        assert preset.members >= 1 and preset.epochs >= 1
    assert get_preset("best_binary", members=1).members == 1
    with pytest.raises(ValueError, match="Valid presets"):
        get_preset("best")
    with pytest.raises(ValueError, match="Unknown preset setting"):
        get_preset("best_binary", epoch=3)


def test_gpu_overrides_apply_only_with_a_gpu(monkeypatch):
    import tensorflow as tf

    from cxrkeras.presets import for_device

    preset = get_preset("best_binary")
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert for_device(preset) == preset
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["GPU:0"])
    scaled = for_device(preset)
    assert scaled.epochs == preset.gpu["epochs"] > preset.epochs
    assert scaled.members == preset.gpu["members"] > preset.members


def test_weight_file_names_match_keras():
    assert weight_file_name("mobilenet", 0.25) == "mobilenet_2_5_224_tf_no_top.h5"
    with pytest.raises(ValueError, match="alpha"):
        weight_file_name("mobilenet", 0.3)
    with pytest.raises(ValueError, match="weights="):
        weight_file_name("resnet50")


def test_find_weights_search_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv("CXRKERAS_WEIGHTS_DIR", raising=False)
    assert find_weights("mobilenet", 0.25) == "imagenet"
    name = weight_file_name("mobilenet", 0.25)
    cache = tmp_path / "keras_home" / "models"
    cache.mkdir(parents=True)
    (cache / name).write_bytes(b"cache")
    assert find_weights("mobilenet", 0.25) == str((cache / name).resolve())
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / name).write_bytes(b"mine")
    monkeypatch.setenv("CXRKERAS_WEIGHTS_DIR", str(mine))
    assert find_weights("mobilenet", 0.25) == str((mine / name).resolve())


def _tiny_model(seed=0):
    keras.utils.set_random_seed(seed)
    x = keras.Input((4,), name="x")
    return keras.Model(x, keras.layers.Dense(1, activation="sigmoid", name="d")(x), name=f"m{seed}")


def test_cosine_budget_follows_the_schedule_and_stops_at_plan():
    model = _tiny_model()
    model.compile("adam", "binary_crossentropy")
    rates = []
    log = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: rates.append(float(model.optimizer.learning_rate))
    )
    cb = CosineBudget(0.01, epochs=3)
    x = np.random.default_rng(0).random((8, 4), dtype=np.float32)
    model.fit(x, x[:, :1] > 0.5, epochs=10, callbacks=[cb, log], verbose=0)
    assert len(rates) == 3, "training stops once the planned epochs are done"
    np.testing.assert_allclose(rates, [cb.rate(e) for e in range(3)], rtol=1e-6)
    assert rates[0] == pytest.approx(0.01) and rates[0] > rates[1] > rates[2]
    assert not cb.stopped_early


def test_cosine_budget_shrinks_the_plan_when_time_runs_out():
    model = _tiny_model()
    model.compile("adam", "binary_crossentropy")
    slow = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: time.sleep(0.2))
    cb = CosineBudget(0.01, epochs=50, seconds=0.5)
    x = np.random.default_rng(0).random((8, 4), dtype=np.float32)
    history = model.fit(x, x[:, :1] > 0.5, epochs=50, callbacks=[slow, cb], verbose=0)
    assert cb.stopped_early and len(history.history["loss"]) <= 3
    assert cb.planned == len(history.history["loss"])


def test_average_models_averages_and_reloads(tmp_path):
    members = [_tiny_model(0), _tiny_model(1)]
    avg = average_models(members)
    x = np.random.default_rng(1).random((5, 4), dtype=np.float32)
    expected = (members[0].predict(x, verbose=0) + members[1].predict(x, verbose=0)) / 2
    np.testing.assert_allclose(avg.predict(x, verbose=0), expected, rtol=1e-6)
    avg.save(tmp_path / "avg.keras")
    again = keras.saving.load_model(tmp_path / "avg.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), expected, rtol=1e-6)
    assert average_models([members[0]]) is members[0]
    with pytest.raises(ValueError, match="at least one"):
        average_models([])


@pytest.fixture(scope="module")
def binary_run(phantom_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("preset_runs") / "run"
    options = {"weights": None, "batch_size": 16, "verbose": 0}
    return train_run(
        phantom_root, model="best_binary", out_dir=out, epochs=1, image_size=32, options=options
    )


def test_train_preset_writes_a_run_that_evaluates(binary_run, phantom_root):
    model, config = load_run(binary_run)
    assert config.model_name == "best_binary" and config.threshold_method == "fixed"
    members = PRESETS["best_binary"].members
    assert members >= 2 and config.training["members_trained"] == members
    assert config.training["epochs_run"] == [1] * members
    assert set(config.training["images"]) == {"train", "val"}, "test/ is never read"
    assert [layer.name for layer in model.layers][-1] == "average"
    assert (binary_run / "members" / str(members - 1) / "model.keras").is_file()
    assert not (binary_run / "members" / "0" / "best.keras").exists()
    _, summary = evaluate_run(binary_run, phantom_root, bootstrap=20)
    assert summary["n"] == 24 and summary["threshold"] == config.threshold == 0.5
    for key in ("accuracy", "sensitivity", "specificity", "roc_auc", "f1"):
        assert key in summary


def test_train_preset_resume_keeps_finished_members(binary_run, phantom_root, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(binary_run, out)
    first = (out / "members" / "0" / "model.keras").read_bytes()
    last = out / "members" / str(PRESETS["best_binary"].members - 1) / "model.keras"
    last.unlink()  # as if interrupted in the last member
    with pytest.raises(FileExistsError):
        train_preset(phantom_root, "best_binary", out_dir=out, weights=None, verbose=0, **TINY)
    train_preset(
        phantom_root,
        "best_binary",
        out_dir=out,
        weights=None,
        resume=True,
        verbose=0,
        **TINY,
    )
    assert (out / "members" / "0" / "model.keras").read_bytes() == first
    assert last.is_file()
    assert load_run(out)[1].training["members_trained"] == PRESETS["best_binary"].members


def test_resume_refuses_other_settings(binary_run, phantom_root, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(binary_run, out)
    (out / "members" / "0" / "model.keras").unlink()
    before = sorted(p.name for p in out.rglob("*"))
    common = {"out_dir": out, "weights": None, "resume": True, "verbose": 0}
    tiny = {**TINY, "epochs": 2}
    with pytest.raises(ValueError, match=r"preset\.clahe, preset\.epochs; see settings"):
        train_preset(phantom_root, "best_binary", clahe=True, **common, **tiny)
    with pytest.raises(ValueError, match=r"\(seed; see"):
        train_preset(phantom_root, "best_binary", seed=1, **common, **TINY)
    assert sorted(p.name for p in out.rglob("*")) == before  # nothing touched
    # A new time budget is allowed.
    train_preset(phantom_root, "best_binary", time_budget=600, **common, **TINY)
    assert (out / "members" / "0" / "model.keras").is_file()


def test_time_budget_limits_members_and_epochs(phantom_root, tmp_path):
    run = train_preset(
        phantom_root,
        "best_binary",
        out_dir=tmp_path / "run",
        weights=None,
        members=3,
        time_budget=0.01,
        verbose=0,
        image_size=32,
        epochs=5,
        batch_size=16,
    )
    training = json.loads((run / "run.json").read_text())["training"]
    assert training["members_trained"] == 1 and training["epochs_run"] == [1]
    assert training["stopped_by_time_budget"] is True


def test_three_class_preset_reports_macro_f1(three_class_root, tmp_path):
    run = train_preset(
        three_class_root,
        "best_three_class",
        out_dir=tmp_path / "run",
        weights=None,
        members=1,
        verbose=0,
        **TINY,
    )
    model, config = load_run(run)
    assert config.label_mode == "three_class" and model.output_shape == (None, 3)
    assert config.class_names == ("normal", "bacteria", "virus")
    _, summary = evaluate_run(run, three_class_root, bootstrap=20)
    assert "macro_f1" in summary and set(summary["per_class_recall"]) == set(config.class_names)


def test_cli_rejects_settings_a_preset_fixes(phantom_root, tmp_path, capsys):
    args = ["train", "--data", str(phantom_root), "--model", "best_binary", "--out"]
    assert main([*args, str(tmp_path / "a"), "--recipe", "report_b"]) == 2
    assert "fixes ['recipe']" in capsys.readouterr().err
    assert main([*args, str(tmp_path / "b"), "--classes", "three_class"]) == 2
    assert "leave --classes out" in capsys.readouterr().err
    assert main([*args, str(tmp_path / "c"), "--time-budget", "0"]) == 2
    assert not any((tmp_path / d).exists() for d in "abc"), "nothing written on a bad call"


def test_cli_lists_the_presets(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "best_binary" in out and "best_three_class" in out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "best_binary" in capsys.readouterr().out


def _conv_member(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    x = keras.Input((12, 12, 1), name="image")
    f = keras.layers.Conv2D(4, 3, activation="relu", name=f"conv{seed}")(x)
    g = keras.layers.GlobalAveragePooling2D(name=f"gap{seed}")(f)
    out = keras.layers.Dense(1, activation="sigmoid", name=f"out{seed}")(g)
    return keras.Model(x, out, name=f"member{seed}")


def test_gradcam_of_an_ensemble_averages_the_members_maps():
    import cxrkeras

    members = [_conv_member(0), _conv_member(1)]
    ensemble = average_models(members)
    images = np.random.default_rng(2).random((3, 12, 12, 1), dtype=np.float32)
    got = cxrkeras.gradcam(ensemble, images, class_index=1)
    mean = np.mean([cxrkeras.gradcam(m, images, class_index=1) for m in members], axis=0)
    expected = mean / mean.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    last_only = cxrkeras.gradcam(ensemble, images, class_index=1, layer_name="member1.conv1")
    assert not np.allclose(got, last_only), "an explicit layer still explains one member"


def test_same_seed_same_run(phantom_root, tmp_path):
    weights = []
    for name in ("a", "b"):
        run = train_preset(
            phantom_root, "best_binary", out_dir=tmp_path / name, weights=None, members=1,
            verbose=0, **TINY,
        )  # fmt: skip
        weights.append(np.concatenate([w.ravel() for w in load_run(run)[0].get_weights()]))
    np.testing.assert_array_equal(weights[0], weights[1])


@pytest.mark.slow
def test_best_binary_learns_real_x_rays(real_data, weights_dir, tmp_path):
    """One short member with the real ImageNet weights separates held-out patients."""
    import cxrkeras

    table = cxrkeras.scan(real_data)
    ids = table["patient_id"].drop_duplicates().sample(400, random_state=0)
    table = cxrkeras.holdout_split(table[table["patient_id"].isin(set(ids))], seed=0)
    weights = weights_dir / weight_file_name("mobilenet", 0.25)
    run = train_preset(
        table, "best_binary", out_dir=tmp_path / "run", weights=str(weights), members=1,
        epochs=2, image_size=128, verbose=0,
    )  # fmt: skip
    _, summary = evaluate_run(run, table, split="test", bootstrap=0)
    assert summary["roc_auc"] > 0.9
    assert summary["accuracy"] > 0.8


def test_three_class_preset_needs_subtypes(tmp_path):
    import cv2

    for label in ("NORMAL", "PNEUMONIA"):
        folder = tmp_path / "data" / "train" / label
        folder.mkdir(parents=True)
        for i in range(12):
            cv2.imwrite(str(folder / f"{label.lower()}{i}.png"), np.full((8, 8), i, np.uint8))
    with pytest.raises(ValueError, match="expects only"):
        train_preset(tmp_path / "data", "best_three_class", out_dir=tmp_path / "run", weights=None)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("preset", ["best_binary", "best_three_class"])
def test_focal_gamma_trains_with_focal_cross_entropy(preset, phantom_root, three_class_root,
                                                     tmp_path):  # fmt: skip
    root = three_class_root if preset == "best_three_class" else phantom_root
    run = train_preset(root, preset, out_dir=tmp_path / "run", weights=None, members=1,
                       verbose=0, focal_gamma=3.0, label_smoothing=0.1, **TINY)  # fmt: skip
    member = keras.saving.load_model(run / "members" / "0" / "model.keras")
    expected = "CategoricalFocalCrossentropy" if "three" in preset else "BinaryFocalCrossentropy"
    assert type(member.loss).__name__ == expected
    assert member.loss.gamma == 3.0 and member.loss.label_smoothing == 0.1
    _, config = load_run(run)
    assert config.training["preset"]["focal_gamma"] == 3.0


def test_clahe_preset_equalises_in_training_and_evaluation(phantom_root, tmp_path,
                                                           monkeypatch):  # fmt: skip
    import cxrkeras.data

    seen = {}
    real = cxrkeras.data.make_dataset

    def recording(source, **kwargs):
        seen[kwargs.get("split")] = kwargs.get("preprocessing")
        return real(source, **kwargs)

    monkeypatch.setattr(cxrkeras.data, "make_dataset", recording)
    run = train_preset(phantom_root, "best_binary", out_dir=tmp_path / "run", weights=None,
                       members=1, verbose=0, clahe=True, **TINY)  # fmt: skip
    monkeypatch.undo()
    assert set(seen) == {"train", "val"}
    assert all(p["clahe"] is True for p in seen.values())
    _, config = load_run(run)
    assert config.preprocessing == {"normalization": "unit", "resize": "stretch", "clahe": True}
    # A stand-in network whose score is the mean intensity, which CLAHE changes.
    inp = keras.Input((32, 32, 1))
    head = keras.layers.Dense(1, activation="sigmoid")
    model = keras.Model(inp, head(keras.layers.GlobalAveragePooling2D()(inp)))
    head.set_weights([np.full((1, 1), 10.0, "float32"), np.array([-5.0], "float32")])
    model.save(run / "model.keras")
    result, _ = evaluate_run(run, phantom_root)
    ds = {
        clahe: make_dataset(
            phantom_root, split="test", image_size=32, preprocessing={"clahe": clahe}
        )  # fmt: skip
        for clahe in (True, False)
    }
    equalised = model.predict(ds[True], verbose=0).ravel()
    plain = model.predict(ds[False], verbose=0).ravel()
    np.testing.assert_allclose(result.y_score, equalised, atol=1e-5)
    assert np.abs(result.y_score - plain).max() > 1e-3
