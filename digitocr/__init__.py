"""digitocr: read handwritten digits on scanned documents."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from .version import __version__

if TYPE_CHECKING:
    from .reader import Reader
    from .results import PageResult

hookimpl = pluggy.HookimplMarker("digitocr")


def read(paths: str | Path | Iterable[str | Path], model: Any = "auto", layout: str = "auto",
         **options: Any) -> Iterator[PageResult]:
    """Read digits from one path or several (files, folders, ``-``); yields one PageResult per
    page, in order. A ``str`` is one path.

    The keyword options are those of ``digitocr.pipeline.read`` (``min_confidence``,
    ``template``, ``workers``, ``dpi``, ...).
    """
    from .pipeline import read as read_files

    return read_files(paths, model, layout, **options)


def __getattr__(name: str) -> Any:
    # ``digitocr.Reader`` loads the pipeline on first use, so ``import digitocr`` stays light
    if name == "Reader":
        from .reader import Reader

        return Reader
    raise AttributeError(f"module 'digitocr' has no attribute {name!r}")


__all__ = ["Reader", "__version__", "hookimpl", "read"]
