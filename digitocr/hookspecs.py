"""pluggy hook specifications: plugins receive a ``register`` callback and call it per item.

Each hook has a section in ``docs/plugins.md`` (its contract and an example) and a
``test_hook_<name>`` test; ``tests/test_docs.py`` checks both.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("digitocr")

Register = Callable[..., None]


@hookspec
def register_classifiers(register: Register) -> None:
    """Register digit classifiers: ``register(name, cls)`` with a ``backends.Classifier``
    subclass whose ``backend`` is ``name`` (``--model DIR`` loads it by its metadata)."""


@hookspec
def register_string_readers(register: Register) -> None:
    """Register whole-string readers: ``register(name, cls)`` with a ``backends.StringReader``
    subclass whose ``backend`` is ``name``."""


@hookspec
def register_segmenters(register: Register) -> None:
    """Register page layouts for ``read --layout``: ``register(name, segmenter)`` with a
    ``segment.Segmenter``, ``(image, SegmentOptions) -> list[FieldCrops]``."""


@hookspec
def register_writers(register: Register) -> None:
    """Register output formats for ``read --format``: ``register(name, factory)`` with a
    ``writers.WriterFactory``, ``(text stream) -> Writer`` (``write(page)``, ``close()``)."""


@hookspec
def register_training_options(register: Register) -> None:
    """Declare a backend's ``train`` options: ``register(backend, trainopts.TrainingOptions)``."""
