"""The Kermany chest X-ray folder layout: discovery, validation, labels, patient ids.

:func:`scan` turns a Kermany-style tree (``root/{train,val,test}/{NORMAL,PNEUMONIA}/*``)
into one table with a row per image; :func:`patient_split` re-splits it by patient;
:func:`leakage` and :func:`random_split_leakage` show why per-image splits leak;
:func:`download_kermany` fetches the real data with ``kagglehub``. The synthetic
phantoms that every tutorial starts from live in :mod:`cxrkeras.phantoms`.

Table columns (in this order): ``path`` (absolute str), ``split``, ``label``
(``"NORMAL"`` / ``"PNEUMONIA"``), ``subtype`` (``"normal"`` / ``"bacteria"`` /
``"virus"``, ``"unknown"`` for pneumonia files that name neither), ``patient_id`` and
``mask_path`` (the lesion mask ``<stem>.mask.png`` beside the image, else None).
"""

from __future__ import annotations

import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cxrkeras._common import BINARY_CLASSES
from cxrkeras.splits import leakage, patient_split, random_split_leakage

__all__ = [
    "COLUMNS",
    "download_kermany",
    "leakage",
    "patient_id_from_name",
    "patient_split",
    "random_split_leakage",
    "scan",
    "subtype_from_name",
]

COLUMNS: tuple[str, ...] = ("path", "split", "label", "subtype", "patient_id", "mask_path")
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpeg", ".jpg", ".png")
MASK_SUFFIX = ".mask.png"
KAGGLE_HANDLE = "paultimothymooney/chest-xray-pneumonia"
LAYOUT = "root/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg (or one split: root/{NORMAL,PNEUMONIA}/*)"

_PATIENT_PATTERNS = (
    re.compile(r"^(person\d+)_", re.IGNORECASE),  # person123_bacteria_4.jpeg
    re.compile(r"^(NORMAL\d*-IM-\d+)-", re.IGNORECASE),  # NORMAL2-IM-0927-0001.jpeg
    re.compile(r"^(IM-\d+)-", re.IGNORECASE),  # IM-0115-0001.jpeg
)
_SUBTYPE_PATTERN = re.compile(r"(?:^|[_\-])(bacteria|virus)(?=[_\-.]|$)", re.IGNORECASE)
_IGNORED_DIRS = ("__MACOSX",)


def patient_id_from_name(name: str) -> str | None:
    """Patient id encoded in a Kermany file name, or None for an unknown pattern.

    Example:
        >>> patient_id_from_name("person123_bacteria_4.jpeg")
        'person123'
        >>> patient_id_from_name("NORMAL2-IM-0927-0001.jpeg"), patient_id_from_name("x.png")
        ('NORMAL2-IM-0927', None)
    """
    for pattern in _PATIENT_PATTERNS:
        match = pattern.match(name)
        if match:
            return match.group(1)
    return None


def subtype_from_name(name: str, label: str) -> str:
    """``"normal"``, ``"bacteria"``, ``"virus"`` or ``"unknown"`` for one image.

    Example:
        >>> subtype_from_name("person45_virus_99.jpeg", "PNEUMONIA")
        'virus'
        >>> subtype_from_name("IM-0115-0001.jpeg", "NORMAL")
        'normal'
    """
    if label == "NORMAL":
        return "normal"
    match = _SUBTYPE_PATTERN.search(Path(name).stem)
    return match.group(1).lower() if match else "unknown"


def _subdirs(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name not in _IGNORED_DIRS
    )


def _class_dirs(folder: Path) -> dict[str, Path]:
    """Class folders (NORMAL / PNEUMONIA, any case) directly inside ``folder``."""
    return {p.name.upper(): p for p in _subdirs(folder) if p.name.upper() in BINARY_CLASSES}


def _find_splits(root: Path, depth: int = 3) -> tuple[Path, list[tuple[str, Path]]]:
    """``(data_root, [(split_name, split_folder), ...])`` for any accepted layout."""
    folder = root
    for _ in range(depth + 1):
        if _class_dirs(folder):
            return folder, [(folder.name, folder)]
        subdirs = _subdirs(folder)
        splits = [(p.name, p) for p in subdirs if _class_dirs(p)]
        if splits:
            others = [p.name for p in subdirs if not _class_dirs(p)]
            if others:
                warnings.warn(
                    f"scan: ignored folder(s) {others} in {folder}: they hold no NORMAL or "
                    f"PNEUMONIA folder (Kaggle's zip repeats the data set in a nested "
                    f"'chest_xray' copy; scanning it too would duplicate every image).",
                    stacklevel=3,
                )
            return folder, splits
        if len(subdirs) != 1:
            break
        folder = subdirs[0]
    raise ValueError(
        f"No NORMAL or PNEUMONIA class folders found under {root}. Expected the Kermany "
        f"layout {LAYOUT}. Point `root` at the folder that holds train/ and val/, or at "
        f"one split folder."
    )


