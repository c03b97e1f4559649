"""Embeddings from any named layer, kNN on embeddings, and t-SNE / PCA projections.

Report B fits a k-nearest-neighbour classifier on the binary model's Dense(64)
"embedding" layer; reports B, C and D draw t-SNE and PCA maps of such features before
and after training. Layers are found with :func:`cxrkeras._graph.find_layer`, so dotted
paths into nested models (``"mobilenetv2_1.00_224.out_relu"``) work.
"""

from __future__ import annotations

import os
import warnings

import keras
import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from cxrkeras._common import class_names_for
from cxrkeras._figures import Figure, save_figure
from cxrkeras._graph import find_layer, forward_with_intermediate
from cxrkeras._scoring import coerce_labels
from cxrkeras.evaluate import evaluate_scores
from cxrkeras.predictions import image_batches
from cxrkeras.results import EvaluationResult


def _layer_paths(model, prefix: str = ""):
    """``(dotted path, layer)`` for every layer, parents before children."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        path = f"{prefix}{layer.name}"
        yield path, layer
        if isinstance(layer, keras.Model) and hasattr(layer, "layers"):
            yield from _layer_paths(layer, prefix=f"{path}.")


def default_embedding_layer(model: keras.Model) -> str:
    """Dotted path of the last Dense layer before the output head.

    Falls back to the last 2-D layer before the head (e.g. a global pooling layer of a
    transfer model), then to the last 4-D layer.

    Raises:
        ValueError: if the model has no layer other than its head.

    Example:
        >>> inputs = keras.Input((8, 8, 1), name="image")
        >>> x = keras.layers.Flatten(name="flat")(inputs)
        >>> x = keras.layers.Dense(4, name="embedding")(x)
        >>> x = keras.layers.Dropout(0.5, name="drop")(x)
        >>> out = keras.layers.Dense(1, activation="sigmoid", name="head")(x)
        >>> default_embedding_layer(keras.Model(inputs, out))
        'embedding'
    """
    layers = [(p, la) for p, la in _layer_paths(model) if not isinstance(la, keras.Model)]
    if not layers:
        raise ValueError(f"Model {model.name!r} has no layers to take embeddings from.")
    dense = [i for i, (_, la) in enumerate(layers) if isinstance(la, keras.layers.Dense)]
    body = layers[: dense[-1]] if dense else layers[:-1]  # everything before the head
    for wanted in (
        lambda la: isinstance(la, keras.layers.Dense),
        lambda la: _rank(la) == 2,
        lambda la: _rank(la) == 4,
    ):
        found = [p for p, la in body if wanted(la)]
        if found:
            return found[-1]
    raise ValueError(
        f"Model {model.name!r} has no Dense, 2-D or 4-D layer before its head; pass "
        f"layer_name=. Layers: {[p for p, _ in layers]}"
    )


def _rank(layer) -> int | None:
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError, RuntimeError):
        return None


def _pool(features) -> np.ndarray:
    f = np.asarray(keras.ops.convert_to_numpy(features), dtype=np.float32)
    if f.ndim == 4:
        return f.mean(axis=(1, 2))  # global average pooling of feature maps
    return f.reshape(len(f), -1)


def embeddings(
    model: keras.Model,
    data,
    *,
    layer_name: str | None = None,
    batch_size: int = 64,
    verbose: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Features of every image at a named layer, in one batched pass.

    Args:
        model: A functional or Sequential Keras model; nested models are supported.
        data: Images ``(N, H, W, C)``, an ``(x, y)`` pair, or a ``tf.data.Dataset`` /
            iterable of ``(images, labels)`` or image batches (read once, in order).
        layer_name: Layer name or dotted path; default :func:`default_embedding_layer`.
        batch_size: Batch size for arrays.
        verbose: Show a progress bar.

    Returns:
        ``(features, labels)``: features ``(N, D)``; 4-D feature maps are global-average
        pooled over height and width, other shapes flattened. ``labels`` are class ids
        ``(N,)``, or None when the data has no labels.

    Raises:
        ValueError: if the layer is not found (the message lists candidates).

    Example:
        >>> inputs = keras.Input((8, 8, 1), name="image")
        >>> x = keras.layers.Conv2D(3, 3, name="conv")(inputs)
        >>> x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
        >>> out = keras.layers.Dense(1, activation="sigmoid", name="head")(x)
        >>> f, y = embeddings(keras.Model(inputs, out), (np.zeros((5, 8, 8, 1)), [0, 1, 0, 1, 1]),
        ...                   layer_name="conv")
        >>> f.shape, y.tolist()
        ((5, 3), [0, 1, 0, 1, 1])
    """
    path = layer_name or default_embedding_layer(model)
    find_layer(model, path, ndim=None)  # clear error listing candidates when missing
    feats, labels, unlabeled = [], [], False
    for images, y in tqdm(image_batches(data, batch_size), disable=not verbose, desc="embed"):
        features, _ = forward_with_intermediate(model, images, path)
        feats.append(_pool(features))
        if y is None:
            unlabeled = True
        else:
            labels.append(coerce_labels(np.asarray(y)))
    if not feats:
        raise ValueError("The data yielded no images; nothing to embed.")
    return np.concatenate(feats), (None if unlabeled else np.concatenate(labels))


