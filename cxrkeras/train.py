"""One ``fit`` helper that trains any cxrkeras model with the recipe of a course report.

``fit`` compiles the model with the recipe's optimiser, loss and metrics (picked from
the model's head unless overridden), checks one batch of the data against the model
before training, and wires the usual callbacks: EarlyStopping with the best weights
restored, a best-model checkpoint, ``BackupAndRestore`` so that an interrupted run
resumes from its last finished epoch, a CSV log and optionally TensorBoard. It also
trains under a ``tf.distribute`` strategy and, on a GPU, in mixed precision.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from cxrkeras._common import atomic_write_text
from cxrkeras._train_checks import (
    check_images,
    check_labels,
    has_own_train_step,
    model_head,
    peek,
)
from cxrkeras.recipes import (
    RECIPES,
    Recipe,
    get_recipe,
    make_loss,
    make_metrics,
    make_optimizer,
    step_decay,
)
from cxrkeras.runs import AtomicBackupAndRestore, AtomicModelCheckpoint

__all__ = ["fit", "make_loss", "make_metrics", "RECIPES", "Recipe", "get_recipe"]


def _as_dataset(data, batch_size: int):
    """Arrays ``(x, y)`` / ``(x, y, w)`` become a batched ``tf.data.Dataset``."""
    if data is None or isinstance(data, (tf.data.Dataset, keras.utils.PyDataset)):
        return data
    if isinstance(data, np.ndarray):
        data = (data,)
    if isinstance(data, (tuple, list)) and all(isinstance(a, np.ndarray) for a in data):
        if not 1 <= len(data) <= 3 or len({len(a) for a in data}) != 1:
            raise ValueError(
                "Array data must be (x,), (x, y) or (x, y, sample_weight) with the same "
                f"length; got lengths {[len(a) for a in data]}."
            )
        data = tuple(a.astype(np.float32) if a.dtype == np.float64 else a for a in data)
        return tf.data.Dataset.from_tensor_slices(data).batch(batch_size)
    raise TypeError(
        f"Expected a tf.data.Dataset, a keras.utils.PyDataset or a tuple (x, y) of NumPy "
        f"arrays; got {type(data).__name__}."
    )


def _image_pairs(data):
    """``(images, images)`` pairs for an autoencoder; labels, if any, are dropped."""
    if data is None:
        return None
    if not isinstance(data, tf.data.Dataset):
        raise TypeError(
            "An autoencoder trained on a PyDataset needs (images, images) batches; "
            f"got a {type(data).__name__} without them."
        )
    return data.map(lambda *parts: (parts[0], parts[0]))


def _resolve_model(model, strategy, mixed: bool) -> keras.Model:
    """Build (builder callable) or clone (built model, under a strategy) the model."""
    if isinstance(model, keras.Model):
        if mixed:
            warnings.warn(
                "mixed_precision=True only affects layers built inside fit: pass a "
                "zero-argument builder (e.g. lambda: binary_cnn(...)) instead of a model.",
                stacklevel=3,
            )
        if strategy is None:
            return model
        clone = keras.models.clone_model(model)
        if model.built and not clone.built and getattr(model, "inputs", None):
            clone.build(tuple(model.inputs[0].shape))
        clone.set_weights(model.get_weights())
        return clone
    if callable(model):
        built = model()
        if not isinstance(built, keras.Model):
            raise TypeError(
                f"The model builder returned {type(built).__name__}; expected a keras.Model."
            )
        return built
    raise TypeError(
        f"model must be a keras.Model or a zero-argument callable that builds one; got "
        f"{type(model).__name__}."
    )


def _callbacks(recipe, out_dir, has_val, tensorboard, user, opt) -> list:
    cbs: list = []
    monitor = "val_loss" if has_val else "loss"
    resuming = False
    if out_dir is not None:
        out = Path(out_dir)
        backup = out / "backup"
        resuming = (backup / "training_metadata.json").is_file()
        cbs.append(AtomicBackupAndRestore(str(backup)))
        cbs.append(
            AtomicModelCheckpoint(
                str(out / "best.keras"),
                monitor=monitor,
                save_best_only=True,
                initial_value_threshold=_best_logged(out / "history.csv", monitor)
                if resuming
                else None,
            )
        )
        cbs.append(keras.callbacks.CSVLogger(str(out / "history.csv"), append=resuming))
        if tensorboard:
            cbs.append(keras.callbacks.TensorBoard(log_dir=str(out / "logs")))
    if has_val and recipe.patience is not None:
        resumed_from = Path(out_dir) if out_dir is not None and resuming else None
        cbs.append(
            _ResumableEarlyStopping(
                resumed_from,
                monitor="val_loss",
                patience=int(recipe.patience),
                restore_best_weights=True,
            )
        )
    lr = getattr(opt, "_learning_rate", None)
    if recipe.lr_step_epochs and not isinstance(
        lr, keras.optimizers.schedules.LearningRateSchedule
    ):
        base = float(keras.ops.convert_to_numpy(opt.learning_rate))
        cbs.append(
            keras.callbacks.LearningRateScheduler(
                step_decay(base, recipe.lr_step_epochs, recipe.lr_step_factor)
            )
        )
    return cbs + list(user or [])


def _logged(csv_path: Path, monitor: str) -> list[tuple[int, float]]:
    """``(epoch, monitor)`` per row already in the CSV log (NaN where it is missing)."""
    if not csv_path.is_file():
        return []
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    # A missing or empty cell: the row's position for the epoch, NaN for the value.
    return [(int(row.get("epoch") or i), float(row.get(monitor) or "nan"))
            for i, row in enumerate(rows)]  # fmt: skip


def _best_logged(csv_path: Path, monitor: str) -> float | None:
    """Lowest ``monitor`` value already in the CSV log, so a resumed run keeps the best."""
    values = [v for _, v in _logged(csv_path, monitor) if not np.isnan(v)]
    return min(values) if values else None


class _ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping whose patience and best weights survive an interrupted run.

    Keras resets EarlyStopping at the start of every ``fit`` call, so a run resumed by
    ``BackupAndRestore`` would wait ``patience`` more epochs and could restore weights
    worse than the best checkpoint. On resume this picks the best epoch and the epochs
    waited since from ``history.csv`` (rows before the epoch the backup resumes at) and
    the best weights from ``best.keras``. It must come after ``BackupAndRestore`` in the
    callback list, which sets the epoch to resume at and restores the weights first.
    """

    def __init__(self, resumed_from: Path | None, **kwargs):
        super().__init__(**kwargs)
        self._resumed_from = resumed_from

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._resumed_from is None:
            return
        rows = _logged(self._resumed_from / "history.csv", self.monitor)
        first = getattr(self.model, "_initial_epoch", None)  # set by BackupAndRestore
        first = len(rows) if first is None else int(first)
        rows = [(e, v) for e, v in rows if e < first and not np.isnan(v)]
        if not rows:
            return
        best_epoch, best = min(rows, key=lambda row: row[1])
        best_weights = None
        path = self._resumed_from / "best.keras"
        if self.restore_best_weights and path.is_file():
            current = self.model.get_weights()  # the backup's, restored just before
            try:
                self.model.load_weights(path)
                best_weights = self.model.get_weights()
            except Exception as err:  # a file from another architecture, a damaged file
                warnings.warn(
                    f"Resumed run: could not read the best weights from {path} ({err}); "
                    "early stopping starts afresh (patience and best weights count from "
                    "this session's epochs).",
                    stacklevel=2,
                )
                return
            finally:
                self.model.set_weights(current)
        self.best_epoch, self.best, self.best_weights = best_epoch, best, best_weights
        # Epochs since the best one; a row lost to a kill between the backup and the log
        # counts as an epoch that did not improve.
        self.wait = first - 1 - best_epoch


