"""Built-in page layouts (segmenters) for ``digitocr read --layout``."""

from __future__ import annotations

from typing import Any

from digitocr import hookimpl
from digitocr.segment import BUILTIN


@hookimpl
def register_segmenters(register: Any) -> None:
    """auto, boxes, string, digit, cheque."""
    for name, fn in BUILTIN.items():
        register(name, fn)
