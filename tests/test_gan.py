"""Tests of the ACGAN, GAN augmentation helpers and dummy-class transfer (report E)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from cxrkeras.dummy_class import (
    add_dummy_class,
    ambiguous_by_margin,
    drop_dummy_class,
    drop_dummy_scores,
    dummy_class_labels,
)
from cxrkeras.gan import ACGAN, acgan, acgan_generator, discriminator_classifier
from cxrkeras.synthetic import SampleGrid, mix_synthetic, rebalance_counts, synthesize

SIZE, LATENT = 16, 8


def tiny_gan(seed=0, **kwargs) -> ACGAN:
    return acgan(image_size=SIZE, latent_dim=LATENT, filters=4, num_blocks=2, seed=seed, **kwargs)


def planted_classes(n: int, seed: int = 0):
    """Dark noisy images with a bright square whose corner encodes the class (0, 1, 2)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    images = rng.uniform(0.0, 0.2, (n, SIZE, SIZE, 1)).astype("float32")
    corners = [(0, 0), (0, SIZE // 2), (SIZE // 2, 0)]
    for i, c in enumerate(labels):
        r, q = corners[c]
        images[i, r : r + SIZE // 2, q : q + SIZE // 2] += 0.7
    return images, labels


# --- ACGAN ----------------------------------------------------------------------------


def test_train_steps_log_finite_losses_and_metrics():
    gan = tiny_gan()
    gan.compile()
    x, y = planted_classes(24)
    history = gan.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    for key in ("d_loss", "g_loss", "d_class_accuracy", "real_accuracy", "fake_accuracy"):
        assert len(history[key]) == 2 and np.all(np.isfinite(history[key])), key
    assert int(gan.d_optimizer.iterations) == int(gan.g_optimizer.iterations) == 6


def test_fit_accepts_one_hot_labels_from_a_dataset():
    gan = tiny_gan()
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer="adam")
    x, y = planted_classes(16)
    ds = tf.data.Dataset.from_tensor_slices((x, np.eye(3)[y])).batch(8)
    history = gan.fit(ds, epochs=1, verbose=0, shuffle=False).history
    assert np.isfinite(history["d_loss"][0])


def test_class_head_learns_a_planted_class_signal():
    gan = tiny_gan(seed=1)
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-3), g_optimizer=keras.optimizers.Adam(2e-3))
    x, y = planted_classes(96)
    gan.fit(x, y, batch_size=32, epochs=12, verbose=0)
    probs = discriminator_classifier(gan).predict(planted_classes(60, seed=5)[0], verbose=0)
    accuracy = np.mean(probs.argmax(axis=1) == planted_classes(60, seed=5)[1])
    assert accuracy > 0.8


def test_generator_output_shape_and_range():
    gen = acgan_generator(image_size=24, latent_dim=LATENT, filters=4, num_blocks=3)
    noise = np.random.default_rng(0).normal(0, 3, (5, LATENT)).astype("float32")
    out = gen.predict([noise, np.array([0, 1, 2, 0, 1])[:, None]], verbose=0)
    assert out.shape == (5, 24, 24, 1)
    assert out.min() >= 0.0 and out.max() <= 1.0 and out.std() > 0


def test_class_conditioning_changes_the_image():
    gan = tiny_gan()
    noise = np.tile(np.random.default_rng(0).normal(size=(1, LATENT)), (3, 1)).astype("f4")
    out = gan.generator.predict([noise, np.array([[0], [1], [2]])], verbose=0)
    assert np.abs(out[0] - out[1]).max() > 1e-4
    assert np.abs(out[1] - out[2]).max() > 1e-4
    same = gan.generator.predict([noise, np.array([[1], [1], [1]])], verbose=0)
    np.testing.assert_allclose(same[0], same[2], atol=1e-6)


def test_seed_gives_identical_models():
    a, b, c = tiny_gan(seed=3), tiny_gan(seed=3), tiny_gan(seed=4)
    np.testing.assert_array_equal(a.generate([0, 1, 2]), b.generate([0, 1, 2]))
    assert not np.allclose(a.generate([0, 1, 2]), c.generate([0, 1, 2]))


