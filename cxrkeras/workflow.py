"""End-to-end jobs behind the command line: train, evaluate and explain a run folder.

Each job is a plain function, so a notebook can call exactly what ``cxrkeras train``,
``cxrkeras evaluate`` and ``cxrkeras explain`` run.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from cxrkeras._common import (
    MODEL_DEFAULTS,
    THREE_CLASS_MODELS,
    atomic_path,
    atomic_write_text,
    remove_temporaries,
)
from cxrkeras._inputs import check_number
from cxrkeras.presets import PRESETS
from cxrkeras.runs import (
    RunConfig,
    TimeBudget,
    epochs_logged,
    load_run,
    prepare_out_dir,
    prepare_resume,
    run_is_complete,
    save_run,
)


def select_split(table: pd.DataFrame, split: str | None = None) -> pd.DataFrame:
    """Rows of ``split``; by default ``test`` when present, else the only split.

    Raises:
        ValueError: if ``split`` is missing, or several splits exist and none is ``test``.

    Example:
        >>> t = pd.DataFrame({"split": ["train", "test"], "path": ["a", "b"]})
        >>> select_split(t)["path"].tolist()
        ['b']
    """
    splits = sorted(table["split"].unique())
    if split is None:
        if "test" in splits:
            split = "test"
        elif len(splits) == 1:
            split = splits[0]
        else:
            raise ValueError(
                f"The data holds the splits {splits} and no 'test' split; name the one to "
                "use (--split on the command line)."
            )
    if split not in splits:
        raise ValueError(f"split={split!r} not found; the data holds {splits}.")
    return table[table["split"] == split].reset_index(drop=True)


def train_run(
    data,
    *,
    model: str = "binary_cnn",
    out_dir: str | os.PathLike,
    epochs: int | None = None,
    image_size: int | None = None,
    classes: str = "binary",
    options: dict | None = None,
) -> Path:
    """Train a registered model on a Kermany-style folder and write a run folder.

    The official ``train`` and ``val`` images are pooled and re-split by patient into
    training and validation (the 16-image official val split is too small to choose a
    threshold on); a ``test`` split, if the folder has one, is never touched. The
    decision threshold is chosen on the validation patients (Youden's J by default).

    ``model.keras``, ``validation.json`` and ``run.json`` are written crash-safe (a
    temporary file, then one rename), ``run.json`` last, so it marks a finished run.
    After a kill at any moment, rerunning with ``resume`` continues from the last
    finished epoch; a training backup damaged by the kill is dropped with a warning
    (training then restarts in the same folder), and a run that is already complete is
    returned as it is.

    Args:
        data: A Kermany root (``train/``, maybe ``val/`` and ``test/``) or a scan table.
        model: A name in :data:`cxrkeras.registry.MODEL_NAMES`.
        out_dir: The run folder to create (refused if it already holds files, unless
            ``options["overwrite"]``; ``options["resume"]`` continues an interrupted run).
        epochs: Epochs; default the recipe's.
        image_size: Input side in pixels; default the report's size for that model.
        classes: ``"binary"`` (NORMAL / PNEUMONIA) or ``"three_class"``.
        options: Further settings: ``batch_size`` (32), ``seed`` (0), ``val_fraction``
            (0.15), ``augment`` (ImageDataGenerator arguments; default mild affine
            jitter), ``weights`` and ``alpha`` (for transfer models), ``threshold_method``
            (``"youden"``), ``time_budget`` (seconds), ``recipe``, ``overwrite``,
            ``resume``, ``verbose``.

    Returns:
        The run folder, holding ``model.keras``, ``run.json``, ``history.csv`` and
        ``validation.json``.

    Raises:
        ValueError: for an unknown model, option or class mode, or ``epochs`` /
            ``image_size`` that are not positive whole numbers.
        FileExistsError: if ``out_dir`` holds files and neither ``overwrite`` nor
            ``resume`` is set, or ``resume`` is set and it holds files that training
            does not write.

    """
    from cxrkeras.data import make_dataset
    from cxrkeras.datasets import scan
    from cxrkeras.evaluate import collect_predictions, evaluate_scores
    from cxrkeras.registry import MODEL_NAMES, get_model
    from cxrkeras.splits import patient_split
    from cxrkeras.thresholds import choose_threshold
    from cxrkeras.train import fit

    opts = {
        "batch_size": 32,
        "seed": 0,
        "val_fraction": 0.15,
        "augment": DEFAULT_AUGMENT,
        "threshold_method": "youden",
        "time_budget": None,
        "overwrite": False,
        "resume": False,
        "verbose": "auto",
    }
    unknown = set(options or {}) - set(opts) - {"weights", "recipe", "alpha"}
    if unknown:
        raise ValueError(f"Unknown options {sorted(unknown)}; expected {sorted(opts)}.")
    opts.update(options or {})
    for name, value, largest in (("epochs", epochs, None), ("image_size", image_size, 4096)):
        if value is not None:
            check_number(value, where="train_run", argument=name, low=1, high=largest,
                         integer=True, fix="a positive whole number, or None for the "
                         "report's default.")  # fmt: skip
    if model in PRESETS:
        return _train_preset(data, model, out_dir, epochs, image_size, classes, options or {})
    if model not in MODEL_NAMES:
        raise ValueError(
            f"Unknown model {model!r}; expected one of {list(MODEL_NAMES)} or a preset "
            f"{list(PRESETS)}."
        )
    if classes not in ("binary", "three_class"):
        raise ValueError(f"classes={classes!r}; expected 'binary' or 'three_class'.")
    if model in THREE_CLASS_MODELS:
        classes = "three_class"
    default_size, default_recipe = MODEL_DEFAULTS.get(model, (224, "report_b"))
    size = int(image_size or default_size)
    recipe = opts.get("recipe") or default_recipe
    from cxrkeras.recipes import get_recipe

    get_recipe(recipe)  # an unknown recipe is named before any file is read or written

    table = data if isinstance(data, pd.DataFrame) else scan(data)
    pool = table[table["split"] != "test"]
    if pool.empty:
        raise ValueError("No training images: the data holds only a 'test' split.")
    stratify = "subtype" if classes == "three_class" else "label"
    pool = patient_split(
        pool,
        val_fraction=opts["val_fraction"],
        test_fraction=0.0,
        seed=opts["seed"],
        stratify=stratify,
    )
    num_classes = 3 if classes == "three_class" else 1
    kwargs = {"input_shape": (size, size, 1), "num_classes": num_classes}
    for key in ("weights", "alpha"):  # transfer models only
        if key in (options or {}):
            kwargs[key] = options[key]
    net = get_model(model, **kwargs)
    out = Path(out_dir)  # created only once the data and the model are known to be good
    if opts["resume"] and run_is_complete(out):
        warnings.warn(
            f"The run in {out} is already complete; nothing to resume (pass a new --out "
            "folder, or --overwrite without --resume, to train again).",
            stacklevel=2,
        )
        return out
    if opts["resume"]:
        out = prepare_resume(out, net)
    else:
        out = prepare_out_dir(out, overwrite=opts["overwrite"])
        _start_afresh(out)

    common = {"image_size": size, "label_mode": classes, "batch_size": opts["batch_size"]}
    train_ds = make_dataset(
        pool, split="train", shuffle=True, seed=opts["seed"], augment=opts["augment"], **common
    )
    val_ds = make_dataset(pool, split="val", **common)
    callbacks = []
    budget = None
    if opts["time_budget"]:
        budget = TimeBudget(opts["time_budget"])
        callbacks.append(budget)
    start = time.perf_counter()
    fit(
        net,
        train_ds,
        val_ds,
        recipe=recipe,
        epochs=epochs,
        out_dir=out,
        callbacks=callbacks,
        verbose=opts["verbose"],
    )
    seconds = time.perf_counter() - start

    y_val, s_val = collect_predictions(net, val_ds)
    threshold, method = 0.5, "fixed"
    if classes == "binary":
        method = opts["threshold_method"]
        threshold = float(choose_threshold(y_val, s_val, method=method))
    val_result = evaluate_scores(y_val, s_val, threshold=threshold, class_names=val_ds.class_names)
    atomic_write_text(out / "validation.json", val_result.to_json())

    counts = pool.groupby("split").size().to_dict()
    config = RunConfig(
        model_name=model,
        image_size=(size, size),
        label_mode=classes,
        class_names=tuple(val_ds.class_names),
        threshold=threshold,
        threshold_method=method,
        preprocessing={"normalization": "unit", "resize": "stretch"},
        training={
            "recipe": recipe,
            "epochs_run": epochs_logged(out),
            "seconds": round(seconds, 1),
            "stopped_by_time_budget": bool(budget and budget.stopped_early),
            "images": {k: int(v) for k, v in counts.items()},
            "patients": int(pool["patient_id"].nunique()),
            "seed": opts["seed"],
        },
    )
    return save_run(out, net, config)


def _start_afresh(out: Path) -> None:
    """Drop what a killed run left in a folder that training now overwrites.

    Temporary files of killed writers and an old ``backup/`` go (BackupAndRestore would
    otherwise resume from it); the user's files and the finished files stay until the
    new ones replace them.
    """
    import shutil

    remove_temporaries(out)
    if (out / "backup").is_dir():
        shutil.rmtree(out / "backup")


def _train_preset(data, name, out_dir, epochs, image_size, classes, options) -> Path:
    """``train_run`` for a name in :data:`cxrkeras.presets.PRESETS`."""
    from cxrkeras.ensemble import train_preset

    preset = PRESETS[name]
    if classes not in ("binary", preset.classes):
        raise ValueError(
            f"--classes {classes} does not match the preset {name!r}, which trains "
            f"{preset.classes}; leave --classes out."
        )
    ignored = sorted(set(options) & {"recipe", "threshold_method", "augment", "alpha"})
    if ignored:
        raise ValueError(
            f"The preset {name!r} fixes {ignored}; use a model name instead of a preset "
            "to choose them."
        )
    overrides = {"epochs": epochs, "image_size": image_size}
    if options.get("batch_size") is not None:
        overrides["batch_size"] = options["batch_size"]
    overrides = {k: int(v) for k, v in overrides.items() if v is not None}
    kwargs = {k: options[k] for k in ("seed", "overwrite", "resume", "verbose") if k in options}
    if "val_fraction" in options:
        kwargs["val_fraction"] = options["val_fraction"]
    if "weights" in options:
        kwargs["weights"] = options["weights"]
    return train_preset(
        data, name, out_dir=out_dir, time_budget=options.get("time_budget"), **kwargs, **overrides
    )


# Mild geometric jitter in ImageDataGenerator's vocabulary (report B's kind of settings).
DEFAULT_AUGMENT = {
    "rotation_range": 10,
    "width_shift_range": 0.1,
    "height_shift_range": 0.1,
    "zoom_range": 0.1,
}


def evaluate_run(
    run,
    data,
    *,
    split: str | None = None,
    json_path: str | os.PathLike | None = None,
    bootstrap: int = 1000,
):
    """Evaluate a run folder (or ``.keras`` file) on labelled images with its own threshold.

    Args:
        run: A run folder from :func:`train_run`, or a ``.keras`` file.
        data: A folder with ``NORMAL/`` and ``PNEUMONIA/`` subfolders, a Kermany root
            (its ``test/`` split is used), or a scan table.
        split: Which split of a Kermany root to use (default ``test``).
        json_path: Also write the figures as JSON there (never over an existing file's
            folder contents other than that file).
        bootstrap: Bootstrap resamples for the 95% intervals.

    Returns:
        ``(result, summary)``: the :class:`~cxrkeras.results.EvaluationResult` and the
        flat dict written to ``json_path`` (accuracy, sensitivity, specificity,
        roc_auc, f1; macro_f1 and per-class recall for three classes; 95% intervals).
    """
    from cxrkeras.data import make_dataset
    from cxrkeras.datasets import scan
    from cxrkeras.evaluate import collect_predictions, evaluate_scores

    bootstrap = check_number(bootstrap, where="evaluate_run", argument="bootstrap", low=0,
                             integer=True, fix="e.g. bootstrap=1000, or 0 for no "
                             "intervals.")  # fmt: skip
    if json_path is not None and Path(json_path).is_dir():
        raise IsADirectoryError(
            f"evaluate_run: json_path is a folder. Received: json_path={str(json_path)!r}. "
            "Fix: name a file, e.g. figures.json."
        )
    model, config = load_run(run)
    table = data if isinstance(data, pd.DataFrame) else scan(data)
    table = select_split(table, split)
    ds = make_dataset(
        table,
        image_size=config.image_size,
        color_mode=config.color_mode,
        label_mode=config.label_mode,
        batch_size=32,
        preprocessing=config.preprocessing or None,
    )
    y, scores = collect_predictions(model, ds)
    dropped = len(ds.file_paths) - len(y)  # files that failed inside the decoder
    if dropped > 0:
        warnings.warn(
            f"evaluate_run: {dropped} of {len(ds.file_paths)} image(s) could not be decoded "
            "and were left out (scan(root, validate=True) names them).",
            stacklevel=2,
        )
    result = evaluate_scores(
        y,
        scores,
        threshold=config.threshold,
        class_names=config.class_names,
        bootstrap=bootstrap,
    )
    summary = summarize(result)
    summary["threshold"] = config.threshold
    summary["threshold_method"] = config.threshold_method
    summary["skipped_files"] = len(getattr(ds, "skipped_files", []) or []) + max(dropped, 0)
    if json_path is not None:
        atomic_write_text(json_path, json.dumps(summary, indent=2))
    return result, summary


def summarize(result) -> dict:
    """The headline figures of an evaluation as a flat JSON-ready dict with intervals.

    ``recall`` is also given as ``sensitivity``; three-class results add
    ``per_class_recall``. NaN figures (undefined on these data) become ``None``.

    Example:
        >>> from cxrkeras.evaluate import evaluate_scores
        >>> s = summarize(evaluate_scores([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4], bootstrap=0))
        >>> s["accuracy"], s["sensitivity"], s["specificity"]
        (1.0, 1.0, 1.0)
    """
    out: dict = {"n": int(result.n), "class_names": list(result.class_names)}
    for key, value in result.metrics.items():
        names = [key] + (["sensitivity"] if key == "recall" else [])
        for name in names:
            out[name] = None if value is None or np.isnan(value) else float(value)
            if key in result.ci:
                out[f"{name}_ci95"] = [float(v) for v in result.ci[key]]
    if len(result.class_names) > 2:
        out["per_class_recall"] = {
            str(name): float(row["recall"]) for name, row in result.per_class.iterrows()
        }
    out["confusion_matrix"] = np.asarray(result.confusion_matrix).tolist()
    return out


def _decoded(make_dataset, table: pd.DataFrame, config) -> tuple[list[str], np.ndarray]:
    """The paths that decode and their images, as the run's pipeline prepares them.

    Files that fail inside the decoder are dropped by the pipeline; they are found by
    decoding the files one by one, so every kept path keeps its own image.
    """

    def images_of(source):
        ds = make_dataset(
            source,
            image_size=config.image_size,
            color_mode=config.color_mode,
            label_mode=None,
            batch_size=16,
            preprocessing=config.preprocessing or None,
        )
        arrays = [np.asarray(b) for b in ds]
        return list(ds.file_paths), arrays

    kept, arrays = images_of(table)
    batch = np.concatenate(arrays, axis=0) if arrays else np.zeros((0,))
    if len(batch) != len(kept):
        good, images = [], []
        for path in kept:
            _, one = images_of(pd.DataFrame({"path": [path]}))
            if one:
                good.append(path)
                images.append(one[0][0])
        kept, batch = good, (np.stack(images) if images else np.zeros((0,)))
    if not kept:
        raise ValueError(
            f"None of the {len(table)} image file(s) could be decoded: "
            f"{table['path'].tolist()[:10]}. Pass JPEG, PNG, BMP or GIF X-rays."
        )
    return kept, batch


def explain_images(
    run,
    images,
    *,
    out_dir: str | os.PathLike,
    methods=("gradcam", "occlusion"),
    overwrite: bool = False,
) -> pd.DataFrame:
    """Predict and explain image files with a run's model; write one PNG per image.

    Args:
        run: A run folder or ``.keras`` file.
        images: Image file paths.
        out_dir: Folder for ``NNN_<stem>_explained.png`` files and ``predictions.csv``.
        methods: Any of ``"gradcam"``, ``"gradcam_plus_plus"``, ``"occlusion"``.
        overwrite: Allow writing into a folder that already holds files.

    Returns:
        A table with each image's path, predicted class and class probabilities.
    """
    from cxrkeras.data import make_dataset
    from cxrkeras.explain import plot_explanations

    paths = [str(Path(p)) for p in images]
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"Image files not found: {missing}")
    model, config = load_run(run)
    table = pd.DataFrame({"path": [str(Path(p).resolve()) for p in paths]})
    kept, batch = _decoded(make_dataset, table, config)
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    probs = np.asarray(model.predict(batch, verbose=0))
    names = list(config.class_names)
    rows = []
    for index, (path, x, p) in enumerate(zip(kept, batch, probs, strict=True)):
        if p.shape[-1] == 1:
            scores = {names[0]: 1.0 - float(p[0]), names[1]: float(p[0])}
            predicted = names[int(p[0] >= config.threshold)]
        else:
            scores = {n: float(v) for n, v in zip(names, p, strict=True)}
            predicted = names[int(np.argmax(p))]
        fig = plot_explanations(
            model, x[None], methods=tuple(methods), class_names=names, threshold=config.threshold
        )
        target = out / f"{index:03d}_{Path(path).stem}_explained.png"  # stems can repeat
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight")  # not a pyplot figure: no close
        rows.append({"path": path, "predicted": predicted, **scores, "figure": str(target)})
    skipped = sorted(set(table["path"]) - set(kept))
    if skipped:
        warnings.warn(f"{len(skipped)} unreadable image(s) skipped: {skipped}", stacklevel=2)
    frame = pd.DataFrame(rows)
    atomic_write_text(out / "predictions.csv", frame.to_csv(index=False))
    return frame
