"""cxrkeras: deep learning on pediatric chest X-rays with Keras 3.

The public functions are available at the top level and load their module on first
use, so ``import cxrkeras`` stays fast and the command line starts quickly::

    import cxrkeras
    table = cxrkeras.scan("chest_xray")            # one row per image, patient ids
    table = cxrkeras.patient_split(table)          # no patient in two splits
    train = cxrkeras.make_dataset(table, split="train", image_size=150, shuffle=True)
    model = cxrkeras.binary_cnn((150, 150, 1))
    cxrkeras.fit(model, train, recipe="report_b")
    heatmaps = cxrkeras.gradcam(model, images)     # works on nested models too
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # data
    "scan": "datasets",
    "download_kermany": "datasets",
    "patient_split": "splits",
    "leakage": "splits",
    "random_split_leakage": "splits",
    "make_phantoms": "phantoms",
    "phantom_arrays": "phantoms",
    "make_dataset": "data",
    "class_weights": "data",
    "Augmentation": "augment",
    "Preprocessing": "preprocessing",
    "image_data_generator": "legacy",
    # models
    "binary_cnn": "models",
    "categorical_from_binary": "models",
    "cnn_94": "models",
    "cnn_v2": "models",
    "convnet": "models",
    "transfer_classifier": "backbones",
    "resnet18": "transfer_models",
    "vgg16": "transfer_models",
    "efficientnet_transfer": "transfer_models",
    "alexnet": "classic_nets",
    "get_model": "registry",
    "MODEL_NAMES": "registry",
    # training
    "fit": "train",
    "get_recipe": "recipes",
    "RECIPES": "recipes",
    # evaluation
    "evaluate": "evaluate",
    "evaluate_scores": "evaluate",
    "collect_predictions": "evaluate",
    "choose_threshold": "thresholds",
    "compare": "results",
    "EvaluationResult": "results",
    # explanations
    "gradcam": "gradcam",
    "gradcam_plus_plus": "gradcam",
    "occlusion": "occlusion",
    "activation_map": "explain",
    "overlay": "explain",
    "plot_explanations": "explain",
    "localization_score": "localization",
    # runs
    "load_run": "runs",
    "train_run": "workflow",
    "evaluate_run": "workflow",
    "demo": "demo",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cxrkeras' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"cxrkeras.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
