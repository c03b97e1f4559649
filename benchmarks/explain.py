"""Benchmark: batched Grad-CAM and occlusion against the usual one-image-at-a-time recipes.

On report B's binary CNN at 150x150x1 (Conv16-Conv16-Pool-Conv32-Pool-Conv64-Pool-
Flatten-Dense64-Dropout-Dense1 sigmoid), in one run, on the same model and images:

1. Grad-CAM: ``cxrkeras.gradcam`` on a batch vs the keras.io recipe (a ``grad_model``
   built per image, one image at a time). The maps are compared (class 1, same layer).
2. Occlusion: ``cxrkeras.occlusion`` (batched model calls) vs a naive loop of one
   ``model.predict`` per patch. The maps are compared.
3. The keras.io recipe on the same network nested as report B's categorical model
   (``Sequential([Sequential(layers), ...])``) and in a functional wrapper
   (``x = base(inputs)``): it fails; ``cxrkeras.gradcam`` gives the flat model's maps.

Run: ``python benchmarks/explain.py [--images 64] [--naive-images 4]``. Figures are
throughputs and ratios measured in this run; they depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cxrkeras.gradcam import gradcam  # noqa: E402
from cxrkeras.occlusion import occlusion  # noqa: E402
from cxrkeras.phantoms import phantom_arrays  # noqa: E402

L = keras.layers
SHAPE = (150, 150, 1)
LAST_CONV = "conv3"


def _feature_layers() -> list:
    return [
        L.Conv2D(16, 3, activation="relu", name="conv1a"),
        L.Conv2D(16, 3, activation="relu", name="conv1b"),
        L.MaxPooling2D(2, name="pool1"),
        L.Conv2D(32, 3, activation="relu", name="conv2"),
        L.MaxPooling2D(2, name="pool2"),
        L.Conv2D(64, 3, activation="relu", name=LAST_CONV),
        L.MaxPooling2D(2, name="pool3"),
    ]


def _head_layers() -> list:
    return [
        L.Flatten(name="flatten"),
        L.Dense(64, activation="relu", name="dense"),
        L.Dropout(0.5, name="dropout"),
        L.Dense(1, activation="sigmoid", name="output"),
    ]


def report_b_binary_cnn() -> keras.Model:
    """Report B's binary CNN, flat functional graph."""
    inputs = keras.Input(SHAPE, name="image")
    x = inputs
    for layer in _feature_layers() + _head_layers():
        x = layer(x)
    return keras.Model(inputs, x, name="binary_cnn")


def report_b_nested_copy(flat: keras.Model) -> keras.Model:
    """The same network nested as report B's categorical model, with flat's weights."""
    features = keras.Sequential([keras.Input(SHAPE), *_feature_layers()], name="base")
    nested = keras.Sequential([features, *_head_layers()], name="nested_cnn")
    nested.build((None, *SHAPE))
    nested.set_weights(flat.get_weights())
    return nested


def keras_io_gradcam(img_array, model, last_conv_layer_name, pred_index=None):
    """The keras.io Grad-CAM recipe, as published (one image, grad_model per call)."""
    grad_model = keras.models.Model(
        model.inputs, [model.get_layer(last_conv_layer_name).output, model.output]
    )
    with tf.GradientTape() as tape:
        last_conv_layer_output, preds = grad_model(img_array)
        if pred_index is None:
            pred_index = tf.argmax(preds[0])
        class_channel = preds[:, pred_index]
    grads = tape.gradient(class_channel, last_conv_layer_output)
    pooled_grads = tf.reduce_mean(grads, axis=(0, 1, 2))
    heatmap = last_conv_layer_output[0] @ pooled_grads[..., tf.newaxis]
    heatmap = tf.squeeze(heatmap)
    heatmap = tf.maximum(heatmap, 0) / tf.math.reduce_max(heatmap)
    return heatmap.numpy()


