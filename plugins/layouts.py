"""Built-in page layouts (segmenters) for ``digitocr read --layout``."""

from __future__ import annotations

from typing import Any

from digitocr import hookimpl
from digitocr.cells import segment_cell, segment_page_or_cell
from digitocr.segment import BUILTIN, segment_cheque


@hookimpl
def register_segmenters(register: Any) -> None:
    """auto, boxes, string, digit, cheque (``string`` and ``auto`` clean a cut cell first)."""
    layouts = {**BUILTIN, "auto": segment_page_or_cell, "string": segment_cell,
               "cheque": segment_cheque}
    for name, fn in layouts.items():
        register(name, fn)
