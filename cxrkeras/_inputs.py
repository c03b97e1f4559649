"""The one input check behind every public function that takes images or a model.

:func:`check_images` turns what a user passes (one image or a batch, any dtype, a NumPy
array, a tensor or nested lists) into the float32 batch the model takes, or raises an
error in Keras' style: what is wrong, ``Received: ...``, and the fix. It knows the
model's input shape and the value range the model expects:

* a model loaded by :func:`cxrkeras.load_run` carries its run's preprocessing
  (``run.json``), registered here by :func:`remember_preprocessing`;
* a model whose first layer is ``Rescaling(1/255)`` takes 0-255 pixels;
* a model whose first layer is ``Rescaling(255)`` or cxrkeras' ``ImageNetPreprocessing``
  (the transfer builders) takes [0, 1];
* any other model is taken as it is: cxrkeras' convention is float32 in [0, 1], so
  integer images are refused with the fix, and float values are not judged.

Documented conversions (each is what the run's own pipeline does to an image file):

* integer images (``uint8`` from ``cv2.imread`` or PIL, ``uint16`` 16-bit PNGs) for a
  model whose range is known: divided by 255 (or 65535 for values above 255), then the
  run's normalization; for a 0-255 model, cast to float (16-bit values scaled to 0-255);
* one channel for a three-channel model: repeated; three EQUAL channels (a gray X-ray
  saved as RGB, which ``cv2.imread`` returns by default) for a one-channel model: the
  first is kept; a constant (opaque) alpha channel: dropped.

Everything else that cannot give a meaningful result is refused: NaN or infinite
values, an empty batch, colour images for a grayscale model, a varying alpha channel,
another image size than the model's, booleans and non-numeric data.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

# Models loaded from a run folder -> that run's preprocessing dict (weakly held).
_RUN_PREPROCESSING: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
# Layers that do not change pixel values at inference; skipped when looking for the
# layer that decides the input range.
_PASS_THROUGH = ("InputLayer", "Concatenate", "Reshape", "Resizing", "Identity", "Permute")


@dataclass(frozen=True)
class InputSpec:
    """What a model takes: ``(height, width, channels)`` (None where free) and its range.

    ``value_range`` is ``(low, high)`` when known, else None; ``source`` says how it is
    known (for messages); ``normalization`` is the run's normalization for integer
    conversion (``"unit"``, ``"imagenet"``, ``"none"``), or ``"pixels"`` for a model
    that takes 0-255 values itself.
    """

    height: int | None = None
    width: int | None = None
    channels: int | None = None
    value_range: tuple[float, float] | None = None
    normalization: str | None = None
    source: str = ""


def remember_preprocessing(model, preprocessing) -> None:
    """Attach a run's preprocessing (dict or Preprocessing) to a loaded model, weakly.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten()])
        >>> remember_preprocessing(model, {"normalization": "unit"})
        >>> input_spec(model).value_range
        (0.0, 1.0)
    """
    if preprocessing is None:
        return
    if not isinstance(preprocessing, Mapping):
        preprocessing = {"normalization": getattr(preprocessing, "normalization", "unit")}
    try:
        _RUN_PREPROCESSING[model] = dict(preprocessing)
    except TypeError:  # an object that cannot be weakly referenced
        pass


def _first_value_layer(model):
    """The first layer after the input that changes values, searching nested models."""
    from cxrkeras._graph import _is_graph_model

    for layer in getattr(model, "layers", []):
        if _is_graph_model(layer):
            return _first_value_layer(layer)
        name = type(layer).__name__
        if name in _PASS_THROUGH or name.startswith("Random"):
            continue
        return layer
    return None


def _imagenet_range(channels: int | None) -> tuple[float, float]:
    mean, std = np.array(_IMAGENET_MEAN), np.array(_IMAGENET_STD)
    if channels == 1:
        mean, std = mean.mean(keepdims=True), std.mean(keepdims=True)
    return float(((0.0 - mean) / std).min()), float(((1.0 - mean) / std).max())


def input_spec(model) -> InputSpec:
    """The input shape and value range ``model`` expects (see the module docstring).

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((8, 6, 1)),
        ...     keras.layers.Rescaling(1 / 255), keras.layers.Flatten()])
        >>> spec = input_spec(model)
        >>> (spec.height, spec.width, spec.channels), spec.value_range
        ((8, 6, 1), (0.0, 255.0))
    """
    height = width = channels = None
    try:
        inputs = model.inputs
        if inputs is not None and len(inputs) == 1 and len(inputs[0].shape) == 4:
            height, width, channels = (None if d is None else int(d) for d in inputs[0].shape[1:])
    except (AttributeError, TypeError, ValueError):
        pass
    shape = {"height": height, "width": width, "channels": channels}
    run = None
    try:
        run = _RUN_PREPROCESSING.get(model)
    except TypeError:
        pass
    if run is not None:
        norm = run.get("normalization", "unit") or "unit"
        ranges = {"unit": (0.0, 1.0), "none": (0.0, 255.0), "imagenet": _imagenet_range(channels)}
        source = f"its run's preprocessing (run.json: normalization={norm!r})"
        return InputSpec(**shape, value_range=ranges.get(norm), normalization=norm, source=source)
    first = _first_value_layer(model)
    kind = type(first).__name__ if first is not None else ""
    if kind == "Rescaling":
        scale = np.ravel(np.asarray(first.scale, dtype=np.float64))
        offset = np.ravel(np.asarray(first.offset, dtype=np.float64))
        if scale.size == 1 and offset.size == 1:
            if 0.0 < scale[0] < 0.01:  # Rescaling(1/255) or Rescaling(1/127.5, offset=-1)
                source = f"its first layer {first.name!r} (Rescaling(scale={scale[0]:.4g}))"
                return InputSpec(**shape, value_range=(0.0, 255.0), normalization="pixels",
                                 source=source)  # fmt: skip
            if scale[0] > 100.0 and offset[0] == 0.0:  # Rescaling(255): takes [0, 1]
                source = f"its first layer {first.name!r} (Rescaling(scale={scale[0]:.4g}))"
                return InputSpec(**shape, value_range=(0.0, 1.0), normalization="unit",
                                 source=source)  # fmt: skip
    if kind == "ImageNetPreprocessing":
        source = f"its layer {first.name!r} (ImageNetPreprocessing maps [0, 1] images)"
        return InputSpec(**shape, value_range=(0.0, 1.0), normalization="unit", source=source)
    return InputSpec(**shape)


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def describe(array: np.ndarray) -> str:
    """``"an array of shape (2, 8, 8, 1), dtype uint8, values in [0, 255]"``.

    Example:
        >>> describe(np.zeros((2, 3), np.uint8))
        'an array of shape (2, 3), dtype uint8, values in [0, 0]'
    """
    text = f"an array of shape {_shape_text(array.shape)}, dtype {array.dtype}"
    if array.size and np.issubdtype(array.dtype, np.number) and not np.iscomplexobj(array):
        finite = array[np.isfinite(array)] if np.issubdtype(array.dtype, np.floating) else array
        if finite.size:
            low, high = finite.min(), finite.max()
            text += f", values in [{low:.4g}, {high:.4g}]"
    return text


def check_model(model, *, where: str, argument: str = "model") -> None:
    """Raise ``TypeError`` unless ``model`` is a Keras model (or a callable one).

    Example:
        >>> check_model(np.zeros((8, 8, 1)), where="gradcam")
        Traceback (most recent call last):
        ...
        TypeError: gradcam: model must be a keras.Model. Received: model=an array of shape (8, 8, 1), dtype float64, values in [0, 0]. Fix: pass the model first and the images second, e.g. gradcam(model, images).
    """
    import keras

    if isinstance(model, (keras.Model, keras.layers.Layer)):
        return
    if isinstance(model, (np.ndarray, list, tuple)) or hasattr(model, "shape"):
        received = describe(np.asarray(model)) if hasattr(model, "shape") else type(model).__name__
        raise TypeError(
            f"{where}: {argument} must be a keras.Model. Received: {argument}={received}. "
            f"Fix: pass the model first and the images second, e.g. {where}(model, images)."
        )
    if not callable(model):
        raise TypeError(
            f"{where}: {argument} must be a keras.Model. Received: {argument} of type "
            f"{type(model).__name__}. Fix: load one with keras.saving.load_model(path) or "
            "cxrkeras.load_run(run_folder)."
        )


def _as_array(images, argument: str, where: str) -> np.ndarray:
    if hasattr(images, "numpy") and not isinstance(images, np.ndarray):
        images = images.numpy()
    try:
        arr = np.asarray(images)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise ValueError(
            f"{where}: {argument} must be one image (H, W, C) or a batch (B, H, W, C) of "
            f"equal-sized images. Received: {argument} that NumPy cannot stack ({exc}). "
            "Fix: resize the images to one size and stack them with np.stack(images)."
        ) from None
    if arr.dtype == bool:
        raise TypeError(
            f"{where}: {argument} must hold pixel values; a boolean array is a mask. "
            f"Received: {argument}={describe(arr)}. Fix: pass the image, or "
            f"{argument}.astype('float32') if the mask really is the image."
        )
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(
            f"{where}: {argument} must be a numeric array. Received: {argument} of dtype "
            f"{arr.dtype} (type {type(images).__name__}). Fix: load the pixels first, e.g. "
            "cv2.imread(path, cv2.IMREAD_GRAYSCALE) / 255.0."
        )
    return arr


def _input_rank(model) -> int | None:
    """Rank of a single-input model's input (4 for images), or None when unknown."""
    try:
        inputs = model.inputs
        if inputs is not None and len(inputs) == 1:
            return len(inputs[0].shape)
    except (AttributeError, TypeError, ValueError):
        pass
    return None


