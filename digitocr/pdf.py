"""PDF files to pages, rendered by poppler (pdf2image) one page at a time, each page's size
checked against the pixel limit before it is rendered."""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator
from typing import Any

from .errors import InputError
from .images import pil_to_array
from .pages import FileTimeout, Page


def pdfinfo(path: str, first: int | None = None, last: int | None = None,
            timeout: float | None = None) -> dict[str, Any]:
    """``pdfinfo``'s fields of the PDF at ``path`` (of pages ``first``..``last``: their sizes)."""
    from pdf2image import pdfinfo_from_path
    from pdf2image.exceptions import (
        PDFInfoNotInstalledError,
        PDFPageCountError,
        PDFPopplerTimeoutError,
        PDFSyntaxError,
    )

    try:
        pages: dict[str, Any] = {} if first is None else {"first_page": first, "last_page": last}
        return dict(pdfinfo_from_path(path, **pages, **_timeout_kw(timeout)))
    except PDFInfoNotInstalledError as exc:
        raise InputError("reading PDF needs poppler-utils (pdfinfo, pdftoppm) installed") from exc
    except PDFPopplerTimeoutError as exc:
        raise FileTimeout(f"{path}: pdfinfo timed out after {timeout:g} s") from exc
    except (PDFPageCountError, PDFSyntaxError, ValueError) as exc:
        text = str(exc)
        if "password" in text.lower() or "encrypt" in text.lower():
            raise InputError(f"{path}: encrypted PDF (password protected)") from exc
        raise InputError(f"{path}: broken or unreadable PDF ({_first_line(text)})") from exc


def _timeout_kw(timeout: float | None) -> dict[str, Any]:
    # pdf2image takes whole seconds; never round a short limit down to "none"
    return {} if not timeout else {"timeout": max(1, math.ceil(timeout))}


def pdf_page_sizes(info: dict[str, Any]) -> dict[int, tuple[float, float]]:
    """Page number → (width, height) in points, from ``pdfinfo -f 1 -l N``'s output."""
    sizes: dict[int, tuple[float, float]] = {}
    for key, value in info.items():
        m = re.fullmatch(r"Page\s+(\d+) size", key)
        if m:
            with contextlib.suppress(IndexError, ValueError):
                parts = str(value).split()
                sizes[int(m.group(1))] = (float(parts[0]), float(parts[2]))
    return sizes


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "unknown error"


def pdf_pages(path: str, name: str, *, dpi: int, max_pixels: int,
              gray: bool = False, timeout: float | None = None) -> Iterator[Page]:
    """The pages of the PDF at ``path`` (``name`` in messages), rendered one at a time."""
    from pdf2image import convert_from_path
    from pdf2image.exceptions import PDFPageCountError, PDFPopplerTimeoutError, PDFSyntaxError

    info = pdfinfo(path, timeout=timeout)
    if str(info.get("Encrypted", "no")).lower().startswith("yes"):
        raise InputError(f"{name}: encrypted PDF (password protected)")
    pages = int(info.get("Pages", 0) or 0)
    if pages <= 0:
        raise InputError(f"{name}: PDF has no pages")
    # every page's size, not only the first's: a later huge page must be refused before
    # pdftoppm renders it (into gigabytes, or a silent 1x1 image when it gives up)
    sizes = pdf_page_sizes(pdfinfo(path, 1, pages, timeout=timeout))
    for i in range(1, pages + 1):
        if i not in sizes:
            raise InputError(f"{name}: page {i} has no size (broken PDF)")
        _check_pdf_size(sizes[i], dpi, max_pixels, name, i)
        try:
            imgs = convert_from_path(path, dpi=dpi, first_page=i, last_page=i, grayscale=gray,
                                     **_timeout_kw(timeout))
        except PDFPopplerTimeoutError as exc:
            raise FileTimeout(f"{name}: page {i} timed out after {timeout:g} s "
                              "(--timeout-per-file)") from exc
        except (PDFPageCountError, PDFSyntaxError, OSError, ValueError) as exc:
            raise InputError(f"{name}: page {i} cannot be rendered ({exc})") from exc
        if not imgs:
            raise InputError(f"{name}: page {i} rendered no image")
        im = imgs[0]
        w, h = im.size
        if w * h > max_pixels:
            raise InputError(
                f"{name}: page {i} at {dpi} dpi is {w}x{h}, over the "
                f"{max_pixels / 1e6:.0f} Mpx limit (lower --dpi)"
            )
        yield Page(name, i, pil_to_array(im))


def _check_pdf_size(size: tuple[float, float], dpi: int, max_pixels: int, name: str,
                    page: int) -> None:
    w_pt, h_pt = size
    px = (w_pt / 72 * dpi) * (h_pt / 72 * dpi)
    if px > max_pixels * 1.05 or px < 1:
        raise InputError(
            f"{name}: page {page} at {dpi} dpi would be {px / 1e6:.0f} Mpx, over the "
            f"{max_pixels / 1e6:.0f} Mpx limit (lower --dpi)" if px >= 1 else
            f"{name}: page {page} is {w_pt:g} x {h_pt:g} pt: no pixels at {dpi} dpi"
        )
