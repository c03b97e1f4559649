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
# # 02 · Report C: CNN_94, CNN_V2 and EfficientNetB0, with t-SNE, PCA and activation maps
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cxrkeras/cxrkeras/blob/main/notebooks/02_report_c_cnn94_efficientnet.ipynb)
#
# This notebook reproduces report C (Luleå University of Technology and INSA Rennes,
# "Pneumonia Detection of Chest X-Ray Images") with `cxrkeras`. The report classified
# NORMAL vs PNEUMONIA as follows:
#
# 1. images converted to **100x100 grayscale** and normalised;
# 2. the training set **balanced** by adding augmented copies (random rotation and flip)
#    of NORMAL images until PNEUMONIA outnumbered NORMAL by only **1.2 to 1** (from 2.89);
# 3. three models trained for 30 to 50 epochs: **CNN_94** (three convolutions, LeakyReLU,
#    dense 1000-100-10-2), the deeper **CNN_V2**, and **EfficientNetB0** transfer learning
#    with a 500-100-2 head;
# 4. **t-SNE and PCA** maps of the data before and after going through CNN_94;
# 5. **activation heatmaps** of a convolutional layer for a healthy and a sick lung;
# 6. **confusion matrices** on the official test set of 624 images.
#
# It reports 94.6% accuracy and 95.7% F1 for CNN_94, 75.7% and 76.0% for CNN_V2, and
# EfficientNet accuracies anywhere between 50% and 84% from run to run. The last section
# puts these beside the figures this run measures, with 95% bootstrap confidence
# intervals.
#
# Differences on purpose: the training and validation images are split **by patient**,
# decision thresholds are chosen on **validation patients** (the report's argmax, i.e. 0.5,
# is shown too), and a model with **class weights** instead of oversampling is added for
# comparison. In Colab, install the package first with `pip install cxrkeras` and choose a
# GPU runtime.

# %% tags=["parameters"]
from cxrkeras.notebook import env_param

SMOKE = env_param("SMOKE", False)  # tiny phantoms, one epoch: proves the code runs, nothing more
DATA_DIR = env_param("DATA_DIR", "")  # a Kermany root; empty: download with kagglehub
IMAGE_SIZE = env_param("IMAGE_SIZE", 100)  # report C: 100x100 grayscale for CNN_94 and CNN_V2
EFFICIENTNET_SIZE = env_param("EFFICIENTNET_SIZE", 224)  # not stated in the report
EPOCHS = env_param("EPOCHS", 30)  # report C: 30 to 50
BATCH_SIZE = env_param("BATCH_SIZE", 32)
WEIGHTS = env_param("WEIGHTS", "imagenet")  # "imagenet", "none" or an EfficientNetB0 no-top .h5
SEED = 0

# %% [markdown]
# Smoke mode swaps the real data for a few synthetic phantoms, shrinks the images and the
# epochs, builds EfficientNetB0 with random weights at a small size, and projects only a
# few points, so that the notebook runs in well under a minute on a CPU. Its figures only
# show that the code works.

# %%
NUM_IMAGES, BOOTSTRAP, PROJECTION_POINTS = 160, 1000, 1000
if SMOKE:
    IMAGE_SIZE, EFFICIENTNET_SIZE, EPOCHS, NUM_IMAGES = 48, 48, 1, 120
    BOOTSTRAP, PROJECTION_POINTS, WEIGHTS = 200, 60, None
WEIGHTS = None if str(WEIGHTS).lower() == "none" else WEIGHTS

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from IPython.display import display

import cxrkeras
from cxrkeras import embed, plots
from cxrkeras.data import oversample_table
from cxrkeras.notebook import describe_mode, resolve_data, warn_if_cpu

keras.utils.set_random_seed(SEED)
warn_if_cpu(EPOCHS)
print("cxrkeras", cxrkeras.__version__, "| Keras", keras.__version__)

# %% [markdown]
# ## 1. Data
#
# `resolve_data` returns the folder to read: `DATA_DIR` when it is set, otherwise the
# Kermany data downloaded with `kagglehub` (as in Colab), or in smoke mode a temporary
# folder of phantoms with the real training set's imbalance (26% NORMAL). `scan` lists
# every image with its label and its patient id (parsed from the file name).

# %%
root = resolve_data(
    DATA_DIR, smoke=SMOKE, classes={"NORMAL": 0.26, "PNEUMONIA": 0.74},
    num_images=NUM_IMAGES, image_size=IMAGE_SIZE,
)  # fmt: skip
print(describe_mode(SMOKE, root))
table = cxrkeras.scan(root)
print(f"{len(table)} images of {table['patient_id'].nunique()} patients")
pd.crosstab(table["split"], table["label"])

