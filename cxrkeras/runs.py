"""Run folders: a trained model plus everything needed to use it again.

A run folder holds ``model.keras`` and ``run.json``: the model name, input size, colour
mode, label mode, class names, the decision threshold chosen on validation patients,
the preprocessing, and how it was trained. :func:`load_run` reads it back, so
``cxrkeras evaluate`` and ``cxrkeras explain`` apply exactly what training used.

Run folders are shared between people and machines, so loading checks them:
``run.json`` is read through one schema (:func:`read_run_config`: known keys, types,
ranges, the run format version), a damaged ``model.keras`` is reported as damaged, and
a run written by a newer cxrkeras is reported as such. :func:`save_run` writes both
files crash-safe (a temporary file in the folder, then one rename), ``model.keras``
first and ``run.json`` last, so ``run.json`` marks a finished run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import warnings
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras

from cxrkeras._common import (
    atomic_path,
    atomic_write_text,
    class_names_for,
    commit_temporary,
    is_temporary,
    remove_temporaries,
    temporary_path,
)

RUN_FILE = "run.json"
MODEL_FILE = "model.keras"
# Version of the run.json layout; a newer one is refused with the upgrade to make.
RUN_FORMAT = 1
# Everything that `cxrkeras train` (and a preset) writes into a run folder.
TRAINING_FILES = frozenset(
    {
        MODEL_FILE,
        RUN_FILE,
        "validation.json",
        "settings.json",
        "recipe.json",
        "history.csv",
        "best.keras",
        "backup",
        "logs",
        "members",
    }
)
_TRACES = ("history.csv", "recipe.json", "backup", "settings.json", "members")


@dataclass
class RunConfig:
    """What a trained model needs at prediction time.

    Attributes:
        model_name: Builder name (``cxrkeras.registry.MODEL_NAMES``) or ``"custom"``.
        image_size: ``(height, width)`` the model was trained on.
        color_mode: ``"grayscale"`` or ``"rgb"``.
        label_mode: ``"binary"`` or ``"three_class"``.
        class_names: Class names in class-id order.
        threshold: Decision threshold on P(PNEUMONIA) (binary models).
        threshold_method: How the threshold was chosen (on validation data).
        preprocessing: The :class:`cxrkeras.preprocessing.Preprocessing` fields.
        training: Free-form facts about training (recipe, epochs, seconds, split sizes).
    """

    model_name: str
    image_size: tuple[int, int]
    color_mode: str = "grayscale"
    label_mode: str = "binary"
    class_names: tuple[str, ...] = ()
    threshold: float = 0.5
    threshold_method: str = "fixed"
    preprocessing: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)

    def __post_init__(self):
        self.image_size = tuple(int(v) for v in self.image_size)
        if not self.class_names:
            self.class_names = class_names_for(3 if self.label_mode == "three_class" else 1)
        self.class_names = tuple(self.class_names)


def prepare_out_dir(out_dir: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Create ``out_dir``, refusing a folder that already holds files unless ``overwrite``.

    With ``overwrite=True`` files that cxrkeras writes are replaced one by one; nothing
    else in the folder is deleted.

    Raises:
        FileExistsError: if the folder holds files and ``overwrite`` is False.

    Example:
        >>> import tempfile
        >>> prepare_out_dir(tempfile.mkdtemp() + "/run").is_dir()
        True
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"Output path {out} exists and is not a folder.")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(
            f"Output folder {out} already holds files; choose a new folder or pass "
            "overwrite=True (--overwrite on the command line) to replace cxrkeras' files."
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def save_model(model: keras.Model, path: str | os.PathLike) -> Path:
    """``model.save(path)`` crash-safe: a temporary file beside it, then one rename.

    Example:
        >>> import tempfile
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> save_model(model, Path(tempfile.mkdtemp()) / "m.keras").name
        'm.keras'
    """
    with atomic_path(path) as tmp:
        model.save(tmp)
    return Path(path)


def save_run(run_dir: str | os.PathLike, model: keras.Model, config: RunConfig) -> Path:
    """Write ``model.keras`` and ``run.json`` into ``run_dir`` and return the folder.

    Both are written to temporary files first and renamed into place, the model first
    and ``run.json`` last: a process killed at any moment leaves each file old or new
    (never truncated), and a folder without ``run.json`` is an unfinished run.
    """
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    payload = asdict(config)
    payload["saved"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    from cxrkeras import __version__

    payload["cxrkeras_version"] = __version__
    payload["format_version"] = RUN_FORMAT
    text = json.dumps(payload, indent=2, default=_plain)
    save_model(model, run / MODEL_FILE)
    atomic_write_text(run / RUN_FILE, text)
    return run


def _version(text) -> tuple[int, ...] | None:
    match = re.match(r"^(\d+(?:\.\d+)*)", str(text))
    return tuple(int(p) for p in match.group(1).split(".")) if match else None


def _problems(raw: dict) -> list[str]:
    """Everything wrong with a parsed run.json, one phrase per problem."""
    from cxrkeras.preprocessing import COLOR_MODES, as_preprocessing

    known = [*RunConfig.__dataclass_fields__, "saved", "cxrkeras_version", "format_version"]
    problems = [f"unknown key {k!r}" for k in raw if k not in known]
    for key in ("model_name", "image_size"):
        if key not in raw:
            problems.append(f"required key {key!r} is missing")

    def bad(key, expected):
        problems.append(f"{key}={raw[key]!r} is not {expected}")

    if "model_name" in raw and not (isinstance(raw["model_name"], str) and raw["model_name"]):
        bad("model_name", "a model name (a non-empty string)")
    if "image_size" in raw:
        size = raw["image_size"]
        ok = isinstance(size, list) and len(size) == 2
        ok = ok and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
        if not ok:
            bad("image_size", "[height, width], two positive whole numbers")
    if "color_mode" in raw and raw["color_mode"] not in COLOR_MODES:
        bad("color_mode", f"one of {list(COLOR_MODES)}")
    label_modes = {"binary": 2, "categorical": 2, "three_class": 3}
    if "label_mode" in raw and raw["label_mode"] not in label_modes:
        bad("label_mode", f"one of {list(label_modes)}")
    if "class_names" in raw:
        names = raw["class_names"]
        if not (isinstance(names, list) and all(isinstance(n, str) and n for n in names)):
            bad("class_names", "a list of class names (strings)")
        elif len(set(names)) != len(names):
            bad("class_names", "a list of distinct names")
        elif names and raw.get("label_mode", "binary") in label_modes:
            want = label_modes[raw.get("label_mode", "binary")]
            if len(names) != want:
                bad("class_names", f"{want} names (label_mode={raw.get('label_mode', 'binary')!r})")
    if "threshold" in raw:
        value = raw["threshold"]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (number and 0.0 <= value <= 1.0):
            bad("threshold", "a number in [0, 1] (a probability)")
    if "threshold_method" in raw and not isinstance(raw["threshold_method"], str):
        bad("threshold_method", "a string such as 'youden'")
    if "preprocessing" in raw:
        if not isinstance(raw["preprocessing"], dict):
            bad("preprocessing", "a dict of preprocessing settings")
        else:
            try:
                as_preprocessing(raw["preprocessing"] or None)
            except (TypeError, ValueError) as exc:
                problems.append(f"preprocessing: {exc}")
    if "training" in raw and not isinstance(raw["training"], dict):
        bad("training", "a dict")
    for key in ("saved", "cxrkeras_version"):
        if key in raw and not isinstance(raw[key], str):
            bad(key, "a string")
    if "format_version" in raw:
        value = raw["format_version"]
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            bad("format_version", "a positive whole number")
    return problems


def read_run_config(path: str | os.PathLike) -> RunConfig:
    """Read and validate a ``run.json``: known keys, types, ranges and format version.

    Raises:
        ValueError: for a file that is not JSON, not an object, from a newer run
            format, or with unknown keys, missing keys or bad values (all of them are
            named, and a run written by a newer cxrkeras is named as such).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "run.json"
        >>> _ = path.write_text('{"model_name": "binary_cnn", "image_size": [64, 64], '
        ...                     '"threshold": "high"}')
        >>> read_run_config(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: run.json at ... is not valid: threshold='high' is not a number in [0, 1] (a probability). Fix: correct run.json (it is written by `cxrkeras train`), or retrain the run.
    """
    from cxrkeras import __version__

    path = Path(path)
    fix = f"Fix: correct {path.name} (it is written by `cxrkeras train`), or retrain the run."
    try:
        raw = json.loads(path.read_text())
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path.name} at {path} is not a text file ({exc}); it is damaged. {fix}"
        ) from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path.name} at {path} is not valid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}); it is damaged or was edited by hand. {fix}"
        ) from None
    if not isinstance(raw, dict):
        raise ValueError(
            f"{path.name} at {path} must hold a JSON object; it holds a {type(raw).__name__}. {fix}"
        )
    written_by = raw.get("cxrkeras_version")
    theirs, ours = _version(written_by), _version(__version__)
    newer = theirs is not None and ours is not None and theirs > ours
    by = f"cxrkeras {written_by}" if written_by else "an unknown cxrkeras"
    upgrade = f"Fix: upgrade (pip install -U cxrkeras); this is cxrkeras {__version__}."
    fmt = raw.get("format_version", 1)
    if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > RUN_FORMAT:
        raise ValueError(
            f"{path.name} at {path} was written by {by} in run format {fmt}; this "
            f"cxrkeras reads run format {RUN_FORMAT} at most. {upgrade}"
        )
    problems = _problems(raw)
    if problems:
        if newer:
            raise ValueError(
                f"{path.name} at {path} was written by a newer {by} and this cxrkeras "
                f"cannot read it: {'; '.join(problems)}. {upgrade}"
            )
        raise ValueError(f"{path.name} at {path} is not valid: {'; '.join(problems)}. {fix}")
    if newer:
        warnings.warn(
            f"{path} was written by a newer {by}; this is cxrkeras {__version__}. It "
            "loaded, but upgrade if anything looks wrong (pip install -U cxrkeras).",
            stacklevel=3,
        )
    known = RunConfig.__dataclass_fields__
    return RunConfig(**{k: v for k, v in raw.items() if k in known})


def _damaged(path: Path, why: str) -> ValueError:
    return ValueError(
        f"{path} is damaged: {why}. It may have been cut short by an interrupted write or "
        "copy. Fix: copy it again from its source, or retrain the run (cxrkeras train "
        "... --resume continues an interrupted one)."
    )


def load_model_file(path: str | os.PathLike) -> keras.Model:
    """Load a ``.keras`` file in safe mode, reporting a damaged file as damaged.

    Raises:
        FileNotFoundError: if there is no file.
        ValueError: for an empty, truncated or corrupt file (named as damaged), or a
            file Keras cannot rebuild (its own message, e.g. about safe mode).

    Example:
        >>> import tempfile
        >>> bad = Path(tempfile.mkdtemp()) / "model.keras"
        >>> _ = bad.write_bytes(b"")
        >>> load_model_file(bad)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: ... is damaged: it is empty (0 bytes). ...
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}.")
    size = path.stat().st_size
    if size == 0:
        raise _damaged(path, "it is empty (0 bytes)")
    if path.suffix == ".keras":
        if not zipfile.is_zipfile(path):
            raise _damaged(path, f"it is not a .keras archive (a zip file) ({size} bytes)")
        try:
            with zipfile.ZipFile(path) as archive:
                broken = archive.testzip()
                names = set(archive.namelist())
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
            raise _damaged(path, f"its archive cannot be read ({exc})") from None
        if broken is not None:
            raise _damaged(path, f"the archive member {broken!r} fails its checksum")
        if "config.json" not in names:
            raise _damaged(path, "the archive holds no config.json, so it is no Keras model")
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many types for one bad file
        if "safe_mode" in str(exc):
            raise
        raise ValueError(
            f"{path} could not be loaded as a Keras model ({type(exc).__name__}: {exc}). "
            "It is damaged, or was saved by an incompatible Keras version, or holds "
            "custom layers that are not imported. Fix: retrain the run, or load it where "
            "it was saved and save it again with model.save(path)."
        ) from exc


