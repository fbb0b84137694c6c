"""Output writers (json, jsonl, csv): they consume PageResults as a stream, one page at a time.

A writer factory takes a text stream; ``open_output`` gives it either stdout or a temporary file
beside the target that replaces the target (``os.replace``) only when writing finished, so a
crash never leaves a half-written output behind.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TextIO

from .errors import OutputError
from .results import PageResult

CSV_COLUMNS = ("file", "page", "field", "text", "confidence", "needs_review", "x", "y", "w", "h",
               "error", "value")
#: a CSV cell starting with one of these is a formula to a spreadsheet: it gets a leading '
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_text(record: object) -> str:
    """One JSON document; a file name that is not UTF-8 (``os.fsdecode``'s surrogate escapes)
    stays as ``\\udcXX`` escapes, so that the output is valid UTF-8 and ``os.fsencode``
    gives the name's bytes back."""
    text = json.dumps(record, ensure_ascii=False)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def csv_text(value: str) -> str:
    """A CSV cell: bytes that are not UTF-8 become ``\\xHH``; a formula gets a leading '."""
    if _SURROGATE.search(value):
        try:
            value = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a surrogate that no file name decodes to
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")
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

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, page: PageResult) -> None:
        self.stream.write(json_text(page.to_dict()) + "\n")

    def close(self) -> None:
        self.stream.flush()


class CsvWriter:
    """One row per field; a page that failed gets one row with no field, flagged for review,
    with the reason in the last column (``error``). Text cells go through ``csv_text``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.csv = csv.writer(stream, lineterminator="\n")
        self.csv.writerow(CSV_COLUMNS)

    def write(self, page: PageResult) -> None:
        if page.error is not None:
            self.csv.writerow([csv_text(page.file), page.page, "", "", "", "true", "", "", "",
                               "", csv_text(page.error), ""])
            return
        name = csv_text(page.file)
        for f in page.fields:
            x, y, w, h = f.bbox
            self.csv.writerow(
                [name, page.page, csv_text(f.key), csv_text(f.text), f"{f.confidence:.4f}",
                 "true" if f.needs_review else "false", x, y, w, h, "",
                 "" if f.value is None else f.value]
            )

    def close(self) -> None:
        self.stream.flush()


BUILTIN: dict[str, WriterFactory] = {"json": JsonWriter, "jsonl": JsonlWriter, "csv": CsvWriter}


def format_for(path: str | None, default: str = "json") -> str:
    """Guess the format from an output file's suffix (``.csv``, ``.jsonl``), else ``default``."""
    if path:
        suffix = Path(path).suffix.lower().lstrip(".")
        if suffix in ("csv", "jsonl", "json"):
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
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def get_writer(name: str) -> WriterFactory:
    """The writer factory registered under ``name`` (through ``register_writers``)."""
    from .plugins import registry

    factory: WriterFactory = registry("writers").get(name, "output format", OutputError)
    return factory
