"""Embeddings from named (nested) layers, kNN on planted clusters, projections."""

from __future__ import annotations

import keras
import matplotlib.image as mpimg
import numpy as np
import pytest
import tensorflow as tf
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits

from cxrkeras.embed import (
    default_embedding_layer,
    embeddings,
    evaluate_knn,
    knn_classifier,
    plot_projection,
    project,
)


def _report_b_like(input_shape=(12, 10, 1)):
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(6, activation="relu", name="embedding")(x)
    x = keras.layers.Dropout(0.5, name="drop")(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="head")(x)
    return keras.Model(inputs, out, name="report_b_like")


def _nested(input_shape=(12, 10, 1)):
    base_in = keras.Input(input_shape, name="base_in")
    fmap = keras.layers.Conv2D(5, 3, padding="same", name="base_conv")(base_in)
    base = keras.Model(base_in, fmap, name="base")
    inputs = keras.Input(input_shape, name="image")
    x = base(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="head")(x)
    return keras.Model(inputs, out, name="outer"), base


def _images(n=10, seed=0, shape=(12, 10, 1)):
    return np.random.default_rng(seed).uniform(size=(n, *shape)).astype("float32")


def test_default_layer_is_the_dense_before_the_head():
    assert default_embedding_layer(_report_b_like()) == "embedding"
    assert default_embedding_layer(_nested()[0]) == "gap"
    seq = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c"), keras.layers.Softmax()]
    )
    assert default_embedding_layer(seq) == "c"


def test_flat_model_features_equal_a_sub_model():
    model, x = _report_b_like(), _images()
    sub = keras.Model(model.inputs, model.get_layer("embedding").output)
    feats, labels = embeddings(model, x, batch_size=4)
    np.testing.assert_allclose(feats, sub.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert labels is None


def test_nested_layer_by_dotted_path_is_pooled():
    model, base = _nested()
    x = _images(7)
    feats, labels = embeddings(model, (x, np.arange(7) % 2), layer_name="base.base_conv")
    expected = base.predict(x, verbose=0).mean(axis=(1, 2))
    np.testing.assert_allclose(feats, expected, rtol=1e-5, atol=1e-6)
    assert feats.shape == (7, 5) and labels.tolist() == [0, 1, 0, 1, 0, 1, 0]
    with pytest.raises(ValueError, match="base.base_conv"):  # candidates listed
        embeddings(model, x, layer_name="conv5")


def test_shuffled_dataset_keeps_labels_aligned():
    inputs = keras.Input((6, 6, 1), name="image")
    x = keras.layers.GlobalAveragePooling2D(name="brightness")(inputs)
    out = keras.layers.Dense(1, activation="sigmoid", name="head")(x)
    model = keras.Model(inputs, out)
    y = np.arange(30) % 2
    images = np.broadcast_to((0.2 + 0.6 * y)[:, None, None, None], (30, 6, 6, 1))
    onehot = np.eye(2)[y].astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((images.astype("float32"), onehot))
    feats, labels = embeddings(model, ds.shuffle(30, seed=2).batch(8))
    np.testing.assert_array_equal(labels, (feats[:, 0] > 0.5).astype(int))


def _clusters(n, seed, noise_scale=1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    informative = 3.0 * (2 * y - 1) + rng.normal(scale=0.5, size=n)
    noise = rng.normal(scale=noise_scale, size=n)
    return np.stack([informative, noise], axis=1), y


def test_knn_on_planted_clusters_and_standardisation():
    train, y_train = _clusters(200, 0, noise_scale=1000.0)
    test, y_test = _clusters(200, 1, noise_scale=1000.0)
    scaled = evaluate_knn(knn_classifier(train, y_train, k=5), test, y_test, bootstrap=100)
    raw = evaluate_knn(
        knn_classifier(train, y_train, k=5, standardize=False), test, y_test, bootstrap=0
    )
    assert scaled.accuracy > 0.85 and raw.accuracy < 0.7
    assert scaled.ci["accuracy"][0] <= scaled.accuracy <= scaled.ci["accuracy"][1]
    sk = KNeighborsClassifier(5).fit(train, y_train).predict(test)
    np.testing.assert_array_equal(raw.y_pred, sk)


def test_knn_three_classes_with_a_class_missing_from_training():
    x = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    knn = knn_classifier(x, [0, 0, 0, 2, 2, 2], k=3)
    r = evaluate_knn(knn, np.array([[0.05], [5.05], [2.6]]), [0, 2, 1], bootstrap=0)
    assert r.y_score.shape == (3, 3) and np.all(r.y_score[:, 1] == 0)
    assert r.class_names == ("normal", "bacteria", "virus")
    with pytest.raises(ValueError, match="k=5"):
        knn_classifier(x[:3], [0, 1, 0], k=5)


def test_projections_keep_clusters_apart(tmp_path):
    x, y = _clusters(40, 2)
    pca = project(x, method="pca")
    np.testing.assert_allclose(np.abs(pca), np.abs(PCA(2).fit_transform(x)), atol=1e-8)
    with pytest.warns(UserWarning, match="perplexity clipped"), threadpool_limits(1):
        tsne = project(x, method="tsne")  # one thread: Barnes-Hut crawls on a busy CPU
    assert tsne.shape == (40, 2)
    knn = knn_classifier(tsne, y, k=3)
    assert (knn.predict(tsne) == y).mean() > 0.9  # clusters survive the map
    fig = plot_projection(tsne, y, title="t-SNE", path=tmp_path / "tsne.png")
    assert fig.axes[0].get_title() == "t-SNE" and len(fig.axes[0].collections) == 2
    assert mpimg.imread(tmp_path / "tsne.png").shape[0] > 150
    with pytest.raises(ValueError, match="umap"):
        project(x, method="umap")
    with pytest.raises(ValueError, match="at least 4"):
        project(x[:3])


@pytest.mark.slow
def test_real_xrays_imagenet_features_separate_classes(real_data, weights_dir):
    """Report B's recipe on real images: kNN on a nested MobileNet's pooled features."""
    import cv2

    images, labels = [], []
    for label, folder in enumerate(("NORMAL", "PNEUMONIA")):
        for path in sorted((real_data / "train" / folder).glob("*.jpeg"))[:40]:
            img = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (128, 128))
            images.append(img[..., None].repeat(3, axis=-1) / 255.0)
            labels.append(label)
    x, y = np.asarray(images, "float32"), np.asarray(labels)
    base = keras.applications.MobileNet(
        input_shape=(128, 128, 3), alpha=0.25, include_top=False,
        weights=str(weights_dir / "mobilenet_2_5_224_tf_no_top.h5"),
    )  # fmt: skip
    inputs = keras.Input((128, 128, 3), name="image")
    h = keras.layers.Rescaling(2.0, offset=-1.0, name="to_pm1")(inputs)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(base(h))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="head")(h))
    feats, got = embeddings(model, (x, y), layer_name=f"{base.name}.conv_pw_13_relu")
    assert feats.shape == (80, 256) and np.array_equal(got, y)
    order = np.random.default_rng(0).permutation(80)
    train, test = order[:50], order[50:]
    result = evaluate_knn(knn_classifier(feats[train], y[train], k=5), feats[test], y[test])
    assert result.accuracy > 0.7, str(result)
