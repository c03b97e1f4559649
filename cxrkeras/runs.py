"""Run folders: a trained model plus everything needed to use it again.

A run folder holds ``model.keras`` and ``run.json``: the model name, input size, colour
mode, label mode, class names, the decision threshold chosen on validation patients,
the preprocessing, and how it was trained. :func:`load_run` reads it back, so
``cxrkeras evaluate`` and ``cxrkeras explain`` apply exactly what training used.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras

from cxrkeras._common import class_names_for

RUN_FILE = "run.json"
MODEL_FILE = "model.keras"


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


def save_run(run_dir: str | os.PathLike, model: keras.Model, config: RunConfig) -> Path:
    """Write ``model.keras`` and ``run.json`` into ``run_dir`` and return the folder."""
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    model.save(run / MODEL_FILE)
    payload = asdict(config)
    payload["saved"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    from cxrkeras import __version__

    payload["cxrkeras_version"] = __version__
    (run / RUN_FILE).write_text(json.dumps(payload, indent=2, default=_plain))
    return run


def load_run(path: str | os.PathLike) -> tuple[keras.Model, RunConfig]:
    """Load a run folder, or a bare ``.keras`` file, as ``(model, config)``.

    A ``.keras`` file without ``run.json`` beside it gets a config inferred from the
    model: its input size and channels, class names from its output size, threshold 0.5.

    Raises:
        FileNotFoundError: if neither a run folder nor a ``.keras`` file is found.
    """
    path = Path(path)
    if path.is_dir():
        model_path, run_path = path / MODEL_FILE, path / RUN_FILE
    else:
        model_path, run_path = path, path.parent / RUN_FILE
    if not model_path.is_file():
        raise FileNotFoundError(
            f"No model at {model_path}. Pass a run folder written by `cxrkeras train` "
            f"(it holds {MODEL_FILE} and {RUN_FILE}) or a .keras file."
        )
    model = keras.saving.load_model(model_path, safe_mode=True, compile=False)
    if run_path.is_file():
        raw = json.loads(run_path.read_text())
        known = RunConfig.__dataclass_fields__
        config = RunConfig(**{k: v for k, v in raw.items() if k in known})
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


def epochs_logged(run_dir: str | os.PathLike) -> int:
    """Epochs recorded in ``run_dir/history.csv`` (the CSV log of ``cxrkeras.fit``), or 0."""
    log = Path(run_dir) / "history.csv"
    if not log.is_file():
        return 0
    with open(log, newline="") as handle:
        return max(sum(1 for line in handle if line.strip()) - 1, 0)


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
