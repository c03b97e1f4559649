"""Shared checks for any cxrkeras model builder.

``check_builder(build, input_shape, num_classes, tmp_path)`` builds a model and checks:

* it is a flat functional model (no nested ``Model`` layer) whose layers all have
  explicit names (not Keras' automatic ``conv2d_3``-style names);
* predictions on a tiny batch have the right shape and are probabilities;
* one ``fit`` step changes the trainable weights and leaves frozen layers untouched;
* ``get_config`` -> ``from_config`` rebuilds the same graph (equal outputs after
  ``set_weights``);
* ``.keras`` save -> ``keras.saving.load_model(safe_mode=True)`` gives identical outputs.

Reuse it from other test files: ``from builder_harness import check_builder``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from pathlib import Path

import keras
import numpy as np


def _snake_case(class_name: str) -> str:
    """Keras' automatic layer-name stem: ``Conv2D`` -> ``conv2d``, ``ReLU`` -> ``re_lu``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def auto_named_layers(model: keras.Model, allow: Collection[str] = ()) -> list[str]:
    """Names of layers that look automatically named (``<class_in_snake_case>[_N]``).

    ``allow`` lists snake-case class names that may be auto-named (for example layers
    inside ``keras.applications`` backbones such as ``"rescaling"``).
    """
    found = []
    for layer in model.layers:
        base = _snake_case(type(layer).__name__)
        if base in allow:
            continue
        if re.fullmatch(rf"{re.escape(base)}(_\d+)?", layer.name):
            found.append(layer.name)
    return found


def random_images(input_shape, batch: int = 2, seed: int = 0) -> np.ndarray:
    """A float32 batch in [0, 1] of shape ``(batch, *input_shape)``."""
    return np.random.default_rng(seed).random((batch, *input_shape), dtype=np.float32)


def _fit_one_step(model: keras.Model, x: np.ndarray, num_classes: int) -> float:
    # every label is class 1: unbalanced on purpose, so that even a model whose features
    # are constant gets a non-zero gradient on its output bias
    if num_classes == 1:
        y, loss = np.ones((len(x), 1), dtype=np.float32), "binary_crossentropy"
    else:
        y, loss = np.ones(len(x), dtype=np.int64), "sparse_categorical_crossentropy"
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss=loss)
    history = model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
    return float(history.history["loss"][-1])


def check_builder(
    build: Callable[[], keras.Model],
    input_shape: tuple[int, int, int],
    num_classes: int,
    tmp_path: Path,
    *,
    allow_auto_names: Collection[str] = (),
    fit: bool = True,
    atol: float = 1e-6,
) -> keras.Model:
    """Run every shared check on ``build()``; return the model for extra checks.

    Args:
        build: zero-argument callable returning a fresh model.
        input_shape: ``(H, W, C)`` the model takes.
        num_classes: units of its output layer.
        tmp_path: folder for the ``.keras`` file (pytest's ``tmp_path``).
        allow_auto_names: snake-case class names allowed to keep automatic names.
        fit: run the one-step ``fit`` check (skip it only for very large models).
        atol: tolerance for "identical" outputs after rebuild / reload.
    """
    model = build()
    assert isinstance(model, keras.Model)
    nested = [layer.name for layer in model.layers if isinstance(layer, keras.Model)]
    assert not nested, f"nested Model layers: {nested}"
    assert not auto_named_layers(model, allow_auto_names), auto_named_layers(
        model, allow_auto_names
    )
    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names))
    assert model.input_shape == (None, *input_shape)
    assert model.output_shape == (None, num_classes)

    x = random_images(input_shape, batch=2)
    pred = np.asarray(model(x, training=False))
    assert pred.shape == (2, num_classes)
    assert np.all(np.isfinite(pred)) and np.all((pred >= 0) & (pred <= 1))
    if num_classes > 1:
        np.testing.assert_allclose(pred.sum(axis=1), 1.0, atol=1e-5)

    if fit:
        frozen = {
            layer.name: [w.copy() for w in layer.get_weights()]
            for layer in model.layers
            if not layer.trainable and layer.weights
        }
        before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
        loss = _fit_one_step(model, x, num_classes)
        assert np.isfinite(loss)
        after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
        assert any(not np.array_equal(b, a) for b, a in zip(before, after, strict=True)), (
            "one fit step changed no trainable weight"
        )
        for layer_name, weights in frozen.items():
            for old, new in zip(weights, model.get_layer(layer_name).get_weights(), strict=True):
                np.testing.assert_array_equal(old, new, err_msg=f"frozen {layer_name} changed")
        pred = np.asarray(model(x, training=False))

    rebuilt = keras.Model.from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    assert [layer.name for layer in rebuilt.layers] == names
    np.testing.assert_allclose(np.asarray(rebuilt(x, training=False)), pred, atol=atol)

    path = Path(tmp_path) / f"{model.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)), pred, atol=atol)
    assert [layer.trainable for layer in loaded.layers] == [
        layer.trainable for layer in model.layers
    ]
    return model