def _batched(arr: np.ndarray, spec: InputSpec, argument: str, where: str):
    if arr.ndim == 2:
        return arr[None, :, :, None], True
    if arr.ndim == 3:
        if (
            arr.shape[-1] not in (1, 2, 3, 4)
            and spec.channels == 1
            and (spec.height, spec.width) == tuple(arr.shape[1:])
        ):
            raise ValueError(
                f"{where}: {argument} looks like a batch of {arr.shape[0]} grayscale images "
                f"without a channel axis; the model takes (B, {spec.height}, {spec.width}, 1). "
                f"Received: {argument}={describe(arr)}. Fix: {argument}[..., None]."
            )
        return arr[None], True
    if arr.ndim == 4:
        return arr, False
    raise ValueError(
        f"{where}: {argument} must be one image (H, W) / (H, W, C) or a batch (B, H, W, C). "
        f"Received: {argument}={describe(arr)}. Fix: add a channel axis to grayscale images "
        f"with {argument}[..., None], or stack images into one batch with np.stack."
    )


def _integer_scale(arr: np.ndarray, argument: str, where: str) -> float:
    """The full-scale value of integer pixels: 255 (8 bit) or 65535 (16 bit)."""
    low, high = int(arr.min()), int(arr.max())
    if low < 0 or high > 65535:
        raise ValueError(
            f"{where}: {argument} holds integers outside 0-65535, which are not pixel "
            f"values. Received: {argument}={describe(arr)}. Fix: rescale them to [0, 1] "
            f"floats, e.g. ({argument} - {argument}.min()) / ({argument}.max() - "
            f"{argument}.min())."
        )
    if arr.dtype == np.uint8 or high <= 255:
        return 255.0
    return 65535.0


