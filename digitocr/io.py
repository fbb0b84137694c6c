"""Files → pages: every image flavour (bit depths, palettes, alpha, CMYK, multi-page TIFF) and PDF.

Pages come out one at a time from a generator, as uint8 gray or RGB numpy arrays, so a 500-page
PDF never sits in memory at once. Anything that cannot be decoded raises ``InputError`` with a
one-line reason.
"""

from __future__ import annotations

import contextlib
import errno
import io
import math
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import InputError

#: refuse pages larger than this many pixels (a 300 dpi A3 page is ~17.4 Mpx)
MAX_PIXELS = 60_000_000
DEFAULT_DPI = 300
IMAGE_SUFFIXES = {
    ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".pgm", ".ppm", ".pbm",
    ".pnm", ".jp2",
}
PDF_SUFFIXES = {".pdf"}
STDIN = "-"


#: set (to 1) by ``read -q``: decoders' own warnings are silenced, in workers too
QUIET_ENV = "DIGITOCR_QUIET"


def quiet_decoders() -> None:
    """Silence decoder warnings: Pillow's Python warnings and libtiff's, which its C library
    prints straight to stderr ("TIFFReadDirectory: Warning, ...") unless its handler is unset."""
    import ctypes
    import warnings

    from PIL import Image

    warnings.filterwarnings("ignore", module=r"PIL(\.|$)")
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    for lib in _loaded_libtiffs():
        try:
            tiff = ctypes.CDLL(lib)
            tiff.TIFFSetWarningHandler.restype = ctypes.c_void_p
            tiff.TIFFSetWarningHandler.argtypes = [ctypes.c_void_p]
            tiff.TIFFSetWarningHandler(None)
            tiff.TIFFSetWarningHandlerExt.restype = ctypes.c_void_p
            tiff.TIFFSetWarningHandlerExt.argtypes = [ctypes.c_void_p]
            tiff.TIFFSetWarningHandlerExt(None)
        except (OSError, AttributeError):
            continue


def _loaded_libtiffs() -> list[str]:
    """Paths of the libtiff copies mapped into this process (Pillow's bundled one)."""
    from PIL import Image  # noqa: F401  (maps Pillow's libraries, libtiff among them)

    try:
        from PIL import _imaging  # noqa: F401
    except ImportError:
        return []
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return []
    found = {ln.split()[-1] for ln in maps if "libtiff" in ln.rsplit("/", 1)[-1]}
    return sorted(p for p in found if p.startswith("/"))


@dataclass
class Page:
    """One decoded page: ``image`` is uint8 (H, W) gray or (H, W, 3) RGB; ``page`` is 1-based."""

    file: str
    page: int
    image: np.ndarray

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


def expand_inputs(paths: str | Path | Iterable[str | Path]) -> list[str]:
    """Directories become their image/PDF files (recursively, sorted); other paths are kept.
    One path may be given alone (a ``str`` is always one path, never its characters).

    What cannot be walked stays in the list so that reading it gives an error record (see
    ``load_pages``): a folder that cannot be listed, a link back to an enclosing folder, a
    dangling or looping link with an image or PDF suffix. Links to folders are followed.
    """
    out: list[str] = []
    for p in [paths] if isinstance(paths, (str, Path)) else paths:
        s = os.fspath(p)
        if s != STDIN and os.path.isdir(s):
            out.extend(_walk(s, frozenset()))
        else:
            out.append(s)
    return out


