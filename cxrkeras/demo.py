"""``cxrkeras demo``: the whole job on synthetic phantoms, with nothing downloaded.

It writes phantom X-rays in the Kermany layout, splits them by patient, trains report
B's binary CNN, picks a threshold on validation patients, evaluates on held-out
patients with 95% bootstrap intervals, explains test images with Grad-CAM and
occlusion, scores those maps against the phantoms' lesion masks beside their chance
level, and ties it all together in ``report.md``.

The defaults (2,400 phantoms at 96 px, up to 20 epochs, early stopping with patience 8)
are sized to finish in about 2-3 minutes on 2 CPU cores; a training time budget stops
earlier on a slower machine. At 96 px a focal lesion is still about 10 pixels across,
and report B's CNN learns the task in a few epochs (at 128 px it starts more slowly and
costs about twice as much per epoch). ``python benchmarks/demo_seeds.py`` prints the
figures over three seeds.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from cxrkeras.runs import prepare_out_dir

# Early stopping on val_loss. Report B's recipe waits 5 epochs; its validation loss is
# noisy on a few hundred phantoms and the model often improves again after a plateau.
PATIENCE = 8
# Training stops before this many seconds (cxrkeras.runs.TimeBudget), so that the whole
# demo stays within about 5 minutes on a slow CPU; on 2 modern cores it is not reached.
TRAIN_BUDGET_S = 210
# Pneumonia test images whose Grad-CAM and occlusion maps are scored against the lesion
# masks (the figures show 4 of them): enough for the scores to be stable across seeds.
SCORED_IMAGES = 32


def _say(message: str, verbose) -> None:
    if verbose:
        print(f"[cxrkeras demo] {message}", flush=True)


def demo(
    out_dir: str | os.PathLike = "cxrkeras_demo",
    *,
    num_images: int = 2400,
    image_size: int = 96,
    epochs: int = 20,
    seed: int = 0,
    overwrite: bool = False,
    verbose=True,
) -> dict:
    """Run the synthetic end-to-end demo and write its results into ``out_dir``.

    The seed also seeds Keras (``keras.utils.set_random_seed``: Python, NumPy and
    TensorFlow), so that the weights start the same way for the same seed.

    Args:
        out_dir: New folder for ``metrics.json``, ``confusion_matrix.png``,
            ``training_curves.png``, ``roc.png``, ``gradcam.png``, ``occlusion.png``,
            ``report.md``, the phantoms (``data/``) and the run folder (``run/``).
        num_images: Phantom images to generate (several per synthetic patient).
        image_size: Side of the phantoms and of the model input, in pixels.
        epochs: Most training epochs (report B's recipe, Adam with default settings;
            early stopping with patience :data:`PATIENCE` keeps the best epoch).
        seed: Seed of the phantoms, the split, the weights and the training data order.
        overwrite: Allow an existing, non-empty ``out_dir`` (cxrkeras' files are replaced).
        verbose: Print progress and show Keras progress bars.

    Returns:
        The dict written to ``metrics.json``: held-out figures (``test``), the seed and
        settings, training details, and the localisation scores with their chance level.
    """
    import keras

    from cxrkeras import plots
    from cxrkeras.phantoms import make_phantoms
    from cxrkeras.recipes import get_recipe
    from cxrkeras.splits import patient_split
    from cxrkeras.workflow import evaluate_run, train_run

    start = time.perf_counter()
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    keras.utils.set_random_seed(seed)
    _say(f"writing {num_images} phantom X-rays to {out / 'data'}", verbose)
    table = make_phantoms(
        out / "data", num_images=num_images, image_size=image_size, seed=seed, overwrite=overwrite
    )
    table = patient_split(table, val_fraction=0.15, test_fraction=0.2, seed=seed)
    sizes = table.groupby("split").size().to_dict()
    _say(f"patient-grouped split (images): {sizes}", verbose)

    _say("training report B's binary CNN", verbose)
    recipe = get_recipe("report_b", patience=PATIENCE, epochs=epochs)
    run = train_run(
        table,
        model="binary_cnn",
        out_dir=out / "run",
        epochs=epochs,
        image_size=image_size,
        options={
            "seed": seed,
            "recipe": recipe,
            "time_budget": TRAIN_BUDGET_S,
            "overwrite": overwrite,
            "verbose": "auto" if verbose else 0,
        },
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
    localization, by_subtype, explain_settings = _explain_test_images(
        run, test, out, seed=seed, verbose=verbose
    )

    saved = json.loads((run / "run.json").read_text())
    metrics = {
        "seed": int(seed),
        "settings": {
            "num_images": int(num_images),
            "image_size": int(image_size),
            "epochs": int(epochs),
            "patience": PATIENCE,
            "train_budget_s": TRAIN_BUDGET_S,
            **explain_settings,
        },
        "test": summary,
        "validation_threshold": saved["threshold"],
        "training": saved["training"],
        "localization": localization,
        "localization_by_subtype": by_subtype,
        "seconds": round(time.perf_counter() - start, 1),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (out / "report.md").write_text(_report(metrics, result))
    _say(f"done in {metrics['seconds']:.0f} s; open {out / 'report.md'}", verbose)
    return metrics


def _last_conv(model) -> str | None:
    """Name of the last Conv2D layer (Grad-CAM there, not on the coarser pooling output)."""
    import keras

    names = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    return names[-1] if names else None


def _explain_test_images(run: Path, test, out: Path, *, seed: int, verbose, per_class: int = 4):
    """Grad-CAM and occlusion grids of test images, and their scores on lesion masks.

    Returns ``(scores, scores_by_subtype, settings)``; the scores are those of
    :func:`cxrkeras.explain.localization_score`, plus ``chance``: the lesions' share of
    the image area, which is what a random map gets for both the pointing game and the
    energy inside the mask.
    """
    from cxrkeras.data import make_dataset
    from cxrkeras.explain import gradcam, localization_score, occlusion
    from cxrkeras.runs import load_run

    model, config = load_run(run)
    rng = np.random.default_rng(seed)
    normal_name, sick_name = config.class_names
    normal = test.index[test["label"] == normal_name].to_numpy()
    sick = test.index[test["label"] == sick_name].to_numpy()
    normal = rng.choice(normal, size=min(per_class, len(normal)), replace=False).tolist()
    sick = rng.choice(sick, size=min(SCORED_IMAGES, len(sick)), replace=False).tolist()
    chosen = test.loc[normal + sick].reset_index(drop=True)
    ds = make_dataset(chosen, image_size=config.image_size, label_mode=None, batch_size=64)
    images = np.concatenate([np.asarray(b) for b in ds], axis=0)
    probs = np.asarray(model.predict(images, verbose=0))[:, 0]
    layer = _last_conv(model)
    patch = max(4, config.image_size[0] // 10)
    # Every map explains PNEUMONIA (class 1), whatever the prediction, so that the maps
    # scored against the lesion masks all answer the same question: where is the evidence
    # for pneumonia? Occlusion keeps only drops (positive evidence).
    maps = {
        "gradcam": gradcam(model, images, class_index=1, layer_name=layer),
        "occlusion": np.clip(
            occlusion(
                model,
                images,
                patch_size=patch,
                stride=patch // 2,
                class_index=1,
                verbose="auto" if verbose else False,
            ),
            0,
            None,
        ),
    }
    # Figure rows: the NORMAL images, then the first PNEUMONIA images.
    shown = [list(range(len(normal))), list(range(len(normal), len(normal) + per_class))]
    shown = [[i for i in row if i < len(images)] for row in shown]
    masks = _masks(chosen, config.image_size)
    scored = [i for i, m in enumerate(masks) if m is not None and m.any()]
    scores, by_subtype = {}, {}
    for method, heat in maps.items():
        _figure(method, images, heat, probs, chosen, shown, config, out / f"{method}.png")
        if not scored:
            continue
        scores[method] = _scores(localization_score, heat, masks, scored)
        by_subtype[method] = {
            subtype: _scores(localization_score, heat, masks, rows)
            for subtype in sorted(chosen.loc[scored, "subtype"].unique())
            if (rows := [i for i in scored if chosen.loc[i, "subtype"] == subtype])
        }
    settings = {
        "gradcam_layer": layer,
        "occlusion_patch": patch,
        "occlusion_stride": patch // 2,
        "scored_images": len(scored),
    }
    return scores, by_subtype, settings


def _scores(score_fn, heat, masks, rows) -> dict:
    s = score_fn(heat[rows], np.stack([masks[i] for i in rows]))
    s = {k: float(v) if isinstance(v, float) else int(v) for k, v in s.items()}
    s["chance"] = s["mask_fraction"]
    return s


def _figure(method, images, heat, probs, chosen, shown, config, path) -> None:
    from cxrkeras._figures import Figure  # no pyplot: no global state
    from cxrkeras.explain import overlay

    columns = max(1, *(len(row) for row in shown))
    fig = Figure(figsize=(2.4 * columns, 6.2 if method == "occlusion" else 5.6))
    axes = np.reshape(fig.subplots(2, columns, squeeze=False), (2, columns))
    names = config.class_names
    for ax in axes.ravel():
        ax.axis("off")
    pairs = [(axes[r, c], i) for r, row in enumerate(shown) for c, i in enumerate(row)]
    for ax, i in pairs:
        label, pred = chosen.loc[i, "label"], names[int(probs[i] >= config.threshold)]
        title = f"true {label}\npred {pred} ({probs[i]:.2f})"
        shown_map = heat[i]
        if method == "occlusion":
            # A confident model's probability hardly moves when one patch is covered, so
            # the drops are shown scaled to each map's largest drop (given in the title).
            peak = float(heat[i].max())
            shown_map = heat[i] / peak if peak > 0 else heat[i]
            title += f"\nlargest drop {peak:.2g}"
        ax.imshow(overlay(images[i], shown_map))
        ax.set_title(title, fontsize=8, color="green" if pred == label else "red")
    scaled = "; maps scaled to their maximum" if method == "occlusion" else ""
    fig.suptitle(
        f"{method}: evidence for PNEUMONIA on held-out phantoms (P = its probability{scaled})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


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


def _localization_lines(metrics: dict) -> list[str]:
    settings = metrics["settings"]
    lines = [
        f"Scored against the phantoms' lesion masks on {settings['scored_images']} held-out "
        "PNEUMONIA images (those shown and more). Pointing game: share of maps whose "
        "maximum lies inside the lesion. Energy in mask: share of the map's positive heat "
        "inside the lesion. A map that ignores the image scores the lesions' share of the "
        "image area on both (the chance column); pixel AUC has chance 0.5. Grad-CAM is "
        f"taken at `{settings['gradcam_layer']}`; occlusion blanks "
        f"{settings['occlusion_patch']}-pixel patches every {settings['occlusion_stride']} "
        "pixels.",
        "",
        "| method | images | pointing game | energy in mask | chance | pixel AUC |",
        "|---|---|---|---|---|---|",
    ]
    by_subtype = metrics.get("localization_by_subtype", {})
    for method, s in metrics["localization"].items():
        rows = [(method, s)] + [
            (f"{method}, {subtype} only", t) for subtype, t in by_subtype.get(method, {}).items()
        ]
        for name, t in rows:
            lines.append(
                f"| {name} | {t['num_images']} | {t['pointing_game']:.3f} | "
                f"{t['energy_inside']:.3f} | {t['chance']:.3f} | {t['auc']:.3f} |"
            )
    return lines + [""]


def _report(metrics: dict, result) -> str:
    test, training = metrics["test"], metrics["training"]
    settings = metrics["settings"]
    budget = " (stopped by the time budget)" if training.get("stopped_by_time_budget") else ""
    lines = [
        "# cxrkeras demo: report B's binary CNN on synthetic phantom X-rays",
        "",
        f"{settings['num_images']} phantom chest X-rays of {settings['image_size']} px "
        "(lung fields, ribs, heart; pneumonia as focal bacterial or diffuse viral "
        "opacities with known lesion masks) were split by patient into train, validation "
        "and test. The model never saw a test patient; the decision threshold "
        f"({metrics['validation_threshold']:.3f}) was chosen on validation patients. "
        f"Seed {metrics['seed']}; the whole demo took {metrics['seconds']:.0f} s.",
        "",
        f"Training: {training['epochs_run']} of at most {settings['epochs']} epochs "
        f"(early stopping on validation loss, patience {settings['patience']}, best epoch "
        f"kept){budget}, {training['seconds']:.0f} s, images per split "
        f"{training['images']} (training pool).",
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
        "is blanked, shown scaled to each map's largest drop). Titles show the prediction "
        "at the validation-chosen threshold.",
        "",
        "![Grad-CAM](gradcam.png)",
        "",
        "![occlusion](occlusion.png)",
        "",
    ]
    if metrics["localization"]:
        lines += _localization_lines(metrics)
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
