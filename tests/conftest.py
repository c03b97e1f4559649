"""Shared fixtures: paths to the real data (skip cleanly when absent) and quiet TF logs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REAL_DATA = Path(os.environ.get("CXRKERAS_REAL_DATA", SHARED / "data" / "chest_xray"))
ASPECT_DATA = SHARED / "data" / "chest_xray_aspect"
WEIGHTS_DIR = SHARED / "weights"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real Kermany train/val tree; the test is skipped when it is absent."""
    if not (REAL_DATA / "train" / "NORMAL").is_dir():
        pytest.skip(f"real data not found at {REAL_DATA}")
    return REAL_DATA


@pytest.fixture(scope="session")
def aspect_data() -> Path:
    """Real train images with their true aspect ratio; skipped when absent."""
    if not (ASPECT_DATA / "train" / "NORMAL").is_dir():
        pytest.skip(f"aspect-ratio data not found at {ASPECT_DATA}")
    return ASPECT_DATA


@pytest.fixture(scope="session")
def weights_dir() -> Path:
    """Folder of real ImageNet weight files; skipped when absent."""
    if not WEIGHTS_DIR.is_dir():
        pytest.skip(f"weights folder not found at {WEIGHTS_DIR}")
    return WEIGHTS_DIR


@pytest.fixture(autouse=True, scope="module")
def _clear_keras_session():
    """Free graph memory between test modules (only once Keras has been imported)."""
    yield
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
