"""The template file: ``Template`` and ``TemplateField``, and reading (with every check) and
writing their JSON.

A template file (JSON)::

    {"width": 1240, "height": 1754,                    # the reference page, pixels
     "reference": {"width": 707, "height": 1000, "png": "<base64>"},   # optional
     "registration": {"min_inliers": 20},              # optional: RegistrationRules overrides
     "fields": [{"name": "account", "bbox": [x, y, w, h], "layout": "auto", "cells": 10,
                 "type": "digits", "length": 10, "checksum": "luhn"}, ...]}

Field rules (``type``, ``length``, ``pattern``, ``checksum``, ``min``, ``max``, ``order``,
``required``) are read by ``digitocr.constraints``; ``registration`` by ``digitocr.register``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from .constraints import CHECKSUMS, DATE_ORDERS, TYPES, FieldRules, parse_date
from .errors import TemplateError
from .jsonfile import read_json
from .register import RULES, Reference, RegistrationRules, decode_reference
from .results import BBox

#: template coordinates beyond this are mistakes (and would overflow pixel arithmetic)
MAX_TEMPLATE_COORD = 1e7
#: the keys a template field may have
FIELD_KEYS = ("name", "bbox", "layout", "cells", "type", "length", "pattern", "checksum",
              "min", "max", "order", "required")
#: the keys of a template
TEMPLATE_KEYS = ("width", "height", "fields", "reference", "registration", "format")




@dataclass
class TemplateField:
    """A named rectangle of a template, read with its own layout (and its rules, if any)."""

    name: str
    bbox: BBox
    layout: str = "auto"
    #: a comb's number of cells (one digit each): at most that many digits
    cells: int | None = None
    rules: FieldRules | None = None


@dataclass
class Template:
    """Named rectangles in the pixel space of a reference page (``width`` x ``height``)."""

    fields: list[TemplateField]
    width: int | None = None
    height: int | None = None
    reference: Reference | None = None
    registration: RegistrationRules = RULES

    def to_dict(self) -> dict[str, Any]:
        """The template as its JSON file holds it."""
        out: dict[str, Any] = {}
        if self.width is not None and self.height is not None:
            out.update(width=self.width, height=self.height)
        out["fields"] = [field_dict(tf) for tf in self.fields]
        if self.registration != RULES:
            out["registration"] = {f.name: getattr(self.registration, f.name)
                                   for f in fields(RegistrationRules)
                                   if getattr(self.registration, f.name) != getattr(RULES, f.name)}
        if self.reference is not None:
            out["reference"] = self.reference.to_dict()
        return out


def field_dict(tf: TemplateField) -> dict[str, Any]:
    """One template field as its JSON object holds it."""
    out: dict[str, Any] = {"name": tf.name, "bbox": list(tf.bbox), "layout": tf.layout}
    if tf.cells is not None:
        out["cells"] = tf.cells
    r = tf.rules
    if r is not None:
        out["type"] = r.type
        if r.min_length is not None and r.type != "date":
            out["length"] = (r.min_length if r.min_length == r.max_length
                             else [r.min_length, r.max_length])
        for key in ("pattern", "checksum", "min", "max", "order"):
            if getattr(r, key) is not None:
                out[key] = getattr(r, key)
        if r.required:
            out["required"] = True
    return out


# ------------------------------------------------------------------ loading


def load_template(path: str | Path) -> Template:
    """Read ``--template FILE`` (see the module's docstring); a bad file raises
    ``TemplateError`` naming the file, and the field when one is wrong."""
    p = Path(path)
    data = read_json(p, "template", TemplateError)
    return parse_template(data, str(p))


def parse_template(data: object, source: str = "template") -> Template:
    """A ``Template`` from a template file's parsed JSON; ``source`` names it in errors."""
    raw = data.get("fields") if isinstance(data, dict) else data
    if not isinstance(raw, list) or not raw:
        raise TemplateError(f"{source}: template needs a non-empty 'fields' list")
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(TEMPLATE_KEYS))
        if unknown:
            raise TemplateError(f"{source}: unknown key {unknown[0]!r} (known: "
                                f"{', '.join(TEMPLATE_KEYS)})")
    out: list[TemplateField] = []
    for i, f in enumerate(raw):
        out.append(_parse_field(f, i, source))
    names = [tf.name for tf in out]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise TemplateError(f"{source}: two fields are named {dup!r} (names must differ)")
    sizes = []
    for key in ("width", "height"):
        v = data.get(key) if isinstance(data, dict) else None
        if v is not None and not (_number(v) and v >= 1):
            raise TemplateError(f"{source}: '{key}' must be a finite number >= 1, not {v!r:.40}")
        sizes.append(round(v) if v is not None else None)
    reference = None
    rules = RULES
    if isinstance(data, dict) and data.get("reference") is not None:
        if sizes[0] is None or sizes[1] is None:
            raise TemplateError(f"{source}: a template with a 'reference' needs 'width' and "
                                "'height'")
        try:
            reference = decode_reference(data["reference"])
        except ValueError as exc:
            raise TemplateError(f"{source}: {exc}") from exc
    if isinstance(data, dict) and data.get("registration") is not None:
        rules = _parse_registration(data["registration"], source)
    return Template(out, sizes[0], sizes[1], reference, rules)


