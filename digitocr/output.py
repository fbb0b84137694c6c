"""Output files. ``open_output`` gives a writer either stdout or a temporary file beside the
target that replaces the target (``os.replace``) only when writing finished, so a crash never
leaves a half-written output behind. ``open_resumable`` (``read --resume``) instead appends each
input file's records to the target as one unit and notes the file in a journal beside it
(``<output>.journal``) once its records are on disk: see ``ResumableOutput``."""

from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from .errors import OutputError
from .escapes import json_text

#: the journal beside a ``--resume`` output: one line per input file whose records are complete
JOURNAL_SUFFIX = ".journal"


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
