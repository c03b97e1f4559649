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
import cxrkeras.cli  # noqa: F401  (first: the command line quiets TensorFlow's start-up)
from cxrkeras.anomaly import (
    eer_threshold,
    evaluate_anomaly,
    normal_only,
    percentile_threshold,
    reconstruction_errors,
)
from cxrkeras.augment import Augmentation
from cxrkeras.autoencoders import (
    conv_autoencoder,
    efficientnet_autoencoder,
    encoder_of,
    transposed_autoencoder,
)
from cxrkeras.backbones import BACKBONE_NAMES, transfer_classifier
from cxrkeras.classic_nets import alexnet
from cxrkeras.data import class_weights, make_dataset
from cxrkeras.datasets import download_kermany, find_root, scan
from cxrkeras.demo import demo
from cxrkeras.dummy_class import add_dummy_class, dummy_class_labels
from cxrkeras.embed import embeddings, evaluate_knn, knn_classifier, plot_projection, project
from cxrkeras.ensemble import average_models, train_preset
from cxrkeras.evaluate import collect_predictions, evaluate, evaluate_scores
from cxrkeras.explain import activation_map, overlay, plot_explanations
from cxrkeras.gan import ACGAN, acgan, discriminator_classifier
from cxrkeras.gradcam import gradcam, gradcam_plus_plus
from cxrkeras.image_layers import ImageNetPreprocessing
from cxrkeras.legacy import image_data_generator
from cxrkeras.localization import localization_score
from cxrkeras.models import binary_cnn, categorical_from_binary, cnn_94, cnn_v2, convnet
from cxrkeras.occlusion import occlusion
from cxrkeras.phantoms import make_phantoms, phantom_arrays
from cxrkeras.preprocessing import Preprocessing
from cxrkeras.presets import PRESETS, Preset, get_preset
from cxrkeras.recipes import RECIPES, Recipe, get_recipe
from cxrkeras.registry import MODEL_NAMES, get_model
from cxrkeras.results import EvaluationResult, compare
from cxrkeras.runs import load_run
from cxrkeras.splits import holdout_split, leakage, patient_split, random_split_leakage
from cxrkeras.synthetic import SampleGrid, mix_synthetic, rebalance_counts, synthesize
from cxrkeras.thresholds import choose_threshold, equal_error_rate
from cxrkeras.train import fit
from cxrkeras.transfer_models import efficientnet_transfer, replace_head, resnet18, vgg16
from cxrkeras.vae import VAE
from cxrkeras.workflow import evaluate_run, train_run

__all__ = [
    "ACGAN",
    "acgan",
    "activation_map",
    "add_dummy_class",
    "alexnet",
    "average_models",
    "Augmentation",
    "BACKBONE_NAMES",
    "binary_cnn",
    "categorical_from_binary",
    "choose_threshold",
    "class_weights",
    "cnn_94",
    "cnn_v2",
    "collect_predictions",
    "compare",
    "conv_autoencoder",
    "convnet",
    "demo",
    "discriminator_classifier",
    "download_kermany",
    "dummy_class_labels",
    "eer_threshold",
    "efficientnet_autoencoder",
    "efficientnet_transfer",
    "embeddings",
    "encoder_of",
    "equal_error_rate",
    "evaluate",
    "evaluate_anomaly",
    "evaluate_knn",
    "evaluate_run",
    "evaluate_scores",
    "EvaluationResult",
    "find_root",
    "fit",
    "get_model",
    "get_preset",
    "get_recipe",
    "gradcam",
    "gradcam_plus_plus",
    "holdout_split",
    "image_data_generator",
    "ImageNetPreprocessing",
    "knn_classifier",
    "leakage",
    "load_run",
    "localization_score",
    "make_dataset",
    "make_phantoms",
    "mix_synthetic",
    "MODEL_NAMES",
    "normal_only",
    "occlusion",
    "overlay",
    "patient_split",
    "percentile_threshold",
    "phantom_arrays",
    "plot_explanations",
    "plot_projection",
    "Preset",
    "PRESETS",
    "Preprocessing",
    "project",
    "random_split_leakage",
    "rebalance_counts",
    "Recipe",
    "RECIPES",
    "reconstruction_errors",
    "replace_head",
    "resnet18",
    "SampleGrid",
    "scan",
    "synthesize",
    "train_run",
    "train_preset",
    "transfer_classifier",
    "transposed_autoencoder",
    "VAE",
    "vgg16",
    "__version__",
]