def _unfinished(folder: Path) -> list[str]:
    return [name for name in _TRACES if (folder / name).exists()]


def load_run(path: str | os.PathLike) -> tuple[keras.Model, RunConfig]:
    """Load a run folder, or a bare ``.keras`` file, as ``(model, config)``.

    ``run.json`` is validated (:func:`read_run_config`) and the model is loaded in safe
    mode (:func:`load_model_file`). The model remembers the run's preprocessing, so
    :func:`cxrkeras.gradcam` and the other explainers convert integer images by it.

    A ``.keras`` file without ``run.json`` beside it gets a config inferred from the
    model: its input size and channels, class names from its output size, threshold 0.5.

    Raises:
        FileNotFoundError: if neither a run folder nor a ``.keras`` file is found, or the
            run in the folder has not finished (no model yet).
        ValueError: for an invalid ``run.json``, a damaged model, a run from a newer
            cxrkeras that this one cannot read, or a run folder whose training did not
            finish (``run.json`` missing).
    """
    from cxrkeras._inputs import remember_preprocessing

    path = Path(path)
    if path.is_dir():
        model_path, run_path = path / MODEL_FILE, path / RUN_FILE
    else:
        model_path, run_path = path, path.parent / RUN_FILE
    traces = _unfinished(path) if path.is_dir() else []
    if not model_path.is_file():
        if traces and not run_path.is_file():
            raise FileNotFoundError(
                f"No model at {model_path}: the training run in {path} has not finished "
                f"(it holds {traces} but no {MODEL_FILE} yet). Fix: continue it with "
                f"`cxrkeras train ... --out {path} --resume`, or wait for it to end."
            )
        raise FileNotFoundError(
            f"No model at {model_path}. Pass a run folder written by `cxrkeras train` "
            f"(it holds {MODEL_FILE} and {RUN_FILE}) or a .keras file."
        )
    if path.is_dir() and traces and not run_path.is_file():
        raise ValueError(
            f"The run in {path} did not finish: it holds {MODEL_FILE} and {traces} but no "
            f"{RUN_FILE} (the threshold and preprocessing). Fix: rerun `cxrkeras train "
            f"... --out {path} --resume`, or pass {model_path} itself to use the model "
            "with an inferred config (threshold 0.5)."
        )
    config = read_run_config(run_path) if run_path.is_file() else None
    model = load_model_file(model_path)
    if config is not None:
        remember_preprocessing(model, config.preprocessing or {"normalization": "unit"})
    else:
        _, height, width, channels = model.input_shape
        outputs = model.output_shape[-1]
        config = RunConfig(
            model_name="custom",
            image_size=(height, width),
            color_mode="rgb" if channels == 3 else "grayscale",
            label_mode="three_class" if outputs == 3 else "binary",
            class_names=class_names_for(outputs),
        )
    return model, config


