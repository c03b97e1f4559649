"""Tests for cxrkeras.autoencoders and cxrkeras.vae: shapes, ranges, learning, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from cxrkeras.autoencoders import (
    VAE,
    conv_autoencoder,
    efficientnet_autoencoder,
    encoder_of,
    transposed_autoencoder,
)
from cxrkeras.train import fit


def phantoms(n=16, height=16, width=12, channels=1, seed=0):
    """Phantom-like chest images: bright body, two dark lung ellipses, noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    images = np.empty((n, height, width, channels), dtype="float32")
    for i in range(n):
        img = np.full((height, width), 0.8)
        for cx in (0.3 * width, 0.7 * width):
            ry, rx = height * rng.uniform(0.3, 0.4), width * rng.uniform(0.15, 0.2)
            inside = ((yy - height / 2) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
            img[inside] = 0.2
        img += rng.normal(0, 0.03, img.shape)
        images[i] = np.clip(img, 0, 1)[..., None]
    return images


BUILDERS = {
    "conv": lambda shape: conv_autoencoder(shape),
    "transposed": lambda shape: transposed_autoencoder(shape, filters=(4, 8)),
    "efficientnet_small": lambda shape: efficientnet_autoencoder(
        shape, encoder="small", decoder_filters=(8, 4)
    ),
}


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_autoencoder_shape_range_learning_and_round_trip(kind, tmp_path):
    keras.utils.set_random_seed(0)
    x = phantoms(16)
    model = BUILDERS[kind](x.shape[1:])
    out = model.predict(x, verbose=0)
    assert out.shape == x.shape
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert all(not isinstance(layer, keras.Model) for layer in model.layers)  # flat graph

    h = fit(model, x, epochs=8, batch_size=4, learning_rate=0.01, verbose=0)
    assert h.history["loss"][-1] < 0.7 * h.history["loss"][0]

    path = tmp_path / f"{kind}.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_conv_autoencoder_has_report_b_layers():
    model = conv_autoencoder((16, 16, 1))
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [32, 16, 16, 32, 1]
    assert [c.activation.__name__ for c in convs] == ["relu"] * 4 + ["sigmoid"]
    drops = [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert drops == [0.2, 0.2]
    assert model.get_layer("encoded").output.shape == (None, 4, 4, 16)


def test_encoder_of_shares_weights_and_pools():
    model = transposed_autoencoder((16, 16, 1), filters=(4, 8))
    x = phantoms(4, 16, 16)
    enc = encoder_of(model)
    direct = keras.Model(model.inputs, model.get_layer("encoded").output)
    np.testing.assert_allclose(enc.predict(x, verbose=0), direct.predict(x, verbose=0))
    assert encoder_of(model, pooling="avg").output.shape == (None, 8)
    assert encoder_of(model, pooling="flatten").output.shape == (None, 4 * 4 * 8)
    with pytest.raises(ValueError, match=r"layer_name='nope' not found.*encoded"):
        encoder_of(model, layer_name="nope")


def test_builders_reject_bad_shapes_and_encoders():
    with pytest.raises(ValueError, match=r"divisible by 4.*18x10.*20x12"):
        conv_autoencoder((18, 10, 1))
    with pytest.raises(ValueError, match=r"divisible by 32"):
        efficientnet_autoencoder((48, 48, 1))
    with pytest.raises(ValueError, match=r"Valid encoders"):
        efficientnet_autoencoder((32, 32, 1), encoder="resnet")
    with pytest.raises(ValueError, match=r"needs 2 transposed"):
        efficientnet_autoencoder((16, 16, 1), encoder="small")
    with pytest.raises(ValueError, match=r"at least one"):
        transposed_autoencoder((16, 16, 1), filters=())


def test_efficientnet_b4_autoencoder_is_flat_and_reconstructs():
    model = efficientnet_autoencoder((32, 32, 1), decoder_filters=(8, 8, 8, 8, 8))
    assert model.get_layer("encoded").output.shape == (None, 1, 1, 1792)
    assert all(not isinstance(layer, keras.Model) for layer in model.layers)
    assert model.get_layer("stem_conv") is not None  # EfficientNet's own layers, inlined
    assert model.output.shape == (None, 32, 32, 1)
    assert model.get_layer("reconstruction").activation.__name__ == "sigmoid"


@pytest.mark.slow
def test_efficientnet_b4_autoencoder_predicts_in_range():
    model = efficientnet_autoencoder((32, 32, 1), decoder_filters=(8, 8, 8, 8, 8))
    out = model.predict(phantoms(2, 32, 32), verbose=0)
    assert out.shape == (2, 32, 32, 1) and 0.0 <= out.min() and out.max() <= 1.0


# ---------------------------------------------------------------- VAE


def small_vae(**kwargs):
    kwargs = {"latent_dim": 4, "encoder": "small", "hidden_units": (32,), "seed": 0, **kwargs}
    return VAE((16, 12, 1), **kwargs)


def test_vae_trains_with_plain_fit_and_reports_both_terms():
    keras.utils.set_random_seed(0)
    x = phantoms(32)
    xv = phantoms(8, seed=1)
    vae = small_vae()
    ds = tf.data.Dataset.from_tensor_slices(x).batch(8)
    val = tf.data.Dataset.from_tensor_slices((xv, np.zeros(8))).batch(8)  # labels ignored
    h = fit(vae, ds, val, epochs=10, learning_rate=0.01, verbose=0)
    for key in ("loss", "reconstruction_loss", "kl_loss", "val_reconstruction_loss", "val_kl_loss"):
        assert np.isfinite(h.history[key]).all(), key
    assert h.history["reconstruction_loss"][-1] < 0.5 * h.history["reconstruction_loss"][0]
    # loss = reconstruction + kl / pixels (default kl_weight), checked on validation
    expected = h.history["val_reconstruction_loss"][-1] + h.history["val_kl_loss"][-1] / (16 * 12)
    np.testing.assert_allclose(h.history["val_loss"][-1], expected, rtol=1e-4)
    out = vae.predict(x, verbose=0)
    assert out.shape == x.shape and 0.0 <= out.min() and out.max() <= 1.0


def test_vae_kl_term_pulls_posterior_to_prior():
    x = phantoms(16)
    strong = small_vae(kl_weight=1.0)
    strong.compile(optimizer=keras.optimizers.Adam(0.01))
    h = strong.fit(x, epochs=6, batch_size=8, verbose=0)
    assert h.history["kl_loss"][-1] < h.history["kl_loss"][0]
    assert h.history["kl_loss"][-1] >= 0.0


def test_vae_keras_round_trip_is_identical(tmp_path):
    x = phantoms(8)
    vae = small_vae()
    vae.compile(optimizer="adam")
    vae.fit(x, epochs=1, batch_size=4, verbose=0)
    path = tmp_path / "vae.keras"
    vae.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded, VAE) and loaded.get_config() == vae.get_config()
    np.testing.assert_allclose(loaded.encode(x), vae.encode(x), atol=1e-6)
    z = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(loaded.decode(z), vae.decode(z), atol=1e-6)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), vae.predict(x, verbose=0), atol=1e-6)
    enc = encoder_of(loaded)
    np.testing.assert_allclose(enc.predict(x, verbose=0), vae.encode(x), atol=1e-6)