def knn_classifier(
    train_embeddings, train_labels, *, k: int = 5, standardize: bool = True
) -> Pipeline:
    """A fitted k-nearest-neighbour classifier on embeddings (reports B and D).

    Args:
        train_embeddings: Features ``(N, D)`` of the TRAINING images.
        train_labels: Their class ids ``(N,)`` or one-hot labels.
        k: Number of neighbours.
        standardize: Scale each feature to zero mean and unit variance first.

    Returns:
        A fitted scikit-learn pipeline; score it with :func:`evaluate_knn`.

    Raises:
        ValueError: if there are fewer training images than ``k`` or sizes differ.

    Example:
        >>> knn = knn_classifier(np.array([[0.0], [0.1], [1.0], [1.1]]), [0, 0, 1, 1], k=1)
        >>> knn.predict([[0.05], [0.95]]).tolist()
        [0, 1]
    """
    x = np.asarray(train_embeddings, dtype=np.float64)
    y = coerce_labels(train_labels)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(
            f"Expected embeddings (N, D) and N labels; got {x.shape} and {len(y)} labels."
        )
    if len(x) < k:
        raise ValueError(f"k={k} neighbours need at least {k} training images; got {len(x)}.")
    steps = [StandardScaler()] if standardize else []
    return make_pipeline(*steps, KNeighborsClassifier(n_neighbors=k)).fit(x, y)


def evaluate_knn(knn: Pipeline, features, labels, **kwargs) -> EvaluationResult:
    """Evaluate a kNN classifier on (test) embeddings with :func:`evaluate_scores`.

    The score of a class is the share of the ``k`` neighbours that hold it. Keyword
    arguments (``threshold``, ``class_names``, ``bootstrap``, ``seed``) go to
    :func:`~cxrkeras.evaluate.evaluate_scores`.

    Example:
        >>> knn = knn_classifier(np.array([[0.0], [0.1], [1.0], [1.1]]), [0, 0, 1, 1], k=1)
        >>> evaluate_knn(knn, np.array([[0.0], [1.0]]), [0, 1], bootstrap=0).accuracy
        1.0
    """
    proba = knn.predict_proba(np.asarray(features, dtype=np.float64))
    classes = knn.classes_.astype(int)
    k = max(int(classes.max()) + 1, 2)
    scores = np.zeros((len(proba), k))
    scores[:, classes] = proba  # a class absent from training gets score 0
    return evaluate_scores(labels, scores, **kwargs)


def project(features, *, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """2-D map of embeddings by t-SNE or PCA (scikit-learn).

    t-SNE uses perplexity 30, clipped to ``(N - 1) / 3`` for small N (with a warning),
    since it must stay below the number of points.

    Args:
        features: Embeddings ``(N, D)``.
        method: ``"tsne"`` or ``"pca"``.
        seed: Random seed of t-SNE.

    Returns:
        Points ``(N, 2)``.

    Raises:
        ValueError: for an unknown method, fewer than 4 points or non-finite features.

    Example:
        >>> project(np.random.default_rng(0).normal(size=(10, 5)), method="pca").shape
        (10, 2)
    """
    x = np.asarray(features, dtype=np.float64)
    x = x.reshape(len(x), -1)
    if method not in ("tsne", "pca"):
        raise ValueError(f"method={method!r} is not known; choose 'tsne' or 'pca'.")
    if len(x) < 4 or not np.all(np.isfinite(x)):
        raise ValueError(
            f"Projection needs at least 4 points with finite features; got {len(x)} points."
        )
    if method == "pca":
        return PCA(n_components=2).fit_transform(x)
    perplexity = min(30.0, (len(x) - 1) / 3)
    if perplexity < 30.0:
        warnings.warn(
            f"t-SNE perplexity clipped from 30 to {perplexity:.1f} for {len(x)} points; "
            "the map of so few points says little.",
            stacklevel=2,
        )
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return tsne.fit_transform(x)


def plot_projection(
    points,
    labels,
    *,
    class_names=None,
    title: str | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Scatter of 2-D points coloured by class (t-SNE or PCA maps).

    Example:
        >>> fig = plot_projection(np.zeros((4, 2)), [0, 1, 1, 0], title="t-SNE")
        >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        ['NORMAL (n = 2)', 'PNEUMONIA (n = 2)']
    """
    p = np.asarray(points, dtype=np.float64)
    y = coerce_labels(labels)
    if p.ndim != 2 or p.shape[1] != 2 or len(p) != len(y):
        raise ValueError(f"Expected points (N, 2) and N labels; got {p.shape} and {len(y)}.")
    names = list(class_names or class_names_for(max(2, int(y.max()) + 1)))
    fig = Figure(figsize=(5.6, 5.0))
    ax = fig.add_subplot()
    for c in np.unique(y):
        ax.scatter(*p[y == c].T, s=10, alpha=0.7, label=f"{names[c]} (n = {int(np.sum(y == c))})")
    ax.legend(fontsize="small", markerscale=2)
    ax.set_title(title or "Embedding projection")
    ax.set_xticks([])
    ax.set_yticks([])
    return save_figure(fig, path)
