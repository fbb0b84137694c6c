"""digitocr: read handwritten digits on scanned documents."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .results import PageResult

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("digitocr")


def read(paths: Iterable[str | Path], model: Any = "cnn", layout: str = "auto",
         **options: Any) -> Iterator[PageResult]:
    """Read digits from files, folders or ``-``; yields one PageResult per page, in order.

    The keyword options are those of ``digitocr.pipeline.read`` (``min_confidence``,
    ``template``, ``workers``, ``dpi``, ...).
    """
    from .pipeline import read as read_files

    return read_files(paths, model, layout, **options)


__all__ = ["__version__", "hookimpl", "read"]
