# ---
# jupyter:
#   accelerator: GPU
#   colab:
#     gpuType: T4
#     provenance: []
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: accelerator,colab
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Report D: ResNet-18 with focal loss, VGG16 and AlexNet, kNN, t-SNE, autoencoder anomalies, occlusion
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cxrkeras/cxrkeras/blob/main/notebooks/04_report_d_resnet18_focal_anomaly.ipynb)
#
# This notebook reproduces report D (Bar-Ilan University deep learning course, 2024) with
# `cxrkeras`. Working in PyTorch on the Kermany chest X-ray data, the report:
#
# 1. resized the images to 256 pixels, **center-cropped** them to 224 and normalised them
#    with the ImageNet mean and standard deviation;
# 2. fine-tuned an ImageNet **ResNet-18** for NORMAL vs PNEUMONIA with **SGD** (learning
#    rate 0.001, momentum 0.9, weight decay 0.01), a **StepLR** schedule (x0.1 every 10
#    epochs) and **focal loss** (alpha 0.25, gamma 2) against the class imbalance;
# 3. reused the binary network's weights for a **three-class** head (normal / bacteria /
#    virus);
# 4. compared ResNet-18 with **VGG16** and **AlexNet** (ResNet-18 was best on the binary
#    task, VGG16 on the three-class task);
# 5. classified the network's **embeddings with k-nearest neighbours** and drew them with
#    **t-SNE**;
# 6. trained a **convolutional autoencoder** (strided convolutions down, transposed
#    convolutions up, MSE) on NORMAL images, preprocessed with **CLAHE**, and called an
#    image PNEUMONIA when its reconstruction error passed the threshold where the ROC
#    curve's false-positive and false-negative rates meet (equal error rate);
# 7. explained the binary model with **occlusion** heatmaps.
#
# Its headline figures: binary ResNet-18 test accuracy 86.38% (precision 82.9%, recall
# 98.5%), three-class VGG16 test accuracy 78.36%, and for the autoencoder an error rate
# of 0.299, precision 0.796, sensitivity 0.700, specificity 0.701 and F1 0.745. The last
# section puts these beside the figures this run measures, with 95% bootstrap confidence
# intervals.
#
# What this notebook does differently, on purpose: the training images are re-split into
# training and validation **by patient** (the report's validation folder held 16 images),
# every threshold is chosen on **validation patients**, and Keras has no ImageNet
# ResNet-18 or AlexNet, so those two start from random weights in every mode (VGG16 gets
# Keras' ImageNet weights in full mode only, see the modes below).
#
# **To run it:** open it in Colab with the badge above, choose *Runtime > Change runtime
# type > T4 GPU*, then *Runtime > Run all*. The first cell installs cxrkeras when the
# runtime lacks it; the mode cell below says which of the three run modes is active.

# %%
# Setup: install cxrkeras when this runtime does not have it (a fresh Colab runtime), then
# report the runtime. CXRKERAS_INSTALL, when set, is the pip requirement to install instead
# (a wheel's path, a folder, a git URL with a tag).
import importlib.util
import os
import subprocess
import sys

NOTEBOOK = "04_report_d_resnet18_focal_anomaly"
REPOSITORY = "https://github.com/cxrkeras/cxrkeras"
if importlib.util.find_spec("cxrkeras") is None:
    requirement = os.environ.get("CXRKERAS_INSTALL") or f"cxrkeras[kaggle] @ git+{REPOSITORY}"
    print(f"installing {requirement} ...")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", requirement], check=True)
    importlib.invalidate_caches()

from cxrkeras.notebook import runtime

MACHINE = runtime()  # versions, device; mixed_float16 on a tensor-core GPU, float32 on a CPU

# %% tags=["parameters"]
from cxrkeras.notebook import env_param

MODE = env_param("MODE", "auto")  # "smoke", "cpu", "full"; "auto": full on a GPU, else cpu
DATA_DIR = env_param("DATA_DIR", "")  # a Kermany root; empty: download with kagglehub
RUN_DIR = env_param("RUN_DIR", "runs")  # checkpoints; in Colab a Drive folder survives a disconnect
SEED = 0

# %% [markdown]
# ### Three run modes
#
# * **smoke**: 96 synthetic phantom X-rays at 64 pixels (AlexNet needs at least 63), one
#   epoch for every network from random weights, a small bootstrap, t-SNE and occlusion.
#   It shows that every cell runs (CI runs it on every change) in a few minutes on a
#   CPU, and runs TensorFlow functions eagerly, since tracing the training graphs of
#   seven networks takes longer than training them on a few dozen images. Its figures
#   mean nothing.
# * **cpu**: about 1,000 real images (whole patients, the class mix unchanged) at 64x64,
#   3 epochs, so that the notebook finishes in minutes on a laptop's CPU
#   (<!--cpu:wall_minutes-->6.7 minutes on 2 cores). VGG16 starts from **random weights**
#   here (ImageNet weights would need a download), like ResNet-18 and AlexNet in every
#   mode. The figures quoted in the last section come from this mode.
# * **full**: report D's settings (224x224 center crops, up to 20 epochs, VGG16 from
#   ImageNet weights) on all the data, meant for a GPU.
#
# The table below holds the three columns; the marked one is in use, and any setting can
# be overridden from the environment (`CXRKERAS_EPOCHS=3`, `CXRKERAS_WEIGHTS=imagenet`).
# Training checkpoints go to `RUN_DIR/<notebook>/<mode>/`: run a cell again after a
# disconnect and training continues from its last finished epoch; a finished run is
# loaded instead of retrained.