def _normalize(unit: np.ndarray, normalization: str) -> np.ndarray:
    if normalization == "none":
        return unit * 255.0
    if normalization == "imagenet":
        mean, std = np.array(_IMAGENET_MEAN), np.array(_IMAGENET_STD)
        if unit.shape[-1] == 1:
            mean, std = mean.mean(keepdims=True), std.mean(keepdims=True)
        return (unit - mean.astype(np.float32)) / std.astype(np.float32)
    return unit


def _convert_integers(arr, spec: InputSpec, argument: str, where: str) -> np.ndarray:
    scale = _integer_scale(arr, argument, where)
    fix = f"{argument} / {scale:.1f}"
    if spec.normalization is None:
        bits = "8-bit" if scale == 255.0 else "16-bit"
        raise ValueError(
            f"{where}: {argument} holds {bits} integer pixels, but cxrkeras models take "
            f"float32 images in [0, 1] and this model does not say otherwise (no run.json "
            f"preprocessing, no Rescaling layer). Received: {argument}={describe(arr)}. "
            f"Fix: pass {fix} (or {argument}.astype('float32') if the model was trained "
            "on 0-255 pixels)."
        )
    if spec.normalization == "pixels":
        return arr.astype(np.float32) * np.float32(255.0 / scale)
    unit = arr.astype(np.float32) / np.float32(scale)
    return _normalize(unit, spec.normalization).astype(np.float32)


