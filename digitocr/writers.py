"""Output writers (json, jsonl, csv, wide, parquet): they consume PageResults as a stream, one
page at a time.

A writer factory takes a text stream; ``open_output`` gives it either stdout or a temporary file
beside the target that replaces the target (``os.replace``) only when writing finished, so a
crash never leaves a half-written output behind. ``open_resumable`` (``read --resume``) instead
appends each input file's records to the target as one unit and notes the file in a journal
beside it (``<output>.journal``) once its records are on disk: see ``ResumableOutput``.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Protocol, TextIO

from .errors import OutputError
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
#: the journal beside a ``--resume`` output: one line per input file whose records are complete
JOURNAL_SUFFIX = ".journal"
#: a CSV cell starting with one of these is a formula to a spreadsheet: it gets a leading '
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_text(record: object) -> str:
    """One JSON document; a file name that is not UTF-8 (``os.fsdecode``'s surrogate escapes)
    stays as ``\\udcXX`` escapes, so that the output is valid UTF-8 and ``os.fsencode``
    gives the name's bytes back."""
    text = json.dumps(record, ensure_ascii=False)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def utf8_text(value: str) -> str:
    """``value`` as valid UTF-8 text: bytes that are not UTF-8 (``os.fsdecode``'s surrogate
    escapes) become ``\\xHH``."""
    if _SURROGATE.search(value):
        try:
            value = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a surrogate that no file name decodes to
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def csv_text(value: str) -> str:
    """A CSV cell: bytes that are not UTF-8 become ``\\xHH``; a formula gets a leading '."""
    value = utf8_text(value)
    return "'" + value if value.startswith(FORMULA_START) else value


def printable(text: str) -> str:
    """``text`` for a terminal: control characters and undecodable bytes as escapes."""
    out = []
    for ch in text:
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:  # os.fsdecode's escape of the byte o - 0xDC00
            out.append(f"\\x{o - 0xDC00:02x}")
        elif o < 0x20 or 0x7F <= o < 0xA0 or 0xD800 <= o <= 0xDFFF or o in (0x2028, 0x2029):
            out.append(f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}")
        else:
            out.append(ch)
    return "".join(out)


class Writer(Protocol):
    """What a registered writer factory returns."""

    def write(self, page: PageResult) -> None: ...

    def close(self) -> None: ...


WriterFactory = Callable[[TextIO], Writer]


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


def _umask() -> int:
    """This process's umask, read without changing it where Linux allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name the same existing file (links and ``..`` included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: str | Path | None) -> None:
    """Raise ``OutputError`` now, before any reading, when ``path`` cannot be written."""
    if path is None or str(path) == "-":
        return
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise OutputError(f"{target}: is a directory, not an output file")
    if not folder.is_dir():
        raise OutputError(f"{target}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{target}: folder {folder} is not writable")
    # access() also says no for an immutable file, even to root
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(f"{target}: file is not writable")


def _remove_stale_temps(folder: Path, name: str) -> None:
    """Temp files of ours whose writer died without cleaning up (SIGKILL, power loss)."""
    for p in folder.glob(f".{glob.escape(name)}.*.tmp"):
        pid = p.name[len(name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(OSError):
                p.unlink()


@contextlib.contextmanager
def open_output(path: str | Path | None) -> Iterator[TextIO]:
    """stdout for None or ``-``; else a temp file in the target's folder, moved in on success.

    The result keeps an existing target's permissions, else gets the umask's (``mkstemp``
    alone would give 0600). A failure to write raises ``OutputError`` and removes the temp
    file, leaving any previous target as it was.
    """
    if path is None or str(path) == "-":
        yield sys.stdout
        return
    check_output(path)
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    if sys.platform.startswith("linux"):
        _remove_stale_temps(folder, target.name)
    try:
        # the pid in the name lets a later run remove this file if we are killed
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp",
                                   dir=folder)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            try:
                fh.flush()
                os.fchmod(fh.fileno(), mode)
                os.fsync(fh.fileno())
            except OSError as exc:
                raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from exc
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from exc
        with contextlib.suppress(OSError):  # a --resume journal of the file just replaced
            journal_path(target).unlink()
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def get_writer(name: str) -> WriterFactory:
    """The writer factory registered under ``name`` (through ``register_writers``)."""
    from .plugins import registry

    factory: WriterFactory = registry("writers").get(name, "output format", OutputError)
    return factory


# ------------------------------------------------------------------ --resume


def journal_path(target: str | Path) -> Path:
    """The journal beside a ``--resume`` output: ``out.jsonl`` -> ``out.jsonl.journal``."""
    target = Path(target)
    return target.with_name(target.name + JOURNAL_SUFFIX)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_journal(path: Path) -> tuple[list[str], int, int]:
    """A journal's files (absolute paths, each complete in the output), the output's length
    once they were
    written, and the journal's own length up to its last whole line (a line cut by a kill is
    not an entry)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0, 0
    except OSError as exc:
        raise OutputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    keep = data.rfind(b"\n") + 1
    files, end = [], 0
    for line in data[:keep].splitlines():
        try:
            entry = json.loads(line)
            files.append(str(entry["path"]))
            end = max(end, int(entry["end"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise OutputError(f"{path}: not a digitocr resume journal ({exc})") from exc
    return files, end, keep


class ResumableOutput:
    """The output of ``read --resume``: each input file's records are appended to the target
    as one unit, then the file is noted in the journal (``journal_path``).

    A file's record set is complete when the journal names it: its records are written (and
    fsynced) before its journal line, and the journal line says where in the output they end.
    On resume, the output is cut back to the end the journal's last whole line gives, which
    drops whatever a kill left after it (a file's records half written, a header alone), and
    the files the journal names are not read again. A writer's header (what it writes when
    made, CSV's column names) goes into the output only when the output is empty.
    """

    def __init__(self, target: Path, fd: int, journal: int, done: list[str],
                 appending: bool) -> None:
        self.target = target
        self.done = set(done)
        self.stream = io.StringIO()
        self._fd = fd
        self._journal = journal
        self._appending = appending
        self._file: str | None = None
        self._end = os.lseek(fd, 0, os.SEEK_END)

    def pending(self, files: list[str]) -> list[str]:
        """The files of ``files`` with no complete records yet (by absolute path, so that a
        rerun from another folder skips the same files)."""
        return [f for f in files if os.path.abspath(f) not in self.done]

    def started(self) -> None:
        """The writer is made: drop its header when the output has one already."""
        if self._appending:
            self._reset()

    def _reset(self) -> None:
        self.stream.seek(0)
        self.stream.truncate()

    def page(self, file: str) -> None:
        """A record of ``file`` comes next: the previous file's records are all there."""
        if self._file is not None and file != self._file:
            self.commit()
        self._file = file

    def commit(self) -> None:
        """Append the current file's records, fsync, then note the file in the journal."""
        data = self.stream.getvalue().encode("utf-8")
        self._reset()
        try:
            if data:
                _write_all(self._fd, data)
                os.fsync(self._fd)
                self._end += len(data)
            if self._file is not None:
                path = os.path.abspath(self._file)
                entry = {"file": self._file, "path": path, "end": self._end}
                _write_all(self._journal, (json_text(entry) + "\n").encode("utf-8"))
                self.done.add(path)
        except OSError as exc:
            raise OutputError(f"{self.target}: cannot write ({exc.strerror or exc})") from exc
        self._file = None

    def close(self) -> None:
        """Commit the last file (the writer is closed) and release the files."""
        self.commit()
        for fd in (self._fd, self._journal):
            with contextlib.suppress(OSError):
                os.close(fd)


@contextlib.contextmanager
def open_resumable(path: str | Path) -> Iterator[ResumableOutput]:
    """The ``--resume`` output at ``path``: created when missing; else cut back to the end of
    the records its journal names complete (``ResumableOutput``). An output without a journal
    is refused (it was not written by ``--resume``: nothing says which records are whole), as
    is one shorter than its journal says (it was changed since)."""
    check_output(path)
    target = Path(path)
    jpath = journal_path(target)
    files, end, keep = read_journal(jpath)
    try:
        size: int | None = target.stat().st_size
    except FileNotFoundError:
        size = None
    except OSError as exc:
        raise OutputError(f"{target}: cannot read ({exc.strerror or exc})") from exc
    if sys.platform.startswith("linux"):  # what a plain run killed before its rename left
        _remove_stale_temps(target.parent if str(target.parent) else Path("."), target.name)
    if size is None or (size == 0 and not files):
        files, end, keep = [], 0, 0  # a journal without its output: start over
    elif not jpath.exists():
        raise OutputError(f"{target}: exists and has no resume journal ({jpath.name}): it was "
                          "not written with --resume; remove it, or read without --resume")
    elif size < end:
        raise OutputError(f"{target}: shorter than its journal ({jpath.name}) says: it was "
                          "changed since; remove both to start over")
    fd = journal = -1
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o666)
        os.ftruncate(fd, end)
        journal = os.open(jpath, os.O_WRONLY | os.O_CREAT, 0o666)
        os.ftruncate(journal, keep)
        os.lseek(journal, 0, os.SEEK_END)
    except OSError as exc:
        for f in (fd, journal):
            if f >= 0:
                os.close(f)
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from exc
    out = ResumableOutput(target, fd, journal, files, appending=end > 0)
    try:
        yield out
    except BaseException:  # what was committed stays: that is what --resume resumes from
        for f in (fd, journal):
            with contextlib.suppress(OSError):
                os.close(f)
        raise
    out.close()
