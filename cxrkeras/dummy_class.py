"""Dummy-class transfer learning (report E): train with one extra output for ambiguous
images, then drop it at prediction.

What it does. During transfer learning (report E: ResNet and DenseNet, bacteria vs
virus) the classifier gets a ``K + 1``-th softmax unit, the *dummy class*. Training
images judged unclassifiable or ambiguous are labelled with that extra class instead
of a real one, so they stop pulling the decision boundary between the real classes.
At prediction the dummy unit is removed and the ``K`` remaining probabilities are
renormalised, so the model answers with a real class for every image.

What the report claimed. The dummy class was meant to help the model "generalize
better" by giving ambiguous data a class of its own; the report then found its effect
"not as pronounced" in pneumonia classification, and in its supplementary results
that "applying a dummy class ... in ResNet proves meaningless".

Caveats. Which images are "ambiguous" is a choice the report does not pin down:
:func:`ambiguous_by_margin` flags the images a first model is unsure about, and
another option is to fill the dummy class with images of a third category (e.g.
NORMAL while classifying bacteria vs virus). Images moved to the dummy class are
training data lost to the real classes. Renormalised probabilities of an image the
model thought was a dummy are not calibrated: keep the dummy probability
(``drop_dummy_scores(..., return_dummy=True)``) if you want to flag or abstain.
"""

from __future__ import annotations

import keras
import numpy as np

_DUMMY_BIAS = -5.0  # start the dummy unit near zero probability


def dummy_class_labels(labels, ambiguous, *, num_classes: int | None = None, label_mode="int"):
    """Relabel the ambiguous samples with the dummy class ``num_classes``.

    Args:
        labels: Integer labels ``(N,)`` or one-hot labels ``(N, K)``.
        ambiguous: Boolean mask ``(N,)``: True for the samples to move to the dummy class.
        num_classes: ``K``, the number of real classes; inferred when ``None``.
        label_mode: ``"int"`` for indices in ``0..K`` or ``"categorical"`` for one-hot
            ``(N, K + 1)``.

    Returns:
        The new labels; the dummy class is index ``K``.

    Raises:
        ValueError: if the mask and the labels differ in length, or for a bad label_mode.

    Example:
        >>> dummy_class_labels([0, 1, 1, 0], [False, True, False, False])
        array([0, 2, 1, 0])
        >>> dummy_class_labels([0, 1], [True, False], label_mode="categorical")
        array([[0., 0., 1.],
               [0., 1., 0.]], dtype=float32)
    """
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[1] > 1:
        num_classes = num_classes or arr.shape[1]
        arr = arr.argmax(axis=1)
    arr = arr.reshape(-1).astype(int)
    mask = np.asarray(ambiguous, dtype=bool).reshape(-1)
    if mask.shape != arr.shape:
        raise ValueError(
            f"ambiguous has {mask.size} entries but labels has {arr.size}; pass one flag "
            "per sample."
        )
    k = int(num_classes if num_classes is not None else max(arr.max(initial=0) + 1, 2))
    out = np.where(mask, k, arr)
    if label_mode == "int":
        return out
    if label_mode == "categorical":
        return np.eye(k + 1, dtype="float32")[out]
    raise ValueError(f"label_mode={label_mode!r}; expected 'int' or 'categorical'.")


def ambiguous_by_margin(probabilities, *, margin: float = 0.2) -> np.ndarray:
    """Flag the samples whose two most likely classes are closer than ``margin``.

    Args:
        probabilities: A first model's outputs: softmax ``(N, K)`` or one sigmoid
            ``(N,)`` / ``(N, 1)``.
        margin: Largest gap between the top two probabilities that counts as ambiguous.

    Returns:
        Boolean mask ``(N,)``.

    Example:
        >>> ambiguous_by_margin([[0.5, 0.45, 0.05], [0.9, 0.05, 0.05]]).tolist()
        [True, False]
        >>> ambiguous_by_margin([0.55, 0.99]).tolist()
        [True, False]
    """
    p = np.asarray(probabilities, dtype="float64")
    if p.ndim == 1 or p.shape[-1] == 1:
        p = p.reshape(-1, 1)
        p = np.concatenate([1.0 - p, p], axis=1)
    top2 = np.sort(p, axis=1)[:, -2:]
    return (top2[:, 1] - top2[:, 0]) < margin