# %% [markdown]
# ## 2. Split by patient
#
# The report tested on the official test folder (624 images). When the data has that
# `test/` folder it stays the test set, and the other images are re-split into training
# and validation **by patient** (the official `val/` folder has only 16 images). Without a
# `test/` folder, 20% of the patients are held out for testing.

# %%
table = cxrkeras.holdout_split(table, val_fraction=0.15, test_fraction=0.2, seed=SEED)
parts = {s: table[table["split"] == s] for s in ("train", "val", "test")}
for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
    print(f"patients in both {a} and {b}: {len(cxrkeras.leakage(parts[a], parts[b]))}")
pd.crosstab(table["split"], table["label"])

# %% [markdown]
# Several images belong to the same child. A split drawn image by image, ignoring
# patients, leaks: the cell counts how many test images would come from children who also
# have images in training. The report used the official folders, so its test set is not
# affected this way, but any re-split of those folders must be grouped by patient.

# %%
leak = cxrkeras.random_split_leakage(table, test_fraction=0.2, seed=SEED)
print(
    f"A per-image random split would put {leak['leaked_patients']} of "
    f"{leak['test_patients']} test patients on both sides; "
    f"{leak['leaked_image_fraction']:.0%} of its test images would come from training patients."
)

# %% [markdown]
# ## 3. Balancing NORMAL by augmented oversampling, and class weights
#
# The report added augmented copies of NORMAL training images (random rotation and
# random flip) to the original training set until the PNEUMONIA to NORMAL ratio was 1.2.
# `oversample_table` adds the rows to copy, marked `oversampled`; the originals then go
# through the pipeline as they are and only the copies are augmented, freshly every
# epoch. (`make_dataset(..., oversample=1.2, augment=...)` does the same in one call but
# augments every training image.) Keras' classic alternative to oversampling, class
# weights, is computed for comparison: before balancing NORMAL would weigh about 1.9 and
# PNEUMONIA about 0.67; after it the weights are close to 1.

# %%
train_table = parts["train"]
balanced = oversample_table(train_table, ratio=1.2, seed=SEED)
counts = pd.DataFrame({
    "before": train_table["label"].value_counts(),
    "after": balanced["label"].value_counts(),
}).astype(float)  # fmt: skip
counts.loc["PNEUMONIA / NORMAL"] = counts.loc["PNEUMONIA"] / counts.loc["NORMAL"]
weights_before = cxrkeras.class_weights(train_table)
weights_after = cxrkeras.class_weights(balanced)
print("class weights before balancing:", {k: round(v, 2) for k, v in weights_before.items()})
print("class weights after balancing: ", {k: round(v, 2) for k, v in weights_after.items()})
counts.round(2)

# %%
COPY_AUGMENT = {"rotation_range": 15, "horizontal_flip": True}


def balanced_train(image_size, color_mode="grayscale"):
    """Originals as they are and freshly augmented NORMAL copies, drawn in random order."""
    common = {
        "image_size": image_size,
        "color_mode": color_mode,
        "label_mode": "categorical",
        "batch_size": BATCH_SIZE,
    }
    originals = balanced[~balanced["oversampled"]]
    copies = balanced[balanced["oversampled"]]
    parts = [cxrkeras.make_dataset(originals, shuffle=True, seed=SEED, cache=True, **common)]
    if len(copies):
        parts.append(
            cxrkeras.make_dataset(copies, shuffle=True, seed=SEED, augment=COPY_AUGMENT, **common)
        )
    mixed = tf.data.Dataset.sample_from_datasets(
        [part.unbatch() for part in parts],
        weights=[float(len(originals)), float(len(copies))][: len(parts)],
        seed=SEED,
        stop_on_empty_dataset=False,
    )
    return mixed.batch(BATCH_SIZE).prefetch(tf.data.AUTOTUNE)


def plain(split, image_size, **kwargs):
    """Validation or test images, in order, without augmentation."""
    return cxrkeras.make_dataset(
        table, split=split, image_size=image_size, label_mode="categorical",
        batch_size=BATCH_SIZE, **kwargs,
    )  # fmt: skip


