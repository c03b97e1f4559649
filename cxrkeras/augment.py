"""Random affine augmentation that speaks ImageDataGenerator's language, fused into one warp.

``ImageDataGenerator`` applied rotation, shift, shear, zoom and flips one image at a time
with SciPy, and a stack of Keras ``Random*`` layers resamples the image once per layer.
Here every transform is composed into one 3x3 matrix per image, and the whole batch is
resampled by a single ``ImageProjectiveTransformV3`` call (or, in ``tf.data`` pipelines,
one ``tf.numpy_function`` running OpenCV's ``warpAffine``, which gives the same result
several times faster on a CPU).

Matrices map an *output* pixel ``(x, y, 1)`` (``x`` = column, ``y`` = row) to the input
position it is sampled from, as SciPy's ``affine_transform`` and TensorFlow do. Images
are float in ``[0, 1]`` when they are augmented (``make_dataset`` normalises afterwards).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np
import tensorflow as tf

FILL_MODES: tuple[str, ...] = ("nearest", "constant", "reflect", "wrap")
IMPLEMENTATIONS: tuple[str, ...] = ("tensorflow", "opencv")
_CV_BORDERS = {
    "nearest": cv2.BORDER_REPLICATE,
    "constant": cv2.BORDER_CONSTANT,
    "reflect": cv2.BORDER_REFLECT,
    "wrap": cv2.BORDER_WRAP,
}


@dataclass(frozen=True)
class Augmentation:
    """Random augmentation settings, with ImageDataGenerator's argument names.

    Args:
        rotation_range: Maximum rotation in degrees; the angle is drawn from
            ``[-rotation_range, rotation_range]``.
        width_shift_range: Maximum horizontal shift, as a fraction of the width
            (values ``>= 1`` are pixels, as in ImageDataGenerator).
        height_shift_range: Maximum vertical shift, as a fraction of the height
            (values ``>= 1`` are pixels).
        zoom_range: ``z`` for ``[1 - z, 1 + z]``, or ``[lo, hi]``; horizontal and vertical
            factors are drawn independently. As in ImageDataGenerator, a factor below 1
            enlarges the content.
        shear_range: Maximum shear angle in degrees.
        horizontal_flip: Mirror half of the images left-right.
        vertical_flip: Mirror half of the images top-bottom.
        brightness_range: ``[lo, hi]`` factors multiplying the pixel values (clipped to
            ``[0, 1]``), or ``None``.
        fill_mode: How to fill pixels from outside the image: ``"nearest"``,
            ``"constant"``, ``"reflect"`` or ``"wrap"``.
        cval: Fill value for ``fill_mode="constant"`` on the ``[0, 1]`` scale
            (ImageDataGenerator's ``cval`` is on the raw 0-255 scale: divide it by 255).

    Raises:
        ValueError: if a range is negative or a mode is unknown.

    Example:
        >>> Augmentation(rotation_range=10, zoom_range=0.1).zoom_bounds
        (0.9, 1.1)
    """

    rotation_range: float = 0.0
    width_shift_range: float = 0.0
    height_shift_range: float = 0.0
    zoom_range: float | tuple[float, float] = 0.0
    shear_range: float = 0.0
    horizontal_flip: bool = False
    vertical_flip: bool = False
    brightness_range: tuple[float, float] | None = None
    fill_mode: str = "nearest"
    cval: float = 0.0

    def __post_init__(self):
        for name in ("rotation_range", "width_shift_range", "height_shift_range", "shear_range"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(
                    f"{name}={value!r} is not supported; expected one non-negative number "
                    f"(e.g. {name}=0.1)."
                )
        self.zoom_bounds  # noqa: B018 (validates zoom_range)
        if self.brightness_range is not None:
            lo, hi = _pair("brightness_range", self.brightness_range)
            if not 0 <= lo <= hi:
                raise ValueError(
                    f"brightness_range={self.brightness_range!r}: expected [lo, hi] with "
                    f"0 <= lo <= hi, e.g. [0.8, 1.2]."
                )
        if self.fill_mode not in FILL_MODES:
            raise ValueError(f"fill_mode={self.fill_mode!r}; expected one of {list(FILL_MODES)}.")
        if not 0 <= float(self.cval) <= 1:
            raise ValueError(
                f"cval={self.cval!r} is outside [0, 1]. Images are augmented on the [0, 1] "
                f"scale; for an ImageDataGenerator cval on the 0-255 scale pass cval / 255."
            )

    @property
    def zoom_bounds(self) -> tuple[float, float]:
        """The zoom range as ``(lo, hi)``."""
        if isinstance(self.zoom_range, (int, float)) and not isinstance(self.zoom_range, bool):
            lo, hi = 1.0 - self.zoom_range, 1.0 + self.zoom_range
        else:
            lo, hi = _pair("zoom_range", self.zoom_range)
        if not 0 < lo <= hi:
            raise ValueError(
                f"zoom_range={self.zoom_range!r} gives factors [{lo}, {hi}]; expected "
                f"0 < lo <= hi (a float z < 1 or a pair such as [0.8, 1.2])."
            )
        return (float(lo), float(hi))

    @property
    def is_identity(self) -> bool:
        """True when no setting changes an image."""
        return self.warps is False and self.brightness_range is None

    @property
    def warps(self) -> bool:
        """True when a geometric transform (rotation, shift, zoom, shear, flip) is on."""
        return bool(
            self.rotation_range
            or self.width_shift_range
            or self.height_shift_range
            or self.shear_range
            or self.zoom_bounds != (1.0, 1.0)
            or self.horizontal_flip
            or self.vertical_flip
        )


def _pair(name, value) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r}: expected a pair [lo, hi].") from None
    return lo, hi


def as_augmentation(augment) -> Augmentation | None:
    """Coerce ``None``, a dict of ImageDataGenerator arguments or an :class:`Augmentation`.

    A ``rescale`` key equal to ``1/255`` is accepted and dropped (cxrkeras pipelines
    already give ``[0, 1]`` images), so a report's ImageDataGenerator arguments carry
    over unchanged.

    Raises:
        ValueError: for an unknown key (the message lists the valid ones) or a rescale
            other than 1/255.
        TypeError: for another type.

    Example:
        >>> as_augmentation({"rotation_range": 15, "horizontal_flip": True}).rotation_range
        15
    """
    if augment is None or isinstance(augment, Augmentation):
        return augment
    if not isinstance(augment, Mapping):
        raise TypeError(
            f"augment must be None, a dict of ImageDataGenerator arguments or an "
            f"Augmentation; got {type(augment).__name__}."
        )
    params = dict(augment)
    rescale = params.pop("rescale", None)
    if rescale is not None and not math.isclose(float(rescale), 1 / 255, rel_tol=1e-3):
        raise ValueError(
            f"rescale={rescale!r} in augment: only 1/255 is accepted (images are already "
            f"in [0, 1]). Choose the output range with normalization= instead."
        )
    valid = [f.name for f in dataclasses.fields(Augmentation)]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"Unknown augmentation argument(s) {unknown}; valid ones are {valid}.")
    return Augmentation(**params)


def affine_matrices(
    height: int,
    width: int,
    *,
    rotation=0.0,
    shift=(0.0, 0.0),
    zoom=(1.0, 1.0),
    shear=0.0,
    horizontal_flip=False,
    vertical_flip=False,
) -> tf.Tensor:
    """Compose rotation, shift, shear, zoom and flips into output-to-input 3x3 matrices.

    The order is ImageDataGenerator's: ``center @ rotation @ shift @ shear @ zoom @
    uncenter`` with the flips applied last to the image (first to output coordinates).
    Each argument is a scalar or a ``(B,)`` tensor (``shift`` and ``zoom`` are
    ``(x, y)`` pairs of those).

    Args:
        height: Image height in pixels.
        width: Image width in pixels.
        rotation: Rotation in degrees.
        shift: ``(dx, dy)`` in pixels; the content moves by ``(-dx, -dy)``.
        zoom: ``(zx, zy)`` factors; below 1 enlarges the content.
        shear: Shear angle in degrees.
        horizontal_flip: Mirror left-right (bool or bool tensor).
        vertical_flip: Mirror top-bottom.

    Returns:
        float32 tensor ``(B, 3, 3)`` (``B = 1`` for scalar arguments).

    Example:
        >>> m = affine_matrices(5, 7, shift=(2.0, 0.0))
        >>> m.numpy()[0].round(3).tolist()
        [[1.0, 0.0, 2.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """

    def vec(v):
        return tf.reshape(tf.cast(v, tf.float32), [-1])

    theta = vec(rotation) * (math.pi / 180.0)
    sh = vec(shear) * (math.pi / 180.0)
    dx, dy = vec(shift[0]), vec(shift[1])
    zx, zy = vec(zoom[0]), vec(zoom[1])
    fh = tf.cast(vec(horizontal_flip), tf.float32)
    fv = tf.cast(vec(vertical_flip), tf.float32)
    n = tf.reduce_max(tf.stack([tf.size(t) for t in (theta, sh, dx, dy, zx, zy, fh, fv)]))
    theta, sh, dx, dy, zx, zy, fh, fv = (
        tf.broadcast_to(t, [n]) for t in (theta, sh, dx, dy, zx, zy, fh, fv)
    )
    zeros, ones = tf.zeros([n]), tf.ones([n])

    def mat(rows):
        return tf.stack([tf.stack(r, axis=-1) for r in rows], axis=-2)

    cos, sin = tf.cos(theta), tf.sin(theta)
    rot = mat([[cos, sin, zeros], [-sin, cos, zeros], [zeros, zeros, ones]])
    move = mat([[ones, zeros, dx], [zeros, ones, dy], [zeros, zeros, ones]])
    skew = mat([[tf.cos(sh), zeros, zeros], [-tf.sin(sh), ones, zeros], [zeros, zeros, ones]])
    scale = mat([[zx, zeros, zeros], [zeros, zy, zeros], [zeros, zeros, ones]])
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    center = tf.constant([[1, 0, cx], [0, 1, cy], [0, 0, 1]], tf.float32)
    uncenter = tf.constant([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], tf.float32)
    sx, sy = 1 - 2 * fh, 1 - 2 * fv
    flip = mat(
        [[sx, zeros, fh * (width - 1)], [zeros, sy, fv * (height - 1)], [zeros, zeros, ones]]
    )
    return center @ rot @ move @ skew @ scale @ uncenter @ flip


def _warp_opencv(images, matrices, fill_mode, cval, height, width) -> np.ndarray:
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    out = np.empty((images.shape[0], height, width, images.shape[-1]), np.float32)
    for i, image in enumerate(images):
        m = matrices[min(i, len(matrices) - 1)]
        warped = cv2.warpAffine(
            image, m[:2] / m[2, 2], (width, height), flags=flags,
            borderMode=_CV_BORDERS[fill_mode], borderValue=(float(cval),) * 4,
        )  # fmt: skip
        out[i] = warped.reshape(height, width, -1)
    return out


def apply_affine(
    images,
    matrices,
    *,
    fill_mode: str = "nearest",
    cval: float = 0.0,
    output_size=None,
    implementation: str = "tensorflow",
) -> tf.Tensor:
    """Warp a batch ``(B, H, W, C)`` with output-to-input matrices ``(B, 3, 3)`` in one call.

    ``implementation="tensorflow"`` is one ``ImageProjectiveTransformV3`` op (pure
    graph, any device). ``"opencv"`` runs ``cv2.warpAffine`` per image through
    ``tf.numpy_function``: the same result (bilinear, same fill modes, within 1e-4;
    with ``"wrap"`` it also interpolates across the seam, where TensorFlow blends in
    zeros) several times faster on a CPU, which is where ``tf.data`` pipelines run, but not
    serialisable into a SavedModel.

    Args:
        images: float images, one batch.
        matrices: ``(B, 3, 3)`` or ``(1, 3, 3)`` (one matrix for the whole batch).
        fill_mode: ``"nearest"``, ``"constant"``, ``"reflect"`` or ``"wrap"``.
        cval: Fill value for ``"constant"``.
        output_size: ``(height, width)`` of the output; the input's size by default.
        implementation: ``"tensorflow"`` or ``"opencv"``.

    Returns:
        The warped float32 batch ``(B, height, width, C)`` (bilinear sampling).

    Example:
        >>> x = tf.random.uniform((2, 6, 5, 1))
        >>> y = apply_affine(x, affine_matrices(6, 5))
        >>> bool(tf.reduce_all(tf.abs(x - y) < 1e-6))
        True
    """
    if fill_mode not in FILL_MODES:
        raise ValueError(f"fill_mode={fill_mode!r}; expected one of {list(FILL_MODES)}.")
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"implementation={implementation!r}; expected one of {list(IMPLEMENTATIONS)}."
        )
    images = tf.convert_to_tensor(images, tf.float32)
    matrices = tf.convert_to_tensor(matrices, tf.float32)
    if implementation == "opencv":
        height, width = output_size or (images.shape[1], images.shape[2])
        if height is None or width is None:
            raise ValueError(f"implementation='opencv' needs a static size; got {images.shape}.")
        out = tf.numpy_function(
            lambda x, m: _warp_opencv(x, m, fill_mode, cval, height, width),
            [images, matrices], tf.float32, stateful=False,
        )  # fmt: skip
        out.set_shape([images.shape[0], height, width, images.shape[-1]])
        return out
    flat = tf.reshape(matrices / matrices[:, 2:3, 2:3], [-1, 9])[:, :8]
    flat = tf.broadcast_to(flat, [tf.shape(images)[0], 8])
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=flat,
        output_shape=tf.shape(images)[1:3] if output_size is None else list(output_size),
        fill_value=tf.cast(cval, tf.float32),
        interpolation="BILINEAR",
        fill_mode=fill_mode.upper(),
    )


def resize_matrix(source_size, output_size) -> tf.Tensor:
    """The output-to-input matrix of a plain bilinear resize (half-pixel centres), ``(1, 3, 3)``.

    Folding it into an augmentation matrix resizes and augments in one resampling.

    Example:
        >>> resize_matrix((300, 200), (150, 100)).numpy()[0].tolist()
        [[2.0, 0.0, 0.5], [0.0, 2.0, 0.5], [0.0, 0.0, 1.0]]
    """
    sy = source_size[0] / output_size[0]
    sx = source_size[1] / output_size[1]
    return tf.constant([[[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]]], tf.float32)


def random_matrices(
    augmentation: Augmentation, batch_size, height: int, width: int, seed
) -> tf.Tensor:
    """Draw ``(B, 3, 3)`` random matrices for ``augmentation`` from a stateless ``seed``.

    Args:
        augmentation: The settings.
        batch_size: Number of matrices (int or scalar tensor).
        height: Image height in pixels.
        width: Image width in pixels.
        seed: A stateless seed, shape ``(2,)`` integers.

    Returns:
        float32 ``(B, 3, 3)``.
    """
    a = augmentation
    u = tf.random.stateless_uniform([batch_size, 8], seed=seed)

    def sym(i, r):
        return (2.0 * u[:, i] - 1.0) * r

    def shift(i, r, size):
        return sym(i, r * size if r < 1 else r)

    zlo, zhi = a.zoom_bounds
    return affine_matrices(
        height,
        width,
        rotation=sym(0, float(a.rotation_range)),
        shift=(shift(1, a.width_shift_range, width), shift(2, a.height_shift_range, height)),
        zoom=(zlo + (zhi - zlo) * u[:, 3], zlo + (zhi - zlo) * u[:, 4]),
        shear=sym(5, float(a.shear_range)),
        horizontal_flip=(u[:, 6] < 0.5) & a.horizontal_flip,
        vertical_flip=(u[:, 7] < 0.5) & a.vertical_flip,
    )


def augment_batch(
    images, augment, *, seed=None, output_size=None, implementation: str = "tensorflow"
) -> tf.Tensor:
    """Apply random augmentation to a batch ``(B, H, W, C)`` of ``[0, 1]`` images.

    Geometry is one fused warp per image; brightness (if set) multiplies afterwards and
    clips to ``[0, 1]``, as ImageDataGenerator does.

    Args:
        images: float images in ``[0, 1]``, one batch (or one image ``(H, W, C)``).
        augment: ImageDataGenerator arguments (dict) or an :class:`Augmentation`.
        seed: ``None`` (random), an int, or a stateless seed tensor of shape ``(2,)``.
            The same seed gives the same output.
        output_size: ``(height, width)`` to resize to within the same warp (one
            resampling instead of a resize then a warp); the input's size by default.
        implementation: ``"tensorflow"`` (one graph op) or ``"opencv"`` (faster on a
            CPU); see :func:`apply_affine`.

    Returns:
        float32 tensor of the input's shape.

    Example:
        >>> x = tf.random.uniform((4, 16, 12, 1), seed=1)
        >>> y = augment_batch(x, {"rotation_range": 20, "zoom_range": 0.1}, seed=3)
        >>> y.shape, bool(tf.reduce_all(y == augment_batch(x, {"rotation_range": 20,
        ...     "zoom_range": 0.1}, seed=3)))
        (TensorShape([4, 16, 12, 1]), True)
    """
    aug = as_augmentation(augment) or Augmentation()
    images = tf.convert_to_tensor(images, tf.float32)
    single = images.shape.rank == 3
    if single:
        images = images[None]
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:
        raise ValueError(
            f"augment_batch needs a static image size; got shape {images.shape}. "
            f"Resize images to a fixed size first."
        )
    output_size = (height, width) if output_size is None else tuple(output_size)
    resizing = output_size != (height, width)
    if aug.is_identity and not resizing:
        return images[0] if single else images
    if seed is None:
        seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int64)
    elif isinstance(seed, (int, np.integer)):
        seed = tf.constant([int(seed), 0], tf.int64)
    seed = tf.cast(seed, tf.int64)
    batch = tf.shape(images)[0]
    out = images
    if aug.warps or resizing:
        mats = random_matrices(aug, batch, *output_size, seed)
        if resizing:
            mats = resize_matrix((height, width), output_size) @ mats
        out = apply_affine(
            out,
            mats,
            fill_mode=aug.fill_mode,
            cval=aug.cval,
            output_size=output_size,
            implementation=implementation,
        )
    if aug.brightness_range is not None:
        lo, hi = aug.brightness_range
        factor = tf.random.stateless_uniform(
            [batch, 1, 1, 1], seed=seed + tf.constant([0, 1], tf.int64), minval=lo, maxval=hi
        )
        out = tf.clip_by_value(out * factor, 0.0, 1.0)
    out.set_shape([images.shape[0], *output_size, images.shape[-1]])
    return out[0] if single else out
