"""Layer lookup and intermediate outputs for any Keras 3 model, nested models included.

``model.get_layer`` only sees the top level, and the usual recipe
``keras.Model(model.inputs, [layer.output, model.output])`` fails when the layer lives
inside a nested model (``x = base_model(inputs)`` or ``Sequential([base_model, ...])``):
"Output ... is not connected to inputs", or a gradient that is silently ``None``.

This module walks the model instead. :func:`find_layer` accepts a plain layer name or a
dotted path through nested models (``"densenet121.conv5_block16_concat"``), and
:func:`forward_with_intermediate` runs ONE forward pass that replays the outer graph
layer by layer, descends into the nested model that holds the target and returns both
the target's output and the model's output. The user's model is never modified, and the
pass can run inside a ``tf.GradientTape``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import keras
from keras import ops

_PROBABILITY_ACTIVATIONS = ("sigmoid", "softmax")


def _is_graph_model(layer) -> bool:
    """True for a functional or Sequential model whose layers can be replayed."""
    return isinstance(layer, keras.Model) and (
        isinstance(layer, keras.Sequential) or hasattr(layer, "_nodes_by_depth")
    )


def _output_rank(layer) -> int | None:
    """Rank of a layer's (first) output, or None when it is not known."""
    try:
        out = layer.output
    except (AttributeError, ValueError, RuntimeError):
        return None
    if isinstance(out, (list, tuple)):
        out = out[0] if out else None
    shape = getattr(out, "shape", None)
    return None if shape is None else len(shape)


def _walk(model, prefix: tuple = ()) -> Iterator[tuple]:
    """Yield every layer chain ``(outer, ..., layer)`` in order, parents before children."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        chain = (*prefix, layer)
        yield chain
        if _is_graph_model(layer):
            yield from _walk(layer, chain)


def _dotted(chain) -> str:
    return ".".join(layer.name for layer in chain)


def _resolve(model, layer_name, ndim: int | None) -> tuple:
    """Return the chain of layers from ``model``'s top level down to the target."""
    if not _is_graph_model(model):
        raise TypeError(
            f"Expected a functional or Sequential keras.Model; got {type(model).__name__}. "
            "Subclassed models cannot be walked: rebuild the model with keras.Input."
        )
    if not model.built:
        raise ValueError(
            f"Model {model.name!r} is not built yet. Call it on a batch or give its first "
            "layer an input shape (keras.Input(shape=...)) before explaining it."
        )
    chains = list(_walk(model))
    if layer_name is None:
        for chain in reversed(chains):
            if ndim is None or _output_rank(chain[-1]) == ndim:
                return chain
        raise ValueError(
            f"Model {model.name!r} has no layer with a {ndim}-D output (searched nested "
            "models too). Pass layer_name= explicitly."
        )
    if isinstance(layer_name, keras.layers.Layer):
        matches = [c for c in chains if c[-1] is layer_name]
    else:
        matches = [c for c in chains if _dotted(c) == layer_name]
        if not matches:
            matches = [c for c in chains if c[-1].name == layer_name]
    if len(matches) == 1 or (matches and isinstance(layer_name, keras.layers.Layer)):
        return matches[0]
    if matches:
        raise ValueError(
            f"layer_name={layer_name!r} is ambiguous in model {model.name!r}: it matches "
            f"{[_dotted(c) for c in matches]}. Pass one of these dotted paths instead."
        )
    candidates = [_dotted(c) for c in chains if ndim is None or _output_rank(c[-1]) == ndim]
    rank = "All" if ndim is None else f"{ndim}-D"
    raise ValueError(
        f"layer_name={layer_name!r} not found in model {model.name!r}. {rank} layers in "
        f"this model (dotted paths reach into nested models): {candidates}"
    )