def _wanted(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES | PDF_SUFFIXES


def _walk(folder: str, seen: frozenset[tuple[int, int]]) -> list[str]:
    try:
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen:
            return [folder]  # a link back to a folder being walked: an error record
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return [folder]  # cannot be listed: reading it says why
    seen = seen | {(st.st_dev, st.st_ino)}
    out: list[str] = []
    for e in entries:
        path = str(Path(folder, e.name))  # as Path.rglob spelt it: "x.png", not "./x.png"
        try:
            if e.is_dir():
                out.extend(_walk(path, seen))
                continue
            wanted = e.is_file() and _wanted(e.name)
        except OSError:  # a folder without execute permission: stat fails
            wanted = _wanted(e.name)
        if not wanted and e.is_symlink() and not os.path.exists(path):
            # dangling or looping: reported when it could have been a page (or, looping,
            # a folder)
            wanted = _wanted(e.name) or _link_loops(path)
        if wanted:
            out.append(path)
    return out


def _link_loops(path: str) -> bool:
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def _check_path(name: str) -> None:
    """Raise ``InputError`` saying why ``name`` is not a readable file."""
    try:
        st = os.stat(name)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{name}: symbolic link loop") from exc
        if os.path.islink(name):
            raise InputError(f"{name}: dangling symbolic link (to {os.readlink(name)})") from exc
        if exc.errno == errno.ENOENT:
            raise InputError(f"{name}: no such file") from exc
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(st.st_mode):
        try:
            os.scandir(name).close()
        except OSError as exc:
            raise InputError(f"{name}: cannot list folder ({exc.strerror or exc})") from exc
        real, parent = os.path.realpath(name), os.path.realpath(os.path.dirname(name) or ".")
        if os.path.islink(name) and (parent + os.sep).startswith(real.rstrip(os.sep) + os.sep):
            raise InputError(f"{name}: symbolic link loop (back to the enclosing {real})")
        raise InputError(f"{name}: is a directory")
    if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
        raise InputError(f"{name}: not a regular file")


def count_pages(path: str) -> int | None:
    """Page count of a PDF or multi-page image without decoding pixels; None when unknown."""
    try:
        if _is_pdf_path(path):
            return int(_pdfinfo(path)["Pages"])
        from PIL import Image

        with Image.open(path) as im:
            return int(getattr(im, "n_frames", 1))
    except Exception:
        return None


def load_pages(
    path: str | Path, *, dpi: int = DEFAULT_DPI, max_pixels: int = MAX_PIXELS,
    gray: bool = False, timeout: float | None = None,
) -> Iterator[Page]:
    """Yield the pages of one file (``-`` reads stdin), decoding one page at a time.

    ``gray=True`` decodes straight to gray where the format allows it (JPEG's luma plane, PDF
    pages rendered gray): several times faster than decoding colour for a reader that only
    looks at gray, and a third of the memory. Other pages come out gray or RGB as usual.
    """
    name = str(path)
    if name == STDIN:
        data = sys.stdin.buffer.read()
        yield from load_bytes(data, "<stdin>", dpi=dpi, max_pixels=max_pixels, gray=gray,
                               timeout=timeout)
        return
    p = Path(name)
    _check_path(name)
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    if size == 0:
        raise InputError(f"{name}: empty file (0 bytes)")
    if head.startswith(b"%PDF"):
        yield from _pdf_pages(name, name, dpi=dpi, max_pixels=max_pixels, gray=gray,
                              timeout=timeout)
        return
    with p.open("rb") as fh:
        yield from _image_pages(fh, name, max_pixels=max_pixels, gray=gray)


def load_bytes(data: bytes, name: str = "<bytes>", *, dpi: int = DEFAULT_DPI,
               max_pixels: int = MAX_PIXELS, gray: bool = False,
               timeout: float | None = None) -> Iterator[Page]:
    """Yield the pages of a file's contents held in memory (an image or a PDF)."""
    if not data:
        raise InputError(f"{name}: empty input (0 bytes)")
    if data.startswith(b"%PDF"):
        fd, tmp = tempfile.mkstemp(suffix=".pdf", prefix="digitocr-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            yield from _pdf_pages(tmp, name, dpi=dpi, max_pixels=max_pixels, gray=gray,
                                  timeout=timeout)
        finally:
            os.unlink(tmp)
        return
    yield from _image_pages(io.BytesIO(data), name, max_pixels=max_pixels, gray=gray)


def _is_pdf_path(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(5).startswith(b"%PDF")
    except OSError:
        return False


# ---------------------------------------------------------------- images


def _image_pages(fh: BinaryIO, name: str, *, max_pixels: int,
                 gray: bool = False) -> Iterator[Page]:
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = None  # we check the size ourselves, with our own message
    try:
        im = Image.open(fh)
    except UnidentifiedImageError as exc:
        raise InputError(f"{name}: not an image or PDF this reader knows") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"{name}: cannot decode image ({exc})") from exc
    with im:
        frames = int(getattr(im, "n_frames", 1) or 1)
        for i in range(frames):
            try:
                im.seek(i)
            except (EOFError, OSError) as exc:
                raise InputError(f"{name}: page {i + 1} cannot be read ({exc})") from exc
            w, h = im.size
            if w * h > max_pixels:
                raise InputError(
                    f"{name}: page {i + 1} is {w}x{h} = {w * h / 1e6:.1f} Mpx, over the "
                    f"{max_pixels / 1e6:.0f} Mpx limit"
                )
            if w == 0 or h == 0:
                raise InputError(f"{name}: page {i + 1} has no pixels")
            try:
                if gray and im.format == "JPEG" and im.mode in ("RGB", "YCbCr"):
                    im.draft("L", im.size)  # libjpeg hands over the luma plane: no colour work
                im.load()
                arr = pil_to_array(im)
            except (OSError, ValueError, SyntaxError, EOFError) as exc:
                raise InputError(f"{name}: truncated or corrupt image data ({exc})") from exc
            yield Page(name, i + 1, arr)


def pil_to_array(im: Any) -> np.ndarray:
    """A PIL image of any mode → uint8 gray (H, W) or RGB (H, W, 3); alpha composited on white."""
    from PIL import Image

    mode = im.mode
    if mode in ("1", "L"):
        return np.asarray(im.convert("L"), dtype=np.uint8)
    if mode.startswith("I;16") or mode in ("I", "F"):
        a = np.asarray(im)
        if mode == "F" or a.dtype.kind == "f":
            a = a.astype(np.float64)
            top = float(a.max()) if a.size else 0.0
            a = a * (255.0 if top <= 1.0 else 255.0 / max(top, 1.0))
            return np.clip(a, 0, 255).astype(np.uint8)
        a = a.astype(np.int64)
        top = 65535 if a.max(initial=0) > 255 else 255
        return np.clip(a * 255 // top, 0, 255).astype(np.uint8)
    if mode == "P":
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8)
    if mode == "RGB":
        return np.asarray(im, dtype=np.uint8)
    # CMYK, YCbCr, LAB, HSV …: PIL knows how to get to RGB
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def decode_image(data: bytes, name: str = "<bytes>", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """The first page of an encoded image held in memory."""
    for page in _image_pages(io.BytesIO(data), name, max_pixels=max_pixels):
        return page.image
    raise InputError(f"{name}: no pages")


# ---------------------------------------------------------------- PDF


def _pdfinfo(path: str, first: int | None = None, last: int | None = None,
             timeout: float | None = None) -> dict[str, Any]:
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


def _pdf_pages(path: str, name: str, *, dpi: int, max_pixels: int,
               gray: bool = False, timeout: float | None = None) -> Iterator[Page]:
    from pdf2image import convert_from_path
    from pdf2image.exceptions import PDFPageCountError, PDFPopplerTimeoutError, PDFSyntaxError

    info = _pdfinfo(path, timeout=timeout)
    if str(info.get("Encrypted", "no")).lower().startswith("yes"):
        raise InputError(f"{name}: encrypted PDF (password protected)")
    pages = int(info.get("Pages", 0) or 0)
    if pages <= 0:
        raise InputError(f"{name}: PDF has no pages")
    # every page's size, not only the first's: a later huge page must be refused before
    # pdftoppm renders it (into gigabytes, or a silent 1x1 image when it gives up)
    sizes = pdf_page_sizes(_pdfinfo(path, 1, pages, timeout=timeout))
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


class FileTimeout(InputError):
    """One file took longer than ``--timeout-per-file``."""


@contextlib.contextmanager
def deadline(seconds: float | None, name: str) -> Iterator[None]:
    """Raise ``FileTimeout`` in this block after ``seconds`` (SIGALRM: main thread, POSIX;
    elsewhere no limit). Python code is stopped between bytecodes; a long C call ends first."""
    import signal
    import threading

    if (not seconds or not hasattr(signal, "setitimer")
            or threading.current_thread() is not threading.main_thread()):
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise FileTimeout(f"{name}: timed out after {seconds:g} s (--timeout-per-file)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
