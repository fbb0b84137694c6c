"""Read a small JSON file a user wrote (``--rules``, ``--template``), with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path


def read_json(path: str | Path, what: str, error: type[Exception], *,
              plural: bool = False) -> object:
    """The parsed JSON of ``path``; any failure raises ``error`` naming the file and ``what``
    it should hold (``"template"``; ``plural``: ``"rules"``). NaN and Infinity are refused:
    they are not JSON, and no threshold or coordinate means them."""
    p = Path(path)
    be = "are" if plural else "is"
    try:
        return json.loads(p.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except OSError as exc:
        raise error(f"{p}: cannot read {what} ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise error(f"{p}: {what} {be} not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise error(f"{p}: {what} {be} not valid JSON (nested too deeply)") from exc


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")
