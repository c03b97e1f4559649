"""Evaluation figures against scikit-learn, bootstrap intervals, degenerate inputs, models."""

from __future__ import annotations

import json
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn import metrics as skm

from cxrkeras._scoring import weighted_auc_ap, weighted_confusion
from cxrkeras.evaluate import collect_predictions, evaluate, evaluate_scores
from cxrkeras.results import EvaluationResult, compare


def _binary_scores(n, seed=0, shift=1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = 1 / (1 + np.exp(-(rng.normal(size=n) + shift * (2 * y - 1))))
    return y, np.round(s, 2)  # rounding plants ties


def _brightness_model(compiled=False):
    inputs = keras.Input((6, 5, 1), name="image")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(inputs)
    model = keras.Model(inputs, x, name="brightness")
    if compiled:
        model.compile(loss="binary_crossentropy")
    return model


def _brightness_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    level = np.where(y == 1, 0.7, 0.3) + rng.uniform(-0.15, 0.15, n)
    x = np.broadcast_to(level[:, None, None, None], (n, 6, 5, 1)).astype("float32")
    return x, y


def test_weighted_counts_equal_sklearn_sample_weight():
    y, s = _binary_scores(80, seed=1)
    rng = np.random.default_rng(2)
    w = rng.integers(0, 3, size=(5, 80)).astype(float)
    auc, ap = weighted_auc_ap(w, y.astype(float), s)
    cm = weighted_confusion(w, y, (s >= 0.5).astype(int), 2)
    for i in range(5):
        assert auc[i] == pytest.approx(skm.roc_auc_score(y, s, sample_weight=w[i]))
        assert ap[i] == pytest.approx(skm.average_precision_score(y, s, sample_weight=w[i]))
        expected = skm.confusion_matrix(y, (s >= 0.5).astype(int), sample_weight=w[i])
        np.testing.assert_allclose(cm[i], expected)


def test_binary_figures_equal_sklearn():
    y, s = _binary_scores(300)
    r = evaluate_scores(y, s, threshold=0.4, bootstrap=0)
    pred = (s >= 0.4).astype(int)
    assert r.accuracy == pytest.approx(skm.accuracy_score(y, pred))
    assert r.precision == pytest.approx(skm.precision_score(y, pred))
    assert r.recall == pytest.approx(skm.recall_score(y, pred))
    assert r.specificity == pytest.approx(skm.recall_score(y, pred, pos_label=0))
    assert r.f1 == pytest.approx(skm.f1_score(y, pred))
    assert r.balanced_accuracy == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert r.roc_auc == pytest.approx(skm.roc_auc_score(y, s))
    assert r.pr_auc == pytest.approx(skm.average_precision_score(y, s))
    np.testing.assert_array_equal(r.confusion_matrix, skm.confusion_matrix(y, pred))
    assert r.threshold == 0.4 and r.n == 300 and r.ci == {}


def test_bootstrap_intervals_equal_a_plain_resampling_loop():
    y, s = _binary_scores(120, seed=3)
    r = evaluate_scores(y, s, bootstrap=100, seed=7)
    idx = np.random.default_rng(7).integers(0, 120, size=(100, 120))
    pred = (s >= 0.5).astype(int)
    loop = {"accuracy": [], "recall": [], "roc_auc": [], "pr_auc": []}
    for row in idx:
        loop["accuracy"].append(skm.accuracy_score(y[row], pred[row]))
        loop["recall"].append(skm.recall_score(y[row], pred[row]))
        loop["roc_auc"].append(skm.roc_auc_score(y[row], s[row]))
        loop["pr_auc"].append(skm.average_precision_score(y[row], s[row]))
    for key, values in loop.items():
        np.testing.assert_allclose(r.ci[key], np.percentile(values, [2.5, 97.5]), atol=1e-9)
        assert r.ci[key][0] <= getattr(r, key) <= r.ci[key][1]


def test_intervals_shrink_with_more_images():
    small = evaluate_scores(*_binary_scores(100, seed=4), bootstrap=400)
    large = evaluate_scores(*_binary_scores(1600, seed=4), bootstrap=400)
    for key in ("accuracy", "roc_auc", "f1"):
        width_small = np.subtract(*small.ci[key][::-1])
        width_large = np.subtract(*large.ci[key][::-1])
        assert width_large < 0.5 * width_small


def test_three_classes_equal_sklearn():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 200)
    logits = rng.normal(size=(200, 3)) + 1.5 * np.eye(3)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    r = evaluate_scores(np.eye(3)[y], p, bootstrap=200)
    pred = p.argmax(axis=1)
    assert r.class_names == ("normal", "bacteria", "virus") and r.threshold is None
    assert r.macro_f1 == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert r.macro_precision == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert r.balanced_accuracy == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert r.roc_auc == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr"))
    per_class_recall = skm.recall_score(y, pred, average=None)
    np.testing.assert_allclose(r.per_class["recall"].to_numpy(), per_class_recall)
    assert r.ci["macro_f1"][0] < r.macro_f1 < r.ci["macro_f1"][1]
    with pytest.raises(AttributeError, match="macro_f1"):
        _ = r.recall


