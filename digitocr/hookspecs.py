"""pluggy hook specifications: plugins receive a ``register`` callback and call it per item."""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("digitocr")

Register = Callable[..., None]


@hookspec
def register_classifiers(register: Register) -> None:
    """Register classifier backends: ``register(name, cls)`` with a ``Classifier`` subclass."""


@hookspec
def register_string_readers(register: Register) -> None:
    """Register whole-string readers: ``register(name, cls)`` with a ``StringReader`` subclass."""


@hookspec
def register_segmenters(register: Register) -> None:
    """Register page segmenters: ``register(name, segmenter)`` (layouts for ``read``)."""


@hookspec
def register_writers(register: Register) -> None:
    """Register output writers: ``register(name, writer_factory)`` (formats for ``read``)."""
