"""``digitocr.Reader``: load a model once, then read files, bytes and arrays in this process.

For ETL code that reads documents as they arrive (a queue consumer, a per-file hook): the
model and options are checked and loaded at construction, so each call pays only for the
page itself. Records are those of ``digitocr.read``; a page that cannot be read comes back as
a record with ``error`` set, never as an exception.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .backends import Reader as Model
from .io import expand_inputs
from .pipeline import (
    DEFAULT_MODEL,
    read_file,
    read_image,
    read_options,
    resolve_classifier,
    review_threshold,
)
from .results import PageResult


class Reader:
    """A loaded model and reading options; ``read``, ``read_bytes`` and ``read_image``.

    ``model`` is a shipped model's name, a model directory or a loaded model; the keyword
    options are those of ``digitocr.read`` (``min_confidence=None``: the model's own review
    threshold). Not for sharing between threads: give each thread its own ``Reader``.
    """

    def __init__(self, model: str | Path | Model = DEFAULT_MODEL, layout: str = "auto", *,
                 min_confidence: float | None = None, **options: Any) -> None:
        from .provenance import provenance

        self.provenance = provenance(model, layout)
        self.model: Model = resolve_classifier(model)
        if min_confidence is None:
            min_confidence = review_threshold(self.model)
        self.options = read_options(layout, min_confidence=min_confidence, **options)

    def read(self, paths: str | Path | Iterable[str | Path]) -> list[PageResult]:
        """Every page of one path or several (folders expand; a ``str`` is one path)."""
        files = expand_inputs(paths)
        return self._mark([page for f in files for page in read_file(f, self.model,
                                                                      self.options)])

    def read_bytes(self, data: bytes, name: str = "<bytes>") -> list[PageResult]:
        """Every page of a file's contents in memory (PNG, JPEG, TIFF, PDF, ...)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"read_bytes takes bytes, not {type(data).__name__}")
        return self._mark(list(read_file(name, self.model, self.options, data=bytes(data))))

    def read_image(self, image: np.ndarray, name: str = "<array>") -> PageResult:
        """One page held as an array: gray (H, W) or RGB (H, W, 3), uint8, uint16 or float."""
        return self._mark([read_image(image, self.model, self.options, name)])[0]

    def _mark(self, pages: list[PageResult]) -> list[PageResult]:
        for page in pages:
            page.provenance = self.provenance
        return pages
