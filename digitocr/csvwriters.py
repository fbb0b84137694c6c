"""The ``csv`` writer (one row per field) and the ``wide`` writer (one row per page, each
field in columns of its own), with the columns both have."""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Sequence
from typing import IO, Any, TextIO

from .errors import OutputError
from .escapes import csv_text
from .results import PageResult

#: every record's provenance, as columns (csv, wide, parquet)
PROVENANCE_COLUMNS = ("digitocr", "model", "model_sha256", "layout")
#: ``valid``: ``true``/``false`` for a field with rules (a template's ``type``, ``length``,
#: ``checksum``...), whether its reading satisfies them; empty for a field without rules
#: ``style``: ``handwritten`` or ``printed``; ``row``, ``col``: a table cell's, from 1, else empty
CSV_COLUMNS = ("file", "page", "field", "text", "confidence", "needs_review", "x", "y", "w", "h",
               "error", "value", "valid", "style", "row", "col", *PROVENANCE_COLUMNS)
#: ``wide``: the columns of a page, before its fields' columns and the provenance
WIDE_PAGE_COLUMNS = ("file", "page", "width", "height", "orientation", "needs_review", "error",
                     "warning")
#: ``wide``: each field's columns, ``{key}`` being its text (``key`` its name, else field_N)
WIDE_FIELD_COLUMNS = ("{key}", "{key}_confidence", "{key}_needs_review", "{key}_value",
                      "{key}_valid")


def _flag(value: bool | None) -> str:
    """A CSV cell of a yes/no/unknown value: ``true``, ``false`` or empty."""
    return "" if value is None else "true" if value else "false"


def _provenance_cells(page: PageResult) -> list[str]:
    prov = page.provenance
    if prov is None:
        return [""] * len(PROVENANCE_COLUMNS)
    return [csv_text(v or "") for v in (prov.digitocr, prov.model, prov.model_sha256,
                                        prov.layout)]


class CsvWriter:
    """One row per field; a page that failed gets one row with no field, flagged for review,
    with the reason in ``error``; a page with no field (a blank page) gets one row with no
    field, so that every page has a row. Text cells go through ``csv_text``."""

    appendable = True

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.csv = csv.writer(stream, lineterminator="\n")
        self.csv.writerow(CSV_COLUMNS)

    def write(self, page: PageResult) -> None:
        name = csv_text(page.file)
        prov = _provenance_cells(page)
        if page.error is not None or not page.fields:
            error = "" if page.error is None else csv_text(page.error)
            review = "true" if page.error is not None else "false"
            self.csv.writerow([name, page.page, "", "", "", review, "", "", "", "", error, "",
                               "", "", "", "", *prov])
            return
        for f in page.fields:
            x, y, w, h = f.bbox
            self.csv.writerow(
                [name, page.page, csv_text(f.key), csv_text(f.text), f"{f.confidence:.4f}",
                 "true" if f.needs_review else "false", x, y, w, h, "",
                 "" if f.value is None else f.value, _flag(f.valid), f.style,
                 "" if f.row is None else f.row, "" if f.col is None else f.col, *prov]
            )

    def close(self) -> None:
        self.stream.flush()


def wide_key(key: str) -> str:
    """A field's column name in ``wide``: its name, else ``field_<index>`` (also for a name
    that is a page or provenance column's, such as ``file``, so that no two columns share
    a name)."""
    reserved = key.isdigit() or key in WIDE_PAGE_COLUMNS or key in PROVENANCE_COLUMNS
    return f"field_{key}" if reserved else key


def wide_columns(keys: Sequence[str]) -> list[str]:
    """``wide``'s header for fields named ``keys`` (as ``wide_key`` gives them)."""
    cols = list(WIDE_PAGE_COLUMNS)
    for key in keys:
        cols.extend(csv_text(c.format(key=key)) for c in WIDE_FIELD_COLUMNS)
    return [*cols, *PROVENANCE_COLUMNS]


class WideWriter:
    """One CSV row per page, with each field's text, confidence, review flag and value in
    columns of their own (``wide_columns``); ``needs_review`` is the page's (an error or any
    field flagged). With a template the columns are its fields' names, written at once (so
    the output can be appended to: ``--resume``). Without one, the columns are the fields
    found in the whole run (``field_1`` ...), so rows wait in an anonymous temporary file
    (never left behind, even after ``kill -9``) until the header is known."""

    appendable = True
    takes_fields = True

    def __init__(self, stream: TextIO, fields: Sequence[str] | None = None) -> None:
        self.stream = stream
        self.keys: list[str] = [wide_key(k) for k in fields] if fields is not None else []
        self.fixed = fields is not None
        self.spool: IO[str] | None = None
        if self.fixed:
            csv.writer(stream, lineterminator="\n").writerow(wide_columns(self.keys))
            self.out = csv.writer(stream, lineterminator="\n")
        else:
            # closed in close(); anonymous, so that even kill -9 leaves nothing behind
            self.spool = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115
            self.out = csv.writer(self.spool, lineterminator="\n")

    def write(self, page: PageResult) -> None:
        by_key: dict[str, list[str]] = {}
        for f in page.fields:
            key = wide_key(f.key)
            if key not in self.keys:
                if self.fixed:  # a field the template does not name: cannot happen
                    raise OutputError(f"{page.file}: field {key!r} is not in the template")
                self.keys.append(key)
            by_key[key] = [csv_text(f.text), f"{f.confidence:.4f}",
                           "true" if f.needs_review else "false",
                           "" if f.value is None else f.value, _flag(f.valid)]
        review = page.error is not None or any(f.needs_review for f in page.fields)
        row: list[Any] = [csv_text(page.file), page.page, page.width, page.height,
                          page.orientation or "", "true" if review else "false",
                          "" if page.error is None else csv_text(page.error),
                          "" if page.warning is None else csv_text(page.warning)]
        if self.fixed:
            for key in self.keys:
                row.extend(by_key.get(key, [""] * len(WIDE_FIELD_COLUMNS)))
            self.out.writerow([*row, *_provenance_cells(page)])
        else:  # the fields as (key, cells) pairs: placed in their columns at close
            self.out.writerow([*row, *_provenance_cells(page),
                               json.dumps([[k, *v] for k, v in by_key.items()])])

    def close(self) -> None:
        if self.spool is not None:
            out = csv.writer(self.stream, lineterminator="\n")
            out.writerow(wide_columns(self.keys))
            self.spool.seek(0)
            blank = [""] * len(WIDE_FIELD_COLUMNS)
            n_page = len(WIDE_PAGE_COLUMNS)
            for row in csv.reader(self.spool):
                cells = {k: v for k, *v in json.loads(row[-1])}
                fields = [c for key in self.keys for c in cells.get(key, blank)]
                out.writerow([*row[:n_page], *fields, *row[n_page:-1]])
            self.spool.close()
            self.spool = None
        self.stream.flush()