# %%
import time

from cxrkeras.notebook import RunFolder, select_mode

STARTED = time.time()
S = select_mode(
    MODE,
    {  #                 smoke    cpu        full
        "IMAGE_SIZE":      (64,     64,        224),  # report D: resize to 256, crop to 224
        "EPOCHS":          (1,       3,         20),  # report D converged after about 10
        "MAX_IMAGES":      (96,   1000,       None),  # None: every image
        "BATCH_SIZE":      (32,     32,         32),
        "WEIGHTS":         ("none", "none", "imagenet"),  # VGG16's start ("none": random)
        "BOOTSTRAP":       (200,  1000,       1000),  # resamples for the confidence intervals
        "TSNE_POINTS":     (60,   1500,       1500),
        "OCCLUSION_PATCH": (16,      8,         16),
    },
)  # fmt: skip
IMAGE_SIZE, EPOCHS, BATCH_SIZE, WEIGHTS = S.IMAGE_SIZE, S.EPOCHS, S.BATCH_SIZE, S.WEIGHTS
BOOTSTRAP, TSNE_POINTS, OCCLUSION_PATCH = S.BOOTSTRAP, S.TSNE_POINTS, S.OCCLUSION_PATCH
SMOKE = S.mode == "smoke"
LOAD_SIZE = round(IMAGE_SIZE * 256 / 224)  # resize to this, then center-crop to IMAGE_SIZE

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from IPython.display import display

import cxrkeras
from cxrkeras import anomaly, autoencoders, embed, plots
from cxrkeras.notebook import describe_mode, reduce_data, resolve_data, save_results
from cxrkeras.transfer_models import replace_head

keras.utils.set_random_seed(SEED)
if SMOKE:  # tracing the training graphs of big networks takes longer than a few tiny steps
    tf.config.run_functions_eagerly(True)

# %% [markdown]
# ## 1. Data
#
# `resolve_data` returns the folder to read: `DATA_DIR` when it is set, otherwise the
# Kermany data downloaded with `kagglehub` (as in Colab), or in smoke mode a temporary
# folder of three-class phantoms. `scan` lists every image with its label, its pneumonia
# subtype (from file names such as `person12_virus_34.jpeg`) and its patient id. The
# report counted 3,875 PNEUMONIA against 1,341 NORMAL training images, the imbalance its
# focal loss was meant to handle.

# %%
root = resolve_data(
    DATA_DIR, smoke=SMOKE, classes="three_class", num_images=S.MAX_IMAGES, image_size=LOAD_SIZE
)
print(describe_mode(SMOKE, root))
table = reduce_data(cxrkeras.scan(root), S.MAX_IMAGES, seed=SEED)
OFFICIAL_TEST = bool((table["split"] == "test").any())  # else held-out training patients
# Checkpoints of this data and these settings; a rerun resumes or reloads (see the mode cell).
runs = RunFolder(
    RUN_DIR, NOTEBOOK, S.mode,
    key={"data": "phantoms" if SMOKE else str(root), "images": len(table), "settings": S, "seed": SEED},
)  # fmt: skip
print(f"{len(table)} images of {table['patient_id'].nunique()} patients")
table.groupby(["split", "label", "subtype"]).size().unstack("split", fill_value=0)

# %% [markdown]
# ## 2. Split by patient
#
# Report D used the Kaggle partitions as they are: the official test folder (624 images)
# and a validation folder of 16 images, on which its "peak validation accuracy of 93.75%"
# is 15 images out of 16. Here the official `test/` folder, when the data has one, stays
# the test set, and the other images are re-split into training and validation **by
# patient**, 15% of the images for validation. Without a `test/` folder, 20% of the
# patients are held out as the test set. The split is stratified by subtype, so one split
# serves the binary and the three-class models alike.

# %%
table = cxrkeras.holdout_split(
    table, val_fraction=0.15, test_fraction=0.2, seed=SEED, stratify="subtype"
)
parts = {s: table[table["split"] == s] for s in ("train", "val", "test")}
for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
    print(f"patients in both {a} and {b}: {len(cxrkeras.leakage(parts[a], parts[b]))}")
pd.crosstab(table["split"], table["subtype"])

# %% [markdown]
# Keeping the Kaggle partitions kept report D clear of the leak that a per-image re-split
# causes, which other course reports fell into (report A re-split the images 80/10/10 at
# random). The cell shows how large that leak would be on this data: the share of test
# images whose patient also has images in training.

# %%
leak = cxrkeras.random_split_leakage(table, test_fraction=0.2, seed=SEED)
print(
    f"A per-image random split would put {leak['leaked_patients']} of "
    f"{leak['test_patients']} test patients on both sides; "
    f"{leak['leaked_image_fraction']:.0%} of its test images would come from training patients."
)

# %% [markdown]
# ## 3. Input pipelines: resize, center crop, and CLAHE for the autoencoder
#
# `make_dataset` decodes the images as grayscale, resizes them to `LOAD_SIZE` (256 for
# 224) and scales them to `[0, 1]`; a `map` then crops the central `IMAGE_SIZE` square,
# as torchvision's `Resize(256)` and `CenterCrop(224)` did. The ImageNet normalisation is
# not done here: every `cxrkeras` transfer model repeats the gray channel to RGB and
# applies its family's ImageNet normalisation inside the model. The report used no random
# augmentation, so neither does this notebook; only the training data is shuffled.
#
# The report applied **CLAHE** (contrast-limited adaptive histogram equalisation) to the
# images of its autoencoder "to emphasise the area around the lung". `make_dataset` does
# it with `preprocessing={"clahe": True}` (clip limit 2, 8x8 tiles) before the crop.


