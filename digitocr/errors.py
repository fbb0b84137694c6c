"""Domain errors: every failure a user can cause is one of these, with a one-line message."""

from __future__ import annotations


class DigitOCRError(Exception):
    """Base class: the CLI prints ``str(error)`` and exits non-zero, never a traceback."""


class DataError(DigitOCRError):
    """A data source is missing, malformed or inconsistent."""


class ModelError(DigitOCRError):
    """A model cannot be found, loaded, or does not fit the backend contract."""


class PluginError(DigitOCRError):
    """A plugin failed to load or registered something invalid."""


class InputError(DigitOCRError):
    """A document to read cannot be decoded (bad image, broken PDF, too large)."""


class OutputError(DigitOCRError):
    """An output file or folder cannot be written, or an output format is unknown."""


class TemplateError(DigitOCRError):
    """A ``--template`` file is missing or does not describe named rectangles."""