def test_save_load_round_trip_is_identical(tmp_path):
    gan = tiny_gan()
    gan.compile()
    x, y = planted_classes(16)
    gan.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "acgan.keras"
    gan.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded, ACGAN) and loaded.latent_dim == LATENT
    np.testing.assert_array_equal(
        gan.generate([0, 1, 2], seed=7), loaded.generate([0, 1, 2], seed=7)
    )
    np.testing.assert_allclose(
        discriminator_classifier(gan).predict(x, verbose=0),
        discriminator_classifier(loaded).predict(x, verbose=0),
        atol=1e-6,
    )
    assert int(loaded.d_optimizer.iterations) == int(gan.d_optimizer.iterations) == 2
    loaded.fit(x, y, batch_size=8, epochs=1, verbose=0)  # training resumes


def test_bad_sizes_and_models_are_refused():
    with pytest.raises(ValueError, match="divisible"):
        acgan(image_size=20, num_blocks=3)
    with pytest.raises(ValueError, match="generator"):
        ACGAN(
            keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)]), tiny_gan().discriminator
        )
    with pytest.raises(TypeError, match="ACGAN"):
        discriminator_classifier(keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)]))


def test_classifier_head_in_a_three_class_evaluation():
    evaluate = pytest.importorskip("cxrkeras.evaluate").evaluate
    gan = tiny_gan()
    x, y = planted_classes(12)
    clf = discriminator_classifier(gan)
    assert clf.output_shape == (None, 3) and clf.name == "acgan_classifier"
    result = evaluate(clf, (x, y), bootstrap=0)
    assert result.class_names == ("normal", "bacteria", "virus")
    probs = clf.predict(x, verbose=0)
    assert result.accuracy == pytest.approx(np.mean(probs.argmax(1) == y))


# --- synthetic images -------------------------------------------------------------------


def test_synthesize_counts_labels_and_determinism():
    gan = tiny_gan()
    x, y = synthesize(gan, {"virus": 3, 1: 2, "normal": 0}, batch_size=2)
    assert x.shape == (5, SIZE, SIZE, 1) and x.dtype == np.float32
    assert y.tolist() == [1, 1, 2, 2, 2] and 0.0 <= x.min() and x.max() <= 1.0
    x2, _ = synthesize(gan.generator, {"virus": 3, 1: 2}, batch_size=4)
    np.testing.assert_allclose(x, x2, atol=1e-6)
    with pytest.raises(ValueError, match="Unknown class"):
        synthesize(gan, {"fungus": 1})
    with pytest.raises(ValueError, match="negative"):
        synthesize(gan, {0: -1})


def test_rebalance_counts_fills_the_minority_classes():
    labels = np.array([0] * 10 + [1] * 6 + [2] * 1)
    assert rebalance_counts(labels) == {0: 0, 1: 4, 2: 9}
    assert rebalance_counts(np.eye(3)[labels], target=8) == {0: 0, 1: 2, 2: 7}
    assert rebalance_counts([0, 0], num_classes=3) == {0: 0, 1: 2, 2: 2}


@pytest.mark.parametrize("one_hot, batched", [(False, True), (True, True), (False, False)])
def test_mix_ratio_and_label_encoding(one_hot, batched):
    n_real, ratio = 1200, 0.25
    real_y = np.zeros(n_real, dtype="int64")
    real_labels = np.eye(3, dtype="float32")[real_y] if one_hot else real_y
    real = tf.data.Dataset.from_tensor_slices((np.zeros((n_real, 4, 4, 1), "f4"), real_labels))
    syn_x, syn_y = np.ones((20, 4, 4, 1), "f4"), np.full(20, 2)
    mixed = mix_synthetic(real.batch(32) if batched else real, syn_x, syn_y, ratio=ratio, seed=1)
    batches = mixed if batched else mixed.batch(32)
    pairs = [(x.numpy(), y.numpy()) for x, y in batches]
    xs, ys = zip(*pairs, strict=True)
    assert xs[0].shape[0] == 32
    images, labels = np.concatenate(xs), np.concatenate(ys)
    is_synthetic = images.reshape(len(images), -1).mean(1) == 1.0
    assert (is_synthetic.sum() == len(images) - n_real) and abs(is_synthetic.mean() - ratio) < 0.04
    assert labels.dtype == real_labels.dtype and labels.shape[1:] == real_labels.shape[1:]
    ids = labels.argmax(1) if one_hot else labels
    assert np.all(ids[is_synthetic] == 2) and np.all(ids[~is_synthetic] == 0)
    if not batched:  # known size: exact count, known cardinality, reshuffled each pass
        assert is_synthetic.sum() == 400 and int(mixed.cardinality()) == 1600
        again = np.concatenate([x.numpy() for x, _ in batches])  # a second epoch
        assert not np.array_equal(again.reshape(1600, -1).mean(1) == 1.0, is_synthetic)


