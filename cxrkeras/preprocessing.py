"""Per-image preprocessing in graph mode: decode, channels, resize or letterbox, CLAHE, range.

Every function here takes and returns tensors, so it runs inside ``tf.data`` pipelines
(:func:`cxrkeras.data.make_dataset`) as well as eagerly. Images are float32 in ``[0, 1]``
until :func:`normalize` maps them to the model's range.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np
import tensorflow as tf

COLOR_MODES: tuple[str, ...] = ("grayscale", "rgb")
NORMALIZATIONS: tuple[str, ...] = ("unit", "imagenet", "none")
RESIZE_MODES: tuple[str, ...] = ("stretch", "pad")
IMAGENET_MEAN: tuple[float, ...] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, ...] = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """How images are prepared before batching.

    Args:
        normalization: ``"unit"`` for ``[0, 1]`` (the default, what cxrkeras models
            take), ``"imagenet"`` for ``(x - mean) / std`` with ImageNet statistics
            (their channel average for grayscale), or ``"none"`` for ``[0, 255]``.
        resize: ``"stretch"`` to fill the target size, or ``"pad"`` to keep the aspect
            ratio and letterbox with black borders.
        clahe: ``False``, ``True`` (clip limit 2.0 on an 8x8 tile grid, as report D) or a
            dict with ``clip_limit`` and ``tile_grid_size``.
        antialias: ``"auto"`` (low-pass filter only when a side shrinks more than 2x),
            ``True`` or ``False``; see :func:`resize`.

    Raises:
        ValueError: for an unknown mode or CLAHE setting.

    Example:
        >>> Preprocessing(resize="pad", clahe=True).clahe_settings
        (2.0, (8, 8))
    """

    normalization: str = "unit"
    resize: str = "stretch"
    clahe: bool | Mapping = False
    antialias: bool | str = "auto"

    def __post_init__(self):
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization={self.normalization!r}; expected one of {list(NORMALIZATIONS)}."
            )
        if self.resize not in RESIZE_MODES:
            raise ValueError(f"resize={self.resize!r}; expected one of {list(RESIZE_MODES)}.")
        if self.antialias not in (True, False, "auto"):
            raise ValueError(f"antialias={self.antialias!r}; expected True, False or 'auto'.")
        self.clahe_settings  # noqa: B018 (validates clahe)

    @property
    def clahe_settings(self) -> tuple[float, tuple[int, int]] | None:
        """``(clip_limit, tile_grid_size)``, or ``None`` when CLAHE is off."""
        if self.clahe is False or self.clahe is None:
            return None
        if self.clahe is True:
            return (2.0, (8, 8))
        if isinstance(self.clahe, Mapping):
            extra = set(self.clahe) - {"clip_limit", "tile_grid_size"}
            if not extra:
                grid = tuple(int(g) for g in self.clahe.get("tile_grid_size", (8, 8)))
                clip = float(self.clahe.get("clip_limit", 2.0))
                if len(grid) == 2 and min(grid) > 0 and clip > 0:
                    return (clip, grid)
        raise ValueError(
            f"clahe={self.clahe!r}; expected False, True or a dict such as "
            f"{{'clip_limit': 2.0, 'tile_grid_size': (8, 8)}}."
        )


def as_preprocessing(preprocessing) -> Preprocessing:
    """Coerce ``None``, a dict of :class:`Preprocessing` fields, or a Preprocessing.

    Example:
        >>> as_preprocessing({"normalization": "imagenet"}).normalization
        'imagenet'
    """
    if preprocessing is None:
        return Preprocessing()
    if isinstance(preprocessing, Preprocessing):
        return preprocessing
    if isinstance(preprocessing, Mapping):
        valid = ["normalization", "resize", "clahe", "antialias"]
        unknown = sorted(set(preprocessing) - set(valid))
        if unknown:
            raise ValueError(f"Unknown preprocessing option(s) {unknown}; valid ones are {valid}.")
        return Preprocessing(**preprocessing)
    raise TypeError(
        f"preprocessing must be None, a dict or a Preprocessing; got {type(preprocessing).__name__}."
    )


def as_size(image_size) -> tuple[int, int]:
    """``image_size`` as ``(height, width)``; an int means a square.

    Example:
        >>> as_size(150), as_size((120, 90))
        ((150, 150), (120, 90))
    """
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        size = (int(image_size), int(image_size))
    else:
        try:
            size = tuple(int(s) for s in image_size)
        except (TypeError, ValueError):
            size = ()
    if len(size) != 2 or min(size) < 1:
        raise ValueError(
            f"image_size={image_size!r}; expected a positive int or (height, width), e.g. 224."
        )
    return size


def decode(contents, color_mode: str = "grayscale") -> tf.Tensor:
    """Decode JPEG / PNG / BMP / GIF bytes (8 or 16 bit) to float32 ``(H, W, C)`` in [0, 1].

    Gray, gray+alpha, RGB and RGBA sources are all accepted; alpha is dropped and RGB is
    turned into luminance for ``color_mode="grayscale"`` (gray is repeated for ``"rgb"``).

    Example:
        >>> png = tf.io.encode_png(tf.fill([3, 4, 4], tf.constant(255, tf.uint8)))
        >>> decode(png, "grayscale").shape, float(decode(png, "rgb")[0, 0, 0])
        (TensorShape([3, 4, 1]), 1.0)
    """
    if color_mode not in COLOR_MODES:
        raise ValueError(f"color_mode={color_mode!r}; expected one of {list(COLOR_MODES)}.")
    img = tf.io.decode_image(contents, dtype=tf.float32, expand_animations=False)
    channels = tf.shape(img)[-1]
    if color_mode == "grayscale":
        out = tf.cond(
            channels >= 3,
            lambda: tf.image.rgb_to_grayscale(img[..., :3]),
            lambda: img[..., :1],
        )
        out.set_shape([None, None, 1])
    else:
        out = tf.cond(
            channels >= 3,
            lambda: img[..., :3],
            lambda: tf.image.grayscale_to_rgb(img[..., :1]),
        )
        out.set_shape([None, None, 3])
    return out


def resize(image, image_size, *, mode: str = "stretch", antialias="auto") -> tf.Tensor:
    """Resize ``(H, W, C)`` to ``image_size`` (stretch) or letterbox it keeping aspect (pad).

    Args:
        image: float ``(H, W, C)`` in ``[0, 1]``.
        image_size: int or ``(height, width)``.
        mode: ``"stretch"`` or ``"pad"`` (black bars, aspect ratio kept).
        antialias: ``True``, ``False`` or ``"auto"``: low-pass filter only when a side
            shrinks more than 2x (large originals), where bilinear sampling would alias;
            plain bilinear otherwise, which is several times faster.

    Returns:
        float32 ``(height, width, C)`` in ``[0, 1]``.

    Example:
        >>> resize(tf.ones((20, 40, 1)), (10, 10), mode="pad")[:, :, 0].numpy()[[0, 5], 5]
        array([0., 1.], dtype=float32)
    """
    height, width = as_size(image_size)
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize={mode!r}; expected one of {list(RESIZE_MODES)}.")
    if antialias not in (True, False, "auto"):
        raise ValueError(f"antialias={antialias!r}; expected True, False or 'auto'.")

    def run(filtered: bool):
        if mode == "stretch":
            return tf.image.resize(image, (height, width), antialias=filtered)
        return tf.image.resize_with_pad(image, height, width, antialias=filtered)

    if antialias == "auto":
        shape = tf.shape(image)[:2]
        shrinks = tf.reduce_any(shape > tf.constant([2 * height, 2 * width]))
        out = tf.cond(shrinks, lambda: run(True), lambda: run(False))
    else:
        out = run(antialias)
    out.set_shape([height, width, image.shape[-1]])
    return tf.clip_by_value(out, 0.0, 1.0)


def _clahe_numpy(image: np.ndarray, clip_limit: float, grid: tuple[int, int]) -> np.ndarray:
    tool = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(int(grid[1]), int(grid[0])))
    u8 = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    if u8.shape[-1] == 1:
        out = tool.apply(np.ascontiguousarray(u8[..., 0]))[..., None]
    else:
        lab = cv2.cvtColor(u8, cv2.COLOR_RGB2LAB)
        lab[..., 0] = tool.apply(np.ascontiguousarray(lab[..., 0]))
        out = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    return out.astype(np.float32) / 255.0


def clahe(image, *, clip_limit: float = 2.0, tile_grid_size=(8, 8)) -> tf.Tensor:
    """Contrast-limited adaptive histogram equalisation (OpenCV) of one ``[0, 1]`` image.

    Works in graph mode (``tf.numpy_function``); the static shape is kept. RGB images
    are equalised on the L channel of CIELAB. Values are quantised to 8 bits.

    Args:
        image: float ``(H, W, 1)`` or ``(H, W, 3)`` in ``[0, 1]``.
        clip_limit: OpenCV's ``clipLimit``.
        tile_grid_size: ``(rows, cols)`` of tiles.

    Returns:
        float32 image, same shape, in ``[0, 1]``.

    Example:
        >>> x = tf.linspace(0.4, 0.6, 64)[None, :, None] * tf.ones((16, 1, 1))
        >>> y = clahe(x)
        >>> y.shape, float(tf.math.reduce_std(y)) > float(tf.math.reduce_std(x))
        (TensorShape([16, 64, 1]), True)
    """
    image = tf.convert_to_tensor(image, tf.float32)
    grid = tuple(int(g) for g in tile_grid_size)
    out = tf.numpy_function(
        lambda a: _clahe_numpy(a, clip_limit, grid), [image], tf.float32, stateful=False
    )
    out.set_shape(image.shape)
    return out


def normalize(images, normalization: str = "unit") -> tf.Tensor:
    """Map ``[0, 1]`` images to ``"unit"`` [0, 1], ``"imagenet"`` statistics or ``"none"`` [0, 255].

    Example:
        >>> float(normalize(tf.ones((1, 2, 2, 1)), "none")[0, 0, 0, 0])
        255.0
    """
    images = tf.convert_to_tensor(images, tf.float32)
    if normalization == "unit":
        return images
    if normalization == "none":
        return images * 255.0
    if normalization == "imagenet":
        mean, std = np.array(IMAGENET_MEAN), np.array(IMAGENET_STD)
        if images.shape[-1] == 1:
            mean, std = mean.mean(keepdims=True), std.mean(keepdims=True)
        return (images - mean.astype(np.float32)) / std.astype(np.float32)
    raise ValueError(f"normalization={normalization!r}; expected one of {list(NORMALIZATIONS)}.")
