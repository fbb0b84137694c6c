"""``template make``: a template found on a reference page (its boxes, combs and table cells,
or its free digit strings), and the page drawn with the fields it found."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import TemplateError
from .register import RULES, RegistrationRules, make_reference
from .results import BBox
from .templatefile import Template, TemplateField

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