def run_is_complete(run_dir: str | os.PathLike) -> bool:
    """True when ``run_dir`` holds a finished run: valid ``run.json``, a loadable model.

    A folder with a ``backup/`` (training in progress or interrupted) is not complete.
    """
    run = Path(run_dir)
    if (run / "backup").exists() or not (run / RUN_FILE).is_file():
        return False
    try:
        read_run_config(run / RUN_FILE)
        load_model_file(run / MODEL_FILE)
    except (OSError, ValueError):
        return False
    return True


def foreign_files(run_dir: str | os.PathLike) -> list[str]:
    """Names in ``run_dir`` that cxrkeras training does not write (the user's files)."""
    run = Path(run_dir)
    if not run.is_dir():
        return []
    return sorted(
        p.name for p in run.iterdir() if p.name not in TRAINING_FILES and not is_temporary(p.name)
    )


def backup_problem(backup_dir: str | os.PathLike, model: keras.Model | None = None) -> str | None:
    """Why a ``BackupAndRestore`` folder cannot be resumed from, or None when it can.

    Checks ``training_metadata.json`` (JSON with an int ``epoch``) and, with ``model``,
    loads ``latest.weights.h5`` into it (a kill while Keras writes them leaves them cut
    short). The model's weights are restored afterwards.
    """
    backup = Path(backup_dir)
    meta, weights = backup / "training_metadata.json", backup / "latest.weights.h5"
    if not backup.is_dir():
        return None
    if not meta.is_file() and not weights.is_file():
        return None  # nothing saved yet: training starts at epoch 0
    try:
        info = json.loads(meta.read_text())
        if not isinstance(info, dict) or not isinstance(info.get("epoch"), int):
            return f"{meta.name} holds no epoch number"
    except (OSError, ValueError) as exc:
        return f"{meta.name} cannot be read ({exc})"
    if not weights.is_file():
        return f"{weights.name} is missing"
    if model is not None:
        current = model.get_weights()
        try:
            model.load_weights(weights)
        except Exception as exc:  # h5py raises OSError, Keras ValueError / KeyError
            return f"{weights.name} cannot be loaded ({type(exc).__name__}: {exc})"
        finally:
            model.set_weights(current)
    return None


