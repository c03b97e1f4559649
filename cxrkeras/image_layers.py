"""Serializable input layers: grayscale to RGB and ImageNet preprocessing from [0, 1].

cxrkeras models take float32 images in ``[0, 1]``. ImageNet backbones expect three
channels and their family's ``preprocess_input`` applied to ``[0, 255]`` pixels, so the
builders put both steps inside the model, as plain layers (no ``Lambda``), and
``keras.saving.load_model(..., safe_mode=True)`` reloads them.

Modes of :class:`ImageNetPreprocessing` (``x`` in [0, 1]):

* ``"caffe"`` (VGG16, ResNet50): RGB -> BGR, ``255 * x`` minus the ImageNet BGR mean;
* ``"torch"`` (DenseNet121, ResNet-18, AlexNet): ``(x - mean) / std`` per RGB channel;
* ``"tf"`` (MobileNet, MobileNetV2): ``2 * x - 1``;
* ``"raw"`` (EfficientNet, which normalises inside): ``255 * x``.
"""

from __future__ import annotations

import keras
from keras import layers, ops

PREPROCESSING_MODES: tuple[str, ...] = ("caffe", "torch", "tf", "raw")
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN_RGB = (0.485, 0.456, 0.406)
_TORCH_STD_RGB = (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="cxrkeras")
class ImageNetPreprocessing(layers.Layer):
    """Map RGB images in ``[0, 1]`` to what an ImageNet backbone expects.

    Equal to ``keras.applications.<family>.preprocess_input(255 * x)`` for the family's
    ``mode``, as a weightless layer that serializes by its config.

    Args:
        mode: one of ``"caffe"``, ``"torch"``, ``"tf"``, ``"raw"`` (see the module).
        **kwargs: ``keras.layers.Layer`` arguments such as ``name``.

    Raises:
        ValueError: for an unknown ``mode``.

    Example:
        >>> import numpy as np
        >>> layer = ImageNetPreprocessing("tf")
        >>> np.asarray(layer(np.array([[[[0.0, 0.5, 1.0]]]], "float32"))).ravel().tolist()
        [-1.0, 0.0, 1.0]
    """

    def __init__(self, mode: str = "tf", **kwargs):
        super().__init__(**kwargs)
        if mode not in PREPROCESSING_MODES:
            raise ValueError(
                f"mode={mode!r} is not a preprocessing mode; expected one of "
                f"{list(PREPROCESSING_MODES)}."
            )
        self.mode = mode

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode == "tf":
            return x * 2.0 - 1.0
        if self.mode == "raw":
            return x * 255.0
        if self.mode == "caffe":
            x = ops.flip(x, axis=-1) * 255.0
            return x - ops.convert_to_tensor(_CAFFE_MEAN_BGR, dtype=x.dtype)
        mean = ops.convert_to_tensor(_TORCH_MEAN_RGB, dtype=x.dtype)
        std = ops.convert_to_tensor(_TORCH_STD_RGB, dtype=x.dtype)
        return (x - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config["mode"] = self.mode
        return config


def imagenet_input(inputs, mode: str, *, name: str):
    """Turn a ``[0, 1]`` input tensor into a preprocessed three-channel tensor.

    A one-channel tensor is repeated three times by a ``Concatenate`` layer named
    ``f"{name}_to_rgb"``; then :class:`ImageNetPreprocessing` named
    ``f"{name}_preprocess"`` is applied.

    Args:
        inputs: symbolic tensor ``(batch, H, W, 1 or 3)``.
        mode: preprocessing mode (see :data:`PREPROCESSING_MODES`).
        name: prefix of the two layer names.

    Returns:
        The symbolic ``(batch, H, W, 3)`` tensor.

    Raises:
        ValueError: if the input has neither 1 nor 3 channels.

    Example:
        >>> x = imagenet_input(keras.Input((8, 8, 1)), "torch", name="demo")
        >>> tuple(x.shape)
        (None, 8, 8, 3)
    """
    channels = inputs.shape[-1]
    if channels == 1:
        inputs = layers.Concatenate(axis=-1, name=f"{name}_to_rgb")([inputs, inputs, inputs])
    elif channels != 3:
        raise ValueError(
            f"ImageNet backbones take 1 (grayscale) or 3 (RGB) channels; got an input with "
            f"{channels} channels. Use input_shape=(H, W, 1) for X-rays."
        )
    return ImageNetPreprocessing(mode, name=f"{name}_preprocess")(inputs)
