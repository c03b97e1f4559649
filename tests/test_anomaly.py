"""Anomaly detection: a planted anomaly raises the error; threshold rules on built arrays."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from sklearn import metrics as skm

from cxrkeras.anomaly import (
    eer_threshold,
    evaluate_anomaly,
    normal_only,
    percentile_threshold,
    reconstruction_errors,
)


def _smooth_images(n, rng, size=16):
    """Random smooth gradients: easy for a small autoencoder to reconstruct."""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    a, b, c = rng.uniform(-0.2, 0.2, (3, n, 1, 1))
    return np.clip(0.5 + a * xx + b * yy + c * xx * yy, 0, 1)[..., None].astype("float32")


def _tiny_autoencoder(size=16):
    inputs = keras.Input((size, size, 1), name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="enc1")(inputs)
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="enc2")(x)
    x = keras.layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu",
                                     name="dec1")(x)  # fmt: skip
    out = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid",
                                       name="dec2")(x)  # fmt: skip
    return keras.Model(inputs, out, name="tiny_ae")


def test_planted_anomaly_has_larger_errors():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    normal_train = _smooth_images(64, rng)
    test_normal = _smooth_images(20, rng)
    test_sick = _smooth_images(20, rng)
    test_sick[:, 4:10, 5:11, :] = 1.0  # a bright opacity
    ae = _tiny_autoencoder()
    ae.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    ae.fit(normal_train, normal_train, epochs=12, batch_size=16, verbose=0)
    x = np.concatenate([test_normal, test_sick])
    y = np.array([0] * 20 + [1] * 20)
    errors, labels = reconstruction_errors(ae, (x, y), batch_size=16)
    np.testing.assert_array_equal(labels, y)
    assert errors[y == 1].mean() > 2 * errors[y == 0].mean()
    train_errors, _ = reconstruction_errors(ae, normal_train)
    result = evaluate_anomaly(
        errors, y, threshold=percentile_threshold(train_errors), bootstrap=200
    )
    assert result.roc_auc > 0.9 and result.recall > 0.5 and result.specificity >= 0.85


def test_errors_are_per_image_mse():
    inputs = keras.Input((5, 4, 2), name="image")
    identity = keras.Model(inputs, keras.layers.Identity(name="same")(inputs))
    halve = keras.Model(inputs, keras.layers.Rescaling(0.5, name="half")(inputs))
    x = np.random.default_rng(1).uniform(size=(9, 5, 4, 2)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices(x).batch(4)
    errors, labels = reconstruction_errors(identity, ds)
    assert labels is None and np.all(errors == 0)
    errors, _ = reconstruction_errors(halve, x, batch_size=4)
    np.testing.assert_allclose(errors, ((0.5 * x) ** 2).mean(axis=(1, 2, 3)), rtol=1e-5)
    pooled = keras.Model(inputs, keras.layers.AveragePooling2D(2, name="pool")(inputs))
    with pytest.raises(ValueError, match="input's shape"):
        reconstruction_errors(pooled, x)


def test_percentile_threshold_leaves_the_tail_above():
    errors = np.random.default_rng(2).gamma(2.0, 0.01, 2000)
    t = percentile_threshold(errors, tail=0.05)
    assert np.mean(errors > t) == pytest.approx(0.05, abs=0.002)
    assert percentile_threshold(errors, tail=0.2) < t
    with pytest.raises(ValueError, match="tail=5"):
        percentile_threshold(errors, tail=5)


def test_eer_threshold_on_overlapping_uniforms():
    rng = np.random.default_rng(3)
    normal, sick = rng.uniform(0.0, 1.0, 4000), rng.uniform(0.5, 1.5, 4000)
    errors = np.concatenate([normal, sick])
    y = np.array([0] * 4000 + [1] * 4000)
    t = eer_threshold(y, errors)
    assert t == pytest.approx(0.75, abs=0.02)  # FPR = 1 - t = FNR = t - 0.5
    fpr, fnr = np.mean(normal >= t), np.mean(sick < t)
    assert abs(fpr - fnr) < 5e-3
    with pytest.warns(UserWarning, match=r"\|FPR - FNR\|"):
        eer_threshold([0, 0, 0, 1], [0.1, 0.5, 0.6, 0.4])


def test_evaluate_anomaly_reports_five_figures_and_auc():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    errors = rng.gamma(2.0, 0.01 * (1 + y))  # pneumonia errors twice as large
    r = evaluate_anomaly(errors, y, threshold=0.03, bootstrap=300)
    pred = (errors >= 0.03).astype(int)
    assert list(r.metrics)[0] == "error_rate"
    assert r.error_rate == pytest.approx(1 - skm.accuracy_score(y, pred))
    assert r.precision == pytest.approx(skm.precision_score(y, pred))
    assert r.recall == pytest.approx(skm.recall_score(y, pred))
    assert r.specificity == pytest.approx(skm.recall_score(y, pred, pos_label=0))
    assert r.f1 == pytest.approx(skm.f1_score(y, pred))
    assert r.roc_auc == pytest.approx(skm.roc_auc_score(y, errors))
    lo, hi = r.ci["error_rate"]
    assert lo <= r.error_rate <= hi
    assert (lo, hi) == pytest.approx((1 - r.ci["accuracy"][1], 1 - r.ci["accuracy"][0]))
    assert "Error rate" in str(r)


def test_normal_only_on_tables_arrays_and_datasets():
    table = pd.DataFrame({"path": ["a", "b", "c"], "label": ["NORMAL", "PNEUMONIA", "NORMAL"]})
    assert normal_only(table)["path"].tolist() == ["a", "c"]
    x = np.stack([np.full((4, 4, 1), v, "float32") for v in (0, 1, 0, 1, 0)])
    y = np.array([0, 1, 0, 1, 0])
    assert normal_only((x, y)).shape == (3, 4, 4, 1) and normal_only((x, y)).max() == 0
    ds = tf.data.Dataset.from_tensor_slices((x, np.eye(2)[y])).batch(2)
    batches = list(normal_only(ds, batch_size=2))
    assert [len(a) for a, _ in batches] == [2, 1]
    assert all(float(tf.reduce_max(a)) == 0 and np.array_equal(a, b) for a, b in batches)
    with pytest.raises(ValueError, match="No NORMAL"):
        normal_only((x[y == 1], y[y == 1]))
    with pytest.raises(TypeError, match="scan table"):
        normal_only("chest_xray/")
