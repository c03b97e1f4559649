"""The ``cxrkeras`` command line (also ``python -m cxrkeras``).

Commands:
    demo       the whole job on synthetic phantoms, nothing downloaded (minutes on a CPU)
    train      train a model on a Kermany-style folder into a run folder
    evaluate   evaluate a run folder on labelled images with its own saved threshold
    explain    Grad-CAM / occlusion figures for image files
    phantoms   write synthetic phantom X-rays in the Kermany layout
    models     list the model names and recipes
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap


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
    p.add_argument("--num-images", type=int, default=800, help="phantoms to generate")
    p.add_argument("--image-size", type=int, default=128, help="pixels (default %(default)s)")
    p.add_argument("--epochs", type=int, default=15, help="training epochs")
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
    """Run the command line; returns the exit code (0 success, 1 usage, 2 error)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 1
    try:
        return _run(args)
    except (OSError, ValueError, TypeError, ImportError) as exc:
        print(f"cxrkeras {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cxrkeras {args.command}: interrupted", file=sys.stderr)
        return 130


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
            if args.time_budget <= 0:
                raise ValueError(f"--time-budget must be positive minutes; got {args.time_budget}.")
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

        result, summary = evaluate_run(
            args.model, args.data, split=args.split, json_path=args.json, bootstrap=args.bootstrap
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


if __name__ == "__main__":
    sys.exit(main())