def test_vae_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        VAE((16, 16), encoder="small")
    with pytest.raises(ValueError, match="latent_dim"):
        VAE((16, 16, 1), latent_dim=0, encoder="small")
    with pytest.raises(ValueError, match="Valid encoders"):
        VAE((16, 16, 1), encoder="vgg")


@pytest.mark.slow
def test_vae_efficientnet_b4_trains_one_step():
    x = phantoms(4, 32, 32)
    vae = VAE((32, 32, 1), latent_dim=8, hidden_units=(16,))
    h = fit(vae, tf.data.Dataset.from_tensor_slices(x).batch(2), epochs=1, verbose=0)
    assert np.isfinite(h.history["loss"]).all()
    assert vae.encode(x).shape == (4, 8)


def test_vae_trains_under_mixed_float16():
    # A Colab GPU runs the notebooks under mixed_float16: the VAE's own train_step must
    # mix float16 layers with its float32 sampling and loss.
    import keras
    import numpy as np

    from cxrkeras import fit
    from cxrkeras.autoencoders import VAE

    before = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        vae = VAE((16, 16, 1), latent_dim=4, encoder="small", seed=0)
        x = np.random.default_rng(0).random((8, 16, 16, 1), dtype=np.float32)
        history = fit(vae, (x, x), epochs=1, batch_size=4, verbose=0)
        assert np.isfinite(history.history["loss"][-1])
    finally:
        keras.mixed_precision.set_dtype_policy(before)
