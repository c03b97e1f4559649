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
# # 00 · Quickstart: a chest X-ray classifier in a few minutes on a CPU
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cxrkeras/cxrkeras/blob/main/notebooks/00_quickstart.ipynb)
#
# This notebook is the tour of `cxrkeras`. It needs nothing downloaded: it writes
# synthetic *phantom* chest X-rays (lung fields, ribs, heart, and pneumonia as focal or
# diffuse opacities with a known lesion mask) in the same folder layout as the real
# Kermany data set, and then runs the whole job on them:
#
# 1. scan the folder into a table with one row per image and a patient id;
# 2. split it **by patient**, and see how much a per-image split would leak;
# 3. build a `tf.data` pipeline with ImageDataGenerator-style augmentation;
# 4. train report B's binary CNN;
# 5. choose a threshold on validation patients and evaluate on held-out patients, with
#    95% bootstrap confidence intervals;
# 6. explain predictions with Grad-CAM and occlusion, and score the maps against the
#    lesion masks.
#
# To run the same steps on the real data, set `DATA_DIR` below to a Kermany root
# (`data/README.md` explains how to get it).
#
# **To run it:** open it in Colab with the badge above and choose *Runtime > Run all*; a
# CPU runtime is enough for the phantoms. The first cell installs cxrkeras when the runtime
# lacks it and says what the runtime has.

# %%
# Setup: install cxrkeras when this runtime does not have it (a fresh Colab runtime), then
# report the runtime. CXRKERAS_INSTALL, when set, is the pip requirement to install instead
# (a wheel's path, a folder, a git URL with a tag).
import importlib.util
import os
import subprocess
import sys

NOTEBOOK = "00_quickstart"
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

SMOKE = env_param("SMOKE", False)  # tiny and fast: proves the code runs, nothing more
DATA_DIR = env_param("DATA_DIR", "")  # empty: synthetic phantoms
IMAGE_SIZE = env_param("IMAGE_SIZE", 128)
EPOCHS = env_param("EPOCHS", 8)
BATCH_SIZE = env_param("BATCH_SIZE", 32)
NUM_IMAGES = env_param("NUM_IMAGES", 800)
SEED = 0

# %% [markdown]
# Smoke mode shrinks everything so that the notebook runs in well under a minute; the
# figures it prints then only show that the code works.

# %%
if SMOKE:
    IMAGE_SIZE, EPOCHS, NUM_IMAGES = 48, 1, 120

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

import cxrkeras
from cxrkeras import plots

print("cxrkeras", cxrkeras.__version__)

# %% [markdown]
# ## 1. Data: phantoms in the Kermany layout, scanned into a table
#
# `make_phantoms` writes `train/NORMAL/IM-0001-0001.jpeg`,
# `train/PNEUMONIA/person12_bacteria_34.jpeg` and so on, with several images per
# synthetic patient, exactly as the real data is organised. `scan` reads any such tree
# and parses the label, the pneumonia subtype and the patient id from each file name.

# %%
if DATA_DIR:
    root = Path(DATA_DIR)
else:
    root = Path(tempfile.mkdtemp(prefix="cxrkeras_quickstart_"))
    cxrkeras.make_phantoms(root, num_images=NUM_IMAGES, image_size=IMAGE_SIZE, seed=SEED)

table = cxrkeras.scan(root)
print(f"{len(table)} images of {table['patient_id'].nunique()} patients")
table.head()

# %%
table.groupby(["label", "subtype"]).size()

# %% [markdown]
# ## 2. Split by patient, never by image
#
# Several images belong to the same child. If one image of a patient lands in training
# and another in the test set, the test figures measure memory, not generalisation.
# `holdout_split` keeps every patient on one side and keeps the class ratios (it keeps an
# official `test/` folder as the test set when there is one); the cell after it counts
# what a naive per-image random split would have leaked.

# %%
table = cxrkeras.holdout_split(table, val_fraction=0.15, test_fraction=0.2, seed=SEED)
print(table.groupby(["split", "label"]).size().unstack())
train_ids = set(table.loc[table["split"] == "train", "patient_id"])
test_ids = set(table.loc[table["split"] == "test", "patient_id"])
print("patients in both train and test:", len(train_ids & test_ids))

# %%
leak = cxrkeras.random_split_leakage(table, test_fraction=0.2, seed=SEED)
print(
    f"A per-image random split would put {leak['leaked_patients']} patients on both sides; "
    f"{leak['leaked_image_fraction']:.0%} of its test images would come from training patients."
)

# %%
plots.plot_class_distribution(table)

# %% [markdown]
# ## 3. Input pipeline
#
# `make_dataset` decodes, resizes and rescales images to `[0, 1]` in parallel with
# `tf.data`. Augmentation takes the argument names of Keras' old
# `ImageDataGenerator`, so report settings carry over unchanged, and applies them as one
# fused affine warp per image. Only the training data is shuffled and augmented.