# %%
def center_crop(ds):
    """Crop every batch of ``ds`` to its central IMAGE_SIZE square; keep its class names."""
    cropped = ds.map(
        lambda x, *rest: (tf.image.resize_with_crop_or_pad(x, IMAGE_SIZE, IMAGE_SIZE), *rest),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    cropped.class_names = ds.class_names
    return cropped


def datasets(label_mode, *, clahe=False):
    """Training (shuffled), training-as-is, validation and test datasets for one task."""
    common = {
        "image_size": LOAD_SIZE, "batch_size": BATCH_SIZE, "label_mode": label_mode,
        "preprocessing": {"clahe": clahe}, "cache": True,
    }  # fmt: skip
    train = cxrkeras.make_dataset(table, split="train", shuffle=True, seed=SEED, **common)
    plain = {s: cxrkeras.make_dataset(table, split=s, **common) for s in ("train", "val", "test")}
    return tuple(center_crop(d) for d in (train, plain["train"], plain["val"], plain["test"]))


def arrays(ds):
    """All images and labels of a dataset as NumPy arrays, in order."""
    xs, ys = zip(*[(np.asarray(x), np.asarray(y)) for x, y in ds], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


train_ds, train_plain, val_ds, test_ds = datasets("binary")
images, labels = next(iter(train_ds))
print("batch:", images.shape, "values in", f"[{float(tf.reduce_min(images)):.2f}, "
      f"{float(tf.reduce_max(images)):.2f}]")  # fmt: skip

# %%
sample = pd.concat([parts["train"][parts["train"]["subtype"] == s].head(2)
                    for s in ("normal", "bacteria", "virus")])  # fmt: skip
views = {
    name: arrays(center_crop(cxrkeras.make_dataset(
        sample, image_size=LOAD_SIZE, label_mode="int", batch_size=8,
        preprocessing={"clahe": flag},
    )))[0]
    for name, flag in (("as read", False), ("CLAHE", True))
}  # fmt: skip
fig, axes = plt.subplots(2, len(sample), figsize=(2 * len(sample), 4.4))
for row, (name, x) in enumerate(views.items()):
    for ax, image, subtype in zip(axes[row], x, sample["subtype"], strict=True):
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{subtype}, {name}", fontsize=8)
        ax.axis("off")
fig.suptitle("Center-cropped training images, without and with CLAHE")
plt.show()

# %% [markdown]
# ## 4. ResNet-18, binary, with SGD, StepLR and focal loss
#
# `cxrkeras.resnet18` is torchvision's ResNet-18 layer for layer (11.2 M backbone
# parameters) with global average pooling, named `embedding`, and one output layer. The
# report replaced the last layer by two outputs; one sigmoid unit for P(PNEUMONIA) is the
# same model written as `cxrkeras` writes every binary classifier. Keras ships no ImageNet
# ResNet-18, so the network starts from random weights: the largest departure from the
# report, which fine-tuned torchvision's ImageNet weights.
#
# The `report_d` recipe compiles the model with everything the report lists: SGD
# (learning rate 0.001, momentum 0.9, weight decay 0.01), StepLR (x0.1 every 10 epochs)
# and focal loss with alpha 0.25 and gamma 2. For one sigmoid unit that is Keras'
# `BinaryFocalCrossentropy` with class balancing, which weighs NORMAL by 0.75 and
# PNEUMONIA by 0.25, as torchvision's `sigmoid_focal_loss` does. Keras applies weight
# decay decoupled from the gradient, PyTorch's SGD adds it to the gradient; with a small
# learning rate the two are close. Early stopping watches the validation loss.

# %%
print(cxrkeras.get_recipe("report_d").description)
resnet = cxrkeras.resnet18((IMAGE_SIZE, IMAGE_SIZE, 1), num_classes=1)
print(f"ResNet-18: {resnet.count_params():,} parameters")
history = runs.fit(
    resnet, train_ds, val_ds, name="resnet18_binary", recipe="report_d", epochs=EPOCHS, verbose=2
)
plots.plot_training_curves(history, title="ResNet-18, binary (report D's figure 1)")

# %% [markdown]
# The report reads the outputs with argmax, which for one sigmoid unit is a threshold of
# 0.5. Focal loss with alpha 0.25 shifts the scores, so the threshold is also chosen on
# the validation patients (Youden's J) and applied to the test set; the test labels never
# influence it.

# %%
y_val, s_val = cxrkeras.collect_predictions(resnet, val_ds)
threshold = cxrkeras.choose_threshold(y_val, s_val, method="youden")
print(f"threshold chosen on validation patients: {threshold:.3f}")
results = {
    "ResNet-18 binary (threshold 0.5)": cxrkeras.evaluate(resnet, test_ds, bootstrap=BOOTSTRAP),
    "ResNet-18 binary (validation threshold)": cxrkeras.evaluate(
        resnet, test_ds, threshold=threshold, bootstrap=BOOTSTRAP
    ),
}
results["ResNet-18 binary (validation threshold)"]

# %%
display(plots.plot_confusion_matrix(
    results["ResNet-18 binary (threshold 0.5)"], title="ResNet-18, threshold 0.5 (figure 2)"
))  # fmt: skip
plots.plot_confusion_matrix(
    results["ResNet-18 binary (validation threshold)"], title="ResNet-18, validation threshold"
)

# %% [markdown]
# ## 5. The three-class head on the binary network's weights
#
# `replace_head` copies every layer of the trained binary network up to its output and
# puts a new three-way softmax on the 512 pooled features: the report's "binary model's
# weights as a foundation". The copy shares no weights with the binary model, which
# stays as it was. The same recipe trains the whole network; for a softmax head focal
# loss is Keras' `CategoricalFocalCrossentropy` (alpha 0.25, gamma 2).

# %%
train3, train3_plain, val3, test3 = datasets("three_class")
resnet3 = replace_head(resnet, num_classes=3, name="resnet18_3class")
history3 = runs.fit(
    resnet3, train3, val3, name="resnet18_3class", recipe="report_d", epochs=EPOCHS, verbose=2
)
results["ResNet-18 three-class"] = cxrkeras.evaluate(resnet3, test3, bootstrap=BOOTSTRAP)
display(plots.plot_training_curves(history3, title="ResNet-18, three-class"))
results["ResNet-18 three-class"]

# %% [markdown]
# ## 6. VGG16 and AlexNet, the report's other two networks
#
# The report tried VGG16 and AlexNet with the same recipe on both tasks. `cxrkeras.vgg16`
# is VGG16 with its classic Flatten-4096-4096 head (in full mode the convolutions start
# from Keras' ImageNet weights, in smoke and cpu mode from random weights), and
# `cxrkeras.alexnet` is torchvision's AlexNet, which starts from random weights in every
# mode since Keras has no ImageNet AlexNet. Each binary network is
# trained first and its weights are reused for its three-class head, as for ResNet-18.
# This is the costly part of the notebook: VGG16 has 134 million parameters at 224x224.

# %%
vgg_weights = None if str(WEIGHTS).lower() in ("", "none") else WEIGHTS
builders = {
    "VGG16": lambda: cxrkeras.vgg16((IMAGE_SIZE, IMAGE_SIZE, 1), num_classes=1,
                                    weights=vgg_weights),
    "AlexNet": lambda: cxrkeras.alexnet((IMAGE_SIZE, IMAGE_SIZE, 1), num_classes=1),
}  # fmt: skip
histories = {"ResNet-18": (history, history3)}
models = {"ResNet-18": (resnet, resnet3)}
for name, build in builders.items():
    binary_model = build()
    h2 = runs.fit(binary_model, train_ds, val_ds, name=f"{name.lower()}_binary",
                  recipe="report_d", epochs=EPOCHS, verbose=0)  # fmt: skip
    three_model = replace_head(binary_model, num_classes=3)
    h3 = runs.fit(three_model, train3, val3, name=f"{name.lower()}_3class",
                  recipe="report_d", epochs=EPOCHS, verbose=0)  # fmt: skip
    results[f"{name} binary (threshold 0.5)"] = cxrkeras.evaluate(
        binary_model, test_ds, bootstrap=BOOTSTRAP
    )
    results[f"{name} three-class"] = cxrkeras.evaluate(three_model, test3, bootstrap=BOOTSTRAP)
    histories[name], models[name] = (h2, h3), (binary_model, three_model)
    print(
        f"{name}: {binary_model.count_params():,} parameters, {len(h2.epoch)} + {len(h3.epoch)} "
        f"epochs; test accuracy binary {results[f'{name} binary (threshold 0.5)'].accuracy:.3f}, "
        f"three-class {results[f'{name} three-class'].accuracy:.3f}"
    )

# %% [markdown]
# The report's figure 3 compares the networks' accuracies in a bar chart. The one below
# adds each bar's 95% bootstrap interval: with a test set of a few hundred images,
# differences of a few points between networks are within the noise.

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), layout="constrained")
tasks = {"binary": "binary (threshold 0.5)", "three-class": "three-class"}
for ax, (task, key) in zip(axes, tasks.items(), strict=True):
    rows = [results[f"{name} {key}"] for name in models]
    acc = np.array([r.accuracy for r in rows])
    low, high = np.array([r.ci.get("accuracy", (r.accuracy, r.accuracy)) for r in rows]).T
    bars = ax.bar(list(models), acc, yerr=[acc - low, high - acc], capsize=4)
    ax.bar_label(bars, fmt="%.3f", label_type="center", color="white")
    ax.set(ylim=(0, 1), ylabel="test accuracy", title=f"{task} task")
