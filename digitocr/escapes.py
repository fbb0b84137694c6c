"""Text made safe for where it goes: JSON and CSV output keep file names that are not UTF-8
(``os.fsdecode``'s surrogate escapes) as escapes, a CSV cell that a spreadsheet would run as a
formula gets a leading ', and a terminal gets control characters as escapes."""

from __future__ import annotations

import json
import re

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
