"""Every figure renders with Agg, saves a readable PNG, and shows the right content."""

from __future__ import annotations

import keras
import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from cxrkeras.evaluate import evaluate_scores  # noqa: E402
from cxrkeras.plot_images import CORRECT, WRONG, plot_image_grid, plot_reconstructions  # noqa: E402
from cxrkeras.plots import (  # noqa: E402
    plot_class_distribution,
    plot_confusion_matrix,
    plot_error_histogram,
    plot_precision_recall,
    plot_roc,
    plot_training_curves,
)


def _read_png(path):
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 150 and img.shape[1] > 150
    assert img[..., :3].std() > 0.01  # not a blank canvas
    return img


def _scores(n=120, seed=0, shift=1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, 1 / (1 + np.exp(-(rng.normal(size=n) + shift * (2 * y - 1))))


def test_confusion_matrix_shows_counts_and_row_percentages(tmp_path):
    y = np.array([0] * 10 + [1] * 30)
    pred = np.array([0] * 7 + [1] * 3 + [0] * 6 + [1] * 24)
    result = evaluate_scores(y, pred.astype(float), bootstrap=0)
    fig = plot_confusion_matrix(result, path=tmp_path / "cm.png")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["7\n70.0%", "3\n30.0%", "6\n20.0%", "24\n80.0%"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["NORMAL", "PNEUMONIA"]
    _read_png(tmp_path / "cm.png")
    three = plot_confusion_matrix(np.diag([3, 4, 5]), class_names=["a", "b", "c"])
    assert len(three.axes[0].texts) == 9 and three.axes[0].texts[4].get_text() == "4\n100.0%"
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.zeros((2, 3)))


def test_training_curves_from_history_dict_and_csv(tmp_path):
    inputs = keras.Input((3,), name="x")
    outputs = keras.layers.Dense(1, activation="sigmoid", name="head")(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    x, y = np.random.default_rng(0).normal(size=(16, 3)), np.arange(16) % 2
    log = tmp_path / "log.csv"
    history = model.fit(
        x, y, validation_split=0.25, epochs=3, verbose=0,
        callbacks=[keras.callbacks.CSVLogger(str(log))],
    )  # fmt: skip
    for source in (history, history.history, log):
        fig = plot_training_curves(source)
        titles = [ax.get_title() for ax in fig.axes]
        assert titles[0] == "loss" and "accuracy" in titles
        loss_ax = fig.axes[0]
        assert [line.get_label() for line in loss_ax.lines] == ["train", "validation"]
        np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), history.history["loss"], rtol=1e-5)
        np.testing.assert_array_equal(loss_ax.lines[0].get_xdata(), [1, 2, 3])
    plot_training_curves(log, metrics=["loss"], path=tmp_path / "curves.png")
    _read_png(tmp_path / "curves.png")
    with pytest.raises(ValueError, match="not logged"):
        plot_training_curves(history, metrics=["auc"])
    with pytest.raises(FileNotFoundError):
        plot_training_curves(tmp_path / "missing.csv")


def test_roc_and_pr_several_models(tmp_path):
    good = evaluate_scores(*_scores(shift=2.0), bootstrap=100)
    weak_y, weak_s = _scores(seed=1, shift=0.3)
    fig = plot_roc({"good": good, "weak": (weak_y, weak_s)}, path=tmp_path / "roc.png")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[0].startswith(f"good (AUC {good.roc_auc:.3f} [")
    assert legend[1] == f"weak (AUC {roc_auc_score(weak_y, weak_s):.3f})"
    assert legend[-1] == "chance"
    # the operating point of the binary result sits at (1 - specificity, recall)
    point = [ln for ln in fig.axes[0].lines if ln.get_marker() == "o"][0]
    assert point.get_xydata()[0] == pytest.approx([1 - good.specificity, good.recall])
    _read_png(tmp_path / "roc.png")
    pr = plot_precision_recall({"good": good}, path=tmp_path / "pr.png")
    assert f"AP {good.pr_auc:.3f}" in pr.axes[0].get_legend().get_texts()[0].get_text()
    _read_png(tmp_path / "pr.png")
    with pytest.raises(ValueError, match="one class only"):
        plot_roc(([1, 1], [0.2, 0.3]))


