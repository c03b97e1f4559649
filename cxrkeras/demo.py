"""``cxrkeras demo``: the whole job on synthetic phantoms, with nothing downloaded.

It writes phantom X-rays in the Kermany layout, splits them by patient, trains report
B's binary CNN, picks a threshold on validation patients, evaluates on held-out
patients with 95% bootstrap intervals, explains a few test images with Grad-CAM and
occlusion, scores those maps against the phantoms' lesion masks, and ties it all
together in ``report.md``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from cxrkeras.runs import prepare_out_dir


def _say(message: str, verbose) -> None:
    if verbose:
        print(f"[cxrkeras demo] {message}", flush=True)


def demo(
    out_dir: str | os.PathLike = "cxrkeras_demo",
    *,
    num_images: int = 800,
    image_size: int = 128,
    epochs: int = 15,
    seed: int = 0,
    overwrite: bool = False,
    verbose=True,
) -> dict:
    """Run the synthetic end-to-end demo and write its results into ``out_dir``.

    Args:
        out_dir: New folder for ``metrics.json``, ``confusion_matrix.png``,
            ``training_curves.png``, ``roc.png``, ``gradcam.png``, ``occlusion.png``,
            ``report.md``, the phantoms (``data/``) and the run folder (``run/``).
        num_images: Phantom images to generate (several per synthetic patient).
        image_size: Side of the phantoms and of the model input, in pixels.
        epochs: Training epochs (report B's recipe: Adam with default settings).
        seed: Seed of the phantoms, the split and the training data order.
        overwrite: Allow an existing, non-empty ``out_dir`` (cxrkeras' files are replaced).
        verbose: Print progress and show Keras progress bars.

    Returns:
        The dict written to ``metrics.json``.
    """
    from cxrkeras import plots
    from cxrkeras.phantoms import make_phantoms
    from cxrkeras.splits import patient_split
    from cxrkeras.workflow import evaluate_run, train_run

    start = time.perf_counter()
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    _say(f"writing {num_images} phantom X-rays to {out / 'data'}", verbose)
    table = make_phantoms(
        out / "data", num_images=num_images, image_size=image_size, seed=seed, overwrite=overwrite
    )
    table = patient_split(table, val_fraction=0.15, test_fraction=0.2, seed=seed)
    sizes = table.groupby("split").size().to_dict()
    _say(f"patient-grouped split (images): {sizes}", verbose)

    _say("training report B's binary CNN", verbose)
    run = train_run(
        table,
        model="binary_cnn",
        out_dir=out / "run",
        epochs=epochs,
        image_size=image_size,
        options={"seed": seed, "overwrite": overwrite, "verbose": "auto" if verbose else 0},
    )
    _say("evaluating on held-out patients (95% bootstrap intervals)", verbose)
    test = table[table["split"] == "test"].reset_index(drop=True)
    result, summary = evaluate_run(run, test)
    plots.plot_confusion_matrix(
        result, title="Held-out patients", path=out / "confusion_matrix.png"
    )
    plots.plot_training_curves(run / "history.csv", path=out / "training_curves.png")
    plots.plot_roc({"binary_cnn": result}, path=out / "roc.png")

    _say("explaining test images with Grad-CAM and occlusion", verbose)
    localization = _explain_test_images(run, test, out, seed=seed)

    saved = json.loads((run / "run.json").read_text())
    training = saved["training"]
    metrics = {
        "test": summary,
        "validation_threshold": saved["threshold"],
        "training": training,
        "localization": localization,
        "seconds": round(time.perf_counter() - start, 1),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (out / "report.md").write_text(_report(metrics, result))
    _say(f"done in {metrics['seconds']:.0f} s; open {out / 'report.md'}", verbose)
    return metrics


def _explain_test_images(run: Path, test, out: Path, *, seed: int, per_class: int = 4) -> dict:
    """Grad-CAM and occlusion grids for a few test images of each class, scored on masks."""
    from cxrkeras._figures import Figure
    from cxrkeras.data import make_dataset
    from cxrkeras.explain import gradcam, localization_score, occlusion, overlay
    from cxrkeras.runs import load_run

    model, config = load_run(run)
    rng = np.random.default_rng(seed)
    picks = []
    for label in config.class_names:
        rows = test.index[test["label"] == label].to_numpy()
        picks.extend(rng.choice(rows, size=min(per_class, len(rows)), replace=False).tolist())
    chosen = test.loc[picks].reset_index(drop=True)
    ds = make_dataset(chosen, image_size=config.image_size, label_mode=None, batch_size=64)
    images = np.concatenate([np.asarray(b) for b in ds], axis=0)
    probs = np.asarray(model.predict(images, verbose=0))[:, 0]
    patch = max(4, config.image_size[0] // 10)
    # Every map explains PNEUMONIA (class 1), whatever the prediction, so that the maps
    # scored against the lesion masks all answer the same question: where is the evidence
    # for pneumonia? Occlusion keeps only drops (positive evidence).
    maps = {
        "gradcam": gradcam(model, images, class_index=1),
        "occlusion": np.clip(
            occlusion(model, images, patch_size=patch, stride=patch // 2, class_index=1), 0, None
        ),
    }
    names = config.class_names
    scores = {}
    for method, heat in maps.items():
        fig = Figure(figsize=(2.4 * len(images) / 2, 5.2))  # no pyplot: no global state
        axes = fig.subplots(2, len(images) // 2 or 1)
        for ax, img, h, p, label in zip(
            np.ravel(axes), images, heat, probs, chosen["label"], strict=False
        ):
            ax.imshow(overlay(img, h))
            pred = names[int(p >= config.threshold)]
            colour = "green" if pred == label else "red"
            ax.set_title(f"true {label}\npred {pred} ({p:.2f})", fontsize=8, color=colour)
            ax.axis("off")
        fig.suptitle(f"{method}: evidence for PNEUMONIA on held-out phantoms (P = its probability)")
        fig.tight_layout()
        fig.savefig(out / f"{method}.png", dpi=110)
        masks = _masks(chosen, config.image_size)
        sick = [i for i, m in enumerate(masks) if m is not None and m.any()]
        if sick:
            s = localization_score(heat[sick], np.stack([masks[i] for i in sick]))
            scores[method] = {k: float(v) for k, v in s.items() if np.isscalar(v)}
    return scores


def _masks(table, image_size) -> list:
    import cv2

    masks = []
    for path in table["mask_path"]:
        if not isinstance(path, str) or not Path(path).is_file():
            masks.append(None)
            continue
        mask = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        height, width = image_size
        masks.append(cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST) > 127)
    return masks


def _report(metrics: dict, result) -> str:
    test, training = metrics["test"], metrics["training"]
    lines = [
        "# cxrkeras demo: report B's binary CNN on synthetic phantom X-rays",
        "",
        "Phantom chest X-rays (lung fields, ribs, heart; pneumonia as focal or diffuse "
        "opacities with known lesion masks) were split by patient into train, validation "
        "and test. The model never saw a test patient; the decision threshold "
        f"({metrics['validation_threshold']:.3f}) was chosen on validation patients.",
        "",
        f"Training: {training['epochs_run']} epochs, {training['seconds']:.0f} s, "
        f"images per split {training['images']} (training pool).",
        "",
        "## Held-out test patients (95% bootstrap intervals)",
        "",
        result.to_frame().to_markdown(floatfmt=".3f")
        if _has_tabulate()
        else "```\n" + result.to_frame().round(3).to_string() + "\n```",
        "",
        "![confusion matrix](confusion_matrix.png) ![ROC](roc.png)",
        "",
        "![training curves](training_curves.png)",
        "",
        "## Where the model looks",
        "",
        "Evidence for PNEUMONIA on test images of both classes: Grad-CAM (gradients of the "
        "logit at the last convolution) and occlusion (drop in P(PNEUMONIA) when a patch "
        "is blanked). Titles show the prediction at the validation-chosen threshold.",
        "",
        "![Grad-CAM](gradcam.png)",
        "",
        "![occlusion](occlusion.png)",
        "",
    ]
    if metrics["localization"]:
        lines += [
            "Scored against the phantoms' lesion masks on the PNEUMONIA images shown "
            "(pointing game = the map's maximum lies inside the lesion):",
            "",
            "| method | " + " | ".join(next(iter(metrics["localization"].values()))) + " |",
            "|---|" + "---|" * len(next(iter(metrics["localization"].values()))),
        ]
        for method, s in metrics["localization"].items():
            lines.append(f"| {method} | " + " | ".join(f"{v:.3f}" for v in s.values()) + " |")
        lines.append("")
    lines.append(
        f"Accuracy {test['accuracy']:.3f}, sensitivity {test['sensitivity']:.3f}, "
        f"specificity {test['specificity']:.3f}, ROC AUC {test['roc_auc']:.3f}."
    )
    return "\n".join(lines) + "\n"


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True
