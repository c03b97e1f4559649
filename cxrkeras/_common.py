"""Conventions shared by every cxrkeras module: class names, label codes, image batches.

Label codes (everywhere in cxrkeras):

* binary: ``NORMAL = 0``, ``PNEUMONIA = 1`` (one sigmoid unit predicts PNEUMONIA);
* three-class: ``normal = 0``, ``bacteria = 1``, ``virus = 2``.

Images handed to models built by :mod:`cxrkeras.models` are float32 in ``[0, 1]``,
channels last; models that need another range (ImageNet backbones) convert inside.

Files that cxrkeras writes into run folders (models, ``run.json``, results) are written
by :func:`atomic_path` / :func:`atomic_write_text`: into a temporary file in the same
folder, then moved into place, so a process killed at any moment leaves either the old
file or the new one, never a truncated one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

BINARY_CLASSES: tuple[str, ...] = ("NORMAL", "PNEUMONIA")
THREE_CLASSES: tuple[str, ...] = ("normal", "bacteria", "virus")
LABEL_MODES: tuple[str, ...] = ("binary", "categorical", "three_class", "int", None)

# Each builder's input size and training recipe in its report.
MODEL_DEFAULTS: dict[str, tuple[int, str]] = {
    "binary_cnn": (150, "report_b"),
    "categorical_cnn": (150, "report_b"),
    "cnn_94": (100, "report_c"),
    "cnn_v2": (100, "report_c"),
    "efficientnet_transfer": (224, "report_c"),
    "convnet": (256, "report_a"),
    "vgg16": (224, "report_a"),
    "resnet50": (224, "report_a"),
    "densenet121": (224, "report_a"),
    "resnet18": (224, "report_d"),
    "alexnet": (224, "report_d"),
    "efficientnetb0": (224, "report_a"),
    "efficientnetb4": (224, "report_a"),
    "mobilenetv2": (224, "report_a"),
    "mobilenet": (224, "report_a"),
}
THREE_CLASS_MODELS = {"categorical_cnn"}


def class_names_for(num_classes: int) -> tuple[str, ...]:
    """Default class names for a head with ``num_classes`` outputs.

    A single sigmoid unit (``num_classes=1``) and two softmax units both mean
    NORMAL vs PNEUMONIA; three units mean normal / bacteria / virus.

    Example:
        >>> class_names_for(1)
        ('NORMAL', 'PNEUMONIA')
        >>> class_names_for(3)
        ('normal', 'bacteria', 'virus')
    """
    if num_classes in (1, 2):
        return BINARY_CLASSES
    if num_classes == 3:
        return THREE_CLASSES
    return tuple(f"class_{i}" for i in range(num_classes))


def as_batch(images) -> tuple[np.ndarray, bool]:
    """Return ``(batch, was_single)`` for one image ``(H, W, C)`` or a batch ``(B, H, W, C)``.

    A 2-D array ``(H, W)`` is taken as one grayscale image.

    Raises:
        ValueError: if the array is not 2-D, 3-D or 4-D.

    Example:
        >>> batch, single = as_batch(np.zeros((8, 6, 1)))
        >>> batch.shape, single
        ((1, 8, 6, 1), True)
    """
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim == 2:
        return arr[None, :, :, None], True
    if arr.ndim == 3:
        return arr[None], True
    if arr.ndim == 4:
        return arr, False
    raise ValueError(
        f"Expected one image (H, W, C) or a batch (B, H, W, C); got an array of shape "
        f"{arr.shape}. Add a channel axis for grayscale images: img[..., None]."
    )


def replace_fields(settings, overrides: dict, kind: str):
    """``dataclasses.replace`` that names unknown fields (``kind``: "recipe", "preset").

    Example:
        >>> from cxrkeras.recipes import get_recipe
        >>> replace_fields(get_recipe("report_b"), {"epochs": 2}, "recipe").epochs
        2
    """
    valid = [f.name for f in dataclasses.fields(settings)]
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(f"Unknown {kind} setting(s) {unknown}. Valid settings: {valid}.")
    return dataclasses.replace(settings, **overrides)


# ".run.1234.tmp.json": hidden, the writer's pid, and the target's suffixes kept last
# (Keras decides the format of model.save from ".keras" and wants ".weights.h5" whole).
_TEMPORARY = re.compile(r"^\..+\.\d+\.tmp(\.[A-Za-z0-9_-]+)*$")


def temporary_path(path: str | os.PathLike) -> Path:
    """The temporary file :func:`atomic_path` writes before it replaces ``path``.

    Example:
        >>> temporary_path("run/latest.weights.h5").name.endswith(".tmp.weights.h5")
        True
    """
    target = Path(path)
    suffixes = "".join(target.suffixes)
    stem = target.name[: len(target.name) - len(suffixes)] if suffixes else target.name
    if not stem:  # a name that is all suffixes, e.g. ".env"
        stem, suffixes = target.name, ""
    return target.with_name(f".{stem}.{os.getpid()}.tmp{suffixes}")


def is_temporary(name: str) -> bool:
    """True for the name of a temporary file left by :func:`atomic_path` (a killed writer).

    Example:
        >>> is_temporary(".model.4242.tmp.keras"), is_temporary("model.keras")
        (True, False)
    """
    return bool(_TEMPORARY.match(name))


def remove_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that killed writers left in ``folder`` (not recursive).

    Only names written by :func:`atomic_path` are touched; returns the removed paths.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / ".run.7.tmp.json").write_text("{")
        >>> [p.name for p in remove_temporaries(folder)]
        ['.run.7.tmp.json']
    """
    folder = Path(folder)
    removed = []
    if folder.is_dir():
        for path in folder.iterdir():
            if path.is_file() and is_temporary(path.name):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def _fsync_dir(folder: Path) -> None:
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def commit_temporary(tmp: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Flush the finished temporary file ``tmp`` to disk and rename it onto ``path``."""
    tmp, target = Path(tmp), Path(path)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    _fsync_dir(target.parent)
    return target


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` when the block ends.

    Write the whole file to the yielded path (``model.save(tmp)``, ``fig.savefig(tmp)``);
    on success it is flushed to disk and renamed over ``path`` in one step
    (``os.replace``), so a reader, or a process killed at any moment, sees either the
    old file or the new one. On an exception the temporary file is removed and
    ``path`` is left as it was. The temporary name keeps ``path``'s suffixes, so writers
    that pick a format from them (Keras, matplotlib) behave as for ``path``.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "notes.txt"
        >>> with atomic_path(target) as tmp:
        ...     _ = tmp.write_text("done")
        >>> target.read_text(), [p.name for p in target.parent.iterdir()]
        ('done', ['notes.txt'])
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(target)
    try:
        yield tmp
        commit_temporary(tmp, target)
    finally:
        if tmp.is_file():
            tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through :func:`atomic_path`; returns ``path``.

    Example:
        >>> import tempfile
        >>> atomic_write_text(Path(tempfile.mkdtemp()) / "a.json", "{}").read_text()
        '{}'
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)
