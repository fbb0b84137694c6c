"""Built-in output formats (writers) for ``digitocr read --format``."""

from __future__ import annotations

from typing import Any

from digitocr import hookimpl
from digitocr.writers import BUILTIN


@hookimpl
def register_writers(register: Any) -> None:
    """json, jsonl, csv."""
    for name, factory in BUILTIN.items():
        register(name, factory)
