"""Every bad input at the interactive entry points gets a clear answer: one table.

Each row is one mistake a new user makes (at the explainers, ``overlay``, ``evaluate``,
``load_run``, the command line, or with the image files themselves) and how cxrkeras
answers it: an exception of a given type whose message names the argument (and, for
the checks of the shared validator, says ``Received:``), a documented conversion that
gives the same result as the correct call, or a counted skip. None may end in a
TensorFlow or NumPy internal message or in a silent result.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

import cxrkeras
from cxrkeras.cli import main, startup_noise
from cxrkeras.runs import RunConfig, load_run, save_run

H, W = 24, 40
L = keras.layers
REPO = Path(__file__).resolve().parents[1]


def _net(channels: int = 1, *, rescale: bool = False, name: str = "net") -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((H, W, channels), name="image")
    x = L.Rescaling(1 / 255, name="to_unit")(inputs) if rescale else inputs
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="conv")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, L.Dense(1, activation="sigmoid", name="out")(x), name=name)


def _write(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(path.suffix, image)
    assert ok
    path.write_bytes(data.tobytes())
    return path


def _folder(root: Path, extra: dict[str, bytes | np.ndarray] | None = None) -> Path:
    """A NORMAL/PNEUMONIA folder of 4 + 4 readable JPEGs, plus ``extra`` files."""
    rng = np.random.default_rng(0)
    for label in ("NORMAL", "PNEUMONIA"):
        for i in range(4):
            image = rng.integers(0, 255, (30, 50), dtype=np.uint8)
            _write(root / label / f"IM-00{i}{len(label)}-0001.jpeg", image)
    for name, content in (extra or {}).items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        elif target.suffix == ".jpeg" and content.ndim == 3 and content.shape[-1] == 4:
            from PIL import Image  # a CMYK JPEG: OpenCV cannot write one

            size = (content.shape[1], content.shape[0])
            Image.frombytes("CMYK", size, content.tobytes()).save(target, format="JPEG")
        else:
            _write(target, content)
    return root


@pytest.fixture(scope="module")
def ctx(tmp_path_factory) -> dict[str, Any]:
    """Models, a run folder, images and data folders shared by every row."""
    root = tmp_path_factory.mktemp("inputs")
    gray, rgb, pixels = _net(1), _net(3, name="rgb"), _net(1, rescale=True, name="pixels")
    run = save_run(
        root / "run",
        gray,
        RunConfig("custom", (H, W), preprocessing={"normalization": "unit", "resize": "stretch"}),
    )
    loaded, _ = load_run(run)
    rng = np.random.default_rng(1)
    u8 = rng.integers(0, 256, (H, W, 1), dtype=np.uint8)
    ctx = {
        "root": root,
        "gray": gray,
        "rgb": rgb,
        "pixels": pixels,
        "run": run,
        "loaded": loaded,
        "u8": u8,
        "unit": u8.astype(np.float32) / 255.0,
        "data": _folder(root / "data"),
    }
    return ctx


def _copy_run(ctx, name: str) -> Path:
    target = ctx["root"] / f"run_{name}"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(ctx["run"], target)
    return target


def _edit_run_json(ctx, name: str, **changes) -> Path:
    run = _copy_run(ctx, name)
    raw = json.loads((run / "run.json").read_text())
    for key, value in changes.items():
        if value is _DROP:
            raw.pop(key, None)
        else:
            raw[key] = value
    (run / "run.json").write_text(json.dumps(raw))
    return run


def _raw_run_json(ctx, name: str, text: str) -> Path:
    run = _copy_run(ctx, name)
    (run / "run.json").write_text(text)
    return run


def _damage_model(ctx, name: str, how: str) -> Path:
    run = _copy_run(ctx, name)
    model = run / "model.keras"
    data = model.read_bytes()
    if how == "garbage":
        model.write_bytes(b"this is not a zip archive" * 10)
    elif how == "truncated":
        model.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        model.write_bytes(b"")
    elif how == "bitflip":  # a valid zip whose member fails its checksum
        with zipfile.ZipFile(model) as archive:
            info = max(archive.infolist(), key=lambda i: i.compress_size)
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
        middle = start + info.compress_size // 2
        model.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])
    return run


_DROP = object()


@dataclass
class Case:
    """One row: ``call(ctx)`` raises ``error`` naming ``names``, or passes ``check``."""

    id: str
    call: Callable[[dict], Any]
    error: type[BaseException] | None = None
    names: tuple[str, ...] = ()
    check: Callable[[Any, dict], None] | None = None
    received: bool = True  # the message has Keras' "Received:" part
    marks: tuple = field(default_factory=tuple)


def _same(expected: Callable[[dict], Any]) -> Callable[[Any, dict], None]:
    def check(result, ctx):
        np.testing.assert_allclose(result, expected(ctx), atol=1e-6)

    return check


def _skipped(count: int, n: int) -> Callable[[Any, dict], None]:
    def check(result, ctx):
        _, summary = result
        assert summary["skipped_files"] == count and summary["n"] == n

    return check


def _evaluate_folder(ctx, name: str, extra: dict) -> tuple:
    folder = _folder(ctx["root"] / f"data_{name}", extra)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = cxrkeras.evaluate_run(ctx["run"], folder, bootstrap=0)
    ctx.setdefault("warned", {})[name] = [str(w.message) for w in caught]
    return result


def _cli(*argv: str) -> Callable[[dict], Any]:
    def call(ctx):
        args = [a.format(**{k: v for k, v in ctx.items() if isinstance(v, (str, Path))})
                for a in argv]  # fmt: skip
        return main(args)

    return call


RGBA_OPAQUE = np.dstack([np.full((30, 50), v, np.uint8) for v in (60, 60, 60, 255)])
GRAY16 = np.full((30, 50), 40000, np.uint16)

# fmt: off
CASES = [
    # --- explainers: images ---
    Case("gradcam uint8 0-255, model of unknown range", lambda c: cxrkeras.gradcam(c["gray"], c["u8"]),
         ValueError, ("images", "/ 255.0")),
    Case("gradcam uint8 with a run's model: converted by run.json's preprocessing",
         lambda c: cxrkeras.gradcam(c["loaded"], c["u8"]),
         check=_same(lambda c: cxrkeras.gradcam(c["loaded"], c["unit"]))),
    Case("gradcam uint16 with a run's model: divided by 65535",
         lambda c: cxrkeras.gradcam(c["loaded"], c["u8"].astype(np.uint16) * 257),
         check=_same(lambda c: cxrkeras.gradcam(c["loaded"], c["unit"]))),
    Case("gradcam uint8 with a Rescaling(1/255) model: taken as pixels",
         lambda c: cxrkeras.gradcam(c["pixels"], c["u8"]),
         check=_same(lambda c: cxrkeras.gradcam(c["pixels"], c["u8"].astype(np.float32)))),
    Case("gradcam float 0-255 with a run's model", lambda c: cxrkeras.gradcam(c["loaded"], c["u8"] * 1.0),
         ValueError, ("images", "/ 255.0", "run.json")),
    Case("gradcam 3 colour channels for a 1-channel model",
         lambda c: cxrkeras.gradcam(c["gray"], np.random.default_rng(0).random((H, W, 3))),
         ValueError, ("images", "grayscale", "COLOR_RGB2GRAY")),
    Case("gradcam 3 equal channels for a 1-channel model: one kept",
         lambda c: cxrkeras.gradcam(c["gray"], np.repeat(c["unit"], 3, -1)),
         check=_same(lambda c: cxrkeras.gradcam(c["gray"], c["unit"]))),
    Case("gradcam 1 channel for a 3-channel model: repeated",
         lambda c: cxrkeras.gradcam(c["rgb"], c["unit"]),
         check=_same(lambda c: cxrkeras.gradcam(c["rgb"], np.repeat(c["unit"], 3, -1)))),
    Case("gradcam opaque RGBA for a 3-channel model: alpha dropped",
         lambda c: cxrkeras.gradcam(c["rgb"], np.dstack([np.repeat(c["unit"], 3, -1), np.ones((H, W))])),
         check=_same(lambda c: cxrkeras.gradcam(c["rgb"], np.repeat(c["unit"], 3, -1)))),
    Case("gradcam RGBA with a varying alpha",
         lambda c: cxrkeras.gradcam(c["rgb"], np.random.default_rng(0).random((H, W, 4))),
         ValueError, ("images", "alpha")),
    Case("gradcam image full of NaN", lambda c: cxrkeras.gradcam(c["gray"], np.full((H, W, 1), np.nan)),
         ValueError, ("images", "NaN")),
    Case("gradcam image with an infinite pixel",
         lambda c: cxrkeras.gradcam(c["gray"], np.where(np.eye(H, W)[..., None] > 0, np.inf, 0.5)),
         ValueError, ("images", "infinite")),
    Case("gradcam empty batch", lambda c: cxrkeras.gradcam(c["gray"], np.zeros((0, H, W, 1))),
         ValueError, ("images", "empty")),
    Case("gradcam image with no pixels", lambda c: cxrkeras.gradcam(c["gray"], np.zeros((0, W, 1))),
         ValueError, ("images", "no pixels")),
    Case("gradcam image of another size", lambda c: cxrkeras.gradcam(c["gray"], np.zeros((30, 50, 1))),
         ValueError, ("images", "cv2.resize", "24x40")),
    Case("gradcam transposed image", lambda c: cxrkeras.gradcam(c["gray"], np.zeros((W, H, 1))),
         ValueError, ("images", "transposed")),
    Case("gradcam grayscale batch without a channel axis",
         lambda c: cxrkeras.gradcam(c["gray"], np.zeros((5, H, W))), ValueError, ("images", "[..., None]")),
    Case("gradcam 5-D array", lambda c: cxrkeras.gradcam(c["gray"], np.zeros((2, 1, H, W, 1))),
         ValueError, ("images", "shape (2, 1, 24, 40, 1)")),
    Case("gradcam ragged list of images",
         lambda c: cxrkeras.gradcam(c["gray"], [np.zeros((H, W, 1)), np.zeros((H, 10, 1))]),
         ValueError, ("images", "np.stack")),
    Case("gradcam boolean mask as image", lambda c: cxrkeras.gradcam(c["gray"], np.ones((H, W, 1), bool)),
         TypeError, ("images", "mask")),
    Case("gradcam file name instead of pixels", lambda c: cxrkeras.gradcam(c["gray"], "xray.jpeg"),
         TypeError, ("images", "cv2.imread")),
    Case("gradcam arguments swapped", lambda c: cxrkeras.gradcam(c["unit"], c["gray"]),
         TypeError, ("model", "gradcam(model, images)")),
    Case("gradcam class_index out of range", lambda c: cxrkeras.gradcam(c["gray"], c["unit"], class_index=2),
         ValueError, ("class_index", "out of range")),
    Case("gradcam class_index a float", lambda c: cxrkeras.gradcam(c["gray"], c["unit"], class_index=1.0),
         ValueError, ("class_index",)),
    Case("gradcam batch_size 0", lambda c: cxrkeras.gradcam(c["gray"], c["unit"], batch_size=0),
         ValueError, ("batch_size",)),
    Case("gradcam_plus_plus uint8, model of unknown range",
         lambda c: cxrkeras.gradcam_plus_plus(c["gray"], c["u8"]), ValueError, ("images", "/ 255.0")),
    Case("activation_map uint8, model of unknown range",
         lambda c: cxrkeras.activation_map(c["gray"], c["u8"]), ValueError, ("image", "/ 255.0")),
    Case("activation_map NaN", lambda c: cxrkeras.activation_map(c["gray"], np.full((H, W, 1), np.nan)),
         ValueError, ("image", "NaN")),
    Case("activation_map normalize unknown",
         lambda c: cxrkeras.activation_map(c["gray"], c["unit"], normalize="max"), ValueError, ("normalize",)),
    # --- occlusion ---
    Case("occlusion patch larger than the image",
         lambda c: cxrkeras.occlusion(c["gray"], c["unit"], patch_size=64), ValueError, ("patch_size", "constant")),
    Case("occlusion patch the size of the image",
         lambda c: cxrkeras.occlusion(c["gray"], c["unit"], patch_size=(H, W)), ValueError, ("patch_size",)),
    Case("occlusion patch size 0", lambda c: cxrkeras.occlusion(c["gray"], c["unit"], patch_size=0),
         ValueError, ("patch_size",)),
    Case("occlusion stride larger than the patch",
         lambda c: cxrkeras.occlusion(c["gray"], c["unit"], patch_size=4, stride=6), ValueError, ("stride",)),
    Case("occlusion NaN baseline",
         lambda c: cxrkeras.occlusion(c["gray"], c["unit"], patch_size=4, baseline=float("nan")),
         ValueError, ("baseline",)),
    Case("occlusion NaN image", lambda c: cxrkeras.occlusion(c["gray"], np.full((H, W, 1), np.nan)),
         ValueError, ("images", "NaN")),
    Case("occlusion uint8, model of unknown range",
         lambda c: cxrkeras.occlusion(c["gray"], c["u8"], patch_size=4), ValueError, ("images", "/ 255.0")),
    # --- overlay ---
    Case("overlay heatmap of another aspect ratio",
         lambda c: cxrkeras.overlay(c["unit"], np.zeros((30, 30))), ValueError, ("heatmap", "stretch")),
    Case("overlay transposed heatmap", lambda c: cxrkeras.overlay(c["unit"], np.zeros((W, H))),
         ValueError, ("heatmap", "transposed")),
    Case("overlay heatmap at half resolution: resized (same aspect ratio)",
         lambda c: cxrkeras.overlay(c["unit"], np.eye(H // 2, W // 2)).shape,
         check=lambda result, c: result == (H, W, 3)),
    Case("overlay NaN heatmap", lambda c: cxrkeras.overlay(c["unit"], np.full((H, W), np.nan)),
         ValueError, ("heatmap", "NaN")),
    Case("overlay empty heatmap", lambda c: cxrkeras.overlay(c["unit"], np.zeros((0, 0))),
         ValueError, ("heatmap", "empty")),
    Case("overlay alpha as a string", lambda c: cxrkeras.overlay(c["unit"], np.zeros((H, W)), alpha="0.5"),
         TypeError, ("alpha",)),
    Case("overlay alpha above 1", lambda c: cxrkeras.overlay(c["unit"], np.zeros((H, W)), alpha=2),
         ValueError, ("alpha",)),
    Case("overlay unknown colormap", lambda c: cxrkeras.overlay(c["unit"], np.zeros((H, W)), cmap="rainbowz"),
         ValueError, ("cmap",)),
    Case("overlay RGBA image", lambda c: cxrkeras.overlay(np.zeros((H, W, 4)), np.zeros((H, W))),
         ValueError, ("image", "[..., :3]")),
    Case("overlay NaN image", lambda c: cxrkeras.overlay(np.full((H, W), np.nan), np.zeros((H, W))),
         ValueError, ("image", "NaN")),
    Case("overlay batch with fewer heatmaps",
         lambda c: cxrkeras.overlay(np.zeros((3, H, W, 1)), np.zeros((2, H, W))), ValueError, ("heatmap",)),
    Case("plot_explanations threshold as a string",
         lambda c: cxrkeras.plot_explanations(c["gray"], c["unit"], threshold="high"), TypeError, ("threshold",)),
    Case("plot_explanations default patch on a small image",
         lambda c: cxrkeras.plot_explanations(_net_small(), np.zeros((12, 16, 1)), methods=("occlusion",)),
         ValueError, ("patch_size",)),
    # --- evaluate and predictions ---
    Case("evaluate uint8 arrays, model of unknown range",
         lambda c: cxrkeras.evaluate(c["gray"], (np.repeat(c["u8"][None], 4, 0), np.array([0, 1, 0, 1]))),
         ValueError, ("data[0]", "/ 255.0")),
    Case("evaluate NaN images",
         lambda c: cxrkeras.evaluate(c["gray"], (np.full((4, H, W, 1), np.nan), np.array([0, 1, 0, 1]))),
         ValueError, ("data[0]", "NaN")),
    Case("evaluate empty arrays",
         lambda c: cxrkeras.evaluate(c["gray"], (np.zeros((0, H, W, 1)), np.zeros(0))), ValueError, ("empty",)),
    Case("evaluate images of another size",
         lambda c: cxrkeras.evaluate(c["gray"], (np.zeros((2, 30, 50, 1)), np.array([0, 1]))),
         ValueError, ("data[0]", "cv2.resize")),
    Case("evaluate unbatched dataset",
         lambda c: cxrkeras.evaluate(c["gray"], tf.data.Dataset.from_tensor_slices(
             (np.zeros((4, H, W, 1), "float32"), np.array([0.0, 1, 0, 1])))),
         ValueError, ("ds.batch",)),
    Case("evaluate dataset of RGB images for a grayscale model",
         lambda c: cxrkeras.evaluate(c["gray"], tf.data.Dataset.from_tensor_slices(
             (np.random.default_rng(0).random((4, H, W, 3), "float32"), np.array([0.0, 1, 0, 1]))).batch(2)),
         ValueError, ("images", "grayscale")),
    Case("evaluate_scores threshold 'high'",
         lambda c: cxrkeras.evaluate_scores([0, 1], [0.2, 0.8], threshold="high"), TypeError, ("threshold",)),
    Case("evaluate_scores threshold NaN",
         lambda c: cxrkeras.evaluate_scores([0, 1], [0.2, 0.8], threshold=float("nan")), ValueError, ("threshold",)),
    Case("evaluate_scores negative bootstrap",
         lambda c: cxrkeras.evaluate_scores([0, 1], [0.2, 0.8], bootstrap=-1), ValueError, ("bootstrap",)),
    Case("evaluate_run negative bootstrap",
         lambda c: cxrkeras.evaluate_run(c["run"], c["data"], bootstrap=-5), ValueError, ("bootstrap",)),
    # --- run folders ---
    Case("load_run model.keras garbage", lambda c: load_run(_damage_model(c, "garbage", "garbage")),
         ValueError, ("model.keras", "damaged"), received=False),
    Case("load_run model.keras truncated", lambda c: load_run(_damage_model(c, "truncated", "truncated")),
         ValueError, ("model.keras", "damaged"), received=False),
    Case("load_run model.keras zero bytes", lambda c: load_run(_damage_model(c, "empty", "empty")),
         ValueError, ("model.keras", "damaged", "0 bytes"), received=False),
    Case("load_run model.keras with a corrupt member", lambda c: load_run(_damage_model(c, "bitflip", "bitflip")),
         ValueError, ("model.keras", "damaged"), received=False),
    Case("run.json threshold 'high'", lambda c: load_run(_edit_run_json(c, "high", threshold="high")),
         ValueError, ("run.json", "threshold='high'"), received=False),
    Case("run.json threshold 1.5", lambda c: load_run(_edit_run_json(c, "t15", threshold=1.5)),
         ValueError, ("run.json", "threshold=1.5"), received=False),
    Case("run.json unknown key (typo)", lambda c: load_run(_edit_run_json(c, "typo", treshold=0.3)),
         ValueError, ("run.json", "unknown key 'treshold'"), received=False),
    Case("run.json missing model_name", lambda c: load_run(_edit_run_json(c, "noname", model_name=_DROP)),
         ValueError, ("run.json", "model_name"), received=False),
    Case("run.json image_size a string", lambda c: load_run(_edit_run_json(c, "size", image_size="224")),
         ValueError, ("run.json", "image_size"), received=False),
    Case("run.json unknown color_mode", lambda c: load_run(_edit_run_json(c, "colour", color_mode="rgba")),
         ValueError, ("run.json", "color_mode"), received=False),
    Case("run.json class_names of the wrong length",
         lambda c: load_run(_edit_run_json(c, "names", class_names=["a", "b", "c"])),
         ValueError, ("run.json", "class_names"), received=False),
    Case("run.json unknown preprocessing option",
         lambda c: load_run(_edit_run_json(c, "prep", preprocessing={"normalisation": "unit"})),
         ValueError, ("run.json", "preprocessing"), received=False),
    Case("run.json not JSON", lambda c: load_run(_raw_run_json(c, "notjson", "{'threshold': 0.5")),
         ValueError, ("run.json", "not valid JSON"), received=False),
    Case("run.json a list", lambda c: load_run(_raw_run_json(c, "list", "[1, 2]")),
         ValueError, ("run.json", "JSON object"), received=False),
    Case("run.json from a newer run format", lambda c: load_run(_edit_run_json(c, "fmt", format_version=99)),
         ValueError, ("run.json", "run format 99", "upgrade"), received=False),
    Case("run.json from a newer cxrkeras with new keys",
         lambda c: load_run(_edit_run_json(c, "newer", cxrkeras_version="9.0.0", calibration={})),
         ValueError, ("run.json", "newer cxrkeras 9.0.0", "upgrade"), received=False),
    Case("run.json from a newer cxrkeras, readable: loads with a warning",
         lambda c: _warns_newer(load_run, _edit_run_json(c, "newer_ok", cxrkeras_version="9.0.0")),
         check=lambda result, c: result == "cxrkeras 9.0.0"),
    Case("run folder whose training did not finish (no model yet)",
         lambda c: load_run(_unfinished(c, with_model=False)), FileNotFoundError, ("--resume",), received=False),
    Case("run folder whose training did not finish (no run.json)",
         lambda c: load_run(_unfinished(c, with_model=True)), ValueError, ("run.json", "--resume"), received=False),
    Case("run folder that does not exist", lambda c: load_run(c["root"] / "nowhere"),
         FileNotFoundError, ("No model at",), received=False),
    # --- image files at evaluate_run (the cases the data tests cover, at an entry point) ---
    Case("truncated JPEG: counted skip",
         lambda c: _evaluate_folder(c, "trunc", {"NORMAL/IM-0900-0001.jpeg": _jpeg_bytes()[:200]}),
         check=_skipped(1, 8)),
    Case("zero-byte JPEG: counted skip",
         lambda c: _evaluate_folder(c, "zero", {"PNEUMONIA/person9_virus_9.jpeg": b""}), check=_skipped(1, 8)),
    Case("corrupt JPEG (valid head and tail): counted skip",
         lambda c: _evaluate_folder(c, "corrupt", {"NORMAL/IM-0901-0001.jpeg": _corrupt_jpeg()}),
         check=_skipped(1, 8)),
    Case(".DS_Store in a class folder: counted skip",
         lambda c: _evaluate_folder(c, "dsstore", {"NORMAL/.DS_Store": b"\x00\x01junk"}),
         check=lambda result, c: result[1]["n"] == 8 and any(
             "skipped 1 non-image" in m for m in c["warned"]["dsstore"])),
    Case("RGBA PNG: alpha dropped", lambda c: _evaluate_folder(c, "rgba", {"NORMAL/IM-0902-0001.png": RGBA_OPAQUE}),
         check=_skipped(0, 9)),
    Case("16-bit PNG: scaled to [0, 1]", lambda c: _evaluate_folder(c, "png16", {"NORMAL/IM-0903-0001.png": GRAY16}),
         check=_skipped(0, 9)),
    Case("CMYK JPEG: decoded", lambda c: _evaluate_folder(
        c, "cmyk", {"NORMAL/IM-0904-0001.jpeg": np.full((30, 50, 4), 100, np.uint8)}), check=_skipped(0, 9)),
    Case("1x1 image: resized", lambda c: _evaluate_folder(
        c, "tiny", {"NORMAL/IM-0905-0001.png": np.full((1, 1), 90, np.uint8)}), check=_skipped(0, 9)),
    Case("6000x5000 image: resized with antialiasing", lambda c: _evaluate_folder(
        c, "huge", {"PNEUMONIA/person7_bacteria_7.jpeg": np.full((5000, 6000), 90, np.uint8)}),
         check=_skipped(0, 9)),
    Case("extra class folder", lambda c: _evaluate_folder(c, "extra", {"COVID19/x.jpeg": np.zeros((8, 8), np.uint8)}),
         ValueError, ("COVID19",), received=False),
    Case("empty class folder", lambda c: cxrkeras.evaluate_run(c["run"], _empty_class(c)),
         ValueError, ("PNEUMONIA holds no",), received=False),
    Case("no class folders", lambda c: cxrkeras.evaluate_run(c["run"], _no_classes(c)),
         ValueError, ("NORMAL or PNEUMONIA class folders",), received=False),
    # --- the command line: every value checked before any work, one line each ---
    Case("train --epochs -3", _cli("train", "--data", "{data}", "--out", "{root}/o1", "--epochs", "-3"),
         check=lambda rc, c: rc == 2),
    Case("train --epochs 0", _cli("train", "--data", "{data}", "--out", "{root}/o1", "--epochs", "0"),
         check=lambda rc, c: rc == 2),
    Case("train --image-size 5", _cli("train", "--data", "{data}", "--out", "{root}/o1", "--image-size", "5"),
         check=lambda rc, c: rc == 2),
    Case("train --image-size 100000",
         _cli("train", "--data", "{data}", "--out", "{root}/o1", "--image-size", "100000"),
         check=lambda rc, c: rc == 2),
    Case("train --batch-size 0", _cli("train", "--data", "{data}", "--out", "{root}/o1", "--batch-size", "0"),
         check=lambda rc, c: rc == 2),
    Case("train --time-budget -1", _cli("train", "--data", "{data}", "--out", "{root}/o1", "--time-budget", "-1"),
         check=lambda rc, c: rc == 2),
    Case("train --time-budget nan", _cli("train", "--data", "{data}", "--out", "{root}/o1", "--time-budget", "nan"),
         check=lambda rc, c: rc == 2),
    Case("train --alpha 0", _cli("train", "--data", "{data}", "--out", "{root}/o1", "--model", "mobilenet",
                                 "--alpha", "0"), check=lambda rc, c: rc == 2),
    Case("train --alpha with binary_cnn", _cli("train", "--data", "{data}", "--out", "{root}/o1",
                                               "--alpha", "0.25"), check=lambda rc, c: rc == 2),
    Case("train --weights missing file", _cli("train", "--data", "{data}", "--out", "{root}/o1",
                                              "--model", "mobilenet", "--weights", "{root}/no.h5"),
         check=lambda rc, c: rc == 2),
    Case("train --weights not .h5", _cli("train", "--data", "{data}", "--out", "{root}/o1", "--model",
                                         "mobilenet", "--weights", "{run}/run.json"), check=lambda rc, c: rc == 2),
    Case("train --seed -1", _cli("train", "--data", "{data}", "--out", "{root}/o1", "--seed", "-1"),
         check=lambda rc, c: rc == 2),
    Case("train --resume --overwrite", _cli("train", "--data", "{data}", "--out", "{root}/o1", "--resume",
                                            "--overwrite"), check=lambda rc, c: rc == 2),
    Case("train --data missing", _cli("train", "--data", "{root}/nodata", "--out", "{root}/o1"),
         check=lambda rc, c: rc == 2),
    Case("train --model unknown", _cli("train", "--data", "{data}", "--out", "{root}/o1", "--model", "resnet"),
         check=lambda rc, c: rc == 2),
    Case("train --out an existing run without --resume", _cli("train", "--data", "{data}", "--out", "{run}"),
         check=lambda rc, c: rc == 2),
    Case("evaluate --bootstrap -5", _cli("evaluate", "--model", "{run}", "--data", "{data}", "--bootstrap", "-5"),
         check=lambda rc, c: rc == 2),
    Case("evaluate --json a folder", _cli("evaluate", "--model", "{run}", "--data", "{data}", "--json", "{root}"),
         check=lambda rc, c: rc == 2),
    Case("evaluate --model missing", _cli("evaluate", "--model", "{root}/norun", "--data", "{data}"),
         check=lambda rc, c: rc == 2),
    Case("evaluate corrupt model.keras", lambda c: main(["evaluate", "--model", str(_damage_model(
        c, "cli_garbage", "garbage")), "--data", str(c["data"])]), check=lambda rc, c: rc == 2),
    Case("evaluate run.json threshold 'high'", lambda c: main(["evaluate", "--model", str(_edit_run_json(
        c, "cli_high", threshold="high")), "--data", str(c["data"])]), check=lambda rc, c: rc == 2),
    Case("explain --image missing", _cli("explain", "--model", "{run}", "--image", "{root}/no.jpeg",
                                         "--out", "{root}/e1"), check=lambda rc, c: rc == 2),
    Case("explain --out holds files", _cli("explain", "--model", "{run}", "--image", "{run}/run.json",
                                           "--out", "{data}"), check=lambda rc, c: rc == 2),
    Case("phantoms --num-images 0", _cli("phantoms", "--out", "{root}/p1", "--num-images", "0"),
         check=lambda rc, c: rc == 2),
    Case("phantoms --split ../x", _cli("phantoms", "--out", "{root}/p1", "--split", "../x"),
         check=lambda rc, c: rc == 2),
    Case("demo --epochs 0", _cli("demo", "--out", "{root}/d1", "--epochs", "0"), check=lambda rc, c: rc == 2),
]
# The flag (or word) each CLI row's one error line must name.
CLI_NAMES = {
    "train --epochs -3": "--epochs", "train --epochs 0": "--epochs",
    "train --image-size 5": "--image-size", "train --image-size 100000": "--image-size",
    "train --batch-size 0": "--batch-size", "train --time-budget -1": "--time-budget",
    "train --time-budget nan": "--time-budget", "train --alpha 0": "--alpha",
    "train --alpha with binary_cnn": "--alpha", "train --weights missing file": "--weights",
    "train --weights not .h5": "--weights", "train --seed -1": "--seed",
    "train --resume --overwrite": "--resume", "train --data missing": "--data",
    "train --model unknown": "--model", "train --out an existing run without --resume": "--out",
    "evaluate --bootstrap -5": "--bootstrap", "evaluate --json a folder": "--json",
    "evaluate --model missing": "--model", "evaluate corrupt model.keras": "damaged",
    "evaluate run.json threshold 'high'": "threshold='high'", "explain --image missing": "--image",
    "explain --out holds files": "--out", "phantoms --num-images 0": "--num-images",
    "phantoms --split ../x": "--split", "demo --epochs 0": "--epochs",
}
# fmt: on


def _net_small() -> keras.Model:
    inputs = keras.Input((12, 16, 1))
    x = L.GlobalAveragePooling2D()(L.Conv2D(2, 3, name="conv")(inputs))
    return keras.Model(inputs, L.Dense(1, activation="sigmoid")(x))


def _jpeg_bytes() -> bytes:
    return cv2.imencode(".jpeg", np.full((30, 50), 128, np.uint8))[1].tobytes()


def _corrupt_jpeg() -> bytes:
    data = _jpeg_bytes()
    return data[:20] + b"\x00" * (len(data) - 40) + data[-20:]


def _warns_newer(load, run: Path) -> str:
    with pytest.warns(UserWarning, match="newer cxrkeras 9.0.0") as record:
        load(run)
    return "cxrkeras 9.0.0" if "newer cxrkeras 9.0.0" in str(record[0].message) else ""


def _unfinished(ctx, *, with_model: bool) -> Path:
    run = _copy_run(ctx, f"unfinished_{with_model}")
    (run / "run.json").unlink()
    (run / "history.csv").write_text("epoch,loss\n0,0.7\n")
    if not with_model:
        (run / "model.keras").unlink()
    return run


def _empty_class(ctx) -> Path:
    folder = _folder(ctx["root"] / "data_empty_class")
    for path in (folder / "PNEUMONIA").iterdir():
        path.unlink()
    return folder


def _no_classes(ctx) -> Path:
    folder = ctx["root"] / "data_no_classes"
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "other").mkdir(exist_ok=True)
    return folder


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_bad_input_gets_a_clear_answer(case, ctx, capsys):
    if case.error is not None:
        with pytest.raises(case.error) as info:
            case.call(ctx)
        assert type(info.value) in (ValueError, TypeError, FileNotFoundError), type(info.value)
        message = str(info.value)
        for name in case.names:
            assert name in message, f"{name!r} not in: {message}"
        if case.received:
            assert "Received:" in message, message
        for internal in ("ufunc", "zero-size array", "InvalidArgumentError", "Traceback"):
            assert internal not in message
        return
    result = case.call(ctx)
    if case.id in CLI_NAMES:
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert result == 2 and lines, err
        assert all(line.startswith("cxrkeras ") and ": error: " in line for line in lines), err
        assert CLI_NAMES[case.id] in err, err
        assert "Traceback" not in err and "ufunc" not in err
        return
    outcome = case.check(result, ctx)
    assert outcome is None or outcome is True, outcome


def test_the_table_counts_its_cases():
    """The report quotes this number; every CLI row names its flag."""
    assert len(CASES) == 117
    assert {c.id for c in CASES if c.id in CLI_NAMES} == set(CLI_NAMES)


def test_several_bad_arguments_are_named_one_line_each(ctx, capsys):
    argv = ["train", "--data", str(ctx["root"] / "nodata"), "--out", str(ctx["root"] / "o2"),
            "--epochs", "-3", "--image-size", "7", "--time-budget", "0"]  # fmt: skip
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4 and all("Received:" in line for line in lines)
    for flag in ("--epochs", "--image-size", "--data", "--time-budget"):
        assert sum(line.split(". Received:")[0].count(flag) > 0 for line in lines) == 1, flag
    assert not (ctx["root"] / "o2").exists()


def test_nothing_of_the_user_is_changed_by_bad_calls(ctx):
    image = ctx["u8"].copy()
    before = {p: p.read_bytes() for p in ctx["run"].iterdir()}
    with pytest.raises(ValueError):
        cxrkeras.gradcam(ctx["gray"], image)
    np.testing.assert_array_equal(image, ctx["u8"])
    converted = cxrkeras.gradcam(ctx["loaded"], image)
    assert converted.shape == (H, W)
    np.testing.assert_array_equal(image, ctx["u8"])
    assert {p: p.read_bytes() for p in ctx["run"].iterdir()} == before


def test_evaluate_one_class_folder_says_in_one_line_which_figures_are_undefined(ctx, capsys):
    folder = _folder(ctx["root"] / "data_one_class")
    shutil.rmtree(folder / "PNEUMONIA")
    assert main(["evaluate", "--model", str(ctx["run"]), "--data", str(folder),
                 "--bootstrap", "20"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    notes = [line for line in captured.out.splitlines() if "undefined" in line and "lacks" in line]
    assert len(notes) == 1 and "ROC AUC" in notes[0]
    assert "lacks" not in captured.err  # said once, not again as a warning
    assert "warnings.warn" not in captured.err and ".py:" not in captured.err


def test_real_xray_uint8_from_cv2_is_converted_for_a_run_model(ctx, real_data, tmp_path):
    """A real X-ray as cv2.imread gives it (uint8 BGR, equal channels) for a run's model."""
    path = sorted((real_data / "train" / "PNEUMONIA").glob("*.jpeg"))[0]
    bgr = cv2.resize(cv2.imread(str(path)), (W, H))  # 3 equal channels, 0-255
    assert bgr.dtype == np.uint8 and bgr.shape == (H, W, 3)
    heat = cxrkeras.gradcam(ctx["loaded"], bgr)
    expected = cxrkeras.gradcam(ctx["loaded"], bgr[..., :1] / 255.0)
    np.testing.assert_allclose(heat, expected, atol=1e-6)
    with pytest.raises(ValueError, match="/ 255.0"):
        cxrkeras.gradcam(ctx["gray"], bgr)