def prepare_resume(run_dir: str | os.PathLike, model: keras.Model | None = None) -> Path:
    """Make ``run_dir`` ready for a resumed training run; returns the folder.

    Removes temporary files left by a killed writer and a damaged backup (with a
    warning: training then restarts at epoch 0 in the same folder). Never touches
    files that cxrkeras training does not write.

    Raises:
        FileExistsError: if the folder holds such files (it is not a run folder).
    """
    run = Path(run_dir)
    if not run.exists():
        run.mkdir(parents=True)
        return run
    if not run.is_dir():
        raise FileExistsError(f"Output path {run} exists and is not a folder.")
    foreign = foreign_files(run)
    if foreign:
        raise FileExistsError(
            f"Cannot resume in {run}: it holds files that `cxrkeras train` does not write "
            f"({foreign[:10]}), so it is not a run folder. Fix: pass the run folder "
            "itself, or start a new folder without --resume."
        )
    remove_temporaries(run)
    problem = backup_problem(run / "backup", model)
    if problem is not None:
        warnings.warn(
            f"The backup in {run / 'backup'} is damaged ({problem}), probably by a kill "
            "while it was written; training restarts at epoch 0 in the same folder.",
            stacklevel=3,
        )
        shutil.rmtree(run / "backup")
    return run


