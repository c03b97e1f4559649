"""Transfer classifiers, ImageNet preprocessing, ResNet-18 / AlexNet / VGG16, replace_head."""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np
import pytest
from builder_harness import check_builder, random_images

from cxrkeras.backbones import BACKBONE_NAMES, transfer_classifier
from cxrkeras.classic_nets import alexnet, resnet18_backbone
from cxrkeras.image_layers import ImageNetPreprocessing, imagenet_input
from cxrkeras.models import binary_cnn
from cxrkeras.transfer_models import efficientnet_transfer, replace_head, resnet18, vgg16

# keras.applications leaves a few weightless layers with automatic names
APP_AUTO_NAMES = ("rescaling", "normalization", "zero_padding2d")
SMALL = (32, 32, 1)


def _trainable_count(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


@pytest.mark.parametrize(
    ("mode", "reference"),
    [
        ("caffe", keras.applications.vgg16.preprocess_input),
        ("caffe", keras.applications.resnet50.preprocess_input),
        ("torch", keras.applications.densenet.preprocess_input),
        ("tf", keras.applications.mobilenet_v2.preprocess_input),
        ("tf", keras.applications.mobilenet.preprocess_input),
        ("raw", keras.applications.efficientnet.preprocess_input),
    ],
)
def test_preprocessing_matches_keras_applications(mode, reference):
    x = random_images((5, 7, 3), batch=2)  # colour, so a channel flip would show
    ours = np.asarray(ImageNetPreprocessing(mode)(x))
    np.testing.assert_allclose(ours, reference(x * 255.0), rtol=1e-5, atol=1e-4)


def test_preprocessing_layer_rejects_unknown_mode_and_channels():
    with pytest.raises(ValueError, match="caffe"):
        ImageNetPreprocessing("imagenet")
    with pytest.raises(ValueError, match="2 channels"):
        imagenet_input(keras.Input((8, 8, 2)), "tf", name="x")


def test_grayscale_is_repeated_to_rgb():
    inputs = keras.Input((6, 4, 1))
    model = keras.Model(inputs, imagenet_input(inputs, "raw", name="demo"))
    x = random_images((6, 4, 1), batch=1)
    out = np.asarray(model(x))
    for c in range(3):
        np.testing.assert_allclose(out[..., c], 255.0 * x[..., 0], rtol=1e-6)


def test_transfer_harness_mobilenet_frozen(tmp_path):
    model = check_builder(
        lambda: transfer_classifier(
            "mobilenet", input_shape=SMALL, weights=None, alpha=0.25, head_units=(8,), dropout=0.3
        ),
        SMALL,
        1,
        tmp_path,
    )
    assert model.get_layer("conv1").trainable is False  # a backbone layer, in the outer graph
    head = ("embedding", "predictions")
    assert _trainable_count(model) == sum(
        int(np.prod(w.shape)) for n in head for w in model.get_layer(n).trainable_weights
    )


def test_resnet18_harness_unfrozen(tmp_path):
    model = check_builder(lambda: resnet18((32, 48, 1), num_classes=2), (32, 48, 1), 2, tmp_path)
    assert model.get_layer("conv5_block2_out").output.shape == (None, 1, 2, 512)
    assert all(layer.trainable for layer in model.layers)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("build", "num_classes"),
    [
        (lambda: transfer_classifier("vgg16", input_shape=SMALL, weights=None), 1),
        (
            lambda: transfer_classifier("resnet50", input_shape=SMALL, weights=None, num_classes=3),
            3,
        ),
        (lambda: transfer_classifier("densenet121", input_shape=SMALL, weights=None), 1),
        (lambda: transfer_classifier("efficientnetb4", input_shape=SMALL, weights=None), 1),
        (lambda: transfer_classifier("mobilenetv2", input_shape=SMALL, weights=None), 1),
        (lambda: efficientnet_transfer(SMALL, weights=None), 2),
        (lambda: vgg16(SMALL, weights=None, num_classes=2), 2),
        (lambda: alexnet((64, 64, 1)), 1),
    ],
    ids=["vgg16", "resnet50", "densenet121", "effb4", "mnv2", "effb0_c", "vgg16_ad", "alexnet"],
)
def test_big_builders_harness(build, num_classes, tmp_path):
    shape = build().input_shape[1:]
    keras.backend.clear_session()
    check_builder(build, shape, num_classes, tmp_path, allow_auto_names=APP_AUTO_NAMES)


def test_canonical_parameter_counts():
    """ResNet-18 and AlexNet at 224x224x3 with 1000 classes, as torchvision counts them."""
    assert _trainable_count(resnet18((224, 224, 3), num_classes=1000)) == 11_689_512
    backbone = resnet18_backbone((224, 224, 3))
    assert _trainable_count(backbone) == 11_689_512 - (512 * 1000 + 1000)
    assert _trainable_count(alexnet((224, 224, 3), num_classes=1000)) == 61_100_840


@pytest.mark.slow
def test_vgg16_matches_report_a_parameter_count():
    assert vgg16((224, 224, 3), weights=None, num_classes=2).count_params() == 134_268_738