# %%
augment = {
    "rotation_range": 10,
    "width_shift_range": 0.1,
    "height_shift_range": 0.1,
    "zoom_range": 0.1,
}
common = {"image_size": IMAGE_SIZE, "batch_size": BATCH_SIZE, "label_mode": "binary"}
train_ds = cxrkeras.make_dataset(
    table, split="train", shuffle=True, seed=SEED, augment=augment, **common
)
val_ds = cxrkeras.make_dataset(table, split="val", **common)
test_ds = cxrkeras.make_dataset(table, split="test", **common)

images, labels = next(iter(train_ds))
fig, axes = plt.subplots(1, 6, figsize=(12, 2.4))
for ax, image, label in zip(axes, images, labels, strict=False):
    ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
    ax.set_title(train_ds.class_names[int(label)], fontsize=9)
    ax.axis("off")
fig.suptitle("Augmented training images")
plt.show()

# %% [markdown]
# ## 4. Train report B's binary CNN
#
# `binary_cnn` is report B's model layer for layer: three convolution blocks, a 64-unit
# dense layer (named `embedding`), dropout and one sigmoid unit for P(PNEUMONIA).
# `cxrkeras.fit` compiles it with the report's recipe (Adam with default settings,
# binary cross-entropy) and adds early stopping on the validation loss.

# %%
model = cxrkeras.binary_cnn((IMAGE_SIZE, IMAGE_SIZE, 1))
model.summary()

# %%
history = cxrkeras.fit(model, train_ds, val_ds, recipe="report_b", epochs=EPOCHS)
plots.plot_training_curves(history)

# %% [markdown]
# ## 5. Evaluate on held-out patients, with confidence intervals
#
# The decision threshold is chosen on the **validation** patients (Youden's J) and then
# applied to the test patients; choosing it on the test set would leak the test labels
# into the figures. Every figure comes with a 95% bootstrap interval: with a test set of
# a few hundred images, differences of a few points are often noise.

# %%
y_val, s_val = cxrkeras.collect_predictions(model, val_ds)
threshold = cxrkeras.choose_threshold(y_val, s_val, method="youden")
print(f"threshold chosen on validation patients: {threshold:.3f}")

result = cxrkeras.evaluate(model, test_ds, threshold=threshold)
result

# %%
# cxrkeras' plot functions return a Figure; `display` shows one, and the last
# expression of a cell is shown by Jupyter itself.
display(plots.plot_confusion_matrix(result, title="Held-out patients"))
plots.plot_roc({"binary_cnn": result})

# %% [markdown]
# ## 6. Where does the model look?
#
# `cxrkeras.gradcam` weights the last convolutional feature maps by the gradient of the
# class score (the logit of the sigmoid unit; its sign is flipped to explain NORMAL).
# `cxrkeras.occlusion` blanks one patch at a time and records how much the class
# probability drops; all occluded copies go through the model in large batches. Both
# return raw maps in image coordinates, and `overlay` draws them.

# %%
test_table = table[table["split"] == "test"].reset_index(drop=True)
sick = test_table[test_table["label"] == "PNEUMONIA"].head(4)
few = cxrkeras.make_dataset(sick, image_size=IMAGE_SIZE, label_mode=None, batch_size=8)
x = np.concatenate([np.asarray(batch) for batch in few])
cxrkeras.plot_explanations(
    model, x, methods=("gradcam", "occlusion"), patch_size=max(4, IMAGE_SIZE // 8)
)

# %% [markdown]
# The phantoms come with lesion masks, so an explanation can be scored: the *pointing
# game* asks whether a map's maximum lies inside the lesion, and *energy inside* is the
# share of the map's mass that falls on it. `mask_fraction` is what a random map would
# score. The maps explain PNEUMONIA (`class_index=1`) whatever the prediction. The real
# X-rays carry no lesion masks, so this cell only scores phantoms.

# %%
import cv2

if sick["mask_path"].notna().all():
    masks = np.stack(
        [
            cv2.resize(cv2.imread(p, cv2.IMREAD_GRAYSCALE), (IMAGE_SIZE, IMAGE_SIZE)) > 127
            for p in sick["mask_path"]
        ]
    )
    heat = cxrkeras.gradcam(model, x, class_index=1)
    display(cxrkeras.localization_score(heat, masks))
else:
    print("These images have no lesion masks: localisation is scored on phantoms only.")

# %% [markdown]
# ## Where next
#
# * `cxrkeras demo` runs all of this from the command line and writes a report.
# * `01_report_b_binary_categorical` reproduces report B on the real data: the binary
#   CNN, the three-class model transferred from it, autoencoder anomaly detection, kNN
#   on embeddings, t-SNE, occlusion and Grad-CAM.
# * The other notebooks reproduce reports C, A, D and E in turn.
# * For the strongest models cxrkeras knows within 30 minutes on a CPU, run the presets
#   from a terminal: `cxrkeras train --data DIR --model best_binary --out RUN_DIR` (or
#   `best_three_class`), then `cxrkeras evaluate --model RUN_DIR --data TEST_DIR`.
#   `cxrkeras.load_run(RUN_DIR)` brings the model and its threshold back here.
