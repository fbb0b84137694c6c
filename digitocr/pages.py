"""A decoded page (``Page``), the limits every decoder keeps to (``MAX_PIXELS``, the default
DPI) and the time limit of one file (``deadline``, ``FileTimeout``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .errors import InputError

#: refuse pages larger than this many pixels (a 300 dpi A3 page is ~17.4 Mpx)
MAX_PIXELS = 60_000_000
DEFAULT_DPI = 300


@dataclass
class Page:
    """One decoded page: ``image`` is uint8 (H, W) gray or (H, W, 3) RGB; ``page`` is 1-based.
    A page read reduced (``reduced``) keeps its size as decoded: boxes are reported in it."""

    file: str
    page: int
    image: np.ndarray
    #: pixels of the page as decoded per pixel of ``image`` (1: the full resolution)
    scale: int = 1
    #: the page's (width, height) as decoded, when ``image`` is reduced
    size: tuple[int, int] | None = None

    @property
    def width(self) -> int:
        return self.size[0] if self.size else int(self.image.shape[1])

    @property
    def height(self) -> int:
        return self.size[1] if self.size else int(self.image.shape[0])


def reduction(width: int, height: int, side: int | None) -> int:
    """The whole factor a page of ``width`` x ``height`` is read reduced by: its shorter side
    stays at least ``side`` (1: none, for every page under twice that, or ``side`` None)."""
    return max(1, min(width, height) // side) if side else 1


def reduced(page: Page, side: int | None) -> Page:
    """``page`` read at a whole fraction of its resolution (``reduction``), by area averaging;
    a page already reduced (by its decoder) or too small is returned as it is."""
    f = reduction(page.width, page.height, side)
    if page.scale > 1 or f < 2:
        return page
    return Page(page.file, page.page, shrink(page.image, f), f, (page.width, page.height))


def shrink(image: np.ndarray, f: int) -> np.ndarray:
    """``image`` reduced by the whole factor ``f`` by area averaging (the last ``f - 1`` rows
    and columns at most left out): OpenCV's fast path, a fraction takes 50x as long."""
    if f <= 1:
        return image
    import cv2

    h, w = image.shape[:2]
    return cv2.resize(image[: h - h % f, : w - w % f], (w // f, h // f),
                      interpolation=cv2.INTER_AREA)



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
