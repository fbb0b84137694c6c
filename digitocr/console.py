"""What a command does to the process and the terminal: SIGINT and SIGTERM turned into
exceptions, a logger's debug lines on stderr, and one-line messages on stderr (control
characters escaped: they hold file names)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import click

from .errors import Interrupted, Terminated


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Interrupted``/``Terminated`` here, once: later ones are
    ignored, so that the clean-up they start (killing workers, removing the temp output) is
    not itself interrupted. Outside the main thread: nothing changes."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    kinds = (signal.SIGINT, signal.SIGTERM)
    stopped = []

    def stop(signum: int, frame: object) -> None:
        for k in kinds:
            signal.signal(k, signal.SIG_IGN)
        stopped.append(signum)
        if signum == signal.SIGTERM:
            raise Terminated("terminated (SIGTERM)")
        raise Interrupted("interrupted (SIGINT)")

    previous = {k: signal.signal(k, stop) for k in kinds}
    try:
        yield
    finally:
        if not stopped:  # once stopping, stay deaf until the process exits
            for k, handler in previous.items():
                signal.signal(k, handler)


@contextlib.contextmanager
def debug_log(name: str) -> Iterator[None]:
    """Logger ``name``'s debug messages to stderr, ``debug: `` first, while the block runs
    (control characters escaped, as on error lines: they hold file names)."""
    import logging
    import sys

    from .writers import printable

    class Printable(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return printable(super().format(record))

    logger = logging.getLogger(name)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Printable("debug: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def echo_err(message: str) -> None:
    """One progress or diagnostic line on stderr (control characters escaped: file names)."""
    from .writers import printable

    click.echo(printable(message), err=True)