train_ds = balanced_train(IMAGE_SIZE)
val_ds, test_ds = plain("val", IMAGE_SIZE), plain("test", IMAGE_SIZE)
copies_only = balanced[balanced["oversampled"]].head(6)
if len(copies_only):
    preview = cxrkeras.make_dataset(
        copies_only, image_size=IMAGE_SIZE, augment=COPY_AUGMENT, seed=SEED, label_mode=None
    )
    x_preview = next(iter(preview)).numpy()
    fig, axes = plt.subplots(1, len(x_preview), figsize=(2 * len(x_preview), 2.3), squeeze=False)
    for ax, image in zip(axes[0], x_preview, strict=True):
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
        ax.axis("off")
    fig.suptitle("Augmented NORMAL copies added to the training set")
    plt.show()

# %% [markdown]
# ## 4. t-SNE and PCA before training
#
# The report mapped the data to two dimensions with t-SNE (local structure) and PCA
# (global structure), once on the raw images and once after CNN_94, to see whether the
# classes separate. Here are the raw 100x100 test images, each flattened to one vector
# (a random subset when there are many).

# %%
x_test = np.concatenate([x.numpy() for x, _ in test_ds])
y_test = np.concatenate([y.numpy() for _, y in test_ds]).argmax(axis=1)
keep = np.random.default_rng(SEED).permutation(len(x_test))[:PROJECTION_POINTS]


def draw_maps(features, title):
    """t-SNE and PCA maps of ``features`` side by side, coloured by the true class."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    for ax, method in zip(axes, ("tsne", "pca"), strict=True):
        points = embed.project(features, method=method, seed=SEED)
        for c, name in enumerate(test_ds.class_names):
            ax.scatter(*points[y_test[keep] == c].T, s=8, alpha=0.7, label=name)
        ax.set_title(f"{'t-SNE' if method == 'tsne' else 'PCA'}: {title}")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].legend()
    plt.show()


draw_maps(x_test[keep].reshape(len(keep), -1), "raw pixels")

# %% [markdown]
# ## 5. CNN_94
#
# `cnn_94` is the report's table I: Conv12-Pool-BatchNorm-Conv18-Pool-Conv24, then dense
# layers of 1000 (with BatchNorm and 30% dropout), 100 (30% dropout), 10 and 2 units,
# LeakyReLU after every convolution and hidden dense layer. At 100x100 its shapes are the
# table's. The report used PyTorch and names no optimiser; `cxrkeras.fit` with the
# `report_c` recipe uses Adam with Keras' defaults and cross-entropy, and stops early on
# the validation loss (keeping the best weights).

# %%
cnn94 = cxrkeras.cnn_94((IMAGE_SIZE, IMAGE_SIZE, 1))
cnn94.summary()

# %%
history94 = cxrkeras.fit(cnn94, train_ds, val_ds, recipe="report_c", epochs=EPOCHS, verbose=2)
plots.plot_training_curves(history94, title="CNN_94")

# %% [markdown]
# The report classified by argmax, which for two classes is a 0.5 threshold on
# P(PNEUMONIA). A second threshold is chosen on the validation patients (Youden's J) and
# applied to the test set; the test labels never influence it.

# %%
results = {}


def evaluate_both(name, model, val_data, test_data):
    """Evaluate at the report's 0.5 and at a threshold chosen on validation patients."""
    y_val, s_val = cxrkeras.collect_predictions(model, val_data)
    threshold = cxrkeras.choose_threshold(y_val, s_val, method="youden")
    results[f"{name} (argmax)"] = cxrkeras.evaluate(model, test_data, bootstrap=BOOTSTRAP)
    results[f"{name} (validation threshold)"] = cxrkeras.evaluate(
        model, test_data, threshold=threshold, bootstrap=BOOTSTRAP
    )
    print(f"{name}: threshold chosen on validation patients {threshold:.4f}")
    return results[f"{name} (argmax)"]


evaluate_both("CNN_94", cnn94, val_ds, test_ds)

# %% [markdown]
# ## 6. t-SNE and PCA after CNN_94
#
# The same test images, now represented by CNN_94's last hidden layer (the Dense(10)
# layer named `embedding`), read with `embed.embeddings` in one batched pass. After
# training the two classes should form separate groups, as in the report's figure 1.

# %%
f_test, _ = embed.embeddings(cnn94, x_test, layer_name="embedding")
draw_maps(f_test[keep], "CNN_94 embedding")

# %% [markdown]
# ## 7. Activation heatmaps
#
# The report looked at where a convolutional layer fires for a healthy and a sick lung
# (its figure 2) and saw more activation inside the sick lungs, on the white infiltrates.
# `cxrkeras.activation_map` averages a layer's feature maps over its channels and scales
# them back to the image size; `normalize="batch"` uses one colour scale for all images,
# so activation levels can be compared between the healthy and the sick image.

