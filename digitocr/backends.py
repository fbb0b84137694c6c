"""Classifier and string-reader contracts, model directories (``metadata.json`` + files)."""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .errors import ModelError
from .results import StringReading

METADATA = "metadata.json"
FORMAT_VERSION = 1

Progress = Callable[[str], None]


@dataclass
class FitResult:
    """What ``Classifier.fit`` reports back: a per-epoch history (may be empty)."""

    history: dict[str, list[float]] = field(default_factory=dict)
    epochs: int = 0


class Classifier(ABC):
    """A digit classifier over MNIST-style images: float32 [N, 28, 28] in [0, 1], ink bright."""

    #: backend name, as registered through ``register_classifiers``
    backend: ClassVar[str] = ""
    #: the model directory's metadata, set by ``load_model``
    metadata: dict[str, Any]

    def __init__(self, **options: Any) -> None:
        self.options: dict[str, Any] = dict(options)
        #: what ``save`` reports of the files it wrote (the ONNX export's check), for metadata
        self.export_report: dict[str, Any] = {}

    @abstractmethod
    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        progress: Progress | None = None,
    ) -> FitResult:
        """Train on ``x`` (N, 28, 28) float32 and integer labels ``y``."""

    @abstractmethod
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities, float32 (N, 10), for a batch (N, 28, 28)."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the model's own files into ``directory`` (metadata is written by the caller)."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, options: dict[str, Any]) -> Classifier:
        """Load a model saved by ``save``; raise ``ModelError`` when the files are unusable."""

    @classmethod
    def export(cls, directory: Path) -> dict[str, Any] | None:
        """Write the ONNX file(s) reading runs from the directory's training files; return the
        export's check for the metadata (None: this backend runs no network)."""
        return None

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Most likely digit per image."""
        return np.asarray(self.predict_proba(x)).argmax(axis=1)


class StringReader(ABC):
    """Reads a whole digit string per crop (a field, a cheque amount) without cutting it.

    Crops are images as ``read`` sees them (gray or RGB, any size, ink dark on light by
    default); labels are digit strings (separators such as ``.`` ``,`` ``-`` are not in them).
    """

    #: backend name, as registered through ``register_string_readers``
    backend: ClassVar[str] = ""

    def __init__(self, **options: Any) -> None:
        self.options: dict[str, Any] = dict(options)
        self.metadata: dict[str, Any] = {}
        #: what ``save`` reports of the files it wrote (the ONNX export's check), for metadata
        self.export_report: dict[str, Any] = {}

    @abstractmethod
    def fit(
        self,
        crops: list[np.ndarray],
        labels: list[str],
        *,
        validation: tuple[list[np.ndarray], list[str]] | None = None,
        progress: Progress | None = None,
    ) -> FitResult:
        """Train on whole-string crops and their digit strings."""

    @abstractmethod
    def read_strings(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """``(digits, confidence in [0, 1])`` per crop, in one batched call."""

    def read_detailed(self, crops: list[np.ndarray], polarity: str = "auto") -> list[StringReading]:
        """Readings with coarse per-character spans when the backend has them (default: none)."""
        return [StringReading(text, conf) for text, conf in self.read_strings(crops)]

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the model's own files into ``directory`` (metadata is written by the caller)."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, options: dict[str, Any]) -> StringReader:
        """Load a model saved by ``save``; raise ``ModelError`` when the files are unusable."""

    @classmethod
    def export(cls, directory: Path) -> dict[str, Any] | None:
        """Write the ONNX file(s) reading runs from the directory's training files; return the
        export's check for the metadata (None: this backend runs no network)."""
        return None


#: what ``read`` accepts as a model: a digit classifier or a whole-string reader
Reader = Classifier | StringReader


