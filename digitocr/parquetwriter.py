"""The ``parquet`` writer: ``csv``'s rows, typed (pyarrow, ``pip install 'digitocr[parquet]'``),
and those rows as dicts (``field_rows``, which the Dask frame reads too)."""

from __future__ import annotations

from typing import Any, TextIO

from .csvwriters import PROVENANCE_COLUMNS
from .errors import OutputError
from .escapes import utf8_text
from .results import PageResult

#: ``parquet``: rows written per row group (memory stays flat on any batch)
PARQUET_ROWS = 10_000


def parquet_schema() -> Any:
    """The Arrow schema of ``parquet`` rows: ``CSV_COLUMNS`` typed (one row per field)."""
    import pyarrow as pa

    text = pa.string()
    return pa.schema([
        ("file", text), ("page", pa.int32()), ("field", text), ("text", text),
        ("confidence", pa.float64()), ("needs_review", pa.bool_()), ("x", pa.int32()),
        ("y", pa.int32()), ("w", pa.int32()), ("h", pa.int32()), ("error", text),
        ("value", text), ("valid", pa.bool_()), ("style", text), ("row", pa.int32()),
        ("col", pa.int32()), *((c, text) for c in PROVENANCE_COLUMNS)])


def field_rows(page: PageResult) -> list[dict[str, Any]]:
    """A page's rows as ``csv`` has them, typed (None where a cell is empty): one per field,
    one for a page with no field or an error."""
    prov = page.provenance.to_dict() if page.provenance is not None else dict.fromkeys(
        ("digitocr", "model", "model_sha256", "layout"))
    base = {"file": page.file, "page": page.page}
    if page.error is not None or not page.fields:
        return [{**base, "field": None, "text": None, "confidence": None,
                 "needs_review": page.error is not None, "x": None, "y": None, "w": None,
                 "h": None, "error": page.error, "value": None, "valid": None, "style": None,
                 "row": None, "col": None, **prov}]
    return [{**base, "field": f.key, "text": f.text, "confidence": round(f.confidence, 4),
             "needs_review": f.needs_review, "x": f.bbox[0], "y": f.bbox[1], "w": f.bbox[2],
             "h": f.bbox[3], "error": None, "value": f.value, "valid": f.valid,
             "style": f.style, "row": f.row, "col": f.col, **prov}
            for f in page.fields]


class ParquetWriter:
    """Parquet (pyarrow, ``pip install 'digitocr[parquet]'``): ``csv``'s rows, typed
    (``parquet_schema``), in row groups of ``PARQUET_ROWS``. File names that are not UTF-8
    keep their bytes as ``\\xHH`` escapes."""

    def __init__(self, stream: TextIO) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise OutputError("--format parquet needs pyarrow "
                              "(pip install 'digitocr[parquet]')") from exc
        self.pa = pa
        self.schema = parquet_schema()
        stream.flush()
        self.sink = pa.PythonFile(stream.buffer, mode="w")
        self.writer = pq.ParquetWriter(self.sink, self.schema)
        self.rows: list[dict[str, Any]] = []

    def write(self, page: PageResult) -> None:
        for row in field_rows(page):
            self.rows.append({k: utf8_text(v) if isinstance(v, str) else v
                              for k, v in row.items()})
        if len(self.rows) >= PARQUET_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.rows:
            self.writer.write_table(self.pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self._flush()
        self.writer.close()
        self.sink.flush()