def _check_range(batch: np.ndarray, spec: InputSpec, argument: str, where: str) -> None:
    if spec.value_range is None:
        return
    low, high = spec.value_range
    span = high - low
    got_low, got_high = float(batch.min()), float(batch.max())
    if got_high > high + 0.5 * span or got_low < low - 0.5 * span:
        if (low, high) == (0.0, 1.0) and got_low >= 0.0 and got_high <= 255.0:
            fix = f"pass {argument} / 255.0 (0-255 pixels to [0, 1])"
        elif (low, high) == (0.0, 255.0) and got_low >= 0.0 and got_high <= 1.0:
            fix = f"pass {argument} * 255.0"
        else:
            fix = (
                f"prepare {argument} as the run did (cxrkeras.make_dataset with its preprocessing)"
            )
        raise ValueError(
            f"{where}: {argument} values range over [{got_low:.4g}, {got_high:.4g}], but "
            f"the model takes values in [{low:.4g}, {high:.4g}] (known from {spec.source}). "
            f"Received: {argument}={describe(batch)}. Fix: {fix}."
        )
    if (low, high) == (0.0, 255.0) and 0.0 < got_high <= 1.0 and got_low >= 0.0:
        import warnings

        warnings.warn(
            f"{where}: {argument} values lie in [0, 1], but the model takes 0-255 pixels "
            f"(known from {spec.source}); the images will look almost black to it. Pass "
            f"{argument} * 255.0 if they were scaled to [0, 1].",
            stacklevel=4,
        )


def _drop_alpha(batch: np.ndarray, argument: str, where: str) -> np.ndarray:
    alpha = batch[..., -1]
    if alpha.size and alpha.min() != alpha.max():
        raise ValueError(
            f"{where}: {argument} has an alpha channel ({batch.shape[-1]} channels) that "
            f"is not constant, so dropping it would change what is shown. Received: "
            f"{argument}={describe(batch)}. Fix: composite the image first, or pass "
            f"{argument}[..., :{batch.shape[-1] - 1}] to ignore the transparency."
        )
    return batch[..., :-1]


def _match_channels(batch: np.ndarray, spec: InputSpec, argument: str, where: str) -> np.ndarray:
    if batch.shape[-1] in (2, 4) and spec.channels != batch.shape[-1]:
        batch = _drop_alpha(batch, argument, where)
    got, want = batch.shape[-1], spec.channels
    if want is None or got == want:
        return batch
    if got == 1 and want == 3:
        return np.repeat(batch, 3, axis=-1)
    if got == 3 and want == 1:
        if np.array_equal(batch[..., :1], batch[..., 1:2]) and np.array_equal(
            batch[..., :1], batch[..., 2:3]
        ):
            return batch[..., :1]
        raise ValueError(
            f"{where}: {argument} has 3 different colour channels, but the model takes "
            f"grayscale images (1 channel); which weights turn them into gray is ambiguous "
            f"(cv2.imread gives BGR, PIL gives RGB). Received: {argument}={describe(batch)}. "
            f"Fix: load the X-ray as grayscale (cv2.imread(path, cv2.IMREAD_GRAYSCALE)) or "
            f"convert it: cv2.cvtColor({argument}, cv2.COLOR_RGB2GRAY)[..., None]."
        )
    raise ValueError(
        f"{where}: {argument} has {got} channels, but the model takes {want}. Received: "
        f"{argument}={describe(batch)}. Fix: pass grayscale (H, W, 1) or RGB (H, W, 3) images "
        "as the model was built for."
    )


def _check_size(batch: np.ndarray, spec: InputSpec, argument: str, where: str) -> None:
    height, width = batch.shape[1:3]
    want_h, want_w = spec.height, spec.width
    if (want_h is None or want_h == height) and (want_w is None or want_w == width):
        return
    hint = ""
    if (height, width) == (want_w, want_h):
        hint = " The image looks transposed (height and width swapped)."
    raise ValueError(
        f"{where}: {argument} are {height}x{width} (height x width), but the model takes "
        f"{want_h}x{want_w}.{hint} Received: {argument}={describe(batch)}. Fix: resize "
        f"them, e.g. cv2.resize(img, ({want_w}, {want_h})) (OpenCV takes (width, height)), "
        "or load them with cxrkeras.make_dataset(..., image_size=...)."
    )


