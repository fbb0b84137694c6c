"""Templates of known forms: named fields in the pixels of a reference page, with their types
and rules, and what registration needs to align every scan to that page.

A template file (JSON)::

    {"width": 1240, "height": 1754,                    # the reference page, pixels
     "reference": {"width": 707, "height": 1000, "png": "<base64>"},   # optional
     "registration": {"min_inliers": 20},              # optional: RegistrationRules overrides
     "fields": [{"name": "account", "bbox": [x, y, w, h], "layout": "auto", "cells": 10,
                 "type": "digits", "length": 10, "checksum": "luhn"}, ...]}

With a ``reference`` (``digitocr template make`` writes one), every page is registered to it
(``digitocr.register``) and read on the aligned page; a page that does not register is an
error record. Without one, the rectangles are scaled by the page's size (older templates).
Field rules (``type``, ``length``, ``pattern``, ``checksum``, ``min``, ``max``, ``order``,
``required``) are read by ``digitocr.constraints``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from .constraints import CHECKSUMS, DATE_ORDERS, TYPES, FieldRules, decode, parse_date
from .errors import TemplateError
from .jsonfile import read_json
from .register import (
    RULES,
    Reference,
    Registration,
    RegistrationRules,
    decode_reference,
    make_reference,
    register,
    restore,
    warp,
)
from .results import BBox, PageResult

#: template coordinates beyond this are mistakes (and would overflow pixel arithmetic)
MAX_TEMPLATE_COORD = 1e7
#: the keys a template field may have
FIELD_KEYS = ("name", "bbox", "layout", "cells", "type", "length", "pattern", "checksum",
              "min", "max", "order", "required")
#: the keys of a template
TEMPLATE_KEYS = ("width", "height", "fields", "reference", "registration", "format")
#: ``template make``: a row of side-by-side cells is a comb (one digit a cell) when every cell
#: is at most this many times as wide as it is tall; wider cells are table cells, one field each
COMB_MAX_ASPECT = 1.6
#: ``template make``: a field's rectangle is its printed box grown by this share of the box's
#: height on every side (at least ``MIN_PAD`` px), so that a scan registered a few pixels off
#: still has the whole frame inside the rectangle (the segmenter finds and removes it there)
FIELD_PAD = 0.2
MIN_PAD = 4
#: ``template make``: a box found only once short gaps are bridged (a thinly printed, dotted
#: line, as a cheque's amount box) is added when at most this share of its area (or of the
#: other's, the smaller) lies in a box found without bridging; more is the same box again
BRIDGED_OVERLAP_MAX = 0.1
#: ... and when both its sides are at least this share of the page's shorter side: a closed
#: letter of printed text (bridging closes some) is smaller than any box for writing in
BRIDGED_MIN_SIDE = 0.05


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


# ------------------------------------------------------------------ making a template


def _pad(box: BBox, shape: tuple[int, ...], thickness: int) -> BBox:
    x, y, w, h = box
    d = max(MIN_PAD, thickness + 2, round(FIELD_PAD * h))
    x0, y0 = max(0, x - d), max(0, y - d)
    x1, y1 = min(shape[1], x + w + d), min(shape[0], y + h + d)
    return (x0, y0, x1 - x0, y1 - y0)


def _overlap(a: BBox, b: BBox) -> float:
    """The share of the smaller box's area that lies in the other."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / max(1, min(a[2] * a[3], b[2] * b[3]))


def bridged_cells(mask: np.ndarray, cells: list[BBox]) -> list[BBox]:
    """The boxes of ``mask`` found once short gaps along rows and columns are bridged
    (``segment.cheque.bridged``) that none of ``cells`` (found without) already is, of at
    least ``BRIDGED_MIN_SIDE``."""
    from .segment import find_rules
    from .segment.cheque import bridged
    from .segment.types import RULES as SEGMENT_RULES

    side = BRIDGED_MIN_SIDE * min(mask.shape[:2])
    more = find_rules(bridged(mask, SEGMENT_RULES)).cells
    return [c for c in more if min(c[2], c[3]) >= side
            and all(_overlap(c, k) <= BRIDGED_OVERLAP_MAX for k in cells)]


def make_template(image: np.ndarray, rules: RegistrationRules = RULES) -> Template:
    """A template of the page ``image`` (blank or filled): one field per printed box, comb or
    table cell, also of thin dotted rules (``bridged_cells``), or free digit strings when it
    has no boxes; named ``field_1``... in reading order, and the reference picture
    registration needs."""
    from .segment import (
        FieldCrops,
        SegmentOptions,
        find_rules,
        free_fields,
        group_box,
        group_cells,
        prepare,
        reading_order,
    )

    p = prepare(image, SegmentOptions(), deskew=False)
    found = find_rules(p.mask)
    thick = max(1, round(found.thickness * p.scale))
    boxes: list[FieldCrops] = []  # a FieldCrops per field, for reading_order; segments unused
    blank: list[BBox] = []  # every cell, cleared inside on the reference picture
    groups = group_cells(found.cells, found.thickness)
    groups += group_cells(bridged_cells(p.mask, found.cells), found.thickness)
    for group in groups:
        cells = [p.to_page(c) for c in group]
        blank.extend(cells)
        if len(cells) > 1 and all(c[2] <= COMB_MAX_ASPECT * c[3] for c in cells):
            boxes.append(FieldCrops(group_box(cells), [], kind="comb", name=str(len(cells))))
        else:
            boxes.extend(FieldCrops(c, [], kind="box") for c in cells)
    if not boxes:
        boxes = [FieldCrops(p.to_page(f.bbox), [], kind="string") for f in free_fields(p)]
    boxes = reading_order(boxes)
    # a printed box is read with ``boxes`` (inside its frame; ``auto`` would take a crop
    # framed by one box for a cut cell, frame and all), a free string with ``auto``
    out = [TemplateField(f"field_{n}", _pad(f.bbox, image.shape, thick),
                         "auto" if f.kind == "string" else "boxes",
                         int(f.name) if f.kind == "comb" and f.name else None)
           for n, f in enumerate(boxes, start=1)]
    if not out:
        raise TemplateError("no boxes, combs, table cells or digit strings found on the page")
    blank = blank or [f.bbox for f in boxes]
    reference = make_reference(image, blank, thick + 1, rules)
    h, w = image.shape[:2]
    return Template(out, w, h, reference, rules)