def epochs_logged(run_dir: str | os.PathLike) -> int:
    """Epochs recorded in ``run_dir/history.csv`` (the CSV log of ``cxrkeras.fit``), or 0."""
    log = Path(run_dir) / "history.csv"
    if not log.is_file():
        return 0
    with open(log, newline="") as handle:
        return max(sum(1 for line in handle if line.strip()) - 1, 0)


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``keras.callbacks.BackupAndRestore`` whose files are each written crash-safe.

    Keras writes ``backup/latest.weights.h5`` and ``training_metadata.json`` in place,
    so a kill while it writes them leaves a backup that ``--resume`` cannot read. Here
    each is written to a temporary file and renamed into place, the weights first:
    after a kill the backup holds the last finished epoch (or, between the two
    renames, that epoch's weights with the epoch before it, which repeats one epoch).

    Example:
        >>> import tempfile
        >>> AtomicBackupAndRestore(tempfile.mkdtemp()).save_freq
        'epoch'
    """

    def _save_model(self):
        Path(self.backup_dir).mkdir(parents=True, exist_ok=True)
        with atomic_path(self._weights_path) as tmp:
            self.model.save_weights(tmp, overwrite=True)
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        atomic_write_text(self._training_metadata_path, json.dumps(metadata))


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """``keras.callbacks.ModelCheckpoint`` that writes each checkpoint crash-safe.

    The checkpoint is saved to a temporary file beside it and renamed into place, so a
    kill while it is written leaves the previous checkpoint whole.

    Example:
        >>> import tempfile
        >>> AtomicModelCheckpoint(tempfile.mkdtemp() + "/best.keras").save_best_only
        False
    """

    _redirect: str | None = None

    def _get_file_path(self, epoch, batch, logs):
        return self._redirect or super()._get_file_path(epoch, batch, logs)

    def _save_model(self, epoch, batch, logs):
        target = Path(self._get_file_path(epoch, batch, logs))
        tmp = temporary_path(target)
        self._redirect = str(tmp)
        try:
            super()._save_model(epoch, batch, logs)
            if tmp.is_file():  # written: a better epoch, or save_best_only=False
                commit_temporary(tmp, target)
        finally:
            self._redirect = None
            tmp.unlink(missing_ok=True)


class TimeBudget(keras.callbacks.Callback):
    """Stop training before a wall-clock budget runs out.

    After each epoch it predicts whether one more epoch fits into ``seconds`` (using the
    slowest epoch so far) and stops training if it does not; the model keeps the weights
    that EarlyStopping or the last epoch left.

    Example:
        >>> TimeBudget(60).seconds
        60.0
    """

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = float(seconds)
        self.stopped_early = False

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        self._last = self._start
        self._slowest = 0.0

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self._slowest = max(self._slowest, now - self._last)
        self._last = now
        if now - self._start + self._slowest > self.seconds:
            self.stopped_early = True
            self.model.stop_training = True


def _plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)