def test_label_formats_agree():
    y, s = _binary_scores(50)
    a = evaluate_scores(y, s, bootstrap=0)
    b = evaluate_scores(y.astype("float32")[:, None], s[:, None], bootstrap=0)
    c = evaluate_scores(np.eye(2)[y], np.stack([1 - s, s], axis=1), bootstrap=0)
    assert a.metrics == b.metrics == c.metrics


def test_one_class_only_warns_and_gives_nan_auc():
    with pytest.warns(UserWarning, match="lacks class"):
        r = evaluate_scores([1, 1, 1, 1], [0.9, 0.8, 0.3, 0.7], bootstrap=50)
    assert np.isnan(r.roc_auc) and np.isnan(r.specificity) and np.isnan(r.balanced_accuracy)
    assert r.recall == pytest.approx(0.75)
    assert any("lacks class" in note for note in r.notes)


def test_all_predictions_one_class_warns_and_gives_nan_precision():
    with pytest.warns(UserWarning, match="predicted as class 0"):
        r = evaluate_scores([0, 1, 0, 1], [0.1, 0.3, 0.2, 0.4], bootstrap=0)
    assert np.isnan(r.precision) and r.recall == 0.0 and r.roc_auc == 1.0


def test_skipped_resamples_are_counted():
    r = evaluate_scores([0, 1, 1, 1, 1, 1], [0.2, 0.6, 0.7, 0.8, 0.9, 0.4], bootstrap=500)
    assert 0 < r.skipped["roc_auc"] < 500  # resamples without the single NORMAL image
    assert any("resamples lacked a class" in note for note in r.notes)


@pytest.mark.parametrize(
    ("y", "s", "match"),
    [
        ([], [], "empty"),
        ([0, 1], [0.2, float("nan")], "NaN"),
        ([0, 1, 1], [0.2, 0.4], "3 labels but y_score has 2"),
        ([0, 2], [0.2, 0.4], "class id 2"),
        ([0, 0.5], [0.2, 0.4], "non-integer"),
    ],
)
def test_bad_inputs_raise_clear_errors(y, s, match):
    with pytest.raises(ValueError, match=match):
        evaluate_scores(y, s)


def test_logit_scores_warn():
    with pytest.warns(UserWarning, match="logits"):
        evaluate_scores([0, 1, 0, 1], [-2.0, 3.0, -1.0, 0.5], threshold=0.0, bootstrap=0)


def test_model_on_shuffling_dataset_keeps_labels_aligned():
    x, y = _brightness_data(48)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(48, seed=1).batch(7)
    r = evaluate(_brightness_model(), ds, bootstrap=100)
    assert r.accuracy == 1.0 and r.n == 48
    assert sorted(r.y_true.tolist()) == sorted(y.tolist())
    np.testing.assert_array_equal(r.y_pred, r.y_true)  # would fail if predicted twice


def test_collect_predictions_order_matches_dataset_order():
    x, y = _brightness_data(20)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(20, seed=3).batch(6)
    labels, scores = collect_predictions(_brightness_model(), ds)
    # the planted model's score identifies each image's label exactly
    np.testing.assert_array_equal(labels, (scores[:, 0] > 0.5).astype(int))


def test_collect_predictions_traces_once_for_a_smaller_last_batch():
    x, y = _brightness_data(20)
    model = _brightness_model()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(6)  # 6, 6, 6, 2
    labels, scores = collect_predictions(model, ds)
    assert model.predict_function.experimental_get_tracing_count() == 1
    np.testing.assert_array_equal(labels, y)
    np.testing.assert_allclose(scores, model.predict(x, verbose=0), rtol=1e-6)