def add_dummy_class(model: keras.Model, *, name: str | None = None) -> keras.Model:
    """Return a copy of a classifier's graph with one extra (dummy) softmax output.

    The new head replaces the last ``Dense`` layer: a softmax head of ``K`` units keeps
    its weights for the ``K`` real classes; a single sigmoid unit (binary) becomes a
    three-unit softmax whose first two units reproduce it exactly. The dummy unit starts
    with a zero kernel and a bias of -5, so before training the real-class predictions
    barely move. The body's layers (and weights) are shared with ``model``; ``model``
    itself is not modified. Train it with :func:`dummy_class_labels` (index ``K``) and
    ``sparse_categorical_crossentropy`` / ``categorical_crossentropy``.

    Args:
        model: A classifier whose last layer is ``Dense`` with ``softmax`` or a single
            ``sigmoid`` unit (e.g. a ResNet/DenseNet transfer classifier).
        name: Name of the new model; ``f"{model.name}_dummy"`` when ``None``.

    Returns:
        A functional ``keras.Model`` with ``K + 1`` softmax outputs.

    Raises:
        ValueError: if the last layer is not such a ``Dense`` layer.

    Example:
        >>> inp = keras.Input((4,))
        >>> clf = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(inp))
        >>> add_dummy_class(clf).output_shape
        (None, 3)
    """
    head = model.layers[-1]
    activation = getattr(getattr(head, "activation", None), "__name__", None)
    units = getattr(head, "units", None)
    if not isinstance(head, keras.layers.Dense) or not (
        (activation == "softmax" and units >= 2) or (activation == "sigmoid" and units == 1)
    ):
        raise ValueError(
            f"add_dummy_class needs a last Dense layer with softmax (K >= 2) or one sigmoid "
            f"unit; got {type(head).__name__} {head.name!r} (activation={activation}, "
            f"units={units}). Put the activation inside the last Dense layer."
        )
    kernel, bias = (w.astype("float32") for w in head.get_weights())
    if activation == "sigmoid":  # softmax([0, z]) == [1 - sigmoid(z), sigmoid(z)]
        kernel = np.concatenate([np.zeros_like(kernel), kernel], axis=1)
        bias = np.concatenate([np.zeros_like(bias), bias])
    kernel = np.concatenate([kernel, np.zeros((kernel.shape[0], 1), "float32")], axis=1)
    bias = np.concatenate([bias, [_DUMMY_BIAS]]).astype("float32")
    new_head = keras.layers.Dense(kernel.shape[1], activation="softmax", name=f"{head.name}_dummy")
    outputs = new_head(head.input)
    new_head.set_weights([kernel, bias])
    return keras.Model(model.inputs, outputs, name=name or f"{model.name}_dummy")


@keras.saving.register_keras_serializable(package="cxrkeras")
class DropDummyClass(keras.layers.Layer):
    """Drop the last (dummy) probability and renormalise the others to sum to one."""

    def call(self, inputs):
        real = inputs[..., :-1]
        return real / keras.ops.maximum(keras.ops.sum(real, axis=-1, keepdims=True), 1e-12)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] - 1)


def drop_dummy_class(model: keras.Model, *, name: str | None = None) -> keras.Model:
    """Wrap a dummy-class model so it predicts the ``K`` real classes only.

    Args:
        model: A model from :func:`add_dummy_class` (``K + 1`` softmax outputs).
        name: Name of the new model; ``f"{model.name}_predict"`` when ``None``.

    Returns:
        A functional model (sharing ``model``'s layers) with ``K`` renormalised
        probabilities, for ``cxrkeras.evaluate`` and Grad-CAM.

    Example:
        >>> inp = keras.Input((4,))
        >>> clf = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(inp))
        >>> drop_dummy_class(clf).predict(np.ones((1, 4)), verbose=0).sum().round(4)
        np.float32(1.0)
    """
    outputs = DropDummyClass(name="drop_dummy_class")(model.outputs[0])
    return keras.Model(model.inputs, outputs, name=name or f"{model.name}_predict")


def drop_dummy_scores(probabilities, *, return_dummy: bool = False):
    """NumPy version of :func:`drop_dummy_class` for saved predictions.

    Args:
        probabilities: ``(N, K + 1)`` softmax outputs, dummy class last.
        return_dummy: Also return the dummy probabilities ``(N,)``.

    Returns:
        ``(N, K)`` renormalised probabilities, and the dummy column if asked.

    Example:
        >>> drop_dummy_scores([[0.2, 0.6, 0.2]])
        array([[0.25, 0.75]])
    """
    p = np.asarray(probabilities, dtype="float64")
    real = p[:, :-1] / np.maximum(p[:, :-1].sum(axis=1, keepdims=True), 1e-12)
    return (real, p[:, -1]) if return_dummy else real
