"""cxrkeras: deep learning on pediatric chest X-rays with Keras 3.

The public functions live at the top level::

    import cxrkeras
    table = cxrkeras.scan("chest_xray")            # one row per image, patient ids
    table = cxrkeras.patient_split(table)          # no patient in two splits
    train = cxrkeras.make_dataset(table, split="train", image_size=150, shuffle=True)
    model = cxrkeras.binary_cnn((150, 150, 1))
    cxrkeras.fit(model, train, recipe="report_b")
    heatmaps = cxrkeras.gradcam(model, images)     # works on nested models too

Importing the package imports TensorFlow and Keras; it sets no seeds, backends or
warning filters.
"""

__version__ = "0.1.0"

# Some functions share their module's name (``cxrkeras.evaluate``, ``cxrkeras.gradcam``,
# ``cxrkeras.occlusion``, ``cxrkeras.demo``): these imports bind the functions, which
# take precedence over the submodules for attribute access on the package.
from cxrkeras.augment import Augmentation
from cxrkeras.backbones import transfer_classifier
from cxrkeras.classic_nets import alexnet
from cxrkeras.data import class_weights, make_dataset
from cxrkeras.datasets import download_kermany, scan
from cxrkeras.demo import demo
from cxrkeras.evaluate import collect_predictions, evaluate, evaluate_scores
from cxrkeras.explain import activation_map, overlay, plot_explanations
from cxrkeras.gradcam import gradcam, gradcam_plus_plus
from cxrkeras.legacy import image_data_generator
from cxrkeras.localization import localization_score
from cxrkeras.models import binary_cnn, categorical_from_binary, cnn_94, cnn_v2, convnet
from cxrkeras.occlusion import occlusion
from cxrkeras.phantoms import make_phantoms, phantom_arrays
from cxrkeras.preprocessing import Preprocessing
from cxrkeras.recipes import RECIPES, get_recipe
from cxrkeras.registry import MODEL_NAMES, get_model
from cxrkeras.results import EvaluationResult, compare
from cxrkeras.runs import load_run
from cxrkeras.splits import leakage, patient_split, random_split_leakage
from cxrkeras.thresholds import choose_threshold
from cxrkeras.train import fit
from cxrkeras.transfer_models import efficientnet_transfer, resnet18, vgg16
from cxrkeras.workflow import evaluate_run, train_run

__all__ = [
    "download_kermany",
    "scan",
    "leakage",
    "patient_split",
    "random_split_leakage",
    "make_phantoms",
    "phantom_arrays",
    "class_weights",
    "make_dataset",
    "Augmentation",
    "Preprocessing",
    "image_data_generator",
    "binary_cnn",
    "categorical_from_binary",
    "cnn_94",
    "cnn_v2",
    "convnet",
    "transfer_classifier",
    "efficientnet_transfer",
    "resnet18",
    "vgg16",
    "alexnet",
    "MODEL_NAMES",
    "get_model",
    "fit",
    "RECIPES",
    "get_recipe",
    "collect_predictions",
    "evaluate",
    "evaluate_scores",
    "choose_threshold",
    "EvaluationResult",
    "compare",
    "gradcam",
    "gradcam_plus_plus",
    "occlusion",
    "activation_map",
    "overlay",
    "plot_explanations",
    "localization_score",
    "load_run",
    "evaluate_run",
    "train_run",
    "demo",
]