def naive_occlusion(model, image, patch_size=20):
    """One model.predict per patch position (non-overlapping, last patch at the edge)."""
    height, width = image.shape[:2]
    rows = sorted({*range(0, height - patch_size + 1, patch_size), height - patch_size})
    cols = sorted({*range(0, width - patch_size + 1, patch_size), width - patch_size})
    prob = float(model.predict(image[None], verbose=0)[0, 0])
    score = prob if prob > 0.5 else 1.0 - prob
    total, count = np.zeros((height, width)), np.zeros((height, width))
    for r in rows:
        for c in cols:
            covered = image.copy()
            covered[r : r + patch_size, c : c + patch_size] = 0.0
            p = float(model.predict(covered[None], verbose=0)[0, 0])
            total[r : r + patch_size, c : c + patch_size] += score - (p if prob > 0.5 else 1 - p)
            count[r : r + patch_size, c : c + patch_size] += 1
    return total / count


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _upsampled(maps: np.ndarray) -> np.ndarray:
    up = tf.image.resize(maps[..., None], SHAPE[:2]).numpy()[..., 0]
    peak = up.max(axis=(1, 2), keepdims=True)
    return up / np.where(peak > 0, peak, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--naive-images", type=int, default=4)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    images, _, _ = phantom_arrays(args.images, image_size=SHAPE[0], seed=0)
    model = report_b_binary_cnn()
    print(f"TF {tf.__version__}, Keras {keras.__version__}; {len(images)} images {SHAPE}")

    first, t_first = _timed(lambda: gradcam(model, images, layer_name=LAST_CONV, class_index=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        keras_io_gradcam(images[:1], model, LAST_CONV)  # warm up
    ours, t_ours = _timed(lambda: gradcam(model, images, layer_name=LAST_CONV, class_index=1))
    with warnings.catch_warnings():  # the recipe passes model.inputs, a list: Keras warns
        warnings.simplefilter("ignore", UserWarning)
        recipe, t_recipe = _timed(
            lambda: np.stack([keras_io_gradcam(img[None], model, LAST_CONV) for img in images])
        )
    finite = np.isfinite(recipe).all(axis=(1, 2))
    diff = np.abs(_upsampled(recipe[finite]) - ours[finite]).max() if finite.any() else np.nan
    print("\nGrad-CAM, report B binary CNN, flat model")
    print(f"  cxrkeras.gradcam, batched     {len(images) / t_ours:8.1f} images/s")
    print(f"    (first call, with tracing)  {len(images) / t_first:8.1f} images/s")
    print(f"  keras.io recipe, per image    {len(images) / t_recipe:8.1f} images/s")
    print(f"  speed-up                      {t_recipe / t_ours:8.1f}x   (goal >= 10x)")
    print(f"  max |map difference|          {diff:8.1e}   (on {finite.sum()} images)")
    nan_ours = int(np.isnan(ours).any(axis=(1, 2)).sum())
    print(f"  NaN maps                      recipe {int((~finite).sum())}, cxrkeras {nan_ours}")

    subset = images[: args.naive_images]
    occlusion(model, subset[:1], verbose=False)  # warm up
    batched, t_batched = _timed(lambda: occlusion(model, subset, verbose=False))
    naive, t_naive = _timed(lambda: np.stack([naive_occlusion(model, img) for img in subset]))
    _, t_all = _timed(lambda: occlusion(model, images, verbose=False))
    print("\nOcclusion, 20x20 patches, stride 20, zero baseline")
    print(f"  cxrkeras.occlusion, batched   {len(subset) / t_batched:8.2f} images/s")
    print(f"    (all {len(images)} images)          {len(images) / t_all:8.2f} images/s")
    print(f"  one model.predict per patch   {len(subset) / t_naive:8.2f} images/s")
    print(f"  speed-up                      {t_naive / t_batched:8.1f}x   (goal >= 10x)")
    print(f"  max |map difference|          {np.abs(batched - naive).max():8.1e}")

    nested = report_b_nested_copy(model)
    base = nested.get_layer("base")
    inputs = keras.Input(SHAPE)
    wrapper = keras.Model(
        inputs,
        nested.layers[-1](nested.layers[-2](nested.layers[-3](nested.layers[-4](base(inputs))))),
    )
    print("\nNested models (the same weights as the flat model)")
    for title, candidate in [
        ("Sequential([Sequential(conv layers), head...]) (report B)", nested),
        ("functional wrapper x = base(inputs)", wrapper),
    ]:
        print(f"  {title}")
        try:
            keras.Model(candidate.inputs, [base.get_layer(LAST_CONV).output, candidate.output])
            print("    keras.io recipe: ran")
        except (ValueError, AttributeError) as err:
            message = str(err).splitlines()[0][:100]
            print(f"    keras.io recipe: {type(err).__name__}: {message}")
        maps = gradcam(candidate, images, layer_name=f"base.{LAST_CONV}", class_index=1)
        print(f"    cxrkeras.gradcam: max |nested - flat| = {np.abs(maps - ours).max():.1e}")


if __name__ == "__main__":
    main()
