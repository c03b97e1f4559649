"""Helpers for the numbered notebooks: parameters from the environment, and the data.

Every notebook starts with a parameters cell. Papermill can inject values into it, and
environment variables override the defaults so CI and shell users need no papermill:

* ``CXRKERAS_SMOKE=1``: smoke mode (tiny phantom data, one epoch, small images);
* ``CXRKERAS_DATA_DIR``: a Kermany root, e.g. ``/content/chest_xray``;
* ``CXRKERAS_EPOCHS``, ``CXRKERAS_IMAGE_SIZE``, ``CXRKERAS_BATCH_SIZE``.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path


def env_param(name: str, default):
    """``CXRKERAS_<NAME>`` from the environment, converted to the type of ``default``.

    Unset or empty gives ``default``; ``none`` / ``null`` give ``None`` whatever the type.
    Booleans accept ``1/true/yes/y/on`` and ``0/false/no/n/off``; anything else, or a number
    that does not parse, raises ``ValueError`` naming the variable.

    Example:
        >>> env_param("NOT_SET_ANYWHERE", 10)
        10
        >>> os.environ["CXRKERAS_DEMO_FLAG"] = "1"; env_param("DEMO_FLAG", False)
        True
        >>> os.environ["CXRKERAS_DEMO_LIMIT"] = "none"; env_param("DEMO_LIMIT", 500) is None
        True
    """
    var = f"CXRKERAS_{name.upper()}"
    raw = os.environ.get(var)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip()
    if value.lower() in ("none", "null"):
        return None
    if isinstance(default, bool):
        flags = {"1": True, "true": True, "yes": True, "y": True, "on": True,
                 "0": False, "false": False, "no": False, "n": False, "off": False}  # fmt: skip
        if value.lower() not in flags:
            raise ValueError(f"{var}={raw!r} is not a yes/no value; use 1/0, true/false.")
        return flags[value.lower()]
    for kind in (int, float):
        if isinstance(default, kind):
            try:
                return kind(value)
            except ValueError:
                raise ValueError(
                    f"{var}={raw!r} is not a valid {kind.__name__} (default {default!r})."
                ) from None
    return raw


def resolve_data(
    data_dir: str | os.PathLike | None = None,
    *,
    smoke: bool = False,
    classes: str = "binary",
    num_images: int = 160,
    image_size: int = 64,
    seed: int = 0,
) -> Path:
    """The Kermany root a notebook should read.

    Smoke mode writes a few phantom X-rays to a temporary folder. Otherwise ``data_dir``
    is used when given; without it the data set is downloaded with ``kagglehub`` (as in
    Colab) when that works, and a clear message says what to do when it does not.

    Args:
        data_dir: A Kermany root (``train/``, maybe ``val/`` and ``test/``), or None.
        smoke: Use tiny phantom data instead.
        classes: ``"binary"`` or ``"three_class"`` phantoms (smoke mode).
        num_images: Phantoms to write (smoke mode).
        image_size: Phantom side in pixels (smoke mode).
        seed: Phantom seed (smoke mode).

    Returns:
        The folder to pass to :func:`cxrkeras.scan`.

    Raises:
        FileNotFoundError: if ``data_dir`` does not exist, or nothing could be downloaded.

    Example:
        >>> root = resolve_data(smoke=True, num_images=12, image_size=32)
        >>> sorted(p.name for p in (root / "train").iterdir())
        ['NORMAL', 'PNEUMONIA']
    """
    if smoke:
        from cxrkeras.phantoms import make_phantoms

        root = Path(tempfile.mkdtemp(prefix="cxrkeras_smoke_"))
        make_phantoms(
            root, num_images=num_images, image_size=image_size, classes=classes, seed=seed
        )
        return root
    if data_dir:
        root = Path(data_dir).expanduser()
        if not root.exists():
            raise FileNotFoundError(
                f"DATA_DIR={str(root)!r} does not exist. Point it at the folder that holds "
                "train/ (and maybe val/, test/) with NORMAL/ and PNEUMONIA/ inside; see "
                "data/README.md."
            )
        return root
    from cxrkeras.datasets import download_kermany

    try:
        return Path(download_kermany())
    except Exception as exc:  # network, credentials or a missing kagglehub all end here
        raise FileNotFoundError(
            "No DATA_DIR was given and the Kaggle download failed "
            f"({type(exc).__name__}: {exc}). Either set DATA_DIR (or CXRKERAS_DATA_DIR) to "
            "a local copy of the Kermany data (data/README.md says how to get it), install "
            "kagglehub (`pip install kagglehub`) where the internet is reachable, or set "
            "SMOKE = True to run on synthetic phantoms."
        ) from exc


def describe_mode(smoke: bool, data_root: Path) -> str:
    """One sentence saying what data this run uses, for the top of a notebook."""
    if smoke:
        return (
            f"SMOKE mode: tiny synthetic phantoms in {data_root}; the figures below "
            "show that the code runs, not how well the models work."
        )
    return f"Real data from {data_root}."


def warn_if_cpu(epochs: int) -> None:
    """Warn when a full (non-smoke) run starts on a machine without a GPU."""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU") and epochs > 2:
        warnings.warn(
            f"No GPU found: {epochs} epochs at full size will be slow on a CPU. In Colab, "
            "choose Runtime > Change runtime type > GPU, or set SMOKE = True.",
            stacklevel=2,
        )