def find_layer(model: keras.Model, layer_name=None, *, ndim: int | None = 4) -> tuple:
    """Find a layer by name or dotted path, searching inside nested models.

    Args:
        model: A functional or Sequential Keras model, possibly holding nested models.
        layer_name: A layer name (``"conv2d_1"``), a dotted path through nested models
            (``"mobilenetv2_1.00_64.out_relu"``), a layer instance, or None to pick the
            last layer (innermost, in model order) whose output has ``ndim`` dimensions.
        ndim: Rank of the output to auto-pick and to list in error messages (4 for
            ``(batch, height, width, channels)`` feature maps); None for any rank.
            A plain name that matches a top-level layer (or a full dotted path) wins;
            otherwise it must match exactly one layer inside the nested models.

    Returns:
        ``(layer, path)``: the layer and its dotted path from the top level.

    Raises:
        ValueError: if the name is not found or ambiguous (the message lists the
            candidate layers with dotted paths), or the model is not built.
        TypeError: if ``model`` is not a functional or Sequential model.

    Example:
        >>> inner = keras.Sequential([keras.Input((8, 6, 1)),
        ...                           keras.layers.Conv2D(2, 3, name="conv")], name="inner")
        >>> outer = keras.Sequential([inner, keras.layers.GlobalAveragePooling2D(name="gap"),
        ...                           keras.layers.Dense(1, name="out")], name="outer")
        >>> find_layer(outer)[1]
        'inner.conv'
        >>> find_layer(outer, "conv")[0].name
        'conv'
    """
    chain = _resolve(model, layer_name, ndim)
    return chain[-1], _dotted(chain)


def _accepts_training(layer) -> bool:
    flag = getattr(layer, "_call_has_training_arg", None)
    if flag is not None:
        return bool(flag() if callable(flag) else flag)
    try:
        return "training" in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return False


def _activation_name(layer) -> str | None:
    fn = getattr(layer, "activation", None)
    return getattr(fn, "__name__", None) if fn is not None else None


def _call_pre_logits(layer, args, kwargs, training, state):
    """Call the model's last layer without its sigmoid/softmax, when that is possible."""
    if _is_graph_model(layer):
        return _run(layer, args, kwargs, (), training, state, pre_logits=True)
    name = _activation_name(layer)
    is_activation = isinstance(layer, (keras.layers.Activation, keras.layers.Softmax))
    if isinstance(layer, keras.layers.Softmax):
        name = "softmax"
    if is_activation and name in _PROBABILITY_ACTIVATIONS:
        state["activation"] = name
        return args[0]
    if isinstance(layer, keras.layers.Dense) and name in _PROBABILITY_ACTIVATIONS:
        state["activation"] = name
        x = ops.cast(args[0], layer.compute_dtype)
        y = ops.matmul(x, ops.cast(layer.kernel, layer.compute_dtype))
        if layer.use_bias:
            y = y + ops.cast(layer.bias, layer.compute_dtype)
        return y
    state["activation"] = "linear" if name == "linear" else name
    return _call(layer, args, kwargs, training)


def _call(layer, args, kwargs, training):
    if _accepts_training(layer):
        kwargs = {**kwargs, "training": training}
    return layer(*args, **kwargs)


def _call_node(layer, args, kwargs, chain, training, state, is_last, pre_logits):
    """Call one layer of the graph, descending into it when it holds the target."""
    if chain and layer is chain[0]:
        if len(chain) == 1:
            out = _call(layer, args, kwargs, training)
            state["captured"] = out
            if is_last and pre_logits:
                raise ValueError(
                    f"The target layer {layer.name!r} is the model's output layer; with "
                    "pre_logits=True pick an earlier layer (a convolution's output)."
                )
            return out
        return _run(layer, args, kwargs, chain[1:], training, state, pre_logits and is_last)
    if is_last and pre_logits:
        return _call_pre_logits(layer, args, kwargs, training, state)
    return _call(layer, args, kwargs, training)


def _run(model, args, kwargs, chain, training, state, pre_logits):
    """Replay ``model`` on its call arguments, capturing ``chain[-1]``'s output."""
    inputs = args[0] if args else kwargs.pop("inputs")
    if isinstance(model, keras.Sequential):
        x = inputs
        layers = [la for la in model.layers if not isinstance(la, keras.layers.InputLayer)]
        for i, layer in enumerate(layers):
            is_last = i == len(layers) - 1
            x = _call_node(layer, (x,), {}, chain, training, state, is_last, pre_logits)
        return x
    flat = keras.tree.flatten(inputs)
    if len(flat) != len(model.inputs):
        raise ValueError(
            f"Model {model.name!r} takes {len(model.inputs)} input(s); got {len(flat)}. "
            "Pass the images as the model expects them."
        )
    tensors = {id(ref): value for ref, value in zip(model.inputs, flat, strict=True)}
    output_ids = {id(t) for t in model.outputs}
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if not node.operation or node.is_input:
                continue
            if any(id(t) not in tensors for t in node.input_tensors):
                continue
            n_args, n_kwargs = node.arguments.fill_in(tensors)
            is_last = len(model.outputs) == 1 and id(node.outputs[0]) in output_ids
            outs = _call_node(
                node.operation, n_args, n_kwargs, chain, training, state, is_last, pre_logits
            )
            for ref, value in zip(node.outputs, keras.tree.flatten(outs), strict=False):
                tensors[id(ref)] = value
    missing = [t.name for t in model.outputs if id(t) not in tensors]
    if missing:
        raise ValueError(
            f"Outputs {missing} of model {model.name!r} could not be computed from its "
            "inputs while replaying the graph; the model is not a connected graph."
        )
    outs = [tensors[id(t)] for t in model.outputs]
    return outs[0] if len(outs) == 1 else keras.tree.pack_sequence_as(model._outputs_struct, outs)


