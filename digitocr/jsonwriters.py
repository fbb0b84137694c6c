"""The ``json`` and ``jsonl`` writers: a page's record (``PageResult.to_dict``) as JSON."""

from __future__ import annotations

from typing import TextIO

from .escapes import json_text
from .results import PageResult


class JsonWriter:
    """A JSON array of page records, written element by element."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.count = 0

    def write(self, page: PageResult) -> None:
        self.stream.write("[\n" if self.count == 0 else ",\n")
        self.stream.write(json_text(page.to_dict()))
        self.count += 1

    def close(self) -> None:
        self.stream.write("[]\n" if self.count == 0 else "\n]\n")
        self.stream.flush()


class JsonlWriter:
    """One page record per line."""

    appendable = True

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, page: PageResult) -> None:
        self.stream.write(json_text(page.to_dict()) + "\n")

    def close(self) -> None:
        self.stream.flush()