def _list_split(split: str, folder: Path, skipped: dict[str, int]) -> list[dict]:
    unknown = [p.name for p in _subdirs(folder) if p.name.upper() not in BINARY_CLASSES]
    if unknown:
        raise ValueError(
            f"Unknown class folder(s) {unknown} in {folder}; expected only NORMAL and "
            f"PNEUMONIA ({LAYOUT}). Move other classes out of the tree or scan a copy "
            f"without them."
        )
    rows = []
    for label, class_dir in sorted(_class_dirs(folder).items()):
        names = sorted(os.listdir(class_dir))
        present = set(names)
        images = []
        for name in names:
            lower = name.lower()
            if lower.endswith(MASK_SUFFIX):
                skipped["masks"] += 1
            elif name.startswith(".") or not lower.endswith(IMAGE_EXTENSIONS):
                skipped["non_image"] += 1
            elif not (class_dir / name).is_file():
                skipped["non_image"] += 1
            else:
                images.append(name)
        if not images:
            raise ValueError(
                f"Class folder {class_dir} holds no .jpeg/.jpg/.png images. Expected "
                f"{LAYOUT}; remove the empty folder or put its images back."
            )
        for name in images:
            stem = Path(name).stem
            mask = stem + MASK_SUFFIX
            rows.append(
                {
                    "path": str((class_dir / name).absolute()),
                    "split": split,
                    "label": label,
                    "subtype": subtype_from_name(name, label),
                    "patient_id": patient_id_from_name(name),
                    "mask_path": str((class_dir / mask).absolute()) if mask in present else None,
                }
            )
    return rows


