"""Compiled (``tf.function``) explainer steps, cached per model without keeping it alive.

Eager Keras calls under a ``GradientTape`` cost several times the compiled graph on a
CPU; batched explainers therefore compile their step once per model and layer. The
cache holds each model weakly and is keyed by its current layers, so a model that is
changed (``Sequential.add``/``pop``) or deleted never gets a stale graph.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from cxrkeras._graph import _is_graph_model, _walk

_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _layer_ids(model) -> tuple:
    return tuple(id(chain[-1]) for chain in _walk(model)) if _is_graph_model(model) else ()


def _is_compiled(model, key) -> bool:
    """True when :func:`_compiled` already holds a function for ``model`` and ``key``."""
    entry = _COMPILED.get(model)
    return entry is not None and entry[0] == _layer_ids(model) and key in entry[1]


def _compiled(model, key, factory: Callable) -> Callable:
    """A ``tf.function`` built by ``factory(model_ref)``, cached per model and ``key``.

    The cache holds the model weakly and is keyed by the model's current layers too, so
    a model that is changed or deleted never gets a stale graph. ``factory`` receives a
    weak reference and must not keep the model alive.
    """
    layers = _layer_ids(model)
    entry = _COMPILED.get(model)
    if entry is None or entry[0] != layers:
        entry = (layers, {})
        _COMPILED[model] = entry
    if key not in entry[1]:
        entry[1][key] = factory(weakref.ref(model))
    return entry[1][key]