#: ``--annotate`` colours (BGR) of the fields and their numbers
FIELD_COLOUR, LABEL_COLOUR = (200, 90, 0), (0, 0, 200)


def annotate_template(image: np.ndarray, t: Template, out: str | Path) -> Path:
    """Draw ``t``'s fields on ``image``, numbered with their names, and write a PNG to ``out``."""
    import cv2

    from .segment import gray_u8

    canvas = cv2.cvtColor(gray_u8(image), cv2.COLOR_GRAY2BGR)
    text_px = max(14, round(0.012 * max(canvas.shape[:2])))
    scale = text_px / 22.0
    thick = max(1, round(text_px / 10))
    for tf in t.fields:
        x, y, w, h = tf.bbox
        cv2.rectangle(canvas, (x, y), (x + w, y + h), FIELD_COLOUR, thick)
        label = tf.name + (f" ({tf.cells} cells)" if tf.cells else "")
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        ly = y - 3 if y - th - 3 > 0 else y + h + th + 3
        cv2.rectangle(canvas, (x, ly - th - 2), (x + tw + 2, ly + base), (255, 255, 255), -1)
        cv2.putText(canvas, label, (x + 1, ly), cv2.FONT_HERSHEY_SIMPLEX, scale, LABEL_COLOUR,
                    thick, cv2.LINE_AA)
    p = Path(out)
    ok, png = cv2.imencode(".png", canvas)
    if not ok:  # pragma: no cover
        raise TemplateError(f"{p}: cannot encode the annotation")
    p.write_bytes(png.tobytes())
    return p


# ------------------------------------------------------------------ reading with a template


def align(image: np.ndarray, t: Template | None) -> tuple[np.ndarray, Registration | None]:
    """The page warped onto the template (when it has a reference picture) and how it
    registered; the page as it is and None without a reference. A page that does not
    register comes back as it is with the failed ``Registration``."""
    if t is None or t.reference is None or t.width is None or t.height is None:
        return image, None
    reg = register(image, t.reference, (t.width, t.height), t.registration)
    if not reg.ok:
        return image, reg
    return warp(image, reg, (t.width, t.height)), reg


def unregistered(file: str, page: int, width: int, height: int, reg: Registration
                 ) -> PageResult:
    """The error record of a page that does not register to the template."""
    return PageResult(file, page, width, height,
                      error=f"{file}: page {page} {reg.error}", registration=reg.summary())


def finish(result: PageResult, t: Template | None, reg: Registration | None,
           min_confidence: float = 0.0) -> PageResult:
    """A page read with template ``t``: fields not read under their rules yet (a string
    reader's) read so from their glyphs' alternatives (``constraints``), and
    with a registration, boxes back in the page's pixels and the registration recorded."""
    if t is not None and result.ok:
        by_name = {tf.name: tf for tf in t.fields}
        for i, f in enumerate(result.fields):
            tf = by_name.get(f.name or "")
            if tf is not None and tf.rules is not None and f.valid is None:  # not yet read
                result.fields[i] = decode(f, tf.rules, min_confidence)
    if reg is not None and reg.ok:
        result = restore(result, reg)
    return result


@dataclass
class Check:
    """One page's registration to a template (``template check``)."""

    file: str
    page: int
    registration: Registration | None
    error: str | None = None  # the page could not be decoded

    @property
    def ok(self) -> bool:
        return self.error is None and self.registration is not None and self.registration.ok

    def line(self) -> str:
        """``file p1: ok (148 inliers, error 1.65 px, angle 2.12, scale 0.9995)``."""
        where = f"{self.file} p{self.page}"
        if self.error is not None:
            return f"{where}: FAILED {self.error}"
        reg = self.registration
        assert reg is not None
        s = reg.summary()
        detail = (f"{s['inliers']} inliers, error {s['error_px']:.2f} px, angle "
                  f"{s['angle']:.2f}, scale {s['scale']:.4f}")
        return f"{where}: ok ({detail})" if reg.ok else f"{where}: FAILED {reg.error}"


def check(t: Template, paths: Iterable[str], dpi: int = 300, orientation: bool = True
          ) -> Iterator[Check]:
    """Register every page of ``paths`` to ``t``, as ``read`` would (pages found turned are
    turned upright first)."""
    from . import orientation as turn
    from .errors import InputError
    from .io import load_pages

    if t.reference is None or t.width is None or t.height is None:
        raise TemplateError("the template has no reference picture to register pages to "
                            "(make one with: digitocr template make PAGE -o form.json)")
    for path in paths:
        n = 0
        try:
            for page in load_pages(path, dpi=dpi, gray=True):
                n = page.page
                image = page.image
                if orientation:
                    est = turn.estimate(image)
                    if turn.should_turn(est):
                        image = turn.upright(image, est.angle)
                yield Check(page.file, page.page,
                            register(image, t.reference, (t.width, t.height), t.registration))
        except InputError as exc:
            yield Check(path, n + 1 if n else 0, None, str(exc))
