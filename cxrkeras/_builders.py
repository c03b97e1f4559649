"""Helpers shared by the model builders: argument checks and the output layer."""

from __future__ import annotations

from keras import layers


def check_shape_and_classes(input_shape, num_classes: int) -> tuple[int, int, int]:
    """Validate ``input_shape`` (H, W, C) and ``num_classes``; return the shape as a tuple.

    Raises:
        ValueError: if the shape is not three positive integers or ``num_classes < 1``.

    Example:
        >>> check_shape_and_classes([64, 48, 1], 3)
        (64, 48, 1)
    """
    shape = tuple(input_shape) if isinstance(input_shape, list | tuple) else None
    if shape is None or len(shape) != 3 or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(
            f"input_shape must be (height, width, channels) with positive integers; got "
            f"{input_shape!r}. Example: input_shape=(150, 150, 1) for grayscale images."
        )
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"num_classes must be a positive integer; got {num_classes!r}. Use 1 for one "
            "sigmoid unit (NORMAL vs PNEUMONIA) or 3 for normal / bacteria / virus."
        )
    return shape


def classifier_output(x, num_classes: int, *, name: str = "predictions"):
    """Dense output layer: one sigmoid unit for ``num_classes=1``, else a softmax."""
    activation = "sigmoid" if num_classes == 1 else "softmax"
    return layers.Dense(num_classes, activation=activation, name=name)(x)
