"""Layer lookup and single-pass intermediate outputs on flat and nested models."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from _explain_models import HEIGHT, WIDTH, planted_images, planted_model

from cxrkeras._graph import find_layer, forward_with_intermediate

L = keras.layers
NESTINGS = ["flat", "functional", "sequential", "sequential_of_sequential"]


def _report_b_models(shape=(30, 22, 1)):
    """Report B's binary CNN (narrowed) and its categorical transfer model."""
    binary = keras.Sequential(
        [
            keras.Input(shape),
            L.Conv2D(4, 3, activation="relu"),
            L.Conv2D(4, 3, activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(8, 3, activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(8, activation="relu"),
            L.Dropout(0.5),
            L.Dense(1, activation="sigmoid"),
        ]
    )
    base = keras.Sequential(binary.layers[:4])
    categorical = keras.Sequential(
        [
            base,
            L.Conv2D(8, 3, activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(8, activation="relu"),
            L.Dropout(0.5),
            L.Dense(3, activation="softmax"),
        ]
    )
    categorical.build((None, *shape))
    return binary, base, categorical


def test_auto_pick_is_innermost_last_4d_layer():
    for nesting in NESTINGS:
        model = planted_model("sigmoid", nesting)
        layer, path = find_layer(model)
        assert layer.name == "mix"
        assert path == ("mix" if nesting == "flat" else "features.mix")
        assert find_layer(model, path)[0] is layer
        assert find_layer(model, "mix")[0] is layer
        assert find_layer(model, layer)[1] == path


def test_wrong_name_lists_4d_candidates_with_dotted_paths():
    model = planted_model("sigmoid", "sequential")
    with pytest.raises(ValueError, match="not found") as err:
        find_layer(model, "conv5_block16_concat")
    message = str(err.value)
    assert "features.detect" in message and "features.mix" in message
    assert "scores" not in message  # a 2-D layer is not a Grad-CAM candidate


def test_ambiguous_name_asks_for_a_dotted_path():
    def block(name):
        return keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(1, 3, name="conv")], name=name)

    inputs = keras.Input((8, 8, 1))
    top = L.Conv2D(1, 1, name="conv")(inputs)
    x = L.Concatenate(name="cat")([block("a")(inputs), block("b")(inputs)])
    model = keras.Model(inputs, [top, x])
    assert find_layer(model, "conv")[1] == "conv"  # the top level wins, as in get_layer
    assert find_layer(model, "b.conv")[1] == "b.conv"
    nested_only = keras.Model(inputs, x)
    with pytest.raises(ValueError, match="ambiguous") as err:
        find_layer(nested_only, "conv")
    assert "a.conv" in str(err.value) and "b.conv" in str(err.value)


def test_subclassed_and_unbuilt_models_get_clear_errors():
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = L.Conv2D(2, 3)

        def call(self, x):
            return self.conv(x)

    with pytest.raises(TypeError, match="Subclassed"):
        find_layer(Tiny())
    with pytest.raises(ValueError, match="not built"):
        find_layer(keras.Sequential([L.Conv2D(2, 3)]))


@pytest.mark.parametrize("nesting", NESTINGS)
@pytest.mark.parametrize("head", ["sigmoid", "softmax"])
def test_one_pass_matches_flat_model_and_predict(head, nesting):
    images = np.concatenate([planted_images(3), planted_images(2, positive=False, seed=1)])
    model = planted_model(head, nesting)
    flat = planted_model(head, "flat")
    reference = keras.Model(flat.input, flat.get_layer("pool").output)(images)
    fmap, output = forward_with_intermediate(model, images, "pool")
    np.testing.assert_allclose(fmap, reference, atol=1e-6)
    np.testing.assert_allclose(output, model.predict(images, verbose=0), atol=1e-6)
    _, logits = forward_with_intermediate(model, images, "pool", pre_logits=True)
    squash = tf.sigmoid if head == "sigmoid" else tf.nn.softmax
    np.testing.assert_allclose(squash(logits), output, atol=1e-6)
    assert float(tf.reduce_max(tf.abs(logits))) > 1.0  # really logits, not probabilities


@pytest.mark.parametrize("nesting", NESTINGS)
def test_gradient_reaches_nested_layer_and_model_is_unchanged(nesting):
    model = planted_model("sigmoid", nesting)
    images = planted_images(2)
    config = json.dumps(model.get_config(), default=str)
    before = model.predict(images, verbose=0)
    with tf.GradientTape() as tape:
        fmap, logit = forward_with_intermediate(model, images, None, pre_logits=True)
    grads = tape.gradient(logit, fmap)
    assert grads is not None and float(tf.reduce_sum(tf.abs(grads))) > 0
    assert json.dumps(model.get_config(), default=str) == config
    assert model.layers[-1].activation.__name__ == "sigmoid"
    np.testing.assert_array_equal(model.predict(images, verbose=0), before)


def test_keras_io_recipe_fails_where_replay_works():
    model = planted_model("sigmoid", "functional")
    inner = model.get_layer("features")
    with pytest.raises(ValueError, match="not connected"):
        keras.Model(model.inputs, [inner.get_layer("mix").output, model.output])
    fmap, _ = forward_with_intermediate(model, planted_images(1), "features.mix")
    assert tuple(fmap.shape) == (1, HEIGHT // 2, WIDTH // 2, 2)


def test_report_b_categorical_sequential_of_shared_layers():
    binary, base, categorical = _report_b_models()
    images = np.random.default_rng(0).uniform(size=(4, 30, 22, 1)).astype("float32")
    layer, path = find_layer(categorical)
    assert path == categorical.layers[2].name  # the outer MaxPooling2D, the last 4-D layer
    inner_path = f"{base.name}.{base.layers[-1].name}"
    with tf.GradientTape() as tape:
        fmap, logits = forward_with_intermediate(categorical, images, inner_path, pre_logits=True)
        score = logits[:, 2]
    assert tape.gradient(score, fmap) is not None
    np.testing.assert_allclose(fmap, base(images), atol=1e-6)
    np.testing.assert_allclose(
        tf.nn.softmax(logits), categorical.predict(images, verbose=0), atol=1e-6
    )


def test_pre_logits_skips_a_separate_activation_layer():
    inputs = keras.Input((6, 6, 1))
    x = L.Conv2D(2, 3, name="conv")(inputs)
    x = L.Flatten(name="flat")(x)
    x = L.Dense(3, name="logits")(x)
    model = keras.Model(inputs, L.Softmax(name="probs")(x))
    images = np.random.default_rng(1).uniform(size=(2, 6, 6, 1))
    _, logits = forward_with_intermediate(model, images, "conv", pre_logits=True)
    expected = keras.Model(inputs, model.get_layer("logits").output)(images)
    np.testing.assert_allclose(logits, expected, atol=1e-6)