fig.suptitle("Test accuracy by network, with 95% bootstrap intervals (report D's figure 3)")
plt.show()

# %%
display(plots.plot_confusion_matrix(
    results["VGG16 three-class"], title="VGG16, three-class (report D's figure 5)"
))  # fmt: skip
plots.plot_training_curves(histories["VGG16"][1], title="VGG16, three-class (figure 4)")

# %% [markdown]
# ## 7. kNN on the embeddings, and t-SNE
#
# `embed.embeddings` reads the `embedding` layer (ResNet-18's 512 pooled features) in one
# batched pass. A k-nearest-neighbour classifier (k = 5, on standardised features) is
# fitted on the **training** images and scored on the test images, for the binary and the
# three-class ResNet-18 (the report's figures 6 and 7).

# %%
features = {}
for task, model, train_data, test_data in (
    ("binary", resnet, train_plain, test_ds),
    ("three-class", resnet3, train3_plain, test3),
):
    f_train, y_train = embed.embeddings(model, train_data, layer_name="embedding")
    f_test, y_test = embed.embeddings(model, test_data, layer_name="embedding")
    knn = embed.knn_classifier(f_train, y_train, k=5)
    results[f"kNN on ResNet-18 {task} embedding"] = embed.evaluate_knn(
        knn, f_test, y_test, bootstrap=BOOTSTRAP
    )
    features[task] = (f_test, y_test, test_data.class_names)