def check_batch(x: np.ndarray) -> np.ndarray:
    """Validate and coerce a batch to float32 (N, 28, 28)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ModelError(f"expected a batch of 28x28 images, got shape {x.shape}")
    return x


def default_models_dir() -> Path:
    """Where named models live: ``$DIGITOCR_MODELS``, else the shipped ones (``digitocr/models``
    in an installed wheel, the checkout's ``models/`` in a source tree or an editable install)."""
    env = os.environ.get("DIGITOCR_MODELS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    installed = here / "models"
    return installed if installed.is_dir() else here.parent / "models"


def resolve_model_dir(name_or_path: str, models_dir: Path | None = None) -> Path:
    """Turn ``--model NAME|PATH`` into a model directory holding ``metadata.json``."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    if path.name == METADATA and path.is_file():
        return path.parent
    base = models_dir or default_models_dir()
    candidate = base / name_or_path
    if candidate.is_dir():
        return candidate
    available = sorted(p.name for p in base.glob("*") if (p / METADATA).is_file())
    hint = f" (available: {', '.join(available)})" if available else ""
    raise ModelError(f"no model named {name_or_path!r} in {base} and no such directory{hint}")


def read_metadata(directory: Path) -> dict[str, Any]:
    """Read and sanity-check a model directory's metadata."""
    meta_path = directory / METADATA
    if not meta_path.is_file():
        raise ModelError(f"{directory}: not a model directory (no {METADATA})")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{meta_path}: unreadable metadata ({exc})") from exc
    except RecursionError as exc:
        raise ModelError(f"{meta_path}: unreadable metadata (nested too deeply)") from exc
    if not isinstance(meta, dict) or "backend" not in meta:
        raise ModelError(f"{meta_path}: metadata has no 'backend' field")
    if not isinstance(meta["backend"], str) or not meta["backend"]:
        raise ModelError(f"{meta_path}: 'backend' must be a name (a string), "
                         f"not {meta['backend']!r:.40}")
    if not isinstance(meta.get("config", {}), dict):
        raise ModelError(f"{meta_path}: 'config' must be an object")
    version = meta.get("format_version", FORMAT_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelError(f"{meta_path}: 'format_version' must be a positive integer, "
                         f"not {version!r:.40}")
    if version > FORMAT_VERSION:
        raise ModelError(
            f"{meta_path}: format version {version} is newer than this digitocr supports"
        )
    return meta


def write_metadata(directory: Path, metadata: dict[str, Any]) -> None:
    """Write ``metadata.json`` atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (METADATA + ".tmp")
    tmp.write_text(json.dumps(metadata, indent=2, sort_keys=False, default=_json_default) + "\n")
    os.replace(tmp, directory / METADATA)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def load_model(name_or_path: str, models_dir: Path | None = None) -> Classifier:
    """Load a classifier directory (or a shipped model by name) through the registered backends."""
    model = load_reader(name_or_path, models_dir)
    if not isinstance(model, Classifier):
        raise ModelError(f"{name_or_path}: backend {model.backend!r} reads whole strings, "
                         "not single digits (use it with read --layout string)")
    return model


def load_string_reader(name_or_path: str, models_dir: Path | None = None) -> StringReader:
    """Load a string-reader model directory (or a shipped one by name)."""
    model = load_reader(name_or_path, models_dir)
    if not isinstance(model, StringReader):
        raise ModelError(f"{name_or_path}: backend {model.backend!r} is a digit classifier, "
                         "not a string reader")
    return model


def export_model(name_or_path: str, models_dir: Path | None = None) -> dict[str, Any] | None:
    """(Re)write a model directory's ONNX files and record the export in its metadata."""
    directory = resolve_model_dir(name_or_path, models_dir)
    meta = read_metadata(directory)
    report = _backend_class(directory, meta["backend"]).export(directory)
    if report is not None:
        write_metadata(directory, {**meta, "onnx": report})
    return report


def _backend_class(directory: Path, backend: str) -> type[Classifier] | type[StringReader]:
    from .plugins import get_classifiers, get_string_readers

    classifiers = get_classifiers()
    readers = get_string_readers()
    if backend in classifiers:
        return classifiers[backend]
    if backend in readers:
        return readers[backend]
    raise ModelError(
        f"{directory}: backend {backend!r} is not registered "
        f"(loaded: {', '.join(sorted({*classifiers, *readers}))})"
    )


def load_reader(name_or_path: str, models_dir: Path | None = None) -> Reader:
    """Load any model directory: the backend is looked up among classifiers, then string readers."""
    directory = resolve_model_dir(name_or_path, models_dir)
    meta = read_metadata(directory)
    options = dict(meta.get("config", {}))
    model: Reader = _backend_class(directory, meta["backend"]).load(directory, options)
    model.metadata = meta
    return model