def test_mix_refuses_bad_inputs():
    real = tf.data.Dataset.from_tensor_slices((np.zeros((4, 8, 8, 1), "f4"), np.zeros(4)))
    with pytest.raises(ValueError, match="ratio"):
        mix_synthetic(real, np.ones((2, 8, 8, 1)), [0, 1], ratio=1.0)
    with pytest.raises(ValueError, match="do not fit"):
        mix_synthetic(real, np.ones((2, 8, 8, 3)), [0, 1])
    triples = tf.data.Dataset.from_tensor_slices((np.zeros((4, 8, 8, 1)), np.zeros(4), np.ones(4)))
    with pytest.raises(ValueError, match="pairs"):
        mix_synthetic(triples, np.ones((2, 8, 8, 1)), [0, 1])


def test_sample_grid_writes_one_png_per_epoch(tmp_path):
    gan = tiny_gan()
    gan.compile()
    x, y = planted_classes(8)
    grid = SampleGrid(tmp_path / "grids", samples_per_class=3, seed=2)
    gan.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[grid])
    files = sorted(p.name for p in (tmp_path / "grids").iterdir())
    assert files == ["samples_epoch001.png", "samples_epoch002.png"]
    assert all(p.stat().st_size > 1000 for p in grid.paths)
    assert grid._noise.shape == (3, LATENT)


# --- dummy class --------------------------------------------------------------------------


def test_dummy_class_labels_shapes():
    labels = np.array([0, 1, 1, 0, 1])
    flags = np.array([False, True, False, True, False])
    assert dummy_class_labels(labels, flags).tolist() == [0, 2, 1, 2, 1]
    onehot = dummy_class_labels(
        np.eye(3)[[0, 1, 2]], [True, False, False], label_mode="categorical"
    )
    assert onehot.shape == (3, 4) and onehot.argmax(1).tolist() == [3, 1, 2]
    with pytest.raises(ValueError, match="one flag per sample"):
        dummy_class_labels(labels, flags[:3])
    assert ambiguous_by_margin([[0.4, 0.35, 0.25], [0.1, 0.8, 0.1]], margin=0.1).tolist() == [
        True,
        False,
    ]


@pytest.mark.parametrize("units, activation", [(3, "softmax"), (1, "sigmoid")])
def test_add_and_drop_dummy_class(tmp_path, units, activation):
    inputs = keras.Input((6,), name="features")
    hidden = keras.layers.Dense(5, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(units, activation=activation, name="head")(hidden)
    clf = keras.Model(inputs, outputs, name="clf")
    x = np.random.default_rng(0).normal(size=(16, 6)).astype("f4")
    before = clf.predict(x, verbose=0)
    before = np.concatenate([1 - before, before], 1) if units == 1 else before
    k = before.shape[1]

    with_dummy = add_dummy_class(clf)
    assert with_dummy.output_shape == (None, k + 1)
    probs = with_dummy.predict(x, verbose=0)
    assert probs[:, -1].max() < 0.05
    np.testing.assert_allclose(drop_dummy_scores(probs), before, atol=1e-5)
    assert clf.output_shape == (None, units)  # the original model is untouched

    ambiguous = np.arange(16) < 8
    labels = dummy_class_labels(np.arange(16) % k, ambiguous, num_classes=k)
    x_train = x.copy()
    x_train[ambiguous, 0] += 4.0  # a planted feature marks the ambiguous images
    with_dummy.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    with_dummy.fit(np.tile(x_train, (40, 1)), np.tile(labels, 40), batch_size=16, verbose=0)
    dummy_prob = with_dummy.predict(x_train, verbose=0)[:, -1]
    assert dummy_prob[ambiguous].min() > 0.5 > dummy_prob[~ambiguous].max()
    predictor = drop_dummy_class(with_dummy)
    out = predictor.predict(x, verbose=0)
    assert out.shape == (16, k)
    np.testing.assert_allclose(out.sum(1), 1.0, atol=1e-5)
    predictor.save(tmp_path / "p.keras")
    loaded = keras.models.load_model(tmp_path / "p.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), out, atol=1e-6)


def test_add_dummy_class_needs_a_dense_head():
    inputs = keras.Input((4,))
    out = keras.layers.Activation("softmax")(keras.layers.Dense(3)(inputs))
    with pytest.raises(ValueError, match="last Dense layer"):
        add_dummy_class(keras.Model(inputs, out))