def _parse_registration(raw: object, source: str) -> RegistrationRules:
    if not isinstance(raw, dict):
        raise TemplateError(f"{source}: 'registration' must be an object")
    known = {f.name: f for f in fields(RegistrationRules)}
    kw: dict[str, Any] = {}
    for key, v in raw.items():
        if key not in known:
            raise TemplateError(f"{source}: 'registration' has unknown key {key!r} (known: "
                                f"{', '.join(known)})")
        default = getattr(RULES, key)
        if isinstance(default, tuple):
            ok = (isinstance(v, list) and len(v) == len(default) and all(map(_number, v))
                  and all(x > 0 for x in v))
            v = tuple(float(x) for x in v) if ok else v
        elif isinstance(default, int):
            ok = isinstance(v, int) and not isinstance(v, bool) and v >= 0
        else:
            ok = _number(v) and v >= 0
        if not ok:
            raise TemplateError(f"{source}: 'registration.{key}' must be like {default!r}, "
                                f"not {v!r:.40}")
        kw[key] = v
    return replace(RULES, **kw)


def _parse_field(f: object, i: int, source: str) -> TemplateField:
    if not isinstance(f, dict):
        raise TemplateError(f"{source}: field {i + 1} is not an object")
    name = f.get("name", str(i + 1))
    where = f"{source}: field {i + 1}" + (f" ({name!r})" if isinstance(name, str) else "")
    unknown = sorted(set(f) - set(FIELD_KEYS))
    if unknown:
        raise TemplateError(f"{where}: unknown key {unknown[0]!r} (known: "
                            f"{', '.join(FIELD_KEYS)})")
    bbox = f.get("bbox")
    if (not isinstance(bbox, list) or len(bbox) != 4 or not all(map(_number, bbox))
            or bbox[2] <= 0 or bbox[3] <= 0):
        raise TemplateError(f"{where} needs 'bbox': [x, y, w, h] with w, h > 0 "
                            "(finite numbers)")
    layout = f.get("layout", "auto")
    if not isinstance(name, (str, int)) or isinstance(name, bool) or not isinstance(layout, str):
        raise TemplateError(f"{where}: 'name' and 'layout' must be strings")
    cells = f.get("cells")
    if cells is not None and not _count(cells):
        raise TemplateError(f"{where}: 'cells' must be a whole number >= 1, not {cells!r:.40}")
    x, y, w, h = (round(v) for v in bbox)
    return TemplateField(str(name), (x, y, w, h), layout, cells, _parse_rules(f, where))


def _parse_rules(f: dict[str, Any], where: str) -> FieldRules | None:
    """The field's rules; None when it states none (its reading is then never checked)."""
    keys = ("type", "length", "pattern", "checksum", "min", "max", "order", "required")
    if not any(k in f for k in keys):
        return None
    kind = f.get("type", "digits")
    if kind not in TYPES:
        raise TemplateError(f"{where}: 'type' must be one of {', '.join(TYPES)}, not {kind!r:.40}")
    lo = hi = None
    length = f.get("length")
    if length is not None:
        if _count(length):
            lo = hi = length
        elif (isinstance(length, list) and len(length) == 2 and all(map(_count, length))
              and length[0] <= length[1]):
            lo, hi = length
        else:
            raise TemplateError(f"{where}: 'length' must be a whole number >= 1 or "
                                f"[least, most], not {length!r:.40}")
    pattern = f.get("pattern")
    if pattern is not None:
        if not isinstance(pattern, str):
            raise TemplateError(f"{where}: 'pattern' must be a string (a regular expression)")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise TemplateError(f"{where}: 'pattern' is not a regular expression ({exc})") from exc
    checksum = f.get("checksum")
    if checksum is not None and checksum not in CHECKSUMS:
        raise TemplateError(f"{where}: 'checksum' must be one of {', '.join(CHECKSUMS)}, "
                            f"not {checksum!r:.40}")
    order = f.get("order")
    if kind == "date":
        if order not in DATE_ORDERS:
            raise TemplateError(f"{where}: a date needs 'order', one of {', '.join(DATE_ORDERS)}"
                                f" (not {order!r:.40})")
        lo = hi = len(order)
    elif order is not None:
        raise TemplateError(f"{where}: 'order' is for fields of type date")
    bounds = []
    for key in ("min", "max"):
        v = f.get(key)
        if v is not None:
            if kind == "date":
                if not isinstance(v, str) or parse_date(v.replace("-", ""), "YYYYMMDD") != v:
                    raise TemplateError(f"{where}: a date's '{key}' must be a date YYYY-MM-DD, "
                                        f"not {v!r:.40}")
            elif not _number(v):
                raise TemplateError(f"{where}: '{key}' must be a number, not {v!r:.40}")
        bounds.append(v)
    if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
        raise TemplateError(f"{where}: 'min' is above 'max'")
    required = f.get("required", False)
    if not isinstance(required, bool):
        raise TemplateError(f"{where}: 'required' must be true or false")
    return FieldRules(kind, lo, hi, pattern, checksum, bounds[0], bounds[1], order, required)


def _number(v: object) -> bool:
    """A finite int or float (not a bool, NaN or an infinity), with room for pixel maths."""
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v) and abs(v) < MAX_TEMPLATE_COORD)


def _count(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 1 <= v < MAX_TEMPLATE_COORD


def save_template(t: Template, path: str | Path) -> None:
    """Write ``t`` as JSON to ``path`` atomically (a temporary file renamed over it)."""
    p = Path(path)
    text = json.dumps(t.to_dict(), indent=1) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent if str(p.parent) else ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)  # read it back: a new file gets the umask's permissions, not 0600
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