# --- quiet start-up: the command line, never the library ---

_NOISE_SAMPLE = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1796685344.216901   16597 port.cc:153] oneDNN custom operations are on.\n"
    "I0000 00:00:1796685344.217320   16597 cudart_stub.cc:31] Could not find cuda drivers\n"
    "I0000 00:00:1796685344.378770   16597 cpu_feature_guard.cc:227] This TensorFlow binary\n"
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild "
    "TensorFlow with the appropriate compiler flags.\n"
)


def test_startup_noise_filter_keeps_real_lines():
    assert all(startup_noise(line) for line in _NOISE_SAMPLE.splitlines())
    cuinit = "E0000 00:00:1.5   16840 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR"
    assert startup_noise(cuinit, nvidia_driver=False)
    assert not startup_noise(cuinit, nvidia_driver=True)  # a broken driver is real news
    for real in ("cxrkeras train: UserWarning: skipped 1 file",
                 "E0000 00:00:1.5 1 some_op.cc:9] Out of memory while allocating",
                 "W0000 is not a log line"):  # fmt: skip
        assert not startup_noise(real)


def _run_python(code: str, env_level: str | None) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if env_level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = env_level
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=240, env=env, cwd=REPO)  # fmt: skip


def test_library_import_leaves_the_log_level_alone():
    done = _run_python(
        "import os, cxrkeras; print(repr(os.environ.get('TF_CPP_MIN_LOG_LEVEL')))", None
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "None"


CLI_STANDALONE = """
import importlib.util, os, sys
sys.argv = ["/usr/local/bin/cxrkeras", "models"]
spec = importlib.util.spec_from_file_location("cli_first", "cxrkeras/cli.py")
spec.loader.exec_module(importlib.util.module_from_spec(spec))  # what __init__ does first
print("level", os.environ.get("TF_CPP_MIN_LOG_LEVEL"))
from cxrkeras.cli import main
sys.exit(main(["models"]))
"""


def test_command_line_prints_no_tensorflow_startup_lines():
    """The CLI's start-up hook, run before TensorFlow is imported, as __init__ runs it."""
    loud = _run_python("import tensorflow as tf; tf.config.list_physical_devices()", None)
    noisy = [line for line in loud.stderr.splitlines() if startup_noise(line)]
    quiet = _run_python(CLI_STANDALONE, None)
    assert quiet.returncode == 0, quiet.stderr
    assert "level 2" in quiet.stdout and "best_binary" in quiet.stdout
    assert [line for line in quiet.stderr.splitlines() if line.strip()] == []
    if not noisy:
        pytest.skip("this TensorFlow build prints no start-up lines to filter")
    kept = _run_python(CLI_STANDALONE, "0")  # the user's own level is kept
    assert "level 0" in kept.stdout


def test_python_m_cxrkeras_prints_no_tensorflow_startup_lines():
    import os

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-m", "cxrkeras", "models"], capture_output=True,
                          text=True, timeout=240, env=env, cwd=REPO)  # fmt: skip
    assert "best_binary" in done.stdout
    assert [line for line in done.stderr.splitlines() if startup_noise(line)] == []


def test_feature_vector_models_take_their_batches_as_given():
    # A classifier on encoded features (notebook 03) takes (N, D) arrays, not images.
    import keras

    from cxrkeras import collect_predictions

    inp = keras.Input((32,))
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(inp))
    x = np.random.default_rng(0).random((149, 32), dtype=np.float32)
    y_true, scores = collect_predictions(model, (x, (x[:, 0] > 0.5).astype("float32")))
    assert scores.shape == (149, 1) and y_true.shape == (149,)
    x[3, 4] = np.nan
    with pytest.raises(ValueError, match="without NaN"):
        collect_predictions(model, (x, np.zeros(149, "float32")))