# %%
first = {c: int(np.flatnonzero(y_test == c)[0]) for c in (0, 1) if np.any(y_test == c)}
x_pair = x_test[list(first.values())]
conv_layers = ["cnn_94_conv1_leaky", "cnn_94_conv2_leaky", "cnn_94_conv3_leaky"]
fig, axes = plt.subplots(len(x_pair), 1 + len(conv_layers), figsize=(11, 2.9 * len(x_pair)))
axes = np.atleast_2d(axes)
maps = {layer: cxrkeras.activation_map(cnn94, x_pair, layer_name=layer, normalize="batch")
        for layer in conv_layers}  # fmt: skip
for row, (c, image) in enumerate(zip(first, x_pair, strict=True)):
    axes[row, 0].imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
    axes[row, 0].set_title(test_ds.class_names[c])
    for col, layer in enumerate(conv_layers, start=1):
        axes[row, col].imshow(cxrkeras.overlay(image, maps[layer][row], alpha=0.5))
        axes[row, col].set_title(layer.replace("_leaky", ""), fontsize=9)
for ax in axes.ravel():
    ax.axis("off")
plt.show()

# %% [markdown]
# Two images prove little, so the cell below compares the mean activation of the last
# convolution over up to 100 test images of each class, on one shared scale.

# %%
sample = {c: np.flatnonzero(y_test == c)[:100] for c in (0, 1)}
levels = cxrkeras.activation_map(
    cnn94, x_test[np.concatenate(list(sample.values()))], layer_name="cnn_94_conv3_leaky",
    normalize="batch",
)  # fmt: skip
split_at = len(sample[0])
print(f"mean activation, NORMAL:    {levels[:split_at].mean():.3f} ({split_at} images)")
print(
    f"mean activation, PNEUMONIA: {levels[split_at:].mean():.3f} ({len(levels) - split_at} images)"
)

# %% [markdown]
# ## 8. CNN_V2
#
# `cnn_v2` is table II: a 5x5 convolution, then four 3x3 convolutions (12, 16, 12, 12
# filters) with dropout, and the same kind of dense head. The report found it worse than
# CNN_94 (75.7% accuracy).

# %%
cnnv2 = cxrkeras.cnn_v2((IMAGE_SIZE, IMAGE_SIZE, 1))
history_v2 = cxrkeras.fit(cnnv2, train_ds, val_ds, recipe="report_c", epochs=EPOCHS, verbose=2)
display(plots.plot_training_curves(history_v2, title="CNN_V2"))
evaluate_both("CNN_V2", cnnv2, val_ds, test_ds)

# %% [markdown]
# The report's figure 3 shows the confusion matrices of both CNNs. It cared most about
# the PNEUMONIA row: a sick child called healthy goes untreated.

# %%
display(plots.plot_confusion_matrix(results["CNN_94 (argmax)"], title="CNN_94, test (argmax)"))
plots.plot_confusion_matrix(results["CNN_V2 (argmax)"], title="CNN_V2, test (argmax)")

# %% [markdown]
# ## 9. Class weights instead of oversampling
#
# The report concluded that keeping the data slightly biased towards PNEUMONIA (1.2 to 1)
# kept the recall on sick lungs high. For comparison, CNN_94 is trained once more on the
# original, unbalanced training set with balanced class weights, which make both classes
# count equally in the loss.

# %%
unbalanced = cxrkeras.make_dataset(
    table, split="train", image_size=IMAGE_SIZE, label_mode="categorical",
    batch_size=BATCH_SIZE, shuffle=True, seed=SEED, cache=True,
)  # fmt: skip
cnn94_weighted = cxrkeras.cnn_94((IMAGE_SIZE, IMAGE_SIZE, 1), name="cnn_94_weighted")
cxrkeras.fit(
    cnn94_weighted, unbalanced, val_ds, recipe="report_c", epochs=EPOCHS, verbose=0,
    class_weight=weights_before,
)  # fmt: skip
evaluate_both("CNN_94, class weights", cnn94_weighted, val_ds, test_ds)

# %% [markdown]
# ## 10. EfficientNetB0 transfer learning
#
# `efficientnet_transfer` is table III: EfficientNetB0 without its top (1280 pooled
# features), then Dense500-Dropout(0.3)-Dense100-Dropout(0.3)-Dense(2). The model takes
# the same grayscale images in `[0, 1]`: it repeats the channel three times and applies
# EfficientNet's preprocessing inside. The report does not say whether the backbone was
# frozen or which input size it used; here the ImageNet backbone is frozen and the input
# is `EFFICIENTNET_SIZE` (224, EfficientNetB0's native size). `weights="imagenet"`
# downloads the weights (Colab can); offline, set `WEIGHTS` to a local no-top `.h5` file,
# or to `"none"` for random weights (which is no longer transfer learning).

