"""Which reader produced a record: digitocr's version, the model's name and the SHA-256 of its
files, the layout (``results.Provenance``), computed once per run and carried by every record."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from .backends import Classifier, StringReader, read_metadata, resolve_model_dir
from .errors import ModelError
from .results import Provenance
from .version import __version__

#: config keys of a combining model (``auto``) that name other model directories: their files
#: are read too, so they are part of what the checksum covers
MEMBER_KEYS = ("digits", "strings")
#: bytes read at a time while hashing
HASH_CHUNK = 1 << 20


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


@lru_cache(maxsize=16)
def _digest(directory: str, signature: tuple[tuple[str, int, int], ...]) -> str:
    """SHA-256 over each file's path below ``directory`` and its contents; ``signature``
    (paths, sizes, mtimes) keys the cache, so a model changed on disk is hashed again."""
    h = hashlib.sha256()
    root = Path(directory)
    for rel, _size, _mtime in signature:
        h.update(rel.encode("utf-8", "surrogateescape") + b"\0")
        with open(root / rel, "rb") as fh:
            while chunk := fh.read(HASH_CHUNK):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def directory_sha256(directory: Path) -> str:
    """SHA-256 of one model directory's files (cached while they do not change)."""
    try:
        sig = []
        for p in _files(directory):
            st = p.stat()
            sig.append((p.relative_to(directory).as_posix(), st.st_size, st.st_mtime_ns))
        return _digest(str(directory.resolve()), tuple(sig))
    except OSError as exc:
        raise ModelError(f"{directory}: cannot read the model's files "
                         f"({exc.strerror or exc})") from exc


def model_sha256(model: str | os.PathLike[str]) -> str:
    """SHA-256 of a model's files: its directory's, and for a combining model (``auto``) its
    members' too (one digest over the members' digests, in ``MEMBER_KEYS`` order)."""
    directory = resolve_model_dir(os.fspath(model))
    own = directory_sha256(directory)
    config: Any = read_metadata(directory).get("config", {})
    members = [config[k] for k in MEMBER_KEYS if isinstance(config.get(k), str)]
    if not members:
        return own
    h = hashlib.sha256(own.encode())
    for name in members:
        h.update(model_sha256(name).encode())
    return h.hexdigest()


def provenance(model: str | os.PathLike[str] | Classifier | StringReader,
               layout: str) -> Provenance:
    """The provenance of records read with ``model`` and ``layout``. A model object has no
    directory to hash: its metadata's ``name`` (else its backend) names it, with no checksum."""
    if isinstance(model, (Classifier, StringReader)):
        meta = getattr(model, "metadata", None) or {}
        name = meta.get("name") if isinstance(meta.get("name"), str) else model.backend
        return Provenance(__version__, str(name or type(model).__name__), None, layout)
    return Provenance(__version__, os.fspath(model), model_sha256(model), layout)
