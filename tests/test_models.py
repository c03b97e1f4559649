"""Report B / C / A CNN builders and the model registry."""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest
from builder_harness import auto_named_layers, check_builder, random_images

from cxrkeras.models import binary_cnn, categorical_from_binary, cnn_94, cnn_v2, convnet
from cxrkeras.registry import _REGISTRY, MODEL_NAMES, get_model


@pytest.mark.parametrize(
    ("build", "input_shape", "num_classes"),
    [
        (lambda: binary_cnn((32, 32, 1)), (32, 32, 1), 1),
        (lambda: binary_cnn((40, 32, 3), num_classes=3), (40, 32, 3), 3),
        (lambda: categorical_from_binary(binary_cnn((32, 32, 1))), (32, 32, 1), 3),
        (lambda: categorical_from_binary(binary_cnn((32, 32, 1)), freeze=True), (32, 32, 1), 3),
        (lambda: cnn_94((32, 40, 1)), (32, 40, 1), 2),
        (lambda: cnn_v2((32, 32, 1), num_classes=1), (32, 32, 1), 1),
        (lambda: convnet((32, 32, 1), filters=(4, 8)), (32, 32, 1), 2),
    ],
    ids=["binary", "binary3rgb", "categorical", "categorical_frozen", "cnn94", "cnnv2", "convnet"],
)
def test_builder_harness(build, input_shape, num_classes, tmp_path):
    check_builder(build, input_shape, num_classes, tmp_path)


def _conv_params(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


def test_binary_cnn_is_the_report_model_at_150():
    model = binary_cnn()
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [16, 16, 32, 64]
    assert all(c.kernel_size == (3, 3) and c.padding == "valid" for c in convs)
    # 150 -> 148 -> 146 -> pool 73 -> 71 -> pool 35 -> 33 -> pool 16
    assert model.get_layer("binary_cnn_flatten").output.shape == (None, 16 * 16 * 64)
    expected = (
        _conv_params(3, 1, 16)
        + _conv_params(3, 16, 16)
        + _conv_params(3, 16, 32)
        + _conv_params(3, 32, 64)
        + (16 * 16 * 64 * 64 + 64)
        + (64 + 1)
    )
    assert model.count_params() == expected
    names = [layer.name for layer in model.layers]
    assert names.index("embedding") + 1 == names.index("binary_cnn_dropout")
    assert model.get_layer("binary_cnn_dropout").rate == 0.5
    assert model.get_layer("predictions").activation is keras.activations.sigmoid


def test_categorical_from_binary_copies_weights_independently():
    binary = binary_cnn((32, 32, 1))
    rng = np.random.default_rng(1)
    binary.set_weights([rng.normal(size=w.shape).astype("float32") for w in binary.get_weights()])
    model = categorical_from_binary(binary)
    kinds = [type(layer).__name__ for layer in model.layers[1:8]]
    assert kinds == [
        "Conv2D",
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
    ]
    assert model.get_layer("predictions").activation is keras.activations.softmax
    # same features after the reused conv-conv-pool-conv part
    x = random_images((32, 32, 1), batch=3)
    fb = keras.Model(binary.input, binary.get_layer("binary_cnn_conv3").output)(x)
    fc = keras.Model(model.input, model.get_layer("categorical_cnn_conv3").output)(x)
    np.testing.assert_allclose(np.asarray(fc), np.asarray(fb), rtol=1e-5, atol=1e-5)
    # independent copies: changing the new model leaves the binary model alone
    conv = model.get_layer("categorical_cnn_conv1")
    before = binary.get_layer("binary_cnn_conv1").get_weights()[0].copy()
    conv.set_weights([w * 0 for w in conv.get_weights()])
    np.testing.assert_array_equal(binary.get_layer("binary_cnn_conv1").get_weights()[0], before)
    assert all(model.get_layer(f"categorical_cnn_conv{i}").trainable for i in (1, 2, 3))


def test_categorical_from_binary_freeze_and_errors():
    frozen = categorical_from_binary(binary_cnn((32, 32, 1)), freeze=True)
    assert [frozen.get_layer(f"categorical_cnn_conv{i}").trainable for i in (1, 2, 3, 4)] == [
        False,
        False,
        False,
        True,
    ]
    with pytest.raises(TypeError, match="keras.Model"):
        categorical_from_binary("binary.keras")
    tiny = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="at least 4"):
        categorical_from_binary(tiny)


@pytest.mark.parametrize(
    ("build", "table"),
    [
        (
            cnn_94,
            {
                "conv1": (98, 98, 12),
                "pool1": (49, 49, 12),
                "bn1": (49, 49, 12),
                "conv2": (47, 47, 18),
                "pool2": (23, 23, 18),
                "conv3": (21, 21, 24),
                "dense1": (1000,),
                "dense2": (100,),
            },
        ),
        (
            cnn_v2,
            {
                "conv1": (96, 96, 12),
                "pool1": (48, 48, 12),
                "conv2": (46, 46, 12),
                "conv3": (44, 44, 16),
                "conv4": (42, 42, 12),
                "conv5": (40, 40, 12),
                "dropout1": (40, 40, 12),
                "pool2": (20, 20, 12),
                "dense1": (1000,),
            },
        ),
    ],
    ids=["cnn_94", "cnn_v2"],
)
def test_report_c_tables(build, table):
    """Output shapes at 100x100 are those of report C's tables I and II."""
    model = build()
    prefix = model.name
    for layer_name, shape in table.items():
        assert model.get_layer(f"{prefix}_{layer_name}").output.shape == (None, *shape), layer_name
    assert model.get_layer("embedding").units == 10
    assert model.output_shape == (None, 2)
    # LeakyReLU right after every conv and hidden dense layer, none after the output
    layers_ = model.layers
    for i, layer in enumerate(layers_[:-1]):
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense):
            assert isinstance(layers_[i + 1], keras.layers.LeakyReLU), layer.name
    assert model.get_layer("predictions") is layers_[-1]


def test_convnet_depth_follows_filters():
    model = convnet((64, 64, 1), filters=(4, 8, 16))
    assert model.get_layer("convnet_flatten").output.shape == (None, 8 * 8 * 16)
    assert model.get_layer("embedding").units == 256


@pytest.mark.parametrize(
    "call",
    [
        lambda: binary_cnn((32, 32)),
        lambda: binary_cnn((32, 32, 1), num_classes=0),
        lambda: cnn_94((32.0, 32, 1)),
        lambda: convnet((32, 32, 1), filters=()),
    ],
)
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError, match="got"):
        call()


def test_registry_names_and_signatures():
    assert len(set(MODEL_NAMES)) == len(MODEL_NAMES) >= 15
    for name in MODEL_NAMES:
        params = inspect.signature(_REGISTRY[name]).parameters
        assert "input_shape" in params, name
        assert "num_classes" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def test_get_model_builds_and_rejects():
    model = get_model("cnn_v2", input_shape=(32, 32, 1), num_classes=3)
    assert model.output_shape == (None, 3) and model.name == "cnn_v2"
    assert get_model("categorical_cnn", input_shape=(32, 32, 1)).output_shape == (None, 3)
    transfer = get_model("mobilenet", input_shape=(32, 32, 1), weights=None, alpha=0.25)
    assert not auto_named_layers(transfer)
    with pytest.raises(ValueError, match="binary_cnn"):
        get_model("resnet-18")
    with pytest.raises(TypeError, match="get_model"):
        get_model("binary_cnn", dropout_rate=0.2)
