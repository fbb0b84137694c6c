"""Files → pages: every image flavour (bit depths, palettes, alpha, CMYK, multi-page TIFF) and PDF.

Pages come out one at a time from a generator, as uint8 gray or RGB numpy arrays, so a 500-page
PDF never sits in memory at once. Anything that cannot be decoded raises ``InputError`` with a
one-line reason.

The work is in four modules, re-exported here: ``inputs`` (which files), ``pages`` (the page
and the limits), ``images`` (image files) and ``pdf`` (PDF files); this one sends each file to
its decoder.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError
from .images import QUIET_ENV, decode_image, image_pages, pil_to_array, quiet_decoders
from .images import loaded_libtiffs as _loaded_libtiffs
from .inputs import IMAGE_SUFFIXES, PDF_SUFFIXES, STDIN, check_path, expand_inputs
from .pages import DEFAULT_DPI, MAX_PIXELS, FileTimeout, Page, deadline
from .pdf import pdf_page_sizes, pdf_pages, pdfinfo

__all__ = [
    "DEFAULT_DPI",
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "PDF_SUFFIXES",
    "QUIET_ENV",
    "STDIN",
    "FileTimeout",
    "Page",
    "_loaded_libtiffs",
    "count_pages",
    "deadline",
    "decode_image",
    "expand_inputs",
    "load_bytes",
    "load_pages",
    "pdf_page_sizes",
    "pil_to_array",
    "quiet_decoders",
]


def count_pages(path: str) -> int | None:
    """Page count of a PDF or multi-page image without decoding pixels; None when unknown."""
    try:
        if _is_pdf_path(path):
            return int(pdfinfo(path)["Pages"])
        from PIL import Image

        with Image.open(path) as im:
            return int(getattr(im, "n_frames", 1))
    except Exception:
        return None


def load_pages(
    path: str | Path, *, dpi: int = DEFAULT_DPI, max_pixels: int = MAX_PIXELS,
    gray: bool = False, timeout: float | None = None, reduce_side: int | None = None,
) -> Iterator[Page]:
    """Yield the pages of one file (``-`` reads stdin), decoding one page at a time.

    ``gray=True`` decodes straight to gray where the format allows it (JPEG's luma plane, PDF
    pages rendered gray): several times faster than decoding colour for a reader that only
    looks at gray, and a third of the memory. Other pages come out gray or RGB as usual.
    ``reduce_side``: a gray JPEG page is decoded reduced (``images.image_pages``).
    """
    name = str(path)
    if name == STDIN:
        data = sys.stdin.buffer.read()
        yield from load_bytes(data, "<stdin>", dpi=dpi, max_pixels=max_pixels, gray=gray,
                              timeout=timeout, reduce_side=reduce_side)
        return
    p = Path(name)
    check_path(name)
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    if size == 0:
        raise InputError(f"{name}: empty file (0 bytes)")
    if head.startswith(b"%PDF"):
        yield from pdf_pages(name, name, dpi=dpi, max_pixels=max_pixels, gray=gray,
                             timeout=timeout)
        return
    with p.open("rb") as fh:
        yield from image_pages(fh, name, max_pixels=max_pixels, gray=gray,
                               reduce_side=reduce_side)


def load_bytes(data: bytes, name: str = "<bytes>", *, dpi: int = DEFAULT_DPI,
               max_pixels: int = MAX_PIXELS, gray: bool = False,
               timeout: float | None = None, reduce_side: int | None = None) -> Iterator[Page]:
    """Yield the pages of a file's contents held in memory (an image or a PDF)."""
    if not data:
        raise InputError(f"{name}: empty input (0 bytes)")
    if data.startswith(b"%PDF"):
        fd, tmp = tempfile.mkstemp(suffix=".pdf", prefix="digitocr-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            yield from pdf_pages(tmp, name, dpi=dpi, max_pixels=max_pixels, gray=gray,
                                 timeout=timeout)
        finally:
            os.unlink(tmp)
        return
    yield from image_pages(io.BytesIO(data), name, max_pixels=max_pixels, gray=gray,
                           reduce_side=reduce_side)


def _is_pdf_path(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(5).startswith(b"%PDF")
    except OSError:
        return False
