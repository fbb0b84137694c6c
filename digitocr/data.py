"""Labelled digit sources: MNIST IDX folders, ``.npz`` files, one-folder-per-digit trees, and
folders of string images with per-digit boxes (COCO).

Every source comes back as float32 (N, 28, 28) in [0, 1] with ink bright, plus uint8 labels.
MNIST is already MNIST-style; every other source goes through ``normalise``, the same function
``read`` applies to document crops. Digits cut from one string image share a group (its image),
so that splits keep a string's digits on one side.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .normalise import normalise_batch

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".pgm"}
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
ENV_VAR = "DIGITOCR_DATA"
#: how a COCO file of per-digit boxes is named (``digit-boxes.coco.json`` in ORAND-CAR)
COCO_SUFFIX = ".coco.json"
#: where a COCO file's images may be, relative to its folder
IMAGE_DIRS = (".", "images")


@dataclass
class Dataset:
    """Images (float32 N×28×28, ink bright, [0, 1]), labels (uint8) and where they came from."""

    x: np.ndarray
    y: np.ndarray
    source: str
    sha256: str
    #: per item, the image it was cut from (items of one group are split together); None when
    #: every item is its own image
    groups: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx: np.ndarray, suffix: str = "") -> Dataset:
        groups = None if self.groups is None else self.groups[idx]
        return Dataset(self.x[idx], self.y[idx], self.source + suffix, self.sha256, groups)


def _open_maybe_gz(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: corrupt or truncated gzip data ({exc})") from exc
    return raw


def _find(directory: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    raise DataError(f"{directory}: missing MNIST file {stem}(.gz)")


def _checksums(directory: Path) -> dict[str, str]:
    sums = directory / "SHA256SUMS"
    if not sums.is_file():
        return {}
    out = {}
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[1].lstrip("*").removesuffix(".gz")] = parts[0].lower()
    return out


def parse_idx(data: bytes, path: Path, expect_dims: int) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (magic 0x0000080D)."""
    if len(data) < 4:
        raise DataError(f"{path}: truncated IDX file ({len(data)} bytes)")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08 or ndim != expect_dims:
        raise DataError(
            f"{path}: wrong magic number 0x{data[:4].hex()} "
            f"(expected 0x000008{expect_dims:02x}, unsigned bytes with {expect_dims} dims)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    count = int(np.prod(dims))
    if len(data) - header != count:
        raise DataError(
            f"{path}: truncated or oversized IDX body: header says {count} bytes, "
            f"file has {len(data) - header}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist_dir(directory: Path, split: str = "train") -> Dataset:
    """Load one split of an MNIST IDX folder, verifying ``SHA256SUMS`` when present."""
    if split not in MNIST_FILES:
        raise DataError(f"unknown MNIST split {split!r} (train or test)")
    sums = _checksums(directory)
    arrays = []
    digest = hashlib.sha256()
    for stem, dims in zip(MNIST_FILES[split], (3, 1), strict=True):
        path = _find(directory, stem)
        data = _open_maybe_gz(path)
        actual = hashlib.sha256(data).hexdigest()
        if stem in sums and sums[stem] != actual:
            raise DataError(f"{path}: SHA-256 {actual[:12]}… does not match SHA256SUMS")
        digest.update(actual.encode())
        arrays.append(parse_idx(data, path, dims))
    images, labels = arrays
    _check_pair(images, labels, directory)
    x = images.astype(np.float32) / 255.0
    return Dataset(x, labels.astype(np.uint8), f"mnist:{split}", digest.hexdigest())


def _check_pair(images: np.ndarray, labels: np.ndarray, where: Path) -> None:
    if len(images) != len(labels):
        raise DataError(f"{where}: {len(images)} images but {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        bad = int(labels[(labels < 0) | (labels > 9)][0])
        raise DataError(f"{where}: label {bad} is not a digit 0-9")


def load_npz(path: Path) -> Dataset:
    """Load an ``.npz`` with ``images`` (N,H,W) and ``labels`` (N,)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = {"images", "labels"} - set(npz.files)
            if missing:
                raise DataError(f"{path}: missing array(s) {', '.join(sorted(missing))}")
            images, labels = npz["images"], npz["labels"]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz ({exc})") from exc
    if images.ndim not in (3, 4):
        raise DataError(f"{path}: images must be (N, H, W), got shape {images.shape}")
    labels = np.asarray(labels).reshape(-1)
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: labels must be integers, got {labels.dtype}")
    _check_pair(images, labels, path)
    x = normalise_batch(images)
    return Dataset(x, labels.astype(np.uint8), f"npz:{path.name}", _sha256_file(path))


def load_folder(directory: Path) -> Dataset:
    """Load ``directory/<digit>/*.png`` (one sub-folder per digit) through the normaliser."""
    import cv2

    crops, labels = [], []
    digest = hashlib.sha256()
    for digit in range(10):
        sub = directory / str(digit)
        if not sub.is_dir():
            continue
        for f in sorted(sub.iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            raw = f.read_bytes()
            digest.update(raw)
            img = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_GRAYSCALE)
            if img is None:
                raise DataError(f"{f}: not a readable image")
            crops.append(img)
            labels.append(digit)
    if not crops:
        raise DataError(f"{directory}: no images in digit sub-folders 0-9")
    return Dataset(
        normalise_batch(crops),
        np.asarray(labels, np.uint8),
        f"folder:{directory.name}",
        digest.hexdigest(),
    )


def coco_file(directory: Path) -> Path | None:
    """The folder's COCO file of per-digit boxes (``*.coco.json``), None when it has none."""
    found = sorted(directory.glob("*" + COCO_SUFFIX))
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise DataError(f"{directory}: several COCO files ({names}); keep one")
    return found[0] if found else None


def _coco_image(directory: Path, name: str) -> Path | None:
    for sub in IMAGE_DIRS:
        cand = directory / sub / name
        if cand.is_file():
            return cand
    return None


def load_coco(path: Path) -> Dataset:
    """Digits cut from string images by a COCO file's boxes (categories named ``0``-``9``).

    Each box is cut from the image's ink map (``segment.ink_map``, as the segmenters see a page)
    and normalised as ``read`` normalises a glyph. Errors name the file (and the image or
    annotation): bad JSON, an unknown category, a missing image, a box outside its image.
    """
    import cv2

    from .segment import ink_map

    directory = path.parent
    try:
        raw = path.read_bytes()
        coco = json.loads(raw)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(coco, dict) or not all(
            isinstance(coco.get(k), list) for k in ("images", "annotations", "categories")):
        raise DataError(f"{path}: not a COCO file (needs lists 'images', 'annotations', "
                        "'categories')")
    try:
        digits = {c["id"]: c["name"] for c in coco["categories"]}
        images = {im["id"]: im["file_name"] for im in coco["images"]}
        by_image: dict[Any, list[dict[str, Any]]] = {}
        for a in coco["annotations"]:
            by_image.setdefault(a["image_id"], []).append(a)
    except (KeyError, TypeError) as exc:
        raise DataError(f"{path}: a COCO entry lacks {exc}") from exc
    crops, labels, groups = [], [], []
    digest = hashlib.sha256(raw)
    for group, (image_id, anns) in enumerate(sorted(by_image.items(), key=lambda kv: str(kv[0]))):
        if image_id not in images:
            raise DataError(f"{path}: annotation {anns[0].get('id')} names image {image_id}, "
                            "which is not in 'images'")
        name = str(images[image_id])
        file = _coco_image(directory, name)
        if file is None:
            raise DataError(f"{path}: image {name} not found in {directory} or its images/")
        data = file.read_bytes()
        digest.update(data)
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise DataError(f"{file}: not a readable image")
        ink = ink_map(img)
        height, width = img.shape
        for a in anns:
            label = str(digits.get(a.get("category_id"), ""))
            if not (len(label) == 1 and label.isdigit()):
                raise DataError(f"{path}: annotation {a.get('id')} on {name}: category "
                                f"{a.get('category_id')!r} is not a digit 0-9")
            try:
                x, y, w, h = (round(float(v)) for v in a["bbox"])
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"{path}: annotation {a.get('id')} on {name}: no box "
                                "[x, y, width, height]") from exc
            if w < 1 or h < 1 or x < 0 or y < 0 or x + w > width or y + h > height:
                raise DataError(f"{path}: annotation {a.get('id')}: box {[x, y, w, h]} is "
                                f"outside {name} ({width}x{height})")
            crops.append(ink[y : y + h, x : x + w])
            labels.append(int(label))
            groups.append(group)
    if not crops:
        raise DataError(f"{path}: no digit boxes")
    from .normalise import normalise

    x_all = np.stack([normalise(c, polarity="bright") for c in crops]).astype(np.float32)
    return Dataset(x_all, np.asarray(labels, np.uint8), f"coco:{directory.name}",
                   digest.hexdigest(), np.asarray(groups, np.int64))


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_mnist_dir(path: Path) -> bool:
    return (path.is_dir() and any(
        (path / (MNIST_FILES["train"][0] + s)).is_file() for s in ("", ".gz")
    )) or any((path / (MNIST_FILES["test"][0] + s)).is_file() for s in ("", ".gz"))


def default_mnist_dir() -> Path | None:
    """``$DIGITOCR_DATA`` (an MNIST folder, or a folder holding ``mnist/``), if set."""
    env = os.environ.get(ENV_VAR)
    if not env:
        return None
    base = Path(env)
    for cand in (base, base / "mnist"):
        if is_mnist_dir(cand):
            return cand
    raise DataError(f"${ENV_VAR}={env}: no MNIST IDX files there or in its mnist/ folder")


def load_source(spec: str | Path | None, split: str = "train") -> Dataset:
    """Load ``--data``: an MNIST folder (``split`` picks train/test), an ``.npz``, or a digit tree.

    With no spec, MNIST comes from ``$DIGITOCR_DATA``, else from Keras's cache or download.
    """
    if spec is None or str(spec) == "mnist":
        directory = default_mnist_dir()
        if directory is not None:
            return load_mnist_dir(directory, split)
        return _keras_mnist(split)
    path = Path(spec)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.is_file():
        if path.suffix == ".npz":
            return load_npz(path)
        raise DataError(f"{path}: unsupported data file (expected .npz or a folder)")
    if is_mnist_dir(path):
        return load_mnist_dir(path, split)
    if (path / "mnist").is_dir() and is_mnist_dir(path / "mnist"):
        return load_mnist_dir(path / "mnist", split)
    coco = coco_file(path)
    if coco is not None:
        return load_coco(coco)
    if any((path / str(d)).is_dir() for d in range(10)):
        return load_folder(path)
    if (path / "labels.csv").is_file():
        raise DataError(f"{path}: labels.csv but no per-digit boxes (*{COCO_SUFFIX}): digit "
                        "classifiers train on digit boxes; a string reader (crnn) trains on "
                        "whole labelled strings")
    raise DataError(
        f"{path}: not an MNIST IDX folder, an .npz, a folder with digit sub-folders 0-9, or "
        f"one with per-digit boxes (*{COCO_SUFFIX})"
    )


def _keras_mnist(split: str) -> Dataset:  # pragma: no cover - needs the network
    from .kerasio import import_keras

    keras = import_keras()

    try:
        (xtr, ytr), (xte, yte) = keras.datasets.mnist.load_data()
    except Exception as exc:
        raise DataError(
            f"no MNIST given (--data or ${ENV_VAR}) and the download failed: {exc}"
        ) from exc
    x, y = (xtr, ytr) if split == "train" else (xte, yte)
    digest = hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()
    return Dataset(x.astype(np.float32) / 255.0, y.astype(np.uint8), f"mnist:{split}", digest)


def concat(datasets: list[Dataset]) -> Dataset:
    """Join several datasets; the digest covers every part, and groups stay apart."""
    if len(datasets) == 1:
        return datasets[0]
    digest = hashlib.sha256("".join(d.sha256 for d in datasets).encode()).hexdigest()
    groups = None
    if any(d.groups is not None for d in datasets):
        parts, offset = [], 0
        for d in datasets:
            g = np.arange(len(d)) if d.groups is None else d.groups - d.groups.min(initial=0)
            parts.append(g + offset)
            offset += int(g.max(initial=-1)) + 1
        groups = np.concatenate(parts).astype(np.int64)
    return Dataset(
        np.concatenate([d.x for d in datasets]),
        np.concatenate([d.y for d in datasets]),
        "+".join(d.source for d in datasets),
        digest,
        groups,
    )


def group_split(groups: np.ndarray, fraction: float, seed: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (kept, held-out) item indices holding out whole groups, about ``fraction`` of
    the items: the digits of one image never land on both sides."""
    rng = np.random.default_rng(seed)
    names, sizes = np.unique(groups, return_counts=True)
    order = rng.permutation(len(names))
    want = round(fraction * len(groups))
    held_names = names[order[: int(np.searchsorted(np.cumsum(sizes[order]), want) + 1)]]
    if len(held_names) == len(names) and len(names) > 1:
        held_names = held_names[:-1]  # keep something to train on
    held = np.isin(groups, held_names) if want else np.zeros(len(groups), bool)
    return np.flatnonzero(~held), np.flatnonzero(held)


def split_holdout(ds: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """A seeded split into (train, held-out): stratified, or by whole groups when it has them."""
    if not 0 < fraction < 1:
        return ds, ds.subset(np.arange(0), ":empty")
    if ds.groups is not None:
        train_idx, held_idx = group_split(ds.groups, fraction, seed)
        return ds.subset(train_idx, ":train"), ds.subset(held_idx, ":holdout")
    rng = np.random.default_rng(seed)
    held = []
    for digit in range(10):
        idx = np.flatnonzero(ds.y == digit)
        rng.shuffle(idx)
        held.append(idx[: round(len(idx) * fraction)])
    held_idx = np.sort(np.concatenate(held))
    train_idx = np.setdiff1d(np.arange(len(ds)), held_idx)
    return ds.subset(train_idx, ":train"), ds.subset(held_idx, ":holdout")