def check_images(images, model=None, *, where: str, argument: str = "images"):
    """Validate and convert images for ``model``: ``(float32 batch, was_single)``.

    Args:
        images: One image ``(H, W)`` / ``(H, W, C)`` or a batch ``(B, H, W, C)``: a NumPy
            array, a tensor or nested lists. Never modified.
        model: The model the images are for (its input shape and value range are
            checked), or None to check only the array itself.
        where: The public function's name, for messages.
        argument: The argument's name, for messages.

    Returns:
        ``(batch, was_single)``: a new float32 ``(B, H, W, C)`` array and whether one
        image was passed.

    Raises:
        TypeError: for booleans or non-numeric data.
        ValueError: for a bad rank, an empty batch, NaN / inf values, another size or
            channel count than the model takes, or values outside its known range.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4, 6, 1)), keras.layers.Flatten()])
        >>> batch, single = check_images(np.zeros((4, 6, 3)), model, where="demo")
        >>> batch.shape, batch.dtype, single
        ((1, 4, 6, 1), dtype('float32'), True)
    """
    arr = _as_array(images, argument, where)
    rank = _input_rank(model)
    if rank is not None and rank != 4:
        # Not an image model (e.g. a classifier on feature vectors): its inputs are
        # batches as given; only emptiness and NaN / inf are checked.
        if (
            arr.ndim != rank
            or arr.shape[0] == 0
            or (np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all())
        ):
            raise ValueError(
                f"{where}: {argument} must be a non-empty batch of rank {rank} without NaN "
                f"or inf for this model (input shape {tuple(model.inputs[0].shape)}). "
                f"Received: {argument}={describe(arr)}."
            )
        return np.ascontiguousarray(arr, dtype=np.float32), False
    spec = input_spec(model) if model is not None else InputSpec()
    batch, single = _batched(arr, spec, argument, where)
    if batch.size == 0:
        what = "an empty batch (0 images)" if batch.shape[0] == 0 else "an image with no pixels"
        raise ValueError(
            f"{where}: {argument} is {what}. Received: {argument}={describe(arr)}. Fix: "
            "pass at least one image; check the filter or the file list that built it."
        )
    if np.issubdtype(batch.dtype, np.floating):
        bad = ~np.isfinite(batch)
        if bad.any():
            images_hit = np.flatnonzero(bad.reshape(len(batch), -1).any(axis=1)).tolist()
            raise ValueError(
                f"{where}: {argument} contains {int(bad.sum())} NaN or infinite value(s) "
                f"(in image(s) {images_hit[:10]}), which give no meaningful map or score. "
                f"Received: {argument}={describe(arr)}. Fix: check how the images were "
                f"loaded and normalised (a division by a zero std?), or replace them with "
                f"np.nan_to_num({argument})."
            )
        batch = batch.astype(np.float32, copy=True)
    else:
        batch = _convert_integers(batch, spec, argument, where)
    batch = _match_channels(batch, spec, argument, where)
    _check_size(batch, spec, argument, where)
    _check_range(batch, spec, argument, where)
    return np.ascontiguousarray(batch, dtype=np.float32), single


