"""Training recipes of the course reports: optimiser, schedule, loss and stopping rule.

A :class:`Recipe` is a small frozen dataclass. :data:`RECIPES` holds one per report and
:func:`get_recipe` returns one by name, optionally with some fields replaced. The recipe
is turned into Keras objects (optimiser, loss, metrics, callbacks) by
:func:`cxrkeras.train.fit`.

Where a report does not state a setting, the recipe uses the Keras default and says so
in its ``description``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras

from cxrkeras._common import replace_fields


@dataclass(frozen=True)
class Recipe:
    """How to train a model: the settings of one report, overridable field by field.

    Attributes:
        name: Short name, e.g. ``"report_d"``.
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"`` or ``"rmsprop"``, or a
            ``keras.optimizers.Optimizer`` instance (then ``learning_rate``,
            ``momentum`` and ``weight_decay`` are not used).
        learning_rate: Initial learning rate.
        momentum: SGD / RMSprop momentum (ignored by Adam).
        weight_decay: Decoupled weight decay of the Keras optimiser, or ``None``.
        lr_step_epochs: StepLR: multiply the learning rate by ``lr_step_factor`` every
            this many epochs; ``None`` keeps it constant.
        lr_step_factor: StepLR factor (PyTorch's ``gamma``).
        loss: ``"auto"`` (picked from the model's head: binary or categorical
            cross-entropy, MSE for reconstructions), ``"focal"`` (Keras' focal
            cross-entropy with ``focal_alpha`` and ``focal_gamma``), any Keras loss name,
            or a ``keras.losses.Loss`` instance.
        focal_alpha: Class-balancing weight of the positive class in focal loss.
        focal_gamma: Focusing parameter of focal loss.
        metrics: ``None`` for accuracy and AUC (classifiers) or nothing extra
            (reconstructions); otherwise a list passed to ``compile``.
        class_weight: ``{class_index: weight}`` passed to ``Model.fit``, or ``None``.
        epochs: Number of epochs.
        patience: EarlyStopping patience on ``val_loss`` (used only with validation
            data); ``None`` disables early stopping.
        batch_size: Batch size used only when ``fit`` is given NumPy arrays.
        description: Where the settings come from.
    """

    name: str
    optimizer: Any = "adam"
    learning_rate: float = 0.001
    momentum: float = 0.0
    weight_decay: float | None = None
    lr_step_epochs: int | None = None
    lr_step_factor: float = 0.1
    loss: Any = "auto"
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    metrics: Any = None
    class_weight: Any = None
    epochs: int = 10
    patience: int | None = 5
    batch_size: int = 32
    description: str = ""

    def replace(self, **overrides: Any) -> Recipe:
        """Return a copy with some fields replaced.

        Raises:
            ValueError: if a key is not a field of :class:`Recipe`.

        Example:
            >>> get_recipe("report_b").replace(learning_rate=0.01).learning_rate
            0.01
        """
        return replace_fields(self, overrides, "recipe")


RECIPES: dict[str, Recipe] = {
    "report_a": Recipe(
        name="report_a",
        optimizer="adam",
        learning_rate=0.001,
        lr_step_epochs=10,
        lr_step_factor=0.1,
        epochs=30,
        patience=5,
        batch_size=32,
        description=(
            "Report A (FEUP): Adam, learning rate 0.001 with a step every 10 epochs "
            "(the report's CNN also used 0.01), batch 32, 30 epochs, early stopping "
            "with patience 5, cross-entropy."
        ),
    ),
    "report_b": Recipe(
        name="report_b",
        optimizer="adam",
        learning_rate=0.001,
        epochs=10,
        patience=5,
        description=(
            "Report B (BIU): Adam with Keras defaults, binary or categorical "
            "cross-entropy (MSE for the autoencoder). The report states no epoch "
            "count or validation; 10 epochs and patience 5 are cxrkeras defaults."
        ),
    ),
    "report_c": Recipe(
        name="report_c",
        optimizer="adam",
        learning_rate=0.001,
        epochs=30,
        patience=5,
        description=(
            "Report C (LTU): 30 to 50 epochs (30 here), cross-entropy; the report "
            "names no optimiser, so Adam with Keras defaults is used. It balanced the "
            "classes by augmenting NORMAL images, not by class weights."
        ),
    ),
    "report_d": Recipe(
        name="report_d",
        optimizer="sgd",
        learning_rate=0.001,
        momentum=0.9,
        weight_decay=0.01,
        lr_step_epochs=10,
        lr_step_factor=0.1,
        loss="focal",
        focal_alpha=0.25,
        focal_gamma=2.0,
        epochs=20,
        patience=5,
        description=(
            "Report D (BIU): SGD, learning rate 0.001, momentum 0.9, weight decay 0.01, "
            "StepLR x0.1 every 10 epochs, focal loss alpha 0.25 gamma 2. The report "
            "saw convergence after about 10 epochs; 20 epochs is a cxrkeras default. "
            "Keras applies weight decay decoupled (AdamW style), PyTorch's SGD adds it "
            "to the gradient."
        ),
    ),
}


def get_recipe(name: str | Recipe, **overrides: Any) -> Recipe:
    """Return the named recipe, with ``overrides`` replacing some of its fields.

    Args:
        name: A key of :data:`RECIPES` (``"report_a"`` ... ``"report_d"``) or a
            :class:`Recipe`.
        **overrides: Fields to replace, e.g. ``learning_rate=0.01, epochs=3``.

    Returns:
        A :class:`Recipe`.

    Raises:
        ValueError: if the name is unknown or an override is not a recipe field.

    Example:
        >>> r = get_recipe("report_d", epochs=3)
        >>> r.optimizer, r.momentum, r.loss, r.epochs
        ('sgd', 0.9, 'focal', 3)
    """
    if isinstance(name, Recipe):
        recipe = name
    elif isinstance(name, str) and name in RECIPES:
        recipe = RECIPES[name]
    else:
        raise ValueError(f"Unknown recipe {name!r}. Valid recipes: {sorted(RECIPES)}.")
    return recipe.replace(**overrides) if overrides else recipe


def step_decay(initial: float, step_epochs: int, factor: float = 0.1):
    """Return PyTorch's StepLR as a function ``epoch -> learning rate``.

    Example:
        >>> schedule = step_decay(0.001, 10)
        >>> [round(schedule(e), 6) for e in (0, 9, 10, 25)]
        [0.001, 0.001, 0.0001, 1e-05]
    """
    if step_epochs is None or int(step_epochs) < 1:
        raise ValueError(f"step_epochs must be a positive integer; got {step_epochs!r}.")

    def schedule(epoch: int, lr: float | None = None) -> float:
        return float(initial * factor ** (int(epoch) // int(step_epochs)))

    return schedule


def make_optimizer(recipe: Recipe) -> keras.optimizers.Optimizer:
    """Build the recipe's Keras optimiser.

    Raises:
        ValueError: if ``recipe.optimizer`` is not a known name or an optimiser.

    Example:
        >>> opt = make_optimizer(get_recipe("report_d"))
        >>> type(opt).__name__, round(float(opt.momentum), 2), opt.weight_decay
        ('SGD', 0.9, 0.01)
    """
    opt = recipe.optimizer
    if isinstance(opt, keras.optimizers.Optimizer):
        return opt
    kwargs: dict[str, Any] = {"learning_rate": recipe.learning_rate}
    if recipe.weight_decay:
        kwargs["weight_decay"] = recipe.weight_decay
    name = str(opt).lower()
    if name == "adam":
        return keras.optimizers.Adam(**kwargs)
    if name == "adamw":
        kwargs.setdefault("weight_decay", 0.004)
        return keras.optimizers.AdamW(**kwargs)
    if name == "sgd":
        return keras.optimizers.SGD(momentum=recipe.momentum, **kwargs)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(momentum=recipe.momentum, **kwargs)
    raise ValueError(
        f"Unknown optimizer {opt!r}. Use 'adam', 'adamw', 'sgd', 'rmsprop' or a "
        "keras.optimizers.Optimizer instance."
    )


def make_loss(recipe: Recipe, head) -> Any:
    """The Keras loss for a recipe and a model head (``cxrkeras._train_checks.Head``).

    ``"focal"`` gives ``BinaryFocalCrossentropy(apply_class_balancing=True, ...)`` for one
    sigmoid unit (``alpha`` only acts with class balancing on) and
    ``CategoricalFocalCrossentropy`` for a softmax head.

    Raises:
        ValueError: when ``loss="auto"`` or ``"focal"`` cannot be decided from the head.
    """
    loss, logits = recipe.loss, head.from_logits
    if not isinstance(loss, str) or loss not in ("auto", "focal"):
        return loss
    if head.kind == "reconstruction" and loss == "auto":
        return keras.losses.MeanSquaredError(name="mse")
    if head.kind == "binary":
        if loss == "focal":
            return keras.losses.BinaryFocalCrossentropy(
                apply_class_balancing=True,
                alpha=recipe.focal_alpha,
                gamma=recipe.focal_gamma,
                from_logits=logits,
            )
        return keras.losses.BinaryCrossentropy(from_logits=logits)
    if head.kind == "categorical":
        if loss == "focal":
            return keras.losses.CategoricalFocalCrossentropy(
                alpha=recipe.focal_alpha, gamma=recipe.focal_gamma, from_logits=logits
            )
        return keras.losses.CategoricalCrossentropy(from_logits=logits)
    raise ValueError(
        f"loss={loss!r} cannot be picked for a model whose head is {head.kind!r} (expected "
        "one sigmoid unit, N softmax units or an image output). Pass loss=... explicitly."
    )


def make_metrics(recipe: Recipe, head, loss: Any = None) -> list:
    """Accuracy and AUC for classifiers (unless the recipe lists its own), none otherwise."""
    if recipe.metrics is not None:
        return list(recipe.metrics)
    logits = head.from_logits
    if head.kind == "binary":
        return [
            keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0 if logits else 0.5),
            keras.metrics.AUC(name="auc", from_logits=logits),
        ]
    if head.kind == "categorical":
        name = loss if isinstance(loss, str) else type(loss).__name__
        if "sparse" in name.lower():
            return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        return [
            keras.metrics.CategoricalAccuracy(name="accuracy"),
            keras.metrics.AUC(name="auc", from_logits=logits),
        ]
    return []