display(plots.plot_confusion_matrix(
    results["kNN on ResNet-18 binary embedding"], title="kNN, binary embedding (figure 6)"
))  # fmt: skip
plots.plot_confusion_matrix(
    results["kNN on ResNet-18 three-class embedding"], title="kNN, three-class embedding (figure 7)"
)

# %% [markdown]
# t-SNE maps the test embeddings to two dimensions (subsampled to keep t-SNE quick). The
# report saw clearly separated classes on the binary task and weaker separation between
# bacterial and viral pneumonia.

# %%
rng = np.random.default_rng(SEED)
for task, (f_test, y_test, names) in features.items():
    keep = rng.permutation(len(f_test))[:TSNE_POINTS]
    points = embed.project(f_test[keep], method="tsne", seed=SEED)
    display(embed.plot_projection(
        points, y_test[keep], class_names=names,
        title=f"t-SNE of the ResNet-18 {task} embedding (test images)",
    ))  # fmt: skip

# %% [markdown]
# ## 8. Autoencoder anomaly detection on CLAHE images
#
# `transposed_autoencoder` is report D's design: three stride-2 convolutions (32, 64 and
# 128 filters; the last is the `encoded` layer), three stride-2 transposed convolutions
# and a sigmoid convolution back to the image. The report gives no layer sizes; these are
# stated in the builder. It is trained with MSE on the **NORMAL** training images only
# (`normal_only`), CLAHE-equalised. The report gives no optimiser for the autoencoder, so
# Adam (learning rate 0.001) replaces the classifiers' SGD, which learns slowly on a
# reconstruction loss; the StepLR schedule and the epochs stay those of `report_d`.

# %%
ae_train, ae_train_plain, ae_val, ae_test = datasets("binary", clahe=True)
autoencoder = autoencoders.transposed_autoencoder((IMAGE_SIZE, IMAGE_SIZE, 1))
ae_history = runs.fit(
    autoencoder,
    anomaly.normal_only(ae_train, batch_size=BATCH_SIZE),
    anomaly.normal_only(ae_val, batch_size=BATCH_SIZE),
    name="autoencoder",
    recipe="report_d",
    optimizer="adam",
    weight_decay=None,
    loss="mse",
    epochs=EPOCHS,
    verbose=2,
)
plots.plot_training_curves(ae_history, title="Autoencoder (NORMAL images only)")

# %% [markdown]
# The report's threshold is the ROC point where the false-positive rate (NORMAL called
# PNEUMONIA) equals the false-negative rate; it accepted a gap below 5e-3. That needs
# labels of both classes, so `eer_threshold` is computed on the **validation** patients'
# errors and then applied to the test patients. With few validation images the gap cannot
# be made that small, and a warning says so.

# %%
val_errors, val_labels = anomaly.reconstruction_errors(autoencoder, ae_val)
ae_threshold = anomaly.eer_threshold(val_labels, val_errors)
test_errors, test_labels = anomaly.reconstruction_errors(autoencoder, ae_test)
results["Autoencoder (validation EER threshold)"] = anomaly.evaluate_anomaly(
    test_errors, test_labels, threshold=ae_threshold, bootstrap=BOOTSTRAP
)
print(f"equal-error threshold on validation patients: {ae_threshold:.5f}")
results["Autoencoder (validation EER threshold)"]

# %% [markdown]
# The report's figure 11 shows the errors of both classes as overlaid histograms and the
# ROC curve; the dot on the curve is the operating point of the validation threshold on
# the test images.

# %%
display(plots.plot_error_histogram(
    test_errors, test_labels, threshold=ae_threshold, title="Test errors (figure 11a)"
))  # fmt: skip
plots.plot_roc(
    {"Autoencoder": results["Autoencoder (validation EER threshold)"]},
    title="Autoencoder ROC on test patients (figure 11b)",
)

# %% [markdown]
# The report's figure 10 shows reconstructions. The grid puts four NORMAL and four
# PNEUMONIA test images (top) above their reconstructions (bottom), with each image's
# error: if the autoencoder reconstructs pneumonia as well as normal lungs, the errors
# carry no signal.

# %%
x_test, _ = arrays(ae_test)
pick = np.concatenate([np.flatnonzero(test_labels == c)[:4] for c in (0, 1)])
recon = autoencoder.predict(x_test[pick], verbose=0)
plots.plot_reconstructions(x_test[pick], recon, errors=test_errors[pick])

# %% [markdown]
# ## 9. Occlusion
#
# Occlusion covers one square patch at a time with black and records how much the
# probability of the predicted class drops; the map shows where the binary ResNet-18
# looks, for one NORMAL and one PNEUMONIA test image (the report's figure 12).

# %%
x_cls, y_cls = arrays(test_ds)
x_pair = np.stack([x_cls[np.argmax(y_cls == c)] for c in (0, 1)])
cxrkeras.plot_explanations(resnet, x_pair, methods=("occlusion",), patch_size=OCCLUSION_PATCH)

# %% [markdown]
# ## 10. Report D's figures beside this run
#
# Measured rows give each figure with its 95% bootstrap interval over the test images;
# report rows give the figures the report printed (without intervals). `error_rate` is
# 1 - accuracy, `recall` is the sensitivity. Balanced accuracy and ROC AUC are added
# because accuracy alone hides how a model treats the smaller NORMAL class.

