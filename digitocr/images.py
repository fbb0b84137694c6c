"""Image files to pages: every flavour Pillow reads (bit depths, palettes, alpha, CMYK,
multi-page TIFF) as uint8 gray or RGB, one page at a time; and decoders kept quiet for ``-q``."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import InputError
from .pages import MAX_PIXELS, Page, reduction

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
    for lib in loaded_libtiffs():
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


def loaded_libtiffs() -> list[str]:
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



def image_pages(fh: BinaryIO, name: str, *, max_pixels: int,
                gray: bool = False, reduce_side: int | None = None) -> Iterator[Page]:
    """The pages of an image file open in ``fh``, each checked against ``max_pixels``;
    ``reduce_side``: a JPEG read gray is decoded reduced (``pages.reduction``) where its
    decoder can (by 2, 4 or 8, in the DCT: no full-size image made)."""
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
            f = reduction(w, h, reduce_side) if gray and im.format == "JPEG" else 1
            f = f if f in (2, 4, 8) else 1
            try:
                if gray and im.format == "JPEG" and (im.mode in ("RGB", "YCbCr") or f > 1):
                    # libjpeg hands over the luma plane (no colour work), scaled by f
                    im.draft("L", (w // f, h // f))
                im.load()
                arr = pil_to_array(im)
            except (OSError, ValueError, SyntaxError, EOFError) as exc:
                raise InputError(f"{name}: truncated or corrupt image data ({exc})") from exc
            if f > 1 and arr.shape[1] * f >= w:  # the decoder reduced it as asked
                yield Page(name, i + 1, arr, f, (w, h))
            else:
                yield Page(name, i + 1, arr)


def pil_to_array(im: Any) -> np.ndarray:
    """A PIL image of any mode → uint8 gray (H, W) or RGB (H, W, 3); alpha composited on white."""
    from PIL import Image

    mode = im.mode
    if mode == "L":  # as it is: a convert would copy a page's pixels once more
        return np.asarray(im, dtype=np.uint8)
    if mode == "1":
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
    for page in image_pages(io.BytesIO(data), name, max_pixels=max_pixels):
        return page.image
    raise InputError(f"{name}: no pages")