# %%
effnet = cxrkeras.efficientnet_transfer(
    (EFFICIENTNET_SIZE, EFFICIENTNET_SIZE, 1), weights=WEIGHTS, freeze_backbone=True
)
print(f"{effnet.count_params():,} parameters, "
      f"{sum(int(np.prod(w.shape)) for w in effnet.trainable_weights):,} trainable")  # fmt: skip
eff_train = balanced_train(EFFICIENTNET_SIZE)
eff_val, eff_test = plain("val", EFFICIENTNET_SIZE), plain("test", EFFICIENTNET_SIZE)
history_eff = cxrkeras.fit(effnet, eff_train, eff_val, recipe="report_c", epochs=EPOCHS, verbose=2)
display(plots.plot_training_curves(history_eff, title="EfficientNetB0 transfer"))
evaluate_both("EfficientNetB0", effnet, eff_val, eff_test)

# %% [markdown]
# ## 11. Report C's figures beside this run
#
# Measured rows give each figure with its 95% bootstrap interval over the test images;
# report rows give what the report printed (accuracy and F1 for the two CNNs, only the
# range of accuracies for EfficientNet). Recall is the share of sick lungs found, the
# figure the report cared most about; specificity is the share of healthy lungs called
# healthy.

# %%
reported = {
    "CNN_94 (report C)": {"accuracy": 0.946, "f1": 0.957},
    "CNN_V2 (report C)": {"accuracy": 0.757, "f1": 0.760},
    "EfficientNetB0, best run (report C)": {"accuracy": 0.84},
    "EfficientNetB0, worst run (report C)": {"accuracy": 0.50},
}
order = [
    "CNN_94 (report C)", *[k for k in results if k.startswith("CNN_94 (")],
    *[k for k in results if k.startswith("CNN_94, class weights")],
    "CNN_V2 (report C)", *[k for k in results if k.startswith("CNN_V2")],
    "EfficientNetB0, best run (report C)", "EfficientNetB0, worst run (report C)",
    *[k for k in results if k.startswith("EfficientNetB0 (")],
]  # fmt: skip
comparison = cxrkeras.compare(results, reported=reported, digits=3)
comparison.loc[order, ["n", "accuracy", "f1", "recall", "specificity", "roc_auc"]]

# %% [markdown]
# ## Discussion
#
# **In smoke mode none of the figures above mean anything**: the models saw a few dozen
# tiny synthetic images for one epoch, and EfficientNet had random weights. The notes
# below are about full runs on the real data with the default parameters.
#
# * **Test set.** The report's 94.6% for CNN_94 was measured on the official test folder.
#   Without that folder this notebook tests on held-out patients of the training folders,
#   a different and probably easier test set, so figures are not directly comparable;
#   the confidence intervals (several points wide for a few hundred images) show how
#   much of a difference could be noise.
# * **Thresholds.** Argmax is what the report used. The validation-chosen threshold
#   often trades some recall for specificity; for a screening tool one would rather
#   choose the threshold for a target sensitivity on the validation patients
#   (`choose_threshold(..., method="sensitivity", target=0.98)`).
# * **Oversampling vs class weights.** The report's balancing to 1.2 keeps the model
#   biased towards PNEUMONIA (high recall, lower specificity); class weights that fully
#   balance the loss move it the other way. Compare the recall and specificity columns.
# * **EfficientNet.** The report's accuracies of 50% to 84% from run to run suggest an
#   unstable training set-up rather than a weak backbone. Here the ImageNet backbone is
#   frozen, its own preprocessing runs inside the model and early stopping watches
#   validation patients, which should make training steadier; run the notebook with
#   another `SEED` to see how much the figures move.
# * **Maps.** The report's figure 1 shows the classes clearly apart after CNN_94, with
#   one outlier; compare the raw-pixel maps with the CNN_94 maps above. The activation
#   maps show where a layer responds, whatever the class. Bright (white) regions tend to
#   excite the early layers, so "more activation in sick lungs" partly measures opacity, which is
#   the report's point, but bones and burned-in labels are bright too.
# * **Not reproduced exactly.** The report used PyTorch and gives no optimiser, learning
#   rate, batch size, normalisation constants, augmentation angles or EfficientNet input
#   size; the values used here are stated where they are set.