# %%
reported = {
    "ResNet-18 binary (report D)": {"accuracy": 0.8638, "precision": 0.829, "recall": 0.985},
    "VGG16 three-class (report D)": {"accuracy": 0.7836},
    "Autoencoder (report D)": {
        "error_rate": 0.299, "accuracy": 0.701, "precision": 0.796, "recall": 0.700,
        "specificity": 0.701, "f1": 0.745,
    },
}  # fmt: skip
order = [
    "ResNet-18 binary (report D)", "ResNet-18 binary (threshold 0.5)",
    "ResNet-18 binary (validation threshold)", "VGG16 binary (threshold 0.5)",
    "AlexNet binary (threshold 0.5)", "kNN on ResNet-18 binary embedding",
    "VGG16 three-class (report D)", "VGG16 three-class", "ResNet-18 three-class",
    "AlexNet three-class", "kNN on ResNet-18 three-class embedding",
    "Autoencoder (report D)", "Autoencoder (validation EER threshold)",
]  # fmt: skip
columns = ["n", "accuracy", "precision", "recall", "specificity", "f1", "balanced_accuracy",
           "roc_auc", "error_rate"]  # fmt: skip
comparison = cxrkeras.compare(results, reported=reported)
display(comparison.loc[order, columns].fillna(""))
save_results(
    results, notebook=NOTEBOOK, settings=S, started=STARTED, reported=reported, machine=MACHINE,
    data="phantoms" if SMOKE else ("official test/" if OFFICIAL_TEST else "held-out patients"),
    extra={
        "resnet18_threshold": threshold,
        "autoencoder_threshold": ae_threshold,
        "leaked_image_fraction": leak["leaked_image_fraction"],
        **{f"{name}_epochs": len(h[0].epoch) for name, h in histories.items()},
        **{f"{name}_3class_epochs": len(h[1].epoch) for name, h in histories.items()},
    },
)  # fmt: skip

# %% [markdown]
# The report also gives per-class precision and recall of its three-class VGG16 (from its
# figure 5). The table puts them beside this run's VGG16 and ResNet-18.

# %%
report_per_class = pd.DataFrame(
    {"precision": [0.681, 0.975, 0.554], "recall": [0.61, 0.931, 0.784]},
    index=pd.Index(["normal", "bacteria", "virus"], name="class"),
)
per_class = {"VGG16 (report D)": report_per_class}
for name in ("VGG16", "ResNet-18"):
    frame = results[f"{name} three-class"].per_class.copy()
    frame.index = ["normal", "bacteria", "virus"]
    per_class[f"{name} (this run)"] = frame[["precision", "recall"]]
pd.concat(per_class, axis=1).round(3)

