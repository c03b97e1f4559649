"""Complete training presets: the best recipes cxrkeras knows for a CPU time budget.

A :class:`Preset` fixes every choice of a training run (input size, backbone and its
ImageNet weights, augmentation, class balancing, loss, optimiser and schedule, stopping
rule, ensemble size, threshold rule) so that one name reproduces it:

    cxrkeras train --data chest_xray --model best_binary --out runs/best

:data:`PRESETS` holds ``best_binary`` (NORMAL vs PNEUMONIA) and ``best_three_class``
(normal / bacteria / virus). Both fine-tune the whole MobileNet (width 0.25, ImageNet
weights): on two CPU cores one epoch over the Kermany train split takes about 40
seconds, so a 30-minute budget fits an ensemble of several fine-tuned networks. On a GPU
the ``gpu`` overrides (more epochs and members) are applied automatically; the time
budget still caps the run.

The measurements behind each choice are in ``benchmarks/README.md``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cxrkeras._common import replace_fields

# Where local ImageNet weight files are looked for, after CXRKERAS_WEIGHTS_DIR.
WEIGHT_DIRS: tuple[str, ...] = ("weights", os.path.join("..", "shared", "weights"))


@dataclass(frozen=True)
class Preset:
    """Every setting of a named training run.

    Attributes:
        name: The name given to ``cxrkeras train --model``.
        classes: ``"binary"`` or ``"three_class"``.
        backbone: A :data:`cxrkeras.backbones.BACKBONE_NAMES` family.
        alpha: Width multiplier of MobileNet / MobileNetV2.
        bn_momentum: Batch-norm momentum of the fine-tuned backbone (``None``: the
            family's own; see :func:`cxrkeras.transfer_classifier`).
        image_size: Input side in pixels.
        clahe: Equalise every image with CLAHE before the network, in training and
            wherever the run predicts (``False``, ``True`` or CLAHE settings; see
            :class:`cxrkeras.preprocessing.Preprocessing`).
        augment: ImageDataGenerator-style arguments for training images
            (:class:`cxrkeras.augment.Augmentation`).
        learning_rate: Peak learning rate of Adam.
        epochs: Epochs per ensemble member (cosine decay to zero over them).
        label_smoothing: Label smoothing of the cross-entropy.
        focal_gamma: ``None`` for plain cross-entropy; otherwise the focusing parameter
            of Keras' focal cross-entropy (class balance still comes from
            ``class_weight``).
        class_weight: ``"balanced"`` (inverse class frequency) or ``None``.
        members: Networks trained with different seeds and averaged.
        batch_size: Training batch size.
        threshold_method: The binary threshold rule (:func:`cxrkeras.choose_threshold`):
            ``"fixed"`` (0.5), or ``"youden"`` / ``"eer"`` chosen on validation patients.
        time_budget: Default wall-clock budget in seconds for the whole run.
        gpu: Overrides applied when TensorFlow sees a GPU.
        description: The choices, in words.
    """

    name: str
    classes: str = "binary"
    backbone: str = "mobilenet"
    alpha: float = 0.25
    bn_momentum: float | None = None
    image_size: int = 224
    clahe: bool | dict = False
    augment: dict = field(default_factory=dict)
    learning_rate: float = 1e-3
    epochs: int = 10
    label_smoothing: float = 0.0
    focal_gamma: float | None = None
    class_weight: str | None = "balanced"
    members: int = 1
    batch_size: int = 32
    threshold_method: str = "youden"
    time_budget: float = 1800.0
    gpu: dict = field(default_factory=dict)
    description: str = ""

    def replace(self, **overrides: Any) -> Preset:
        """Return a copy with some fields replaced.

        Raises:
            ValueError: if a key is not a field of :class:`Preset`.

        Example:
            >>> get_preset("best_binary").replace(epochs=2).epochs
            2
        """
        return replace_fields(self, overrides, "preset")

    def as_dict(self) -> dict:
        """The settings as JSON reads them back (tuples as lists), for ``run.json``."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=list))


# Geometric jitter including independent horizontal / vertical zoom (the aspect ratio of
# the original radiographs differs by class in Kermany's train split), and exposure.
ROBUST_AUGMENT: dict = {
    "rotation_range": 10,
    "width_shift_range": 0.1,
    "height_shift_range": 0.1,
    "zoom_range": (0.8, 1.25),
    "brightness_range": (0.7, 1.3),
}