def test_roc_three_classes_draws_one_curve_per_class():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 90)
    p = np.exp(rng.normal(size=(90, 3)) + 2 * np.eye(3)[y])
    result = evaluate_scores(y, p / p.sum(axis=1, keepdims=True), bootstrap=0)
    legend = [t.get_text() for t in plot_roc(result).axes[0].get_legend().get_texts()]
    assert [s.split(" (")[0] for s in legend] == [
        "model: normal", "model: bacteria", "model: virus", "chance"
    ]  # fmt: skip


def test_class_distribution_bars_equal_counts(tmp_path):
    table = pd.DataFrame(
        {
            "split": ["train"] * 6 + ["val"] * 3,
            "label": ["NORMAL", "PNEUMONIA", "PNEUMONIA", "PNEUMONIA", "NORMAL", "PNEUMONIA"]
            + ["NORMAL", "PNEUMONIA", "PNEUMONIA"],
            "subtype": ["normal", "bacteria", "virus", "bacteria", "normal", "virus"]
            + ["normal", "virus", "virus"],
        }
    )
    fig = plot_class_distribution(table, path=tmp_path / "dist.png")
    heights = sorted(p.get_height() for p in fig.axes[0].patches)
    assert heights == [1, 2, 2, 4]
    fig = plot_class_distribution(table, by="subtype")
    assert len(fig.axes[0].patches) == 6
    _read_png(tmp_path / "dist.png")
    with pytest.raises(ValueError, match="lacks column"):
        plot_class_distribution(table.drop(columns="split"))


def test_error_histogram_threshold_line(tmp_path):
    rng = np.random.default_rng(0)
    errors = np.concatenate([rng.gamma(2, 0.01, 200), rng.gamma(2, 0.02, 100)])
    labels = np.array([0] * 200 + [1] * 100)
    fig = plot_error_histogram(errors, labels, threshold=0.05, path=tmp_path / "hist.png")
    vline = fig.axes[0].lines[-1]
    assert vline.get_xdata()[0] == pytest.approx(0.05)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[:2] == ["NORMAL (n = 200)", "PNEUMONIA (n = 100)"]
    _read_png(tmp_path / "hist.png")
    with pytest.raises(ValueError, match="NaN"):
        plot_error_histogram([0.1, np.nan], [0, 1])


def test_image_grid_colours_right_and_wrong(tmp_path):
    images = np.random.default_rng(0).uniform(size=(5, 12, 20, 1))  # non-square
    fig = plot_image_grid(
        images, labels=[0, 1, 1, 0, 1], predictions=[0, 1, 0, 1, 1], ncols=3,
        path=tmp_path / "grid.png",
    )  # fmt: skip
    colours = [ax.title.get_color() for ax in fig.axes]
    assert colours == [CORRECT, CORRECT, WRONG, WRONG, CORRECT]
    assert fig.axes[2].get_title() == "true PNEUMONIA\npred NORMAL"
    assert fig.axes[0].images[0].get_array().shape == (12, 20)
    _read_png(tmp_path / "grid.png")
    rgb = plot_image_grid(np.random.default_rng(1).normal(size=(2, 8, 8, 3)),
                          predictions=np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]]))  # fmt: skip
    assert rgb.axes[0].get_title() == "pred bacteria (0.70)"
    with pytest.raises(ValueError, match="labels has 2"):
        plot_image_grid(images, labels=[0, 1])


def test_reconstruction_grid(tmp_path):
    x = np.random.default_rng(0).uniform(size=(10, 16, 12, 1))
    fig = plot_reconstructions(x, x[..., ::-1, :], n=4, path=tmp_path / "rec.png")
    assert isinstance(fig, Figure) and len(fig.axes) == 8
    np.testing.assert_allclose(fig.axes[4].images[0].get_array(), x[0, :, ::-1, 0])
    _read_png(tmp_path / "rec.png")
    with pytest.raises(ValueError, match="differ in shape"):
        plot_reconstructions(x, x[:3])


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plot_confusion_matrix(np.eye(2), path=tmp_path / "nope" / "cm.png")


def test_figures_display_in_notebooks_without_pyplot():
    png = plot_confusion_matrix(np.eye(2))._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