# %% [markdown]
# ## Discussion
#
# **In smoke mode none of the figures above mean anything**: every model saw a few dozen
# tiny synthetic images for one epoch from random weights.
#
# ### What the cpu run measured
#
# The cpu run took <!--cpu:wall_minutes-->6.7 minutes on 2 CPU cores. It trained every
# network for 3 epochs at 64x64 on about 1,000 real images (whole patients, the class mix
# of the full data), and **all three networks started from random weights**: ResNet-18
# and AlexNet because Keras has no ImageNet weights for them, VGG16 because cpu mode does
# not download its ImageNet weights. This copy of the data has no official `test/`
# folder, so the <!--cpu:ResNet-18 binary (threshold 0.5):n-->202 test images are **held-out training patients**. They are
# easier than the official 624-image test set the report used: on notebook 01 the
# held-out figures were 0.1-0.2 higher than on the official test. Every measured figure
# below is flattered by that, compared with the report's. Report rows give the figures
# the report printed; measured rows give accuracy with its 95% bootstrap interval.
#
# | | accuracy | balanced accuracy | ROC AUC | precision | recall | specificity |
# |---|---|---|---|---|---|---|
# | ResNet-18 binary (report D) | 0.864 | – | – | 0.829 | 0.985 | – |
# | ResNet-18 binary (threshold 0.5) | <!--cpu:ResNet-18 binary (threshold 0.5):accuracy-->0.87 [<!--cpu:ResNet-18 binary (threshold 0.5):accuracy_low-->0.82, <!--cpu:ResNet-18 binary (threshold 0.5):accuracy_high-->0.91] | <!--cpu:ResNet-18 binary (threshold 0.5):balanced_accuracy-->0.84 | <!--cpu:ResNet-18 binary (threshold 0.5):roc_auc-->0.92 | <!--cpu:ResNet-18 binary (threshold 0.5):precision-->0.92 | <!--cpu:ResNet-18 binary (threshold 0.5):recall-->0.90 | <!--cpu:ResNet-18 binary (threshold 0.5):specificity-->0.77 |
# | ResNet-18 binary (validation threshold) | <!--cpu:ResNet-18 binary (validation threshold):accuracy-->0.85 [<!--cpu:ResNet-18 binary (validation threshold):accuracy_low-->0.80, <!--cpu:ResNet-18 binary (validation threshold):accuracy_high-->0.90] | <!--cpu:ResNet-18 binary (validation threshold):balanced_accuracy-->0.86 | <!--cpu:ResNet-18 binary (validation threshold):roc_auc-->0.92 | <!--cpu:ResNet-18 binary (validation threshold):precision-->0.95 | <!--cpu:ResNet-18 binary (validation threshold):recall-->0.85 | <!--cpu:ResNet-18 binary (validation threshold):specificity-->0.87 |
# | VGG16 binary (threshold 0.5) | <!--cpu:VGG16 binary (threshold 0.5):accuracy-->0.27 [<!--cpu:VGG16 binary (threshold 0.5):accuracy_low-->0.21, <!--cpu:VGG16 binary (threshold 0.5):accuracy_high-->0.33] | <!--cpu:VGG16 binary (threshold 0.5):balanced_accuracy-->0.50 | <!--cpu:VGG16 binary (threshold 0.5):roc_auc-->0.92 | <!--cpu:VGG16 binary (threshold 0.5):precision-->1.00 | <!--cpu:VGG16 binary (threshold 0.5):recall-->0.01 | <!--cpu:VGG16 binary (threshold 0.5):specificity-->1.00 |
# | AlexNet binary (threshold 0.5) | <!--cpu:AlexNet binary (threshold 0.5):accuracy-->0.51 [<!--cpu:AlexNet binary (threshold 0.5):accuracy_low-->0.45, <!--cpu:AlexNet binary (threshold 0.5):accuracy_high-->0.57] | <!--cpu:AlexNet binary (threshold 0.5):balanced_accuracy-->0.64 | <!--cpu:AlexNet binary (threshold 0.5):roc_auc-->0.78 | <!--cpu:AlexNet binary (threshold 0.5):precision-->0.93 | <!--cpu:AlexNet binary (threshold 0.5):recall-->0.36 | <!--cpu:AlexNet binary (threshold 0.5):specificity-->0.92 |
# | kNN on ResNet-18 binary embedding | <!--cpu:kNN on ResNet-18 binary embedding:accuracy-->0.84 [<!--cpu:kNN on ResNet-18 binary embedding:accuracy_low-->0.79, <!--cpu:kNN on ResNet-18 binary embedding:accuracy_high-->0.89] | <!--cpu:kNN on ResNet-18 binary embedding:balanced_accuracy-->0.75 | <!--cpu:kNN on ResNet-18 binary embedding:roc_auc-->0.87 | <!--cpu:kNN on ResNet-18 binary embedding:precision-->0.85 | <!--cpu:kNN on ResNet-18 binary embedding:recall-->0.95 | <!--cpu:kNN on ResNet-18 binary embedding:specificity-->0.55 |
# | VGG16 three-class (report D) | 0.784 | – | – | – | – | – |
# | VGG16 three-class | <!--cpu:VGG16 three-class:accuracy-->0.47 [<!--cpu:VGG16 three-class:accuracy_low-->0.40, <!--cpu:VGG16 three-class:accuracy_high-->0.54] | <!--cpu:VGG16 three-class:balanced_accuracy-->0.33 | <!--cpu:VGG16 three-class:roc_auc-->0.58 | – | – | – |
# | ResNet-18 three-class | <!--cpu:ResNet-18 three-class:accuracy-->0.65 [<!--cpu:ResNet-18 three-class:accuracy_low-->0.58, <!--cpu:ResNet-18 three-class:accuracy_high-->0.71] | <!--cpu:ResNet-18 three-class:balanced_accuracy-->0.62 | <!--cpu:ResNet-18 three-class:roc_auc-->0.82 | – | – | – |
# | AlexNet three-class | <!--cpu:AlexNet three-class:accuracy-->0.47 [<!--cpu:AlexNet three-class:accuracy_low-->0.40, <!--cpu:AlexNet three-class:accuracy_high-->0.54] | <!--cpu:AlexNet three-class:balanced_accuracy-->0.33 | <!--cpu:AlexNet three-class:roc_auc-->0.41 | – | – | – |
# | kNN on ResNet-18 three-class embedding | <!--cpu:kNN on ResNet-18 three-class embedding:accuracy-->0.68 [<!--cpu:kNN on ResNet-18 three-class embedding:accuracy_low-->0.62, <!--cpu:kNN on ResNet-18 three-class embedding:accuracy_high-->0.75] | <!--cpu:kNN on ResNet-18 three-class embedding:balanced_accuracy-->0.66 | <!--cpu:kNN on ResNet-18 three-class embedding:roc_auc-->0.78 | – | – | – |
# | Autoencoder (report D) | 0.701 | – | – | 0.796 | 0.700 | 0.701 |
# | Autoencoder (validation EER threshold) | <!--cpu:Autoencoder (validation EER threshold):accuracy-->0.37 [<!--cpu:Autoencoder (validation EER threshold):accuracy_low-->0.30, <!--cpu:Autoencoder (validation EER threshold):accuracy_high-->0.43] | <!--cpu:Autoencoder (validation EER threshold):balanced_accuracy-->0.36 | <!--cpu:Autoencoder (validation EER threshold):roc_auc-->0.31 | <!--cpu:Autoencoder (validation EER threshold):precision-->0.62 | <!--cpu:Autoencoder (validation EER threshold):recall-->0.37 | <!--cpu:Autoencoder (validation EER threshold):specificity-->0.36 |
#
# * **ResNet-18, binary.** At a threshold of 0.5 it reached <!--cpu:ResNet-18 binary (threshold 0.5):accuracy-->0.87
#   [<!--cpu:ResNet-18 binary (threshold 0.5):accuracy_low-->0.82, <!--cpu:ResNet-18 binary (threshold 0.5):accuracy_high-->0.91], with the report's
#   0.864 inside the interval. That is not a reproduction: the report fine-tuned ImageNet
#   weights at 224x224 and was scored on the official test set, this network learned from
#   random weights at 64x64 in 3 epochs and was scored on held-out patients. The kind of
#   error differs too. The report's precision of 0.829 with a recall of 0.985 means it
#   called many NORMAL test images PNEUMONIA; here precision (<!--cpu:ResNet-18 binary (threshold 0.5):precision-->0.92)
#   and recall (<!--cpu:ResNet-18 binary (threshold 0.5):recall-->0.90) are close, and specificity is
#   <!--cpu:ResNet-18 binary (threshold 0.5):specificity-->0.77. The threshold chosen on validation patients
#   (<!--cpu:extra:resnet18_threshold-->0.59) traded recall (<!--cpu:ResNet-18 binary (validation threshold):recall-->0.85) for
#   specificity (<!--cpu:ResNet-18 binary (validation threshold):specificity-->0.87) at about the same accuracy
#   (<!--cpu:ResNet-18 binary (validation threshold):accuracy-->0.85).
# * **VGG16 and AlexNet from random weights** did not learn to classify in 3 epochs of
#   SGD at a learning rate of 0.001. VGG16's binary scores ranked the test images well
#   (ROC AUC <!--cpu:VGG16 binary (threshold 0.5):roc_auc-->0.92) but nearly all stayed
#   below 0.5, so at 0.5 it called almost every image NORMAL (recall
#   <!--cpu:VGG16 binary (threshold 0.5):recall-->0.01, accuracy
#   <!--cpu:VGG16 binary (threshold 0.5):accuracy-->0.27): focal loss with alpha 0.25
#   weighs a PNEUMONIA image a third of a NORMAL one, which pulls an undertrained
#   network's scores down. On the three-class task both networks gave every image the same
#   class, bacterial pneumonia: balanced accuracy
#   <!--cpu:VGG16 three-class:balanced_accuracy-->0.33, and an accuracy of
#   <!--cpu:VGG16 three-class:accuracy-->0.47 that is just the share of bacterial
#   images in the test set. The report's finding that VGG16 is best on the three-class
#   task rests on ImageNet weights and is not tested by this run.
# * **Three-class ResNet-18 and kNN.** The three-class head on the binary network's
#   weights reached <!--cpu:ResNet-18 three-class:accuracy-->0.65
#   [<!--cpu:ResNet-18 three-class:accuracy_low-->0.58,
#   <!--cpu:ResNet-18 three-class:accuracy_high-->0.71] and kNN on its embedding
#   <!--cpu:kNN on ResNet-18 three-class embedding:accuracy-->0.68, against the
#   report's 0.784 for VGG16; viral pneumonia is the class this ResNet-18 recalls worst
#   (per-class table above). On the binary task kNN on the embedding
#   (<!--cpu:kNN on ResNet-18 binary embedding:accuracy-->0.84) stayed below the
#   network's own head, with a specificity of only
#   <!--cpu:kNN on ResNet-18 binary embedding:specificity-->0.55.
# * **Autoencoder.** Its ROC AUC of <!--cpu:Autoencoder (validation EER threshold):roc_auc-->0.31
#   [<!--cpu:Autoencoder (validation EER threshold):roc_auc_low-->0.24, <!--cpu:Autoencoder (validation EER threshold):roc_auc_high-->0.39] is *below* 0.5: the
#   reconstruction errors of PNEUMONIA test images were mostly lower than those of NORMAL
#   ones, the opposite of what anomaly detection assumes. The equal-error threshold from
#   the validation patients then gives an accuracy of <!--cpu:Autoencoder (validation EER threshold):accuracy-->0.37, with
#   recall and specificity both near it, against the report's 0.701. What an autoencoder
#   trained for 3 epochs on the NORMAL images of a small subset fails to reproduce is not
#   what sets pneumonia apart; check the ROC AUC (or the error histogram) before trusting
#   any threshold on the errors. The report gives no AUC.
#
# **What to read into the gaps.** A figure that matches the report here (the binary
# ResNet-18) is no evidence of reproducing it, since the test patients are easier than
# the report's; figures far below the report's are mostly the price of random weights,
# 64 pixels and 3 epochs. With <!--cpu:ResNet-18 binary (threshold 0.5):n-->202 test images, differences between rows
# that lie within their intervals are noise.
#
# ### Other notes
#
# * **Full mode: not measured here.** Report D's settings (224x224, up to 20 epochs,
#   VGG16 from ImageNet weights, all the data) have not been run for this text. To start
#   ResNet-18 from ImageNet weights as the report did, convert torchvision's ResNet-18
#   weights into `cxrkeras.classic_nets.resnet18_backbone`, save them with
#   `save_weights(path)` and build `cxrkeras.resnet18(weights=path)`.
# * **Validation accuracy.** The report's peak validation accuracy (93.75%) is 15 of 16
#   images and says little; here 15% of the training folders' images, whole patients,
#   are the validation set.
# * **The report's per-class figures** do not agree with its own counts: the counts in
#   its text (143 NORMAL images right, 0 virus and 1 bacteria image called NORMAL) give a
#   NORMAL precision near 0.99, not 0.681, and "17 (1 as Normal + 11 as Virus)" does not
#   add up, so compare the per-class table with care.
# * **Not reproduced exactly.** Random initialisation of ResNet-18 and AlexNet, the
#   autoencoder's layer sizes and optimiser (not given in the report), Keras' decoupled
#   weight decay, and the patient-grouped validation split; each is stated where it is set.