@contextlib.contextmanager
def _precision(mixed: bool):
    """Set the mixed_float16 policy on a GPU for the duration of fit, then restore it."""
    before = keras.mixed_precision.dtype_policy()
    if mixed and not tf.config.list_physical_devices("GPU"):
        warnings.warn("mixed_precision=True ignored: no GPU is visible.", stacklevel=4)
        mixed = False
    if mixed:
        keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        yield mixed
    finally:
        keras.mixed_precision.set_dtype_policy(before)


def fit(
    model: keras.Model | Callable[[], keras.Model],
    train,
    val=None,
    *,
    recipe: str | Recipe = "report_b",
    epochs: int | None = None,
    out_dir: str | Path | None = None,
    strategy: tf.distribute.Strategy | None = None,
    callbacks: list | None = None,
    verbose: int | str = "auto",
    mixed_precision: bool = False,
    tensorboard: bool = False,
    **overrides: Any,
) -> keras.callbacks.History:
    """Compile and train a model with a report's recipe and checkpointing callbacks.

    The loss is picked from the model's head (one sigmoid unit: binary cross-entropy;
    N softmax units: categorical cross-entropy on one-hot labels; an image output: MSE;
    a model with its own ``train_step`` such as the VAE: its own loss), unless
    ``loss=...`` is given; metrics are accuracy and AUC for classifiers. The model is
    always (re)compiled by ``fit``. One batch of ``train`` (and ``val``) is checked
    against the model first.

    With ``out_dir`` the run writes ``best.keras`` (best ``val_loss``, or ``loss``
    without validation), ``history.csv`` (appended to when resuming), ``recipe.json``,
    ``backup/`` (BackupAndRestore: rerunning ``fit`` with the same ``out_dir`` after an
    interruption resumes at the first unfinished epoch with the weights and optimiser
    state of the last finished one, and ``best.keras`` is only replaced by a better epoch
    than those already logged; the backup is deleted when training ends normally) and,
    with ``tensorboard=True``, ``logs/``. EarlyStopping (``restore_best_weights=True``)
    is used whenever there is validation data and the recipe has a patience; a resumed
    run counts the epochs already waited and restores the best weights of the whole run.

    Under a ``strategy`` (e.g. ``tf.distribute.MirroredStrategy()``) the model must be
    created inside ``strategy.scope()``: pass a zero-argument builder, or a built model,
    which is cloned inside the scope (``keras.models.clone_model`` + ``set_weights``);
    the trained weights are copied back into it afterwards. The batch size of the
    dataset is the global batch, split across replicas: to keep 32 images per replica
    batch with ``32 * strategy.num_replicas_in_sync``.

    Args:
        model: A ``keras.Model`` or a zero-argument callable that builds one.
        train: A batched ``tf.data.Dataset`` of ``(images, labels)`` (or images only for
            a model with its own ``train_step``), a ``keras.utils.PyDataset``, or NumPy
            ``(x, y)`` (batched with the recipe's ``batch_size``). For an autoencoder
            (image output) images alone are enough; labels, if present, are replaced
            by the images as targets.
        val: Validation data in the same forms, or ``None``.
        recipe: A name in ``cxrkeras.recipes.RECIPES`` or a ``Recipe``.
        epochs: Number of epochs; defaults to the recipe's.
        out_dir: Folder for checkpoints, the backup and ``history.csv``.
        strategy: A ``tf.distribute.Strategy`` or ``None``.
        callbacks: Extra Keras callbacks, run after the default ones.
        verbose: Passed to ``Model.fit`` (``"auto"``: a progress bar).
        mixed_precision: Use ``mixed_float16`` while building and training (GPU only;
            needs a builder callable; warns and is ignored on a CPU).
        tensorboard: Also write TensorBoard logs to ``out_dir/logs``.
        **overrides: Recipe fields to replace: ``optimizer``, ``learning_rate``,
            ``momentum``, ``weight_decay``, ``lr_step_epochs``, ``loss``, ``metrics``,
            ``class_weight``, ``patience``, ``batch_size`` ...

    Returns:
        The Keras ``History`` (its ``.model`` is the trained model).

    Raises:
        ValueError: for an unknown recipe or setting, or data that does not match the
            model (image shape, channels, labels against the head).
        TypeError: for a model or data of the wrong type.

    Example:
        >>> import numpy as np, keras
        >>> inp = keras.Input((8, 8, 1), name="image")
        >>> out = keras.layers.Dense(1, activation="sigmoid", name="head")(
        ...     keras.layers.Flatten(name="flatten")(inp))
        >>> x = np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32)
        >>> y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("float32")
        >>> h = fit(keras.Model(inp, out), (x, y), epochs=2, batch_size=8, verbose=0)
        >>> sorted(h.history)
        ['accuracy', 'auc', 'loss']
    """
    recipe_obj = get_recipe(recipe, **overrides)
    if epochs is not None:
        recipe_obj = recipe_obj.replace(epochs=int(epochs))
    train = _as_dataset(train, recipe_obj.batch_size)
    val = _as_dataset(val, recipe_obj.batch_size)
    x0, y0, _ = peek(train)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with _precision(mixed_precision) as mixed, scope:
        net = _resolve_model(model, strategy, mixed)
        if not net.built:
            net(x0[:1])
        head = model_head(net)
        check_images(net, x0)
        if head.kind == "reconstruction" and (y0 is None or y0.shape != x0.shape):
            train, y0 = _image_pairs(train), x0
            val = _image_pairs(val)
        loss = None if has_own_train_step(net) else make_loss(recipe_obj, head)
        check_labels(head, x0, y0, loss=loss)
        if val is not None:
            xv, yv, _ = peek(val)
            check_images(net, xv, where="validation")
            check_labels(head, xv, yv, loss=loss, where="validation")
        opt = make_optimizer(recipe_obj)
        if loss is None:
            net.compile(optimizer=opt)
        else:
            net.compile(optimizer=opt, loss=loss, metrics=make_metrics(recipe_obj, head, loss))
        if out_dir is not None:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            _write_recipe(recipe_obj, Path(out_dir) / "recipe.json")
        cbs = _callbacks(recipe_obj, out_dir, val is not None, tensorboard, callbacks, opt)
        with warnings.catch_warnings():
            # A pipeline that may drop corrupt files (make_dataset) has an unknown length;
            # Keras then reports the normal end of every first epoch as running "out of
            # data". No steps_per_epoch is passed here, so that message is never a problem.
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            history = net.fit(
                train,
                validation_data=val,
                epochs=recipe_obj.epochs,
                callbacks=cbs,
                class_weight=recipe_obj.class_weight,
                verbose=verbose,
                shuffle=not isinstance(train, tf.data.Dataset),
            )
    if net is not model and isinstance(model, keras.Model):
        model.set_weights(net.get_weights())
    return history


def _write_recipe(recipe: Recipe, path: Path) -> None:
    def plain(v):
        return v if isinstance(v, (int, float, str, bool, type(None), list, dict)) else repr(v)

    atomic_write_text(
        path,
        json.dumps(
            {f.name: plain(getattr(recipe, f.name)) for f in dataclasses.fields(recipe)}, indent=2
        ),
    )
