"""Which files to read: folders walked for their images and PDFs (links followed, loops and
unreadable entries kept so that reading them says why), and why a path is no readable file."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from .errors import InputError

IMAGE_SUFFIXES = {
    ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".pgm", ".ppm", ".pbm",
    ".pnm", ".jp2",
}
PDF_SUFFIXES = {".pdf"}
STDIN = "-"


def expand_inputs(paths: str | Path | Iterable[str | Path]) -> list[str]:
    """Directories become their image/PDF files (recursively, sorted); other paths are kept.
    One path may be given alone (a ``str`` is always one path, never its characters).

    What cannot be walked stays in the list so that reading it gives an error record (see
    ``load_pages``): a folder that cannot be listed, a link back to an enclosing folder, a
    dangling or looping link with an image or PDF suffix. Links to folders are followed.
    """
    out: list[str] = []
    for p in [paths] if isinstance(paths, (str, Path)) else paths:
        s = os.fspath(p)
        if s != STDIN and os.path.isdir(s):
            out.extend(_walk(s, frozenset()))
        else:
            out.append(s)
    return out


def _wanted(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES | PDF_SUFFIXES


def _walk(folder: str, seen: frozenset[tuple[int, int]]) -> list[str]:
    try:
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen:
            return [folder]  # a link back to a folder being walked: an error record
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return [folder]  # cannot be listed: reading it says why
    seen = seen | {(st.st_dev, st.st_ino)}
    out: list[str] = []
    for e in entries:
        path = str(Path(folder, e.name))  # as Path.rglob spelt it: "x.png", not "./x.png"
        try:
            if e.is_dir():
                out.extend(_walk(path, seen))
                continue
            wanted = e.is_file() and _wanted(e.name)
        except OSError:  # a folder without execute permission: stat fails
            wanted = _wanted(e.name)
        if not wanted and e.is_symlink() and not os.path.exists(path):
            # dangling or looping: reported when it could have been a page (or, looping,
            # a folder)
            wanted = _wanted(e.name) or _link_loops(path)
        if wanted:
            out.append(path)
    return out


def _link_loops(path: str) -> bool:
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def check_path(name: str) -> None:
    """Raise ``InputError`` saying why ``name`` is not a readable file."""
    try:
        st = os.stat(name)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{name}: symbolic link loop") from exc
        if os.path.islink(name):
            raise InputError(f"{name}: dangling symbolic link (to {os.readlink(name)})") from exc
        if exc.errno == errno.ENOENT:
            raise InputError(f"{name}: no such file") from exc
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(st.st_mode):
        try:
            os.scandir(name).close()
        except OSError as exc:
            raise InputError(f"{name}: cannot list folder ({exc.strerror or exc})") from exc
        real, parent = os.path.realpath(name), os.path.realpath(os.path.dirname(name) or ".")
        if os.path.islink(name) and (parent + os.sep).startswith(real.rstrip(os.sep) + os.sep):
            raise InputError(f"{name}: symbolic link loop (back to the enclosing {real})")
        raise InputError(f"{name}: is a directory")
    if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
        raise InputError(f"{name}: not a regular file")