def test_compiled_loss_matches_keras_evaluate():
    x, y = _brightness_data(30)
    model = _brightness_model(compiled=True)
    r = evaluate(model, (x, y.astype("float32")), bootstrap=0)
    expected = model.evaluate(x, y.astype("float32"), verbose=0, batch_size=30)
    assert r.loss == pytest.approx(expected, rel=1e-4)
    assert evaluate(_brightness_model(), (x, y), bootstrap=0).loss is None


def test_dataset_class_names_and_errors():
    x, y = _brightness_data(10)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    r = evaluate(_brightness_model(), ds, class_names=["healthy", "sick"], bootstrap=0)
    assert r.class_names == ("healthy", "sick")
    with pytest.raises(ValueError, match="without labels"):
        evaluate(_brightness_model(), tf.data.Dataset.from_tensor_slices(x).batch(4))
    with pytest.raises(ValueError, match="data is missing"):
        evaluate(_brightness_model())
    with pytest.raises(TypeError, match="keras.Model"):
        evaluate("model.keras", ds)


def test_precomputed_pair_and_rendering():
    y, s = _binary_scores(60)
    r = evaluate((y, s), bootstrap=100)
    assert isinstance(r, EvaluationResult)
    text = str(r)
    assert "Accuracy" in text and f"{r.accuracy:.3f} [" in text and "NORMAL" in text
    assert "<table" in r._repr_html_() and r._repr_markdown_() == text
    frame = r.to_frame()
    assert list(frame.columns) == ["value", "ci_low", "ci_high"]
    assert frame.loc["roc_auc", "value"] == pytest.approx(r.roc_auc)
    data = json.loads(r.to_json())
    assert data["confusion_matrix"] == r.confusion_matrix.tolist()
    assert data["per_class"]["PNEUMONIA"]["support"] == int(np.sum(y == 1))


def test_json_has_no_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = evaluate_scores([1, 1, 1], [0.9, 0.8, 0.7], bootstrap=20)
    text = r.to_json()
    assert json.loads(text)["metrics"]["roc_auc"] is None  # to_json refuses bare NaN


def test_compare_side_by_side():
    a = evaluate_scores(*_binary_scores(100, seed=1), bootstrap=100)
    b = evaluate_scores(*_binary_scores(100, seed=2), bootstrap=100)
    table = compare({"cnn": a, "resnet": b}, reported={"report D": {"accuracy": 0.925}})
    assert list(table.index) == ["cnn", "resnet", "report D"]
    lo, hi = a.ci["accuracy"]
    assert table.loc["cnn", "accuracy"] == f"{a.accuracy:.2f} [{lo:.2f}, {hi:.2f}]"
    assert table.loc["report D", "accuracy"] == "0.93"
    assert table.loc["report D", "roc_auc"] == ""
    with pytest.raises(TypeError, match="EvaluationResult"):
        compare({"x": {"accuracy": 0.9}})


def test_three_class_model_on_dataset_with_sparse_loss():
    inputs = keras.Input((6, 5, 1), name="image")
    x = keras.layers.Flatten(name="flat")(inputs)
    out = keras.layers.Dense(3, activation="softmax", name="head")(x)
    model = keras.Model(inputs, out)
    model.compile(loss="sparse_categorical_crossentropy")
    x_all = np.random.default_rng(0).uniform(size=(21, 6, 5, 1)).astype("float32")
    y = np.arange(21) % 3
    r = evaluate(model, tf.data.Dataset.from_tensor_slices((x_all, y)).batch(8), bootstrap=50)
    assert r.y_score.shape == (21, 3) and r.class_names == ("normal", "bacteria", "virus")
    assert r.loss == pytest.approx(model.evaluate(x_all, y, verbose=0, batch_size=21), rel=1e-4)
    assert r.confusion_matrix.sum() == 21 and r.confusion_matrix.sum(axis=1).tolist() == [7, 7, 7]


def test_evaluate_accepts_labels_as_a_python_list():
    import keras

    inputs = keras.Input((4, 4, 1))
    flat = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(flat))
    x = np.random.default_rng(0).random((6, 4, 4, 1)).astype("float32")
    from_list = evaluate(model, (x, [0, 0, 0, 1, 1, 1]), bootstrap=0)
    from_array = evaluate(model, (x, np.array([0, 0, 0, 1, 1, 1])), bootstrap=0)
    assert from_list.n == 6
    assert from_list.accuracy == from_array.accuracy


def test_three_class_labels_with_binary_scores_get_a_clear_error():
    with pytest.raises(ValueError, match="one-hot over 3 classes"):
        evaluate_scores(np.eye(3)[[0, 1, 2, 0]], [0.1, 0.5, 0.7, 0.2], bootstrap=0)
