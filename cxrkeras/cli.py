"""The ``cxrkeras`` command line (also ``python -m cxrkeras``).

Commands:
    demo       the whole job on synthetic phantoms, nothing downloaded (minutes on a CPU)
    train      train a model on a Kermany-style folder into a run folder
    evaluate   evaluate a run folder on labelled images with its own saved threshold
    explain    Grad-CAM / occlusion figures for image files
    phantoms   write synthetic phantom X-rays in the Kermany layout
    models     list the model names and recipes

Every argument is checked before any work starts (each wrong value is named in one
line), and the output is cxrkeras' own lines and real warnings: the command line sets
``TF_CPP_MIN_LOG_LEVEL=2`` (unless the user set it) before TensorFlow is imported and
filters TensorFlow's C++ start-up lines (oneDNN, CUDA, CPU features), which that level
does not silence; Python warnings are printed as one line each, without source lines.
This module imports nothing heavy at import time; importing it runs
:func:`command_line_start`, which acts only in the command-line process, so the package
can import it before it imports TensorFlow. The library itself never sets TensorFlow's
log level.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import sys
import tempfile
import textwrap
import warnings
from pathlib import Path

# TensorFlow's C++ start-up lines. TF_CPP_MIN_LOG_LEVEL does not reach the ones logged
# through absl before absl::InitializeLog(), so they are filtered out of stderr while
# TensorFlow is imported and its devices are listed. Anything else is passed through.
_STARTUP_NOISE = re.compile(
    r"^(?:WARNING: All log messages before absl::InitializeLog\(\) is called are written "
    r"to STDERR"
    r"|[IW]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] .*"  # INFO / WARNING lines of the C++ core
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate "
    r"compiler flags\."
    r"|E\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] Unable to register cu\w+ factory: .*"
    r"|E\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] computation placer already registered.*"
    r")$"
)
# On a machine without an NVIDIA driver, the failed CUDA initialisation is expected.
_NO_GPU_NOISE = re.compile(r"^E\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] failed call to cuInit: .*$")


def startup_noise(line: str, *, nvidia_driver: bool | None = None) -> bool:
    """True for a TensorFlow C++ start-up line that the command line does not show.

    Example:
        >>> startup_noise("I0000 00:00:1.2 16597 port.cc:153] oneDNN custom operations are on.")
        True
        >>> startup_noise("UserWarning: the images look dark")
        False
    """
    line = line.rstrip("\r\n")
    if _STARTUP_NOISE.match(line):
        return True
    if nvidia_driver is None:
        nvidia_driver = Path("/dev/nvidiactl").exists() or Path("/proc/driver/nvidia").exists()
    return bool(_NO_GPU_NOISE.match(line)) and not nvidia_driver


@contextlib.contextmanager
def _filtered_stderr():
    """Capture file descriptor 2 (C++ and Python output alike); re-emit all but noise."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (embedded interpreter)
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines(keepends=True) if not startup_noise(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def quiet_tensorflow() -> None:
    """Set TensorFlow's C++ log level (unless set) and import it without start-up lines.

    For the command line only: the library never changes TensorFlow's log level. Does
    nothing to the level when the user set ``TF_CPP_MIN_LOG_LEVEL``, and nothing at all
    once TensorFlow is imported (its start-up lines are then already printed).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    with _filtered_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA initialisation lines come here


def _is_command_line() -> bool:
    """True when this process is ``cxrkeras ...`` or ``python -m cxrkeras ...``."""
    if sys.argv and Path(sys.argv[0]).name in ("cxrkeras", "cxrkeras.exe", "cxrkeras-script.py"):
        return True
    args = list(getattr(sys, "orig_argv", []))[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-m":
            return i + 1 < len(args) and args[i + 1] in ("cxrkeras", "cxrkeras.cli")
        if arg.startswith("-m"):
            return arg[2:] in ("cxrkeras", "cxrkeras.cli")
        if arg in ("-X", "-W"):
            i += 2
            continue
        if arg == "-c" or not arg.startswith("-"):
            return False
        i += 1
    return False


def command_line_start() -> None:
    """Called by ``cxrkeras/__init__.py`` before it imports TensorFlow.

    Quiets TensorFlow's start-up (:func:`quiet_tensorflow`) when, and only when, this
    process is the command line; a library import changes nothing.
    """
    if _is_command_line():
        quiet_tensorflow()


def _demo_defaults() -> dict:
    import inspect

    from cxrkeras.demo import demo

    return {k: v.default for k, v in inspect.signature(demo).parameters.items()}


def _models_help() -> str:
    from cxrkeras._common import MODEL_DEFAULTS

    return ", ".join(MODEL_DEFAULTS)


def _presets_help() -> str:
    from cxrkeras.presets import PRESETS

    names = ", ".join(
        f"{name} ({p.classes}, default budget {p.time_budget / 60:.0f} min)"
        for name, p in PRESETS.items()
    )
    return f"{names}. `cxrkeras models` describes every choice they make."


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cxrkeras`` command."""
    parser = argparse.ArgumentParser(
        prog="cxrkeras",
        description="Deep learning on pediatric chest X-rays with Keras 3.",
        epilog="Start with `cxrkeras demo`; `cxrkeras COMMAND --help` for each command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="end-to-end demo on synthetic phantom X-rays")
    p.add_argument("--out", default="cxrkeras_demo", help="new output folder (default %(default)s)")
    defaults = _demo_defaults()  # one source of truth: demo()'s signature
    p.add_argument(
        "--num-images",
        type=int,
        default=defaults["num_images"],
        help="phantoms to generate (default %(default)s)",
    )
    p.add_argument(
        "--image-size",
        type=int,
        default=defaults["image_size"],
        help="pixels (default %(default)s)",
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=defaults["epochs"],
        help="most training epochs; early stopping keeps the best (default %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace files in --out")
    p.add_argument("--quiet", action="store_true", help="no progress output")

    p = sub.add_parser(
        "train",
        help="train a model on a Kermany-style folder",
        description="Pools train/ and val/, re-splits them by patient into training and "
        "validation, trains, chooses the threshold on validation patients and writes "
        "RUN_DIR/model.keras and RUN_DIR/run.json. A test/ split is never used.",
        epilog=f"Presets: {_presets_help()}",
    )
    p.add_argument("--data", required=True, help="Kermany root (train/, maybe val/ and test/)")
    p.add_argument(
        "--model",
        default="binary_cnn",
        help=f"a preset (best_binary, best_three_class) or a model: {_models_help()}",
    )
    p.add_argument("--out", required=True, help="new run folder")
    p.add_argument("--classes", choices=("binary", "three_class"), default="binary")
    p.add_argument("--epochs", type=int, help="default: the report's recipe")
    p.add_argument("--image-size", type=int, help="default: the report's input size")
    p.add_argument("--batch-size", type=int, help="default 32")
    p.add_argument("--weights", help="transfer models: imagenet, none or a local .h5 path")
    p.add_argument(
        "--alpha", type=float, help="mobilenet / mobilenetv2 width (0.25 for mobilenet_2_5 files)"
    )
    p.add_argument("--recipe", help="report_a, report_b, report_c or report_d")
    p.add_argument(
        "--threshold-method",
        choices=("youden", "fixed", "eer", "sensitivity"),
        help="how the threshold is chosen on validation patients (default youden)",
    )
    p.add_argument(
        "--time-budget",
        type=float,
        help="minutes of training at most (presets: default 30; others: no limit)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace files in --out")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")

    p = sub.add_parser("evaluate", help="evaluate a run folder on labelled images")
    p.add_argument("--model", required=True, help="run folder or .keras file")
    p.add_argument(
        "--data",
        required=True,
        help="folder with NORMAL/ and PNEUMONIA/, or a Kermany root (test/ is used)",
    )
    p.add_argument("--split", help="split of a Kermany root to use (default test)")
    p.add_argument("--json", help="write the figures to this JSON file")
    p.add_argument("--bootstrap", type=int, default=1000, help="resamples for 95%% intervals")

    p = sub.add_parser("explain", help="Grad-CAM and occlusion figures for image files")
    p.add_argument("--model", required=True, help="run folder or .keras file")
    p.add_argument("--image", required=True, nargs="+", help="image files")
    p.add_argument("--out", required=True, help="new output folder")
    p.add_argument(
        "--methods",
        nargs="+",
        default=["gradcam", "occlusion"],
        choices=("gradcam", "gradcam_plus_plus", "occlusion"),
    )
    p.add_argument("--overwrite", action="store_true")

    p = sub.add_parser("phantoms", help="write synthetic phantom X-rays (Kermany layout)")
    p.add_argument("--out", required=True)
    p.add_argument("--num-images", type=int, default=200)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--classes", choices=("binary", "three_class"), default="binary")
    p.add_argument("--split", default="train")
    p.add_argument("--marker", action="store_true", help="burn a label-correlated 'R' marker")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")

    sub.add_parser("models", help="list model names, input sizes and recipes")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 success, 1 usage, 2 error).

    Arguments are checked before any work (:func:`check_args`); every problem is
    printed on its own line and nothing is read or written.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 1
    problems = check_args(args)
    if problems:
        for problem in problems:
            print(f"cxrkeras {args.command}: error: {problem}", file=sys.stderr)
        return 2
    quiet_tensorflow()

    def one_line(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        print(f"cxrkeras {args.command}: {category.__name__}: {text}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = one_line
        try:
            return _run(args)
        except (OSError, ValueError, TypeError, ImportError) as exc:
            text = " ".join(str(exc).split())
            print(f"cxrkeras {args.command}: error: {text}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"cxrkeras {args.command}: interrupted", file=sys.stderr)
            return 130


def _whole(args, name: str, low: int, high: int | None, fix: str, problems: list) -> None:
    value = getattr(args, name.lstrip("-").replace("-", "_"), None)
    if value is None:
        return
    if value < low or (high is not None and value > high):
        expected = f"a whole number from {low} to {high}" if high else f"at least {low}"
        problems.append(f"{name} must be {expected}. Received: {name} {value}. Fix: {fix}")


def _existing(path: str | None, flag: str, kind: str, problems: list) -> None:
    if path is None:
        return
    target = Path(path)
    if kind == "folder" and not target.is_dir():
        what = "is not a folder" if target.exists() else "does not exist"
        problems.append(
            f"{flag} {path} {what}. Received: {flag} {path}. Fix: pass an existing folder."
        )
    if kind == "any" and not target.exists():
        problems.append(f"{flag} {path} does not exist. Received: {flag} {path}.")


def _new_folder(args, problems: list, *, resume: bool = False) -> None:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        problems.append(
            f"--out {args.out} exists and is not a folder. Received: --out {args.out}. "
            "Fix: name a new folder."
        )
    elif out.is_dir() and any(out.iterdir()) and not (args.overwrite or resume):
        more = " or --resume to continue an interrupted run" if hasattr(args, "resume") else ""
        problems.append(
            f"Output folder {out} already holds files. Received: --out {args.out}. Fix: "
            f"choose a new folder, pass --overwrite to replace cxrkeras' files{more}."
        )


def check_args(args) -> list[str]:
    """Every problem with the parsed arguments, one line each ([] when all are good).

    Only cheap checks that need no TensorFlow: numbers in range, paths that exist,
    output folders that would overwrite files, options that do not go together.

    Example:
        >>> check_args(build_parser().parse_args(["train", "--data", ".", "--out", "new",
        ...                                       "--epochs", "-3"]))[0][:60]
        '--epochs must be at least 1. Received: --epochs -3. Fix: pas'
    """
    from cxrkeras._common import MODEL_DEFAULTS
    from cxrkeras.presets import PRESETS

    problems: list[str] = []
    command = args.command
    if command in ("train", "demo"):
        _whole(args, "--epochs", 1, None, "pass --epochs 1 or more"
               + (", or leave it out for the recipe's default." if command == "train" else "."),
               problems)  # fmt: skip
        _whole(args, "--image-size", 32, 4096, "pass a side in pixels such as 224"
               + (", or leave it out for the model's default." if command == "train" else "."),
               problems)  # fmt: skip
    if command in ("demo", "phantoms"):
        _whole(args, "--num-images", 1, None, "pass the number of images, e.g. 200.", problems)
    if command == "phantoms":
        _whole(args, "--image-size", 8, 4096, "pass a side in pixels such as 224.", problems)
        if args.split not in ("train", "val", "test"):
            problems.append(f"--split must be train, val or test. Received: --split {args.split}.")
    if command in ("demo", "phantoms"):
        _new_folder(args, problems)
    if command == "train":
        _existing(args.data, "--data", "folder", problems)
        if args.model not in MODEL_DEFAULTS and args.model not in PRESETS:
            problems.append(
                f"--model must be a preset or a model name. Received: --model {args.model}. "
                f"Fix: one of {', '.join(PRESETS)}, {', '.join(MODEL_DEFAULTS)}."
            )
        _whole(args, "--batch-size", 1, 4096, "pass e.g. --batch-size 32.", problems)
        _whole(args, "--seed", 0, 2**32 - 1, "pass a seed such as 0.", problems)
        if args.time_budget is not None and not (
            math.isfinite(args.time_budget) and args.time_budget > 0
        ):
            problems.append(
                f"--time-budget must be positive minutes. Received: --time-budget "
                f"{args.time_budget}. Fix: e.g. --time-budget 30."
            )
        if args.alpha is not None:
            if not (math.isfinite(args.alpha) and 0 < args.alpha <= 2):
                problems.append(
                    f"--alpha must be a width multiplier in (0, 2]. Received: --alpha "
                    f"{args.alpha}. Fix: e.g. --alpha 0.25 (mobilenet) or 1.0."
                )
            elif args.model not in ("mobilenet", "mobilenetv2") and args.model not in PRESETS:
                problems.append(
                    f"--alpha applies to mobilenet and mobilenetv2 only. Received: --alpha "
                    f"{args.alpha} with --model {args.model}. Fix: leave --alpha out."
                )
        if args.weights is not None and args.weights.lower() not in ("imagenet", "none"):
            weights = Path(args.weights)
            if not weights.is_file():
                what = "is a folder" if weights.is_dir() else "does not exist"
                problems.append(
                    f"--weights must be imagenet, none or a local weights file. Received: "
                    f"--weights {args.weights}, which {what}. Fix: pass the path of a .h5 "
                    "file (see data/README.md for the weights folder)."
                )
            elif not weights.name.endswith(".h5"):
                problems.append(
                    f"--weights must be a Keras .h5 weights file. Received: --weights "
                    f"{args.weights}. Fix: pass a .h5 file such as "
                    "mobilenet_2_5_224_tf_no_top.h5."
                )
        if args.resume and args.overwrite:
            problems.append(
                "--resume and --overwrite contradict each other (continue the run, or "
                "replace it). Received: both. Fix: pass one of them."
            )
        _new_folder(args, problems, resume=args.resume)
    if command == "evaluate":
        if not Path(args.model).exists():
            problems.append(
                f"No model at {args.model}. Received: --model {args.model}. Fix: pass a run "
                "folder written by `cxrkeras train` or a .keras file."
            )
        _existing(args.data, "--data", "folder", problems)
        _whole(args, "--bootstrap", 0, 1_000_000, "pass e.g. --bootstrap 1000, or 0.", problems)
        if args.json is not None and Path(args.json).is_dir():
            problems.append(
                f"--json must name a file. Received: --json {args.json}, a folder. Fix: "
                "e.g. --json figures.json."
            )
    if command == "explain":
        if not Path(args.model).exists():
            problems.append(
                f"No model at {args.model}. Received: --model {args.model}. Fix: pass a run "
                "folder written by `cxrkeras train` or a .keras file."
            )
        missing = [p for p in args.image if not Path(p).is_file()]
        if missing:
            problems.append(
                f"--image files not found: {missing[:10]}. Received: --image "
                f"{' '.join(args.image[:10])}. Fix: pass existing image files."
            )
        _new_folder(args, problems)
    return problems


def _run(args) -> int:
    if args.command == "models":
        from cxrkeras._common import MODEL_DEFAULTS
        from cxrkeras.recipes import RECIPES

        print(f"{'model':24s} {'input':>6s}  recipe")
        for name, (size, recipe) in MODEL_DEFAULTS.items():
            print(f"{name:24s} {size:>6d}  {recipe}")
        print("\nrecipes: " + ", ".join(RECIPES))
        from cxrkeras.presets import PRESETS

        print("\npresets (cxrkeras train --model NAME):")
        for name, preset in PRESETS.items():
            gpu = ", ".join(f"{k} {v}" for k, v in preset.gpu.items())
            text = f"{preset.description} On a GPU: {gpu}."
            print(
                f"  {name}\n"
                + textwrap.fill(text, 88, initial_indent=" " * 4, subsequent_indent=" " * 4)
            )
        return 0
    if args.command == "demo":
        from cxrkeras.demo import demo

        metrics = demo(
            args.out,
            num_images=args.num_images,
            image_size=args.image_size,
            epochs=args.epochs,
            seed=args.seed,
            overwrite=args.overwrite,
            verbose=not args.quiet,
        )
        print(json.dumps({k: metrics["test"][k] for k in _HEADLINE if k in metrics["test"]}))
        return 0
    if args.command == "train":
        from cxrkeras.workflow import train_run

        options = {
            "seed": args.seed,
            "overwrite": args.overwrite,
            "resume": args.resume,
        }
        if args.weights is not None:
            options["weights"] = None if args.weights.lower() == "none" else args.weights
        if args.threshold_method is not None:
            options["threshold_method"] = args.threshold_method
        if args.batch_size is not None:
            options["batch_size"] = args.batch_size
        if args.recipe:
            options["recipe"] = args.recipe
        if args.alpha is not None:
            options["alpha"] = args.alpha
        if args.time_budget is not None:
            options["time_budget"] = args.time_budget * 60
        run = train_run(
            args.data,
            model=args.model,
            out_dir=args.out,
            epochs=args.epochs,
            image_size=args.image_size,
            classes=args.classes,
            options=options,
        )
        print(f"run written to {run}")
        config = json.loads((run / "run.json").read_text())
        print(
            f"threshold {config['threshold']:.4f} ({config['threshold_method']}, chosen on "
            f"validation patients); validation figures in {run / 'validation.json'}"
        )
        return 0
    if args.command == "evaluate":
        from cxrkeras.workflow import evaluate_run

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            result, summary = evaluate_run(
                args.model,
                args.data,
                split=args.split,
                json_path=args.json,
                bootstrap=args.bootstrap,
            )
        for warning in caught:  # undefined figures are said once, in the notes below
            if str(warning.message) not in result.notes:
                warnings.showwarning(
                    warning.message, warning.category, warning.filename, warning.lineno
                )
        print(result)
        if args.json:
            print(f"figures written to {args.json}")
        return 0
    if args.command == "explain":
        from cxrkeras.workflow import explain_images

        frame = explain_images(
            args.model, args.image, out_dir=args.out, methods=args.methods, overwrite=args.overwrite
        )
        print(frame.drop(columns=["figure"]).to_string(index=False))
        print(f"figures written to {args.out}")
        return 0
    if args.command == "phantoms":
        from cxrkeras.phantoms import make_phantoms

        table = make_phantoms(
            args.out,
            num_images=args.num_images,
            image_size=args.image_size,
            classes=args.classes,
            split=args.split,
            marker=args.marker,
            seed=args.seed,
            overwrite=args.overwrite,
        )
        print(table.groupby(["label", "subtype"]).size().to_string())
        print(f"{len(table)} images written under {args.out}")
        return 0
    raise ValueError(f"unknown command {args.command!r}")


_HEADLINE = ("accuracy", "sensitivity", "specificity", "roc_auc", "f1")

# cxrkeras/__init__.py imports this module before anything imports TensorFlow: in the
# command-line process that quiets TensorFlow's start-up; in any other it does nothing.
command_line_start()

if __name__ == "__main__":
    sys.exit(main())