PRESETS: dict[str, Preset] = {
    "best_binary": Preset(
        name="best_binary",
        classes="binary",
        augment=ROBUST_AUGMENT,
        epochs=8,
        members=2,
        threshold_method="fixed",
        gpu={"epochs": 16, "members": 5},
        description=(
            "NORMAL vs PNEUMONIA: MobileNet (width 0.25, ImageNet weights) fine-tuned end "
            "to end at 224 px; rotation, shift, independent x/y zoom and brightness "
            "augmentation; balanced class weights; Adam 1e-3 with cosine decay over 8 "
            "epochs; final weights (no early stopping); 2 members with different seeds, "
            "probabilities averaged; threshold 0.5, the equal-cost boundary under "
            "balanced class weights (thresholds fitted on the nearly separable "
            "validation patients ranged from 0.13 to 0.61 over three seeds)."
        ),
    ),
    "best_three_class": Preset(
        name="best_three_class",
        classes="three_class",
        augment=ROBUST_AUGMENT,
        epochs=10,
        members=2,
        gpu={"epochs": 20, "members": 5},
        description=(
            "normal / bacteria / virus: MobileNet (width 0.25, ImageNet weights) fine-tuned "
            "end to end at 224 px with a 3-way softmax; the augmentation of best_binary; "
            "balanced class weights; Adam 1e-3 with cosine decay over 10 epochs; 2 members "
            "averaged; the predicted class is the most probable one."
        ),
    ),
}


def get_preset(name: str | Preset, **overrides: Any) -> Preset:
    """Return the named preset, with ``overrides`` replacing some of its fields.

    Raises:
        ValueError: if the name is unknown or an override is not a preset field.

    Example:
        >>> p = get_preset("best_three_class", members=1)
        >>> p.classes, p.backbone, p.members
        ('three_class', 'mobilenet', 1)
    """
    if isinstance(name, Preset):
        preset = name
    elif isinstance(name, str) and name in PRESETS:
        preset = PRESETS[name]
    else:
        raise ValueError(f"Unknown preset {name!r}. Valid presets: {sorted(PRESETS)}.")
    return preset.replace(**overrides) if overrides else preset


def for_device(preset: Preset) -> Preset:
    """Apply the preset's ``gpu`` overrides when TensorFlow sees a GPU."""
    import tensorflow as tf

    if preset.gpu and tf.config.list_physical_devices("GPU"):
        return preset.replace(**preset.gpu)
    return preset


def weight_file_name(backbone: str, alpha: float = 1.0, size: int = 224) -> str:
    """The file name Keras gives the no-top ImageNet weights of a MobileNet family.

    Example:
        >>> weight_file_name("mobilenet", 0.25)
        'mobilenet_2_5_224_tf_no_top.h5'
        >>> weight_file_name("mobilenetv2", 1.0)
        'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5'
    """
    if backbone == "mobilenet":
        text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}.get(float(alpha))
        if text is None:
            raise ValueError(f"MobileNet has ImageNet weights for alpha 0.25-1.0; got {alpha}.")
        return f"mobilenet_{text}_{size}_tf_no_top.h5"
    if backbone == "mobilenetv2":
        return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{size}_no_top.h5"
    raise ValueError(f"No weight file naming known for {backbone!r}; pass weights= explicitly.")


def find_weights(backbone: str, alpha: float = 1.0) -> str:
    """A local copy of the backbone's ImageNet weights, or ``"imagenet"`` to download.

    Looks, in this order, in the folders of ``CXRKERAS_WEIGHTS_DIR`` (separated like
    ``PATH``), in Keras' own cache (``$KERAS_HOME/models`` or ``~/.keras/models``, where
    a download lands), in ``./weights`` and in ``../shared/weights``.

    Example:
        >>> find_weights("mobilenet", 0.25) in ("imagenet",) or find_weights(
        ...     "mobilenet", 0.25).endswith("mobilenet_2_5_224_tf_no_top.h5")
        True
    """
    name = weight_file_name(backbone, alpha)
    dirs = [d for d in os.environ.get("CXRKERAS_WEIGHTS_DIR", "").split(os.pathsep) if d]
    keras_home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    dirs += [os.path.join(keras_home, "models"), *WEIGHT_DIRS]
    for folder in dirs:
        candidate = Path(folder) / name
        if candidate.is_file():
            return str(candidate.resolve())
    return "imagenet"