def _is_readable(path: str) -> bool:
    """True when the file decodes and is not truncated (JPEG EOI / PNG IEND present)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return False
    if data[:2] == b"\xff\xd8" and not data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9"):
        return False
    if data[:4] == b"\x89PNG" and b"IEND" not in data[-16:]:
        return False
    if len(data) == 0:
        return False
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return image is not None and image.size > 0


def _validate(table: pd.DataFrame, verbose: bool) -> pd.Series:
    workers = min(8, (os.cpu_count() or 2) + 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_is_readable, table["path"])
        ok = list(tqdm(results, total=len(table), desc="validate", disable=not verbose))
    return pd.Series(ok, index=table.index)


def scan(root: str | os.PathLike, *, validate: bool = False, verbose: bool = True) -> pd.DataFrame:
    """Table of every image in a Kermany-style folder tree, sorted by path.

    Accepts ``root/{train,val,test}/{NORMAL,PNEUMONIA}/*``, a single split folder
    ``root/{NORMAL,PNEUMONIA}/*`` (``split`` is then that folder's name), or a root with
    one extra top folder above the splits (Kaggle's ``chest_xray/chest_xray/...``,
    ``Pediatric Chest X-ray Pneumonia/{train,test}/...``). Files ending in
    ``.jpeg``/``.jpg``/``.png`` (any case) are images; ``<stem>.mask.png`` files are
    lesion masks and fill ``mask_path``; anything else (``.DS_Store``, ``Thumbs.db``,
    macOS ``._*`` files, text) is skipped and counted. Nothing is written.

    Args:
        root: folder to scan.
        validate: decode every image (in a thread pool) and leave out unreadable or
            truncated files, warning with their names.
        verbose: show a progress bar while validating.

    Returns:
        A DataFrame with columns ``path, split, label, subtype, patient_id, mask_path``;
        ``table.attrs["skipped"]`` counts ``non_image``, ``masks``, ``unreadable`` and
        ``unknown_patient`` files.

    Raises:
        FileNotFoundError: if ``root`` does not exist.
        ValueError: if no class folders are found, a class folder is empty, or a split
            holds a class folder other than NORMAL / PNEUMONIA.

    Example:
        >>> import tempfile
        >>> from cxrkeras.phantoms import make_phantoms
        >>> root = tempfile.mkdtemp()
        >>> _ = make_phantoms(root, num_images=8, image_size=32)
        >>> table = scan(root)
        >>> list(table.columns)
        ['path', 'split', 'label', 'subtype', 'patient_id', 'mask_path']
        >>> len(table), sorted(table.label.unique())
        (8, ['NORMAL', 'PNEUMONIA'])
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"Data folder {root} does not exist (or is not a folder). Expected the Kermany "
            f"layout {LAYOUT}; see data/README.md or call cxrkeras.download_kermany()."
        )
    skipped = {"non_image": 0, "masks": 0, "unreadable": 0, "unknown_patient": 0}
    rows = []
    for split, folder in _find_splits(root)[1]:
        rows.extend(_list_split(split, folder, skipped))
    table = pd.DataFrame(rows, columns=list(COLUMNS)).sort_values("path", ignore_index=True)
    # Keep None (not NaN) for images without a mask, whatever pandas infers.
    table["mask_path"] = pd.Series(
        [p if isinstance(p, str) else None for p in table["mask_path"]], dtype=object
    )
    if skipped["non_image"]:
        warnings.warn(
            f"scan: skipped {skipped['non_image']} non-image file(s) under {root} "
            f"(not .jpeg/.jpg/.png, or hidden files such as .DS_Store and ._*).",
            stacklevel=2,
        )
    unknown = table["patient_id"].isna()
    if unknown.any():
        skipped["unknown_patient"] = int(unknown.sum())
        example = Path(table.loc[unknown, "path"].iloc[0]).name
        warnings.warn(
            f"scan: {int(unknown.sum())} file name(s) match no Kermany pattern "
            f"(person123_bacteria_4, IM-0115-0001, NORMAL2-IM-0927-0001), e.g. {example!r}; "
            f"their file stem is used as patient_id, so each counts as its own patient.",
            stacklevel=2,
        )
        table.loc[unknown, "patient_id"] = [Path(p).stem for p in table.loc[unknown, "path"]]
    if validate and len(table):
        ok = _validate(table, verbose)
        if not ok.all():
            bad = [Path(p).name for p in table.loc[~ok, "path"]]
            skipped["unreadable"] = len(bad)
            shown = bad[:20] + (["..."] if len(bad) > 20 else [])
            warnings.warn(
                f"scan: left out {len(bad)} unreadable or truncated image(s): {shown}",
                stacklevel=2,
            )
            table = table.loc[ok].reset_index(drop=True)
    table.attrs["skipped"] = skipped
    table.attrs["root"] = str(root.absolute())
    return table


def find_root(folder: str | os.PathLike) -> Path:
    """The folder that holds the splits (or class folders) somewhere inside ``folder``.

    Follows single extra top folders (``chest_xray/``, ``Pediatric Chest X-ray
    Pneumonia/``) down to the first folder that holds ``train``/``test``/``val`` split
    folders or ``NORMAL``/``PNEUMONIA`` class folders.

    Raises:
        FileNotFoundError: if ``folder`` does not exist.
        ValueError: if no class folders are found.

    Example:
        >>> import tempfile
        >>> top = Path(tempfile.mkdtemp())
        >>> (top / "chest_xray" / "train" / "NORMAL").mkdir(parents=True)
        >>> find_root(top).name
        'chest_xray'
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"Folder {folder} does not exist.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _find_splits(folder)[0]


def download_kermany(dest: str | os.PathLike | None = None) -> Path:
    """Download Kermany's chest X-rays from Kaggle with ``kagglehub``; return the root.

    The download (about 1.2 GB) goes to kagglehub's cache, or to ``dest`` when given,
    and is reused on later calls. Anonymous downloads of this public data set usually
    work; otherwise set ``KAGGLE_USERNAME`` / ``KAGGLE_KEY`` or call
    ``kagglehub.login()``. Kaggle's archive repeats the data in a nested
    ``chest_xray/chest_xray`` copy; :func:`scan` reads one copy only.

    Args:
        dest: folder to download into; None uses kagglehub's cache (``~/.cache/kagglehub``
            or ``$KAGGLEHUB_CACHE``).

    Returns:
        The folder holding ``train/``, ``val/`` and ``test/``, ready for :func:`scan`.

    Raises:
        ImportError: if kagglehub is not installed (``pip install cxrkeras[kaggle]``).
        ValueError: if the download holds no Kermany layout.
    """
    try:
        import kagglehub
    except ImportError as error:
        raise ImportError(
            "download_kermany needs the optional kagglehub package: "
            "pip install cxrkeras[kaggle]  (or pip install kagglehub). Alternatively "
            "download https://www.kaggle.com/datasets/paultimothymooney/chest-xray-pneumonia "
            "by hand and pass its folder to cxrkeras.scan()."
        ) from error
    if dest is None:
        path = kagglehub.dataset_download(KAGGLE_HANDLE)
    else:
        Path(dest).expanduser().mkdir(parents=True, exist_ok=True)
        try:
            path = kagglehub.dataset_download(KAGGLE_HANDLE, output_dir=str(dest))
        except TypeError as error:
            raise ImportError(
                f"This kagglehub ({getattr(kagglehub, '__version__', '?')}) cannot download "
                f"into dest={str(dest)!r}; upgrade it (pip install -U kagglehub), or leave "
                f"dest=None and set KAGGLEHUB_CACHE to choose the cache folder."
            ) from error
    return find_root(path)
