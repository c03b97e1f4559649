"""Helpers for the numbered notebooks.

The runtime and its precision (:func:`runtime`), parameters from the environment
(:func:`env_param`), the three run modes (:func:`select_mode`), the data
(:func:`resolve_data`, :func:`reduce_data`), checkpointed training (:class:`RunFolder`),
and results files with the figures the text quotes (:func:`save_results`,
:func:`check_quotes`, :func:`fill_quotes`).

Every notebook starts with a parameters cell. Papermill can inject values into it, and
environment variables override the defaults so CI and shell users need no papermill:

* ``CXRKERAS_SMOKE=1``: smoke mode (tiny phantom data, one epoch, small images);
* ``CXRKERAS_DATA_DIR``: a Kermany root, e.g. ``/content/chest_xray``;
* ``CXRKERAS_EPOCHS``, ``CXRKERAS_IMAGE_SIZE``, ``CXRKERAS_BATCH_SIZE``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def env_param(name: str, default):
    """``CXRKERAS_<NAME>`` from the environment, converted to the type of ``default``.

    Unset or empty gives ``default``; ``none`` / ``null`` give ``None`` whatever the type.
    Booleans accept ``1/true/yes/y/on`` and ``0/false/no/n/off``; anything else, or a number
    that does not parse, raises ``ValueError`` naming the variable.

    Example:
        >>> env_param("NOT_SET_ANYWHERE", 10)
        10
        >>> os.environ["CXRKERAS_DEMO_FLAG"] = "1"; env_param("DEMO_FLAG", False)
        True
        >>> os.environ["CXRKERAS_DEMO_LIMIT"] = "none"; env_param("DEMO_LIMIT", 500) is None
        True
    """
    var = f"CXRKERAS_{name.upper()}"
    raw = os.environ.get(var)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip()
    if value.lower() in ("none", "null"):
        return None
    if isinstance(default, bool):
        flags = {"1": True, "true": True, "yes": True, "y": True, "on": True,
                 "0": False, "false": False, "no": False, "n": False, "off": False}  # fmt: skip
        if value.lower() not in flags:
            raise ValueError(f"{var}={raw!r} is not a yes/no value; use 1/0, true/false.")
        return flags[value.lower()]
    for kind in (int, float):
        if isinstance(default, kind):
            try:
                return kind(value)
            except ValueError:
                raise ValueError(
                    f"{var}={raw!r} is not a valid {kind.__name__} (default {default!r})."
                ) from None
    return raw


def resolve_data(
    data_dir: str | os.PathLike | None = None,
    *,
    smoke: bool = False,
    classes: str = "binary",
    num_images: int = 160,
    image_size: int = 64,
    seed: int = 0,
) -> Path:
    """The Kermany root a notebook should read.

    Smoke mode writes a few phantom X-rays to a temporary folder. Otherwise ``data_dir``
    is used when given; without it the data set is downloaded with ``kagglehub`` (as in
    Colab) when that works, and a clear message says what to do when it does not.

    Args:
        data_dir: A Kermany root (``train/``, maybe ``val/`` and ``test/``), or None.
        smoke: Use tiny phantom data instead.
        classes: ``"binary"`` or ``"three_class"`` phantoms (smoke mode).
        num_images: Phantoms to write (smoke mode).
        image_size: Phantom side in pixels (smoke mode).
        seed: Phantom seed (smoke mode).

    Returns:
        The folder to pass to :func:`cxrkeras.scan`.

    Raises:
        FileNotFoundError: if ``data_dir`` does not exist, or nothing could be downloaded.

    Example:
        >>> root = resolve_data(smoke=True, num_images=12, image_size=32)
        >>> sorted(p.name for p in (root / "train").iterdir())
        ['NORMAL', 'PNEUMONIA']
    """
    if smoke:
        from cxrkeras.phantoms import make_phantoms

        root = Path(tempfile.mkdtemp(prefix="cxrkeras_smoke_"))
        make_phantoms(
            root, num_images=num_images, image_size=image_size, classes=classes, seed=seed
        )
        return root
    if data_dir:
        root = Path(data_dir).expanduser()
        if not root.exists():
            raise FileNotFoundError(
                f"DATA_DIR={str(root)!r} does not exist. Point it at the folder that holds "
                "train/ (and maybe val/, test/) with NORMAL/ and PNEUMONIA/ inside; see "
                "data/README.md."
            )
        return root
    from cxrkeras.datasets import download_kermany

    try:
        return Path(download_kermany())
    except Exception as exc:  # network, credentials or a missing kagglehub all end here
        raise FileNotFoundError(
            "No DATA_DIR was given and the Kaggle download failed "
            f"({type(exc).__name__}: {exc}). Either set DATA_DIR (or CXRKERAS_DATA_DIR) to "
            "a local copy of the Kermany data (data/README.md says how to get it), install "
            "kagglehub (`pip install kagglehub`) where the internet is reachable, or set "
            "SMOKE = True to run on synthetic phantoms."
        ) from exc


def describe_mode(smoke: bool, data_root: Path) -> str:
    """One sentence saying what data this run uses, for the top of a notebook."""
    if smoke:
        return (
            f"SMOKE mode: tiny synthetic phantoms in {data_root}; the figures below "
            "show that the code runs, not how well the models work."
        )
    return f"Real data from {data_root}."


# --------------------------------------------------------------------------------------
# Runtime, modes, checkpointed training and results files
# --------------------------------------------------------------------------------------

MODE_NAMES = ("smoke", "cpu", "full")
MODE_HELP = {
    "smoke": "tiny synthetic phantoms, a few steps: proves the code runs (CI), figures mean nothing",
    "cpu": "the real data, reduced (subset, image size, epochs) to finish on a laptop CPU",
    "full": "the report's settings on the full data: meant for a GPU runtime",
}


def in_colab() -> bool:
    """True inside a Google Colab runtime."""
    import sys

    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def runtime(precision: str | None = "auto", *, verbose: bool = True) -> dict:
    """Report what this notebook runs on and choose the float precision.

    ``precision="auto"`` turns on Keras' ``mixed_float16`` policy on a GPU with tensor
    cores (compute capability 7.0 or newer: T4, V100, A100, L4, H100), where it roughly
    doubles training speed, and keeps ``float32`` everywhere else (a CPU gains nothing
    from float16). ``"float32"`` or ``"mixed_float16"`` force a policy; ``None`` leaves
    the policy alone. The environment variable ``CXRKERAS_PRECISION`` replaces ``"auto"``
    (e.g. to try the mixed-precision code paths on a CPU).

    Returns:
        A JSON-friendly description of the machine (versions, device, precision), which
        :func:`save_results` stores with the figures.

    Example:
        >>> info = runtime(precision=None, verbose=False)
        >>> sorted(info)[:4]
        ['colab', 'cpu_count', 'cxrkeras', 'device']
    """
    import platform

    import keras
    import tensorflow as tf

    import cxrkeras

    gpus = tf.config.list_physical_devices("GPU")
    names, capability = [], None
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name", gpu.name))
        cc = details.get("compute_capability")
        if cc is not None:
            capability = cc if capability is None else min(capability, cc)
    if precision == "auto":
        precision = env_param("PRECISION", "auto")
    if precision == "auto":
        precision = (
            "mixed_float16" if capability is not None and capability >= (7, 0) else "float32"
        )
    if precision is not None:
        if precision not in ("float32", "mixed_float16", "mixed_bfloat16"):
            raise ValueError(
                f"precision must be 'auto', 'float32', 'mixed_float16', 'mixed_bfloat16' or "
                f"None; received: {precision!r}."
            )
        keras.mixed_precision.set_dtype_policy(precision)
    info = {
        "cxrkeras": cxrkeras.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "device": ", ".join(names)
        if names
        else f"CPU ({platform.processor() or platform.machine()})",
        "gpus": len(gpus),
        "cpu_count": os.cpu_count(),
        "precision": keras.mixed_precision.dtype_policy().name,
        "colab": in_colab(),
    }
    if verbose:
        print(
            f"cxrkeras {info['cxrkeras']} | TensorFlow {info['tensorflow']} | "
            f"Keras {info['keras']} | Python {info['python']}"
        )
        print(
            f"device: {info['device']} | {info['cpu_count']} CPU cores | precision: {info['precision']}"
        )
        if not gpus:
            where = (
                "Runtime > Change runtime type > T4 GPU, then run all cells again"
                if info["colab"]
                else "a GPU runtime"
            )
            print(f"No GPU visible: MODE='full' would take hours here. Use MODE='cpu', or {where}.")
    return info


class Settings(dict):
    """The settings of the chosen mode: a dict whose keys are also attributes.

    Example:
        >>> s = Settings({"EPOCHS": 3}, mode="cpu"); (s.EPOCHS, s.mode)
        (3, 'cpu')
    """

    def __init__(self, values: dict, *, mode: str):
        super().__init__(values)
        self.mode = mode

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _gpu_visible() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def select_mode(mode: str, table: dict[str, tuple], *, verbose: bool = True) -> Settings:
    """Pick one column of a notebook's settings table and print the table.

    ``table`` maps each setting to its values in the three modes, in the order
    ``(smoke, cpu, full)``. ``mode`` is one of ``MODE_NAMES`` or ``"auto"`` (``"full"``
    when a GPU is visible, else ``"cpu"``); ``CXRKERAS_SMOKE=1`` forces smoke mode, and
    ``CXRKERAS_<SETTING>`` overrides one setting (e.g. ``CXRKERAS_EPOCHS=3``).

    Example:
        >>> s = select_mode("cpu", {"EPOCHS": (1, 4, 20)}, verbose=False)
        >>> (s.mode, s.EPOCHS)
        ('cpu', 4)
    """
    mode = (mode or "auto").strip().lower()
    if env_param("SMOKE", False):
        mode = "smoke"
    if mode == "auto":
        mode = "full" if _gpu_visible() else "cpu"
    if mode not in MODE_NAMES:
        raise ValueError(
            f"MODE must be one of {', '.join(MODE_NAMES)} or 'auto'; received: {mode!r}."
        )
    column = MODE_NAMES.index(mode)
    values, overridden = {}, []
    for key, row in table.items():
        if not isinstance(row, tuple) or len(row) != len(MODE_NAMES):
            raise ValueError(
                f"setting {key!r} needs one value per mode {MODE_NAMES}; received: {row!r}."
            )
        value = env_param(key, row[column])
        if value != row[column]:
            overridden.append(key)
        values[key] = value
    if verbose:
        print(f"MODE = {mode!r}: {MODE_HELP[mode]}.")
        width = max(len(k) for k in table) if table else 0
        header = "".join(f"{('> ' if m == mode else '  ') + m:>16}" for m in MODE_NAMES)
        print(f"{'setting':<{width}}{header}")
        for key, row in table.items():
            cells = [values[key] if i == column else v for i, v in enumerate(row)]
            print(f"{key:<{width}}" + "".join(f"{_short(v):>16}" for v in cells))
        if overridden:
            print(
                "set from the environment: " + ", ".join(f"{k}={values[k]!r}" for k in overridden)
            )
    return Settings(values, mode=mode)


def _short(value) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 14 else text[:13] + "…"


def reduce_data(table, max_images: int | None, *, seed: int = 0, stratify: str = "subtype"):
    """Keep whole patients until about ``max_images`` images, with the class mix unchanged.

    CPU mode trains on a subset of the real data. Patients are drawn at random within
    each ``stratify`` group (and each official split, so a ``test/`` folder keeps its
    share), in proportion to the group's size, so no patient is cut in two and the
    normal / bacteria / virus ratios stay those of the full table. ``None`` or a number
    at least the table's size returns the table unchanged.

    Example:
        >>> import pandas as pd
        >>> t = pd.DataFrame({"patient_id": [f"p{i // 2}" for i in range(40)],
        ...                   "subtype": ["normal"] * 20 + ["virus"] * 20, "split": "train"})
        >>> small = reduce_data(t, 12)
        >>> len(small), small["subtype"].value_counts().to_dict()
        (12, {'normal': 6, 'virus': 6})
    """
    import numpy as np

    if max_images is None or len(table) <= max_images:
        return table
    if max_images <= 0:
        raise ValueError(f"max_images must be positive or None; received: {max_images}.")
    groups = [g for g in (stratify, "split") if g in table.columns]
    rng = np.random.default_rng(seed)
    keep = []
    for _, group in table.groupby(groups, sort=True) if groups else [(None, table)]:
        quota = round(max_images * len(group) / len(table))
        sizes = group.groupby("patient_id").size()
        order = rng.permutation(sizes.index.to_numpy())
        taken = 0
        for patient in order:
            if abs(taken + int(sizes[patient]) - quota) >= abs(taken - quota):
                break
            keep.append(group.index[group["patient_id"] == patient])
            taken += int(sizes[patient])
    index = np.concatenate(keep) if keep else np.array([], dtype=int)
    return table.loc[np.sort(index)]


def _signature(parts: dict) -> str:
    import hashlib
    import json

    text = json.dumps(parts, sort_keys=True, default=repr)
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def _spec(data) -> object:
    import tensorflow as tf

    if isinstance(data, tf.data.Dataset):
        return [str(data.element_spec), int(data.cardinality())]
    if isinstance(data, (tuple, list)):
        return [getattr(part, "shape", repr(type(part))) for part in data]
    return repr(type(data).__name__)


class RunFolder:
    """Checkpointed training for notebooks: a rerun resumes or reloads instead of restarting.

    ``RunFolder(RUN_DIR, NOTEBOOK, MODE).fit(model, train, val, name="cnn", ...)`` calls
    :func:`cxrkeras.fit` with ``out_dir`` = ``RUN_DIR/NOTEBOOK/MODE/<name>-<key>``, where
    ``key`` is a short hash of the model's shape, the data's shape, the fit arguments and
    the ``key`` given here (the data folder, the number of images, the mode's settings),
    so a changed setting trains in a new folder and never overwrites an old one.

    * A run that was cut off (a Colab disconnect, a kernel restart) continues from its
      last finished epoch: ``fit``'s ``BackupAndRestore`` keeps the state in ``backup/``.
    * A run that finished leaves ``final.weights.h5`` and ``done.json``; running the cell
      again loads those weights and the logged history in seconds.

    Put ``RUN_DIR`` on Google Drive in Colab (``drive.mount('/content/drive')``, then
    ``RUN_DIR = '/content/drive/MyDrive/cxrkeras_runs'``) to survive a lost runtime.
    """

    def __init__(self, run_dir, notebook: str, mode: str, *, key: dict | None = None):
        self.root = Path(run_dir).expanduser() / notebook / mode
        self.key = dict(key or {})
        self.trained: list[str] = []
        self.loaded: list[str] = []

    def folder(self, name: str, key: dict) -> Path:
        if not name or not all(c.isalnum() or c in "-_." for c in name):
            raise ValueError(
                f"name must be a non-empty folder name of letters, digits, '-', '_' or '.'; "
                f"received: {name!r}."
            )
        return self.root / f"{name}-{_signature(key)}"

    def fit(self, model, train, val=None, *, name: str, **fit_kwargs):
        """Train like :func:`cxrkeras.fit`, resuming or reloading from the run folder.

        Returns:
            A ``keras.callbacks.History`` (``.history``, ``.epoch``, ``.model``), read
            back from ``history.csv`` when the run had already finished.
        """
        import json

        import keras

        from cxrkeras._common import atomic_path, atomic_write_text
        from cxrkeras.train import fit

        net = model() if callable(model) and not isinstance(model, keras.Model) else model
        if not isinstance(net, keras.Model):
            raise TypeError(
                f"model must be a keras.Model or a builder returning one; received: "
                f"{type(net).__name__}."
            )
        key = {
            "model": [net.name, int(net.count_params()) if net.built else None,
                      [str(t.shape) for t in getattr(net, "inputs", None) or []]],
            "train": _spec(train),
            "val": _spec(val),
            "fit": {k: v for k, v in fit_kwargs.items() if k not in ("verbose", "callbacks")},
            "precision": keras.mixed_precision.dtype_policy().name,
            "notebook": self.key,
        }  # fmt: skip
        out = self.folder(name, key)
        done, weights = out / "done.json", out / "final.weights.h5"
        if done.is_file() and weights.is_file():
            if not net.built:
                from cxrkeras._train_checks import peek

                x0, _, _ = peek(train)
                net(x0[:1])
            net.load_weights(str(weights))
            _compile_like_fit(net, fit_kwargs)
            history = keras.callbacks.History()
            history.set_model(net)
            history.history = _read_history(out / "history.csv")
            history.epoch = list(range(len(next(iter(history.history.values()), []))))
            print(f"{name}: finished earlier, weights loaded from {out}")
            self.loaded.append(name)
            return history
        resuming = (out / "backup" / "training_metadata.json").is_file()
        if resuming:
            print(f"{name}: resuming the interrupted run in {out}")
        history = fit(net, train, val, out_dir=out, **fit_kwargs)
        with atomic_path(weights) as tmp:
            net.save_weights(str(tmp))
        atomic_write_text(done, json.dumps({"name": name, "epochs": len(history.epoch),
                                            "key": key}, indent=2, default=repr))  # fmt: skip
        self.trained.append(name)
        return history


def _compile_like_fit(net, fit_kwargs: dict) -> None:
    """Compile a reloaded model as :func:`cxrkeras.fit` would, so ``evaluate`` has its loss."""
    from cxrkeras._train_checks import has_own_train_step, model_head
    from cxrkeras.recipes import get_recipe, make_loss, make_metrics, make_optimizer

    options = {
        k: v
        for k, v in fit_kwargs.items()
        if k not in ("epochs", "verbose", "callbacks", "strategy", "mixed_precision", "tensorboard")
    }
    recipe = get_recipe(options.pop("recipe", "report_b"), **options)
    if has_own_train_step(net):
        net.compile(optimizer=make_optimizer(recipe))
        return
    head = model_head(net)
    loss = make_loss(recipe, head)
    net.compile(
        optimizer=make_optimizer(recipe), loss=loss, metrics=make_metrics(recipe, head, loss)
    )


def _read_history(path: Path) -> dict:
    import csv

    if not path.is_file():
        return {}
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = [c for c in (rows[0].keys() if rows else []) if c != "epoch"]
    return {c: [float(r[c]) for r in rows if r.get(c) not in (None, "")] for c in columns}


def _number(value):
    import math

    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def results_figures(results: dict, reported: dict | None = None) -> dict:
    """``{row: {figure: value}}`` from evaluation results and a report's own figures.

    Each ``EvaluationResult`` gives its figures, ``n``, ``<figure>_low`` and
    ``<figure>_high`` for every figure with an interval, and its per-class figures as
    ``<figure>_<class>`` (``recall_NORMAL``); ``reported`` rows are copied as given. NaN
    becomes None.

    Example:
        >>> from cxrkeras.evaluate import evaluate_scores
        >>> r = evaluate_scores([0, 0, 1, 1], [0.2, 0.6, 0.7, 0.9], bootstrap=100)
        >>> row = results_figures({"CNN": r}, reported={"report": {"accuracy": 0.8}})["CNN"]
        >>> row["accuracy"], row["recall_PNEUMONIA"], "accuracy_low" in row
        (0.75, 1.0, True)
    """
    rows: dict[str, dict] = {}
    for name, result in (reported or {}).items():
        rows[name] = {k: _number(v) for k, v in result.items()}
    for name, result in results.items():
        if isinstance(result, dict):
            rows[name] = {k: _number(v) for k, v in result.items()}
            continue
        row = {"n": int(result.n)}
        for key, value in result.metrics.items():
            row[key] = _number(value)
            if key in result.ci:
                low, high = result.ci[key]
                row[f"{key}_low"], row[f"{key}_high"] = _number(low), _number(high)
        if getattr(result, "loss", None) is not None:
            row["loss"] = _number(result.loss)
        per_class = getattr(result, "per_class", None)
        if per_class is not None:
            for cls, figures in per_class.to_dict(orient="index").items():
                for key, value in figures.items():
                    row[f"{key}_{cls}"] = _number(value)
        rows[name] = row
    return rows


def save_results(
    results: dict,
    *,
    notebook: str,
    settings: Settings,
    started: float,
    reported: dict | None = None,
    machine: dict | None = None,
    data: str | None = None,
    extra: dict | None = None,
    results_dir: str | os.PathLike = "results",
) -> Path:
    """Write ``<results_dir>/<notebook>_<mode>.json``: the figures, settings, time, machine.

    ``started`` is a ``time.time()`` from the top of the notebook; the file records the
    minutes since then. The notebook text quotes these figures with tags that
    :func:`check_quotes` compares with the file.

    Example:
        >>> import json, tempfile, time
        >>> from cxrkeras.evaluate import evaluate_scores
        >>> r = evaluate_scores([0, 0, 1, 1], [0.2, 0.6, 0.7, 0.9], bootstrap=100)
        >>> path = save_results({"CNN": r}, notebook="nb", settings=Settings({}, mode="cpu"),
        ...                     started=time.time(), results_dir=tempfile.mkdtemp())
        results written to ... (0.0 minutes)
        >>> path.name, json.loads(path.read_text())["figures"]["CNN"]["accuracy"]
        ('nb_cpu.json', 0.75)
    """
    import datetime
    import json
    import time

    from cxrkeras._common import atomic_write_text

    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{notebook}_{settings.mode}.json"
    payload = {
        "notebook": notebook,
        "mode": settings.mode,
        "date": datetime.date.today().isoformat(),
        "wall_minutes": round((time.time() - started) / 60, 1),
        "data": data,
        "settings": dict(settings),
        "machine": machine or {},
        "figures": results_figures(results, reported),
        **({"extra": extra} if extra else {}),
    }
    atomic_write_text(path, json.dumps(payload, indent=2, default=repr) + "\n")
    print(f"results written to {path} ({payload['wall_minutes']} minutes)")
    return path


# Quoted figures: "<!--cpu:Binary CNN:accuracy-->0.94" in a markdown cell says that 0.94 is
# the figure ``accuracy`` of row ``Binary CNN`` in the cpu-mode results file; a key without
# a colon names a top-level entry (``<!--cpu:wall_minutes-->12``) and ``extra:<name>`` one
# of the file's extra figures.
QUOTE = __import__("re").compile(r"<!--(smoke|cpu|full):([^>]+?)-->(-?\d+(?:\.\d+)?)")


def _lookup(payload: dict, key: str):
    if ":" not in key:
        return payload.get(key)
    head, figure = key.rsplit(":", 1)
    if head == "extra":
        return payload.get("extra", {}).get(figure)
    return payload.get("figures", {}).get(head, {}).get(figure)


class _Results:
    """The results files beside a notebook source, each read once."""

    def __init__(self, source: Path, results_dir):
        self.source = source
        self.dir = Path(results_dir) if results_dir is not None else source.parent / "results"
        self._payloads: dict[str, dict | None] = {}

    def path(self, mode: str) -> Path:
        return self.dir / f"{self.source.stem}_{mode}.json"

    def value(self, mode: str, key: str):
        """The figure ``key`` of the ``mode`` file; None when the file or figure is absent."""
        import json

        if mode not in self._payloads:
            path = self.path(mode)
            self._payloads[mode] = json.loads(path.read_text()) if path.is_file() else None
        payload = self._payloads[mode]
        return None if payload is None else _lookup(payload, key.strip())


def _rounded(value, quoted: str) -> str:
    """``value`` with as many decimals as the ``quoted`` number has."""
    decimals = len(quoted.split(".")[1]) if "." in quoted else 0
    return f"{float(value):.{decimals}f}"


def check_quotes(
    source: str | os.PathLike, results_dir: str | os.PathLike | None = None
) -> list[str]:
    """Problems with the figures a notebook's text quotes; an empty list when all agree.

    A quoted number agrees when it equals the results file's value rounded to the
    quoted number of decimals.

    Example:
        >>> import json, tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> (folder / "results").mkdir()
        >>> figures = {"CNN": {"accuracy": 0.9137}}
        >>> _ = (folder / "results" / "nb_cpu.json").write_text(json.dumps({"figures": figures}))
        >>> _ = (folder / "nb.py").write_text("# accuracy <!--cpu:CNN:accuracy-->0.92")
        >>> check_quotes(folder / "nb.py")
        ['nb.py: text says cpu:CNN:accuracy = 0.92, nb_cpu.json has 0.91']
        >>> fill_quotes(folder / "nb.py"), check_quotes(folder / "nb.py")
        (1, [])
    """
    source = Path(source)
    results = _Results(source, results_dir)
    problems = []
    for mode, key, quoted in QUOTE.findall(source.read_text()):
        path = results.path(mode)
        value = results.value(mode, key)
        if not path.is_file():
            problems.append(f"{source.name}: quotes {mode}:{key} but {path} does not exist")
        elif value is None:
            problems.append(f"{source.name}: {mode}:{key} is not in {path.name}")
        elif _rounded(value, quoted) != quoted:
            problems.append(
                f"{source.name}: text says {mode}:{key} = {quoted}, "
                f"{path.name} has {_rounded(value, quoted)}"
            )
    return problems


def fill_quotes(source: str | os.PathLike, results_dir: str | os.PathLike | None = None) -> int:
    """Rewrite every quoted figure of a notebook source from its results files.

    Returns the number of figures changed. Run ``jupytext --sync`` afterwards.
    """
    source = Path(source)
    results = _Results(source, results_dir)
    changed = 0

    def replace(match):
        nonlocal changed
        mode, key, quoted = match.groups()
        value = results.value(mode, key)
        if value is None:
            return match.group(0)
        new = _rounded(value, quoted)
        changed += new != quoted
        return f"<!--{mode}:{key}-->{new}"

    source.write_text(QUOTE.sub(replace, source.read_text()))
    return changed


def quote_table(
    source: str | os.PathLike,
    rows: list[str],
    figures: list[str],
    *,
    mode: str = "cpu",
    results_dir: str | os.PathLike | None = None,
    decimals: int = 2,
) -> str:
    """A markdown table of quoted figures (rows x figures) for a notebook's text.

    Measured figures with an interval print as ``0.94 [0.91, 0.96]``; a figure a row does
    not have prints as ``–``.
    """
    import json

    payload = json.loads(_Results(Path(source), results_dir).path(mode).read_text())
    lines = ["| | " + " | ".join(figures) + " |", "|---" * (len(figures) + 1) + "|"]
    for row in rows:
        values = payload["figures"].get(row, {})
        cells = []
        for fig in figures:
            if values.get(fig) is None:
                cells.append("–")
                continue
            cell = f"<!--{mode}:{row}:{fig}-->{values[fig]:.{decimals}f}"
            if values.get(f"{fig}_low") is not None:
                cell += (
                    f" [<!--{mode}:{row}:{fig}_low-->{values[f'{fig}_low']:.{decimals}f}, "
                    f"<!--{mode}:{row}:{fig}_high-->{values[f'{fig}_high']:.{decimals}f}]"
                )
            cells.append(cell)
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m cxrkeras.notebook",
        description="Keep the figures a notebook's text quotes equal to its results files.",
    )
    parser.add_argument("command", choices=("check", "fill"))
    parser.add_argument("sources", nargs="+", help="notebook .py sources")
    args = parser.parse_args(argv)
    status = 0
    for source in args.sources:
        if args.command == "fill":
            print(f"{source}: {fill_quotes(source)} figures updated")
        for problem in check_quotes(source):
            print(problem)
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(_main())