def _forward(model, images, layer_name, *, training=False, pre_logits=False, ndim=4):
    """Forward pass returning ``(layer_output, model_output, head_activation)``.

    ``head_activation`` names the activation removed by ``pre_logits`` ("sigmoid" or
    "softmax"), "linear" when the output already was a logit, or the name (or None) of
    an activation that could not be removed.
    """
    chain = _resolve(model, layer_name, ndim)
    if not keras.tree.is_nested(images):
        images = ops.convert_to_tensor(images)
        dtype = getattr(model.inputs[0], "dtype", None) if _has_inputs(model) else None
        if dtype is not None and images.dtype != dtype:
            images = ops.cast(images, dtype)
    state = {"captured": None, "activation": None}
    output = _run(model, (images,), {}, chain, training, state, pre_logits)
    if state["captured"] is None:
        raise ValueError(
            f"Layer {_dotted(chain)!r} was not reached while running model {model.name!r}; "
            "it is not on the path from the model's inputs to its outputs."
        )
    return state["captured"], output, state["activation"]


def _head_activation(model) -> str | None:
    """Name of the activation applied by the model's output layer (nested models too)."""
    if isinstance(model, keras.Sequential):
        layer = [la for la in model.layers if not isinstance(la, keras.layers.InputLayer)][-1]
    elif _is_graph_model(model) and len(model.outputs) == 1:
        layer = model.outputs[0]._keras_history.operation
    else:
        return None
    if _is_graph_model(layer):
        return _head_activation(layer)
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    return _activation_name(layer)


def _has_inputs(model) -> bool:
    try:
        return bool(model.inputs)
    except (AttributeError, ValueError):
        return False


def forward_with_intermediate(
    model: keras.Model, images, layer_name=None, *, training: bool = False, pre_logits=False
) -> tuple:
    """Run ONE forward pass and return both an intermediate output and the model output.

    Works on Sequential and functional models, flat or holding nested models
    (``x = base_model(inputs)``, ``Sequential([base_model, head...])``, Sequentials of
    Sequentials), without modifying the model. Call it inside a ``tf.GradientTape`` to
    take gradients of the output with respect to the intermediate tensor.

    Args:
        model: A built functional or Sequential Keras model.
        images: The model's input: a batch array or tensor ``(B, H, W, C)``.
        layer_name: Layer name, dotted path (``"base.conv5"``), layer instance, or None
            for the last 4-D layer (see :func:`find_layer`).
        training: Passed to every layer that takes a ``training`` argument.
        pre_logits: If True, return the model output before its final sigmoid/softmax:
            a final ``Dense`` with that activation is computed linearly from its kernel
            and bias, and a final ``Activation``/``Softmax`` layer is skipped. Other
            heads are returned unchanged.

    Returns:
        ``(layer_output, model_output)`` tensors.

    Raises:
        ValueError: if the layer is not found (the message lists candidates) or is not
            on the path from the inputs to the outputs.
        TypeError: if ``model`` is a subclassed model.

    Example:
        >>> import numpy as np
        >>> model = keras.Sequential([keras.Input((8, 6, 1)),
        ...     keras.layers.Conv2D(2, 3, name="conv"),
        ...     keras.layers.GlobalAveragePooling2D(name="gap"),
        ...     keras.layers.Dense(1, activation="sigmoid", name="out")])
        >>> fmap, logit = forward_with_intermediate(model, np.zeros((3, 8, 6, 1)), "conv",
        ...                                         pre_logits=True)
        >>> tuple(fmap.shape), tuple(logit.shape)
        ((3, 6, 4, 2), (3, 1))
    """
    layer_output, model_output, _ = _forward(
        model, images, layer_name, training=training, pre_logits=pre_logits, ndim=4
    )
    return layer_output, model_output
