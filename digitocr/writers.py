"""Output writers (json, jsonl, csv, wide, parquet): they consume PageResults as a stream, one
page at a time.

A writer factory takes a text stream (see ``output``: stdout, a file that replaces the target
only once written whole, or a ``--resume`` output). The writers and the rest are in five
modules, re-exported here: ``jsonwriters`` (json, jsonl), ``csvwriters`` (csv, wide),
``parquetwriter`` (parquet), ``escapes`` (text made safe for each) and ``output`` (output
files, the ``--resume`` journal); this one keeps the formats' registry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TextIO

from .csvwriters import (
    CSV_COLUMNS,
    PROVENANCE_COLUMNS,
    WIDE_FIELD_COLUMNS,
    WIDE_PAGE_COLUMNS,
    CsvWriter,
    WideWriter,
    wide_columns,
    wide_key,
)
from .errors import OutputError
from .escapes import FORMULA_START, csv_text, json_text, printable, utf8_text
from .jsonwriters import JsonlWriter, JsonWriter
from .output import (
    JOURNAL_SUFFIX,
    ResumableOutput,
    check_output,
    journal_path,
    open_output,
    open_resumable,
    read_journal,
    same_file,
)
from .parquetwriter import PARQUET_ROWS, ParquetWriter, field_rows, parquet_schema
from .results import PageResult

# every public name this module had before the split (batch.py, console.py, dask.py, the
# formats plugin, bench/ and tests import them from here)
__all__ = [
    "BUILTIN",
    "CSV_COLUMNS",
    "FORMULA_START",
    "JOURNAL_SUFFIX",
    "PARQUET_ROWS",
    "PROVENANCE_COLUMNS",
    "WIDE_FIELD_COLUMNS",
    "WIDE_PAGE_COLUMNS",
    "CsvWriter",
    "JsonWriter",
    "JsonlWriter",
    "ParquetWriter",
    "ResumableOutput",
    "Writer",
    "WriterFactory",
    "check_output",
    "csv_text",
    "field_rows",
    "format_for",
    "get_writer",
    "journal_path",
    "json_text",
    "make_writer",
    "open_output",
    "open_resumable",
    "parquet_schema",
    "printable",
    "read_journal",
    "same_file",
    "utf8_text",
    "wide_columns",
    "wide_key",
]


class Writer(Protocol):
    """What a registered writer factory returns."""

    def write(self, page: PageResult) -> None: ...

    def close(self) -> None: ...


WriterFactory = Callable[[TextIO], Writer]


BUILTIN: dict[str, WriterFactory] = {"json": JsonWriter, "jsonl": JsonlWriter, "csv": CsvWriter,
                                     "wide": WideWriter, "parquet": ParquetWriter}


def make_writer(factory: WriterFactory, stream: TextIO,
                fields: Sequence[str] | None = None) -> Writer:
    """``factory(stream)``; a factory that ``takes_fields`` (``wide``) also gets the template's
    field names, so that it can write its header at once."""
    if getattr(factory, "takes_fields", False):
        return factory(stream, fields)  # type: ignore[call-arg]
    return factory(stream)


def format_for(path: str | None, default: str = "json") -> str:
    """Guess the format from an output file's suffix (``.csv``, ``.jsonl``, ``.parquet``),
    else ``default``."""
    if path:
        suffix = Path(path).suffix.lower().lstrip(".")
        if suffix in ("csv", "jsonl", "json", "parquet"):
            return suffix
        if suffix == "ndjson":
            return "jsonl"
    return default


def get_writer(name: str) -> WriterFactory:
    """The writer factory registered under ``name`` (through ``register_writers``)."""
    from .plugins import registry

    factory: WriterFactory = registry("writers").get(name, "output format", OutputError)
    return factory
