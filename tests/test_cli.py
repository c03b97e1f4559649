"""The command line and the run-folder workflow, end to end on tiny phantoms."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from cxrkeras.cli import main
from cxrkeras.phantoms import make_phantoms
from cxrkeras.runs import load_run


@pytest.fixture(scope="module")
def phantom_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("phantoms")
    make_phantoms(root, num_images=96, image_size=48, seed=1, split="train")
    make_phantoms(root, num_images=40, image_size=48, seed=2, split="test")
    return root


@pytest.fixture(scope="module")
def trained_run(phantom_root, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "run"
    code = main(
        [
            "train",
            "--data",
            str(phantom_root),
            "--model",
            "binary_cnn",
            "--out",
            str(run),
            "--epochs",
            "2",
            "--image-size",
            "48",
            "--batch-size",
            "16",
        ]
    )
    assert code == 0
    return run


def test_train_writes_a_complete_run(trained_run, phantom_root):
    model, config = load_run(trained_run)
    assert config.model_name == "binary_cnn"
    assert config.image_size == (48, 48)
    assert config.class_names == ("NORMAL", "PNEUMONIA")
    assert 0.0 <= config.threshold <= 1.0 and config.threshold_method == "youden"
    assert (trained_run / "history.csv").is_file()
    # the test split was never used for training: the pool holds only train/val images
    images = config.training["images"]
    assert set(images) == {"train", "val"}
    assert sum(images.values()) == 96
    assert model.input_shape == (None, 48, 48, 1)


def test_evaluate_applies_the_saved_threshold(trained_run, phantom_root, tmp_path):
    out_json = tmp_path / "figures.json"
    code = main(
        [
            "evaluate",
            "--model",
            str(trained_run),
            "--data",
            str(phantom_root),
            "--json",
            str(out_json),
            "--bootstrap",
            "50",
        ]
    )
    assert code == 0
    figures = json.loads(out_json.read_text())
    for key in ("accuracy", "sensitivity", "specificity", "roc_auc", "f1"):
        assert key in figures and 0.0 <= figures[key] <= 1.0
    assert figures["n"] == 40  # the test split, not train
    _, config = load_run(trained_run)
    assert figures["threshold"] == pytest.approx(config.threshold)
    cm = np.asarray(figures["confusion_matrix"])
    tn, fp, fn, tp = cm.ravel()
    assert figures["accuracy"] == pytest.approx((tn + tp) / cm.sum())
    assert figures["sensitivity"] == pytest.approx(tp / (tp + fn))


def test_explain_writes_figures_and_predictions(trained_run, phantom_root, tmp_path):
    images = sorted((phantom_root / "test" / "PNEUMONIA").glob("*.jpeg"))[:2]
    out = tmp_path / "explained"
    code = main(
        [
            "explain",
            "--model",
            str(trained_run),
            "--image",
            *map(str, images),
            "--out",
            str(out),
            "--methods",
            "gradcam",
        ]
    )
    assert code == 0
    pngs = sorted(out.glob("*_explained.png"))
    assert len(pngs) == 2 and all(p.stat().st_size > 1000 for p in pngs)
    csv = (out / "predictions.csv").read_text().splitlines()
    assert len(csv) == 3 and "predicted" in csv[0]


def test_existing_output_folder_is_refused(trained_run, phantom_root, capsys):
    before = sorted(p.name for p in trained_run.iterdir())
    code = main(
        [
            "train",
            "--data",
            str(phantom_root),
            "--out",
            str(trained_run),
            "--epochs",
            "1",
            "--image-size",
            "48",
        ]
    )
    assert code == 2
    assert "already holds files" in capsys.readouterr().err
    assert sorted(p.name for p in trained_run.iterdir()) == before


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--data", "/no/such/folder", "--out", "OUT"], "/no/such/folder"),
        (["train", "--data", "DATA", "--model", "nope", "--out", "OUT"], "binary_cnn"),
        (["evaluate", "--model", "/no/run", "--data", "DATA"], "No model at"),
    ],
)
def test_clear_errors(argv, message, phantom_root, tmp_path, capsys):
    argv = [a.replace("DATA", str(phantom_root)).replace("OUT", str(tmp_path / "o")) for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_demo_writes_every_artifact(tmp_path):
    from cxrkeras.demo import demo

    out = tmp_path / "demo"
    metrics = demo(out, num_images=80, image_size=48, epochs=1, verbose=False)
    for name in (
        "metrics.json",
        "confusion_matrix.png",
        "training_curves.png",
        "roc.png",
        "gradcam.png",
        "occlusion.png",
        "report.md",
        "run/model.keras",
    ):
        assert (out / name).is_file() and (out / name).stat().st_size > 100, name
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["test"]["accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert saved["seed"] == 0 and saved["settings"]["image_size"] == 48
    report = (out / "report.md").read_text()
    assert "Held-out test patients" in report
    # The localisation scores stand beside their chance level: the lesions' share of the
    # image area, which phantoms of this size put between 1% and 20%.
    assert "| chance |" in report
    for method in ("gradcam", "occlusion"):
        scores = saved["localization"][method]
        assert 0.01 < scores["chance"] == scores["mask_fraction"] < 0.2
        assert f"| {method} | {scores['num_images']} |" in report
    with pytest.raises(FileExistsError):
        demo(out, num_images=80, image_size=48, epochs=1, verbose=False)


def test_python_m_help_lists_commands():
    done = subprocess.run(
        [sys.executable, "-m", "cxrkeras", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0
    for command in ("demo", "train", "evaluate", "explain", "phantoms", "models"):
        assert command in done.stdout


def test_train_transfer_model_from_a_local_weights_file(phantom_root, tmp_path, capsys):
    import keras

    weights = tmp_path / "mobilenet_025_no_top.weights.h5"
    keras.applications.MobileNet(
        alpha=0.25, include_top=False, weights=None, input_shape=(48, 48, 3)
    ).save_weights(weights)
    common = [
        "train",
        "--data",
        str(phantom_root),
        "--model",
        "mobilenet",
        "--weights",
        str(weights),
        "--image-size",
        "48",
        "--epochs",
        "1",
    ]
    assert main([*common, "--out", str(tmp_path / "wrong")]) == 2
    assert "Check alpha=" in capsys.readouterr().err
    assert not (tmp_path / "wrong").exists()  # nothing is created for a run that cannot start
    assert main([*common, "--alpha", "0.25", "--out", str(tmp_path / "run")]) == 0
    model, config = load_run(tmp_path / "run")
    assert config.model_name == "mobilenet" and model.output_shape == (None, 1)
