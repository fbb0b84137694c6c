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
