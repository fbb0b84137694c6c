"""Domain errors: every failure a user can cause is one of these, with a one-line message.

Each class carries the exit status the CLI ends with (``ExitCode``), so that a cause always
maps to the same status.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    """``digitocr``'s exit statuses, one per cause."""

    OK = 0  #: every file read
    FILES_FAILED = 1  #: some files or pages failed; each has an error record
    USAGE = 2  #: bad usage, option, template or model
    OUTPUT = 3  #: the output could not be written
    INTERRUPTED = 130  #: SIGINT (Ctrl-C)
    TERMINATED = 143  #: SIGTERM


class DigitOCRError(Exception):
    """Base class: the CLI prints ``str(error)`` and exits with ``exit_code``, no traceback."""

    exit_code: ClassVar[ExitCode] = ExitCode.USAGE


class DataError(DigitOCRError):
    """A data source is missing, malformed or inconsistent."""


class ModelError(DigitOCRError):
    """A model cannot be found, loaded, or does not fit the backend contract."""


class MissingDependency(DigitOCRError):
    """Training (or a Keras-only model) needs the ``train`` extra, which is not installed."""


class PluginError(DigitOCRError):
    """A plugin failed to load or registered something invalid."""


class InputError(DigitOCRError):
    """A document to read cannot be decoded (bad image, broken PDF, too large)."""

    exit_code = ExitCode.FILES_FAILED


class OutputError(DigitOCRError):
    """An output file or folder cannot be written, or an output format is unknown."""

    exit_code = ExitCode.OUTPUT


class TemplateError(DigitOCRError):
    """A ``--template`` file is missing or does not describe named rectangles."""


class Interrupted(DigitOCRError):
    """The run was stopped by SIGINT or SIGTERM (raised from a signal handler)."""

    exit_code = ExitCode.INTERRUPTED


class Terminated(Interrupted):
    """SIGTERM: like Ctrl-C, with its own exit status."""

    exit_code = ExitCode.TERMINATED


class ClusterError(DigitOCRError):
    """A Dask scheduler cannot be reached, or Dask (the ``dask`` extra) is not installed."""