def check_patch(value, image_hw: tuple[int, int], *, where: str, argument: str) -> tuple:
    """A positive int or ``(height, width)`` pair that fits inside the images.

    Raises:
        ValueError: for a non-positive or non-integer size, or one larger than the
            images in either direction, or one that covers the whole image (a map that
            is constant by construction).

    Example:
        >>> check_patch(4, (12, 20), where="occlusion", argument="patch_size")
        (4, 4)
    """
    pair = (value, value) if np.ndim(value) == 0 else tuple(np.ravel(value).tolist())
    valid = len(pair) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in pair
    )
    if not valid:
        raise ValueError(
            f"{where}: {argument} must be a positive int or a (height, width) pair of "
            f"them. Received: {argument}={value!r}. Fix: e.g. {argument}=20."
        )
    pair = (int(pair[0]), int(pair[1]))
    height, width = image_hw
    if pair[0] > height or pair[1] > width or pair == (height, width):
        suggestion = max(1, min(height, width) // 8)
        raise ValueError(
            f"{where}: {argument} must fit inside the {height}x{width} images and leave "
            f"part of them uncovered; a patch that covers the whole image gives a constant "
            f"map. Received: {argument}={value!r}. Fix: use a patch much smaller than the "
            f"image, e.g. {argument}={suggestion}."
        )
    return pair


def check_heatmap(heatmap, image_hw: tuple[int, int], *, where: str, argument: str = "heatmap"):
    """A finite ``(H, W)`` float map, with the image's aspect ratio (it is then resized).

    A map at a lower resolution with the image's aspect ratio (a convolution's grid) is
    accepted and resized by the caller; another aspect ratio, which would stretch it,
    is refused.

    Example:
        >>> check_heatmap(np.ones((12, 20)), (24, 40), where="overlay").shape
        (12, 20)
    """
    arr = _as_array(heatmap, argument, where).astype(np.float32)
    if arr.ndim != 2:
        raise ValueError(
            f"{where}: {argument} must be one map (H, W). Received: {argument}="
            f"{describe(arr)}. Fix: pass heatmaps[i] for image i, or a batch of maps with a "
            "batch of images."
        )
    if arr.size == 0:
        raise ValueError(
            f"{where}: {argument} is empty. Received: {argument}={describe(arr)}. Fix: pass "
            "the map an explainer returned."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{where}: {argument} contains NaN or infinite values. Received: {argument}="
            f"{describe(arr)}. Fix: check the explainer's input, or np.nan_to_num({argument})."
        )
    height, width = image_hw
    h, w = arr.shape
    if (h, w) != (height, width):
        rows, cols = height / h, width / w
        tolerance = 2.0 / min(h, w) + 0.02
        if abs(rows - cols) / max(rows, cols) > tolerance:
            hint = (
                " It looks transposed (height and width swapped)."
                if (h, w)
                == (
                    width,
                    height,
                )
                else ""
            )
            raise ValueError(
                f"{where}: {argument} is {h}x{w} but the image is {height}x{width}, another "
                f"aspect ratio, so resizing would stretch it.{hint} Received: {argument}="
                f"{describe(arr)}. Fix: pass the map made for this image (explainers return "
                f"maps at the input size), or {argument}.T if it was transposed."
            )
    return arr


def check_batch_size(value, *, where: str, example: int) -> None:
    """Refuse a ``batch_size`` that is not a positive int (``True`` included).

    Example:
        >>> check_batch_size(0, where="gradcam", example=32)
        Traceback (most recent call last):
        ...
        ValueError: gradcam: batch_size must be a positive int. Received: batch_size=0. Fix: e.g. batch_size=32.
    """
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(
            f"{where}: batch_size must be a positive int. Received: "
            f"batch_size={value!r}. Fix: e.g. batch_size={example}."
        )


def check_number(
    value,
    *,
    where: str,
    argument: str,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
    fix: str = "",
) -> float | int:
    """A finite real number (an int when ``integer``) in ``[low, high]``, or an error.

    Raises:
        TypeError: for a non-number (a string from a hand-edited file, a bool, None).
        ValueError: for NaN, infinity, a fraction where an int is needed, or a value
            outside ``[low, high]``.

    Example:
        >>> check_number(0.5, where="evaluate", argument="threshold", low=0, high=1)
        0.5
        >>> check_number("high", where="evaluate", argument="threshold")
        Traceback (most recent call last):
        ...
        TypeError: evaluate: threshold must be a number. Received: threshold='high' (str).
    """
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kinds):
        if integer and isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            what = "a whole number" if integer else "a number"
            raise TypeError(
                f"{where}: {argument} must be {what}. Received: {argument}={value!r} "
                f"({type(value).__name__}).{' Fix: ' + fix if fix else ''}"
            )
    if not np.isfinite(value):
        raise ValueError(
            f"{where}: {argument} must be finite. Received: {argument}={value!r}."
            f"{' Fix: ' + fix if fix else ''}"
        )
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            expected = f"in [{low:g}, {high:g}]"
        elif low is not None:
            expected = f"at least {low:g}"
        else:
            expected = f"at most {high:g}"
        raise ValueError(
            f"{where}: {argument} must be {expected}. Received: {argument}={value!r}."
            f"{' Fix: ' + fix if fix else ''}"
        )
    return int(value) if integer else float(value)
