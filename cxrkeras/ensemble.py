"""Train a :mod:`cxrkeras.presets` preset into a run folder, within a time budget.

Each ensemble member is a backbone fine-tuned with its own seed (weight init of the
head, shuffling, augmentation) under a cosine learning-rate schedule that shrinks to fit
the member's share of the budget. Members are then averaged into one Keras model, the
binary threshold is chosen on validation patients, and the run folder gets
``model.keras`` and ``run.json`` like any other run (``cxrkeras evaluate`` and
``cxrkeras explain`` read it unchanged).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import warnings
from pathlib import Path

import keras
import pandas as pd

from cxrkeras.presets import Preset, find_weights, for_device, get_preset
from cxrkeras.recipes import Recipe


class CosineBudget(keras.callbacks.Callback):
    """Cosine learning-rate decay over the epochs that fit a wall-clock budget.

    The learning rate of epoch ``e`` is ``peak * (1 + cos(pi * e / E)) / 2`` with ``E``
    the planned number of epochs. After each epoch, if the slowest epoch so far says
    fewer epochs fit the remaining budget, ``E`` shrinks to those (so a slow machine
    still ends with a decayed rate) and training stops once ``E`` epochs are done. With
    a budget that is never binding the schedule depends on the epoch only, so runs with
    the same seed repeat.

    Args:
        peak: Learning rate of the first epoch.
        epochs: Planned epochs.
        seconds: Wall-clock budget of this training, or ``None``.

    Example:
        >>> cb = CosineBudget(1e-3, epochs=4)
        >>> [round(cb.rate(e), 6) for e in range(4)]
        [0.001, 0.000854, 0.0005, 0.000146]
    """

    def __init__(self, peak: float, epochs: int, seconds: float | None = None):
        super().__init__()
        if int(epochs) < 1:
            raise ValueError(f"epochs must be at least 1; got {epochs!r}.")
        self.peak = float(peak)
        self.planned = int(epochs)
        self.seconds = None if seconds is None else float(seconds)
        self.stopped_early = False

    def rate(self, epoch: int) -> float:
        """The learning rate of ``epoch`` under the current plan."""
        return self.peak * 0.5 * (1.0 + math.cos(math.pi * min(epoch, self.planned) / self.planned))

    def on_train_begin(self, logs=None):
        self._start = self._last = time.perf_counter()
        self._slowest = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate = self.rate(epoch)

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self._slowest = max(self._slowest, now - self._last)
        self._last = now
        done = epoch + 1
        if self.seconds is not None and self._slowest > 0:
            fit = int((self.seconds - (now - self._start)) // self._slowest)
            if done + fit < self.planned:
                self.planned = max(done, done + fit)
                self.stopped_early = True
        if done >= self.planned:
            self.model.stop_training = True


def average_models(models: list[keras.Model], *, name: str = "ensemble") -> keras.Model:
    """One model that averages the outputs of ``models`` (same input and output shape).

    Example:
        >>> def net(i):
        ...     x = keras.Input((4,), name="x")
        ...     return keras.Model(x, keras.layers.Dense(1, name=f"d{i}")(x), name=f"m{i}")
        >>> avg = average_models([net(0), net(1)])
        >>> [layer.name for layer in avg.layers]
        ['image', 'm0', 'm1', 'average']
    """
    if not models:
        raise ValueError("average_models needs at least one model.")
    if len(models) == 1:
        return models[0]
    shape = tuple(models[0].inputs[0].shape[1:])
    for m in models[1:]:
        if tuple(m.inputs[0].shape[1:]) != shape:
            raise ValueError(f"Members take different inputs: {shape} and {m.inputs[0].shape}.")
    inputs = keras.Input(shape, name="image")
    outputs = keras.layers.Average(name="average")([m(inputs) for m in models])
    return keras.Model(inputs, outputs, name=name)


def preset_split(
    table: pd.DataFrame, *, seed: int = 0, three_class: bool = False, val_fraction: float = 0.15
) -> pd.DataFrame:
    """The rows :func:`train_preset` trains on, split by patient into train and val.

    Every row outside a ``test`` split is pooled and ``val_fraction`` of the patients go
    to validation, stratified by subtype for three classes and by label otherwise. Call
    it with a run's seed to recover the validation patients its threshold was chosen on.

    Raises:
        ValueError: if the table holds only a ``test`` split.
    """
    from cxrkeras.splits import patient_split

    pool = table[table["split"] != "test"]
    if pool.empty:
        raise ValueError("No training images: the data holds only a 'test' split.")
    return patient_split(
        pool,
        val_fraction=val_fraction,
        test_fraction=0.0,
        seed=seed,
        stratify="subtype" if three_class else "label",
    )


SETTINGS_FILE = "settings.json"  # what a run was started with, checked on resume


def _check_resumed_settings(path: Path, settings: dict) -> None:
    """Refuse to resume a run with settings other than those it was started with."""
    if not path.is_file():
        return  # a run folder from before the settings were recorded
    before = json.loads(path.read_text())
    changed = []
    for group in sorted(set(before) | set(settings)):
        old, new = before.get(group), settings.get(group)
        if isinstance(old, dict) and isinstance(new, dict):
            keys = sorted(set(old) | set(new))
            changed += [f"{group}.{k}" for k in keys if old.get(k) != new.get(k)]
        elif old != new:
            changed.append(group)
    if changed:
        raise ValueError(
            f"Cannot resume {path.parent}: it was started with other settings "
            f"({', '.join(changed)}; see {path.name}). Resume with the same preset, "
            "overrides, seed and weights, or start a new run folder."
        )


def train_preset(
    data,
    preset: str | Preset,
    *,
    out_dir: str | os.PathLike,
    seed: int = 0,
    time_budget: float | None = None,
    weights: str | None = "auto",
    val_fraction: float = 0.15,
    overwrite: bool = False,
    resume: bool = False,
    verbose: int | str = "auto",
    **overrides,
) -> Path:
    """Train a preset on a Kermany-style folder and write a run folder.

    ``train/`` and ``val/`` are pooled and re-split by patient (``val_fraction`` of the
    patients for validation); a ``test/`` split is never read. Every member trains on the
    same split with seed ``seed + i``.

    Args:
        data: A Kermany root or a :func:`cxrkeras.scan` table.
        preset: A name in :data:`cxrkeras.presets.PRESETS` or a :class:`Preset`.
        out_dir: The run folder to create.
        seed: Seed of the patient split and of the first member.
        time_budget: Seconds for the whole run (default: the preset's, 30 minutes);
            each member gets an equal share of what is left when it starts, and a
            member starts only while time is left (the first always trains at least
            one epoch).
        weights: Backbone weights: ``"auto"`` (a local copy found by
            :func:`cxrkeras.presets.find_weights`, else a download), a local file,
            ``"imagenet"`` (download) or ``None`` (random initialisation).
        val_fraction: Share of the patients used for validation.
        overwrite: Replace files in an existing ``out_dir``.
        resume: Continue an interrupted run in ``out_dir`` (finished members are kept).
            The preset, overrides, seed, validation share and weight file must be those
            the run was started with (``settings.json``); the time budget may differ.
        verbose: Keras progress output.
        **overrides: Preset fields to replace (``epochs=2``, ``members=1``, ...).

    Returns:
        The run folder (``model.keras``, ``run.json``, ``validation.json``,
        ``settings.json``, ``members/<i>/history.csv``).
    """
    from cxrkeras._common import atomic_write_text, remove_temporaries
    from cxrkeras.backbones import transfer_classifier
    from cxrkeras.data import class_weights, make_dataset
    from cxrkeras.datasets import scan
    from cxrkeras.evaluate import collect_predictions, evaluate_scores
    from cxrkeras.runs import (
        RunConfig,
        epochs_logged,
        foreign_files,
        load_model_file,
        prepare_out_dir,
        prepare_resume,
        save_model,
        save_run,
    )
    from cxrkeras.thresholds import choose_threshold
    from cxrkeras.train import fit

    spec = for_device(get_preset(preset))
    spec = spec.replace(**overrides) if overrides else spec  # the caller's settings win
    budget = float(spec.time_budget if time_budget is None else time_budget)
    if not budget > 0 or budget == float("inf"):
        raise ValueError(
            f"train_preset: time_budget must be a positive, finite number of seconds. "
            f"Received: time_budget={time_budget!r}. Fix: e.g. time_budget=1800 (30 min)."
        )
    if weights == "auto":
        weights = find_weights(spec.backbone, spec.alpha)
    start = time.perf_counter()

    table = data if isinstance(data, pd.DataFrame) else scan(data)
    three = spec.classes == "three_class"
    pool = preset_split(table, seed=seed, three_class=three, val_fraction=val_fraction)
    label_mode = "three_class" if three else "binary"
    size = int(spec.image_size)
    preprocessing = {"normalization": "unit", "resize": "stretch"}
    if spec.clahe not in (False, None):  # {} is CLAHE with its default settings
        preprocessing["clahe"] = spec.clahe
    common = {
        "image_size": size,
        "label_mode": label_mode,
        "batch_size": spec.batch_size,
        "preprocessing": preprocessing,
    }
    val_ds = make_dataset(pool, split="val", **common)
    class_weight = None
    if spec.class_weight == "balanced":
        class_weight = class_weights(pool, label_mode=label_mode, split="train")
    num_classes = 3 if three else 1

    out = Path(out_dir)
    preset_dict = spec.as_dict()
    settings = {
        # The time budget of a resumed run may change.
        "preset": {k: v for k, v in preset_dict.items() if k != "time_budget"},
        "seed": seed,
        "val_fraction": val_fraction,
        # The file name only: a resumed run may start from another working directory.
        "weights": None if weights is None else Path(str(weights)).name,
    }
    started = (out / "members").is_dir() or (out / SETTINGS_FILE).is_file()
    if resume and out.is_dir() and started and not foreign_files(out):
        if (out / SETTINGS_FILE).is_file():
            _check_resumed_settings(out / SETTINGS_FILE, settings)
        remove_temporaries(out)
        if not (out / SETTINGS_FILE).is_file():  # killed before it was written
            atomic_write_text(out / SETTINGS_FILE, json.dumps(settings, indent=2))
    else:
        out = prepare_out_dir(out, overwrite=overwrite)
        atomic_write_text(out / SETTINGS_FILE, json.dumps(settings, indent=2))
    members, histories, stopped = [], [], []
    for i in range(spec.members):
        member_dir = out / "members" / str(i)
        done = member_dir / "model.keras"
        if resume and done.is_file():
            try:
                members.append(load_model_file(done))
            except ValueError as err:  # a member saved before saves were crash-safe
                warnings.warn(f"Member {i} is retrained: {err}", stacklevel=2)
                done.unlink()
            else:
                histories.append(epochs_logged(member_dir))
                stopped.append(False)
                continue
        left = budget - (time.perf_counter() - start)
        if left <= 0 and members:
            break  # the first member always trains at least one epoch
        share = max(left, 0.0) / (spec.members - i)
        keras.utils.set_random_seed(seed + i)
        net = transfer_classifier(
            spec.backbone,
            num_classes=num_classes,
            input_shape=(size, size, 1),
            weights=weights,
            freeze_backbone=False,
            alpha=spec.alpha,
            bn_momentum=spec.bn_momentum,
            name=f"member{i}",
        )
        train_ds = make_dataset(
            pool, split="train", shuffle=True, seed=seed + i, augment=spec.augment, **common
        )
        if resume and member_dir.is_dir():
            prepare_resume(member_dir, net)  # drops a backup damaged by a kill
        elif member_dir.is_dir():  # overwrite: start afresh, not from an old backup
            remove_temporaries(member_dir)
            shutil.rmtree(member_dir / "backup", ignore_errors=True)
        schedule = CosineBudget(spec.learning_rate, spec.epochs, seconds=share)
        if spec.focal_gamma is None:
            loss = (
                keras.losses.CategoricalCrossentropy if three else keras.losses.BinaryCrossentropy
            )(label_smoothing=spec.label_smoothing)
        else:
            loss = (
                keras.losses.CategoricalFocalCrossentropy
                if three
                else keras.losses.BinaryFocalCrossentropy
            )(gamma=spec.focal_gamma, label_smoothing=spec.label_smoothing)
        recipe = Recipe(
            name=spec.name,
            optimizer="adam",
            learning_rate=spec.learning_rate,
            loss=loss,
            class_weight=class_weight,
            epochs=spec.epochs,
            patience=None,
            batch_size=spec.batch_size,
            description=spec.description,
        )
        fit(
            net,
            train_ds,
            val_ds,
            recipe=recipe,
            out_dir=member_dir,
            callbacks=[schedule],
            verbose=verbose,
        )
        (member_dir / "best.keras").unlink(missing_ok=True)  # the final weights are kept
        save_model(net, done)
        members.append(net)
        histories.append(epochs_logged(member_dir))
        stopped.append(schedule.stopped_early)
    seconds = time.perf_counter() - start

    model = average_models(members, name=spec.name)
    y_val, s_val = collect_predictions(model, val_ds)
    threshold, method = 0.5, "argmax" if three else "fixed"
    if not three:
        method = spec.threshold_method
        threshold = float(choose_threshold(y_val, s_val, method=method))
    val_result = evaluate_scores(y_val, s_val, threshold=threshold, class_names=val_ds.class_names)
    atomic_write_text(out / "validation.json", val_result.to_json())
    counts = pool.groupby("split").size().to_dict()
    config = RunConfig(
        model_name=spec.name,
        image_size=(size, size),
        label_mode=label_mode,
        class_names=tuple(val_ds.class_names),
        threshold=threshold,
        threshold_method=method,
        preprocessing=preprocessing,
        training={
            "preset": preset_dict,
            "weights": str(weights),
            "members_trained": len(members),
            "epochs_run": histories,
            "seconds": round(seconds, 1),
            "time_budget": budget,
            "stopped_by_time_budget": bool(any(stopped) or len(members) < spec.members),
            "images": {k: int(v) for k, v in counts.items()},
            "patients": int(pool["patient_id"].nunique()),
            "seed": seed,
        },
    )
    return save_run(out, model, config)