def test_report_c_efficientnet_head():
    model = efficientnet_transfer((32, 32, 1), weights=None)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [d.units for d in dense] == [500, 100, 2]
    head = model.layers[-5:]
    assert [type(layer).__name__ for layer in head] == ["Dense", "Dropout"] * 2 + ["Dense"]
    assert head[1].rate == head[3].rate == 0.3

    assert model.get_layer("efficientnet_transfer_avg_pool").output.shape == (None, 1280)
    assert all(not layer.trainable for layer in model.layers if layer.name.startswith("block"))


def _randomise(model: keras.Model, seed: int = 0) -> None:
    """Perturb every weight, BN statistics included, away from its initial value."""
    rng = np.random.default_rng(seed)
    model.set_weights(
        [w + rng.normal(0, 0.02, w.shape).astype("float32") for w in model.get_weights()]
    )


def _embedding(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return np.asarray(keras.Model(model.input, model.get_layer("embedding").output)(x))


@pytest.mark.parametrize("backbone", ["mobilenet", "resnet18"])
def test_local_weights_file_is_loaded(backbone, tmp_path):
    kwargs = {"alpha": 0.25} if backbone == "mobilenet" else {}
    if backbone == "resnet18":
        reference = resnet18_backbone((32, 32, 3))
        mode = "torch"
    else:
        reference = keras.applications.MobileNet(
            include_top=False, weights=None, input_shape=(32, 32, 3), **kwargs
        )
        mode = "tf"
    _randomise(reference)
    path = tmp_path / f"{backbone}.weights.h5"
    reference.save_weights(path)
    x = random_images(SMALL, batch=3)
    expected = np.asarray(reference(ImageNetPreprocessing(mode)(np.repeat(x, 3, axis=-1)))).mean(
        axis=(1, 2)
    )
    first = transfer_classifier(backbone, input_shape=SMALL, weights=str(path), **kwargs)
    second = transfer_classifier(backbone, input_shape=SMALL, weights=path, **kwargs)
    np.testing.assert_allclose(_embedding(first, x), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(_embedding(first, x), _embedding(second, x))
    fresh = transfer_classifier(backbone, input_shape=SMALL, weights=None, **kwargs)
    assert not np.allclose(_embedding(fresh, x), expected, atol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize(
    "backbone", ["vgg16", "resnet50", "densenet121", "efficientnetb0", "mobilenetv2"]
)
def test_local_weights_every_family(backbone, tmp_path):
    build = {
        "vgg16": keras.applications.VGG16,
        "resnet50": keras.applications.ResNet50,
        "densenet121": keras.applications.DenseNet121,
        "efficientnetb0": keras.applications.EfficientNetB0,
        "mobilenetv2": keras.applications.MobileNetV2,
    }[backbone]
    reference = build(include_top=False, weights=None, input_shape=(32, 32, 3))
    rng = np.random.default_rng(0)
    reference.set_weights(
        [w + rng.normal(0, 0.01, w.shape).astype("float32") for w in reference.get_weights()]
    )
    path = tmp_path / f"{backbone}.weights.h5"
    reference.save_weights(path)
    a = transfer_classifier(backbone, input_shape=SMALL, weights=path)
    b = transfer_classifier(backbone, input_shape=SMALL, weights=path)
    x = random_images(SMALL, batch=2)
    np.testing.assert_array_equal(_embedding(a, x), _embedding(b, x))
    for src, dst in zip(
        reference.weights, [w for w in a.weights if "predictions" not in w.path], strict=False
    ):
        np.testing.assert_array_equal(np.asarray(src), np.asarray(dst))


def test_transfer_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="resnet18"):
        transfer_classifier("resnet34", input_shape=SMALL, weights=None)
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        transfer_classifier("mobilenet", input_shape=SMALL, weights=str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="alpha"):
        transfer_classifier("vgg16", input_shape=SMALL, weights=None, alpha=0.5)
    with pytest.raises(ValueError, match="32x32"):
        transfer_classifier("mobilenet", input_shape=(16, 16, 1), weights=None)
    with pytest.raises(ValueError, match="ImageNet weights for ResNet-18"):
        resnet18(SMALL, weights="imagenet")
    with pytest.raises(ValueError, match="head_units"):
        transfer_classifier(
            "mobilenet", input_shape=SMALL, weights=None, alpha=0.25, head_units=(0,)
        )


def test_bn_momentum_moves_the_moving_statistics(tmp_path):
    """MobileNetV2's own 0.999 barely moves in a step; 0.9 moves them 100x as far."""
    x = random_images(SMALL, batch=8)
    y = np.zeros((8, 1), "float32")
    moved = {}
    for momentum in (None, 0.9):
        keras.utils.set_random_seed(0)
        model = transfer_classifier(
            "mobilenetv2", input_shape=SMALL, weights=None, freeze_backbone=False,
            bn_momentum=momentum,
        )  # fmt: skip
        bn = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
        assert {layer.momentum for layer in bn} == {0.999 if momentum is None else 0.9}
        before = np.asarray(bn[0].moving_mean).copy()
        model.compile(optimizer=keras.optimizers.SGD(0.0), loss="binary_crossentropy")
        model.train_on_batch(x, y)
        moved[momentum] = np.abs(np.asarray(bn[0].moving_mean) - before).sum()
        if momentum is not None:
            model.save(tmp_path / "m.keras")
            loaded = keras.saving.load_model(tmp_path / "m.keras")
            assert loaded.get_layer(bn[0].name).momentum == 0.9
    np.testing.assert_allclose(moved[0.9] / moved[None], 100.0, rtol=1e-3)
    with pytest.raises(ValueError, match="bn_momentum"):
        transfer_classifier("mobilenet", input_shape=SMALL, weights=None, bn_momentum=1.0)


def test_replace_head_keeps_backbone_weights_independently(tmp_path):
    binary = transfer_classifier(
        "mobilenet",
        input_shape=SMALL,
        weights=None,
        alpha=0.25,
        freeze_backbone=False,
        head_units=(8,),
    )
    _randomise(binary, seed=3)
    model = check_builder(lambda: replace_head(binary, num_classes=3), SMALL, 3, tmp_path)
    x = random_images(SMALL, batch=2)
    fresh = replace_head(binary, num_classes=3)
    np.testing.assert_allclose(_embedding(fresh, x), _embedding(binary, x), rtol=1e-5, atol=1e-5)
    assert fresh.get_layer("predictions").activation is keras.activations.softmax
    # the harness trained `model` one step; `binary` did not move
    assert not np.allclose(_embedding(model, x), _embedding(binary, x))
    np.testing.assert_allclose(
        _embedding(replace_head(binary, num_classes=3), x), _embedding(fresh, x)
    )
    with pytest.raises(ValueError, match="Dense"):
        replace_head(
            keras.Model(binary.input, binary.get_layer("mobilenet_avg_pool").output), num_classes=3
        )


def test_replace_head_keeps_trainable_flags():
    binary = binary_cnn(SMALL)
    binary.get_layer("binary_cnn_conv1").trainable = False
    model = replace_head(binary, num_classes=3)
    assert model.get_layer("binary_cnn_conv1").trainable is False
    assert model.get_layer("predictions").trainable is True


def _patient(path: Path) -> str:
    match = re.match(r"(person\d+|.*?IM-\d+)", path.name)
    return match.group(1) if match else path.stem


def _patient_split(root: Path, per_class: int, seed: int = 0):
    """``per_class`` train and held-out images per class, from disjoint patients."""
    import cv2

    rng = np.random.default_rng(seed)
    train, test = [], []
    for label, cls in enumerate(("NORMAL", "PNEUMONIA")):
        files = sorted((root / "train" / cls).glob("*.jpeg"))
        patients = sorted({_patient(f) for f in files})
        rng.shuffle(patients)
        half = set(patients[: len(patients) // 2])
        pool_a = [f for f in files if _patient(f) in half]
        pool_b = [f for f in files if _patient(f) not in half]
        train += [(f, label) for f in rng.choice(pool_a, per_class, replace=False)]
        test += [(f, label) for f in rng.choice(pool_b, per_class, replace=False)]
    assert not {_patient(f) for f, _ in train} & {_patient(f) for f, _ in test}

    def load(items):
        x = np.stack(
            [cv2.resize(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE), (224, 224)) for f, _ in items]
        )
        return (x[..., None] / 255.0).astype("float32"), np.array([y for _, y in items])

    return load(train), load(test)


@pytest.mark.slow
def test_pretrained_features_beat_random_features(real_data, weights_dir):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    keras.utils.set_random_seed(0)  # the random-init baseline
    (x_train, y_train), (x_test, y_test) = _patient_split(real_data, per_class=100)
    files = {
        "mobilenetv2": ("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5", 1.0),
        "mobilenet": ("mobilenet_2_5_224_tf_no_top.h5", 0.25),
    }
    for backbone, (file, alpha) in files.items():
        aucs = {}
        for label, weights in (("pretrained", str(weights_dir / file)), ("random", None)):
            model = transfer_classifier(
                backbone, input_shape=(224, 224, 1), weights=weights, alpha=alpha
            )
            features = keras.Model(model.input, model.get_layer("embedding").output)
            f_train = features.predict(x_train, batch_size=32, verbose=0)
            f_test = features.predict(x_test, batch_size=32, verbose=0)
            # standardised, because random-init features are tiny (~1e-12: Keras' default
            # initialisers shrink activations through inference-mode batch norm)
            clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
            clf.fit(f_train, y_train)
            aucs[label] = roc_auc_score(y_test, clf.predict_proba(f_test)[:, 1])
        assert aucs["pretrained"] > aucs["random"], (backbone, aucs)
        assert aucs["pretrained"] > 0.9, (backbone, aucs)


def test_backbone_names_are_the_documented_ones():
    assert set(BACKBONE_NAMES) == {
        "vgg16",
        "resnet50",
        "resnet18",
        "densenet121",
        "efficientnetb0",
        "efficientnetb4",
        "mobilenetv2",
        "mobilenet",
    }
