"""``--layout cheque``: a whole cheque's courtesy amount and date, found by what cheques share.

Cheques print the figures' place as a box at the right, beside or below the currency sign, near
the line of the amount in words (CTS-2010 and most other layouts), and the date as a comb of
six to ten cells (``D D M M Y Y Y Y``) near the top right. So:

1. the page's printed rules are found (``lines.find_rules``; security backgrounds are too
   faint and too short to make rules) and grouped into boxes and combs; for the amount box,
   after gaps of a dotted (thinly printed, then scanned) line are bridged;
2. **date**: the comb with ``cheque_date_cells_*`` cells in the top right, one digit per
   cell, as any comb is read, and constrained to be a date (``cheque_date_order``): the most
   probable reading that is one, its ``value`` the ISO date; none is: ``valid`` false, and
   the field needs review. With no comb, a date written on a short printed line
   (``find_date_line``: three groups of digits parted by separators), read per digit, its
   parts given by the separators;
3. **amount**: the widest box of the right half (the currency sign's own small box beside it
   is too narrow to count), cut out and read as one cell (``cells.segment_cell``: its walls,
   the background and stray marks cleaned away), so that ``--model auto`` reads it with the
   whole-string reader, checked digit by digit. With no such box, the longest string of
   writing in the right half is taken.

Every number that decides is a ``cheque_*`` field of ``SegmentRules``, as a share of the page
or of a box.
"""

from __future__ import annotations

import cv2
import numpy as np

from .cells import segment_cell
from .layouts import Prepared, boxed_fields, free_fields, map_field, prepare
from .lines import Rules, find_rules, group_box, group_cells
from .types import AMOUNT, DATE, BBox, FieldCrops, Segment, SegmentOptions, SegmentRules


def _centre(b: BBox) -> tuple[float, float]:
    return b[0] + b[2] / 2.0, b[1] + b[3] / 2.0


def find_date(p: Prepared, groups: list[list[BBox]], fields: list[FieldCrops],
              rules: SegmentRules) -> FieldCrops | None:
    """The date comb (of ``boxed_fields``' ``fields``): enough cells, top right; the one with
    most cells, then the highest."""
    h, w = p.mask.shape
    cands = [g for g in groups
             if rules.cheque_date_cells_min <= len(g) <= rules.cheque_date_cells_max
             and _centre(group_box(g))[0] > rules.cheque_right * w
             and _centre(group_box(g))[1] < rules.cheque_date_top * h]
    if not cands:
        return None
    box = group_box(max(cands, key=lambda g: (len(g), -group_box(g)[1])))
    comb = next((f for f in fields if f.kind == "comb" and f.bbox == box), None)
    if comb is not None:
        from ..constraints import FieldRules

        comb.name = DATE
        comb.rules = FieldRules(type="date", order=rules.cheque_date_order)
    return comb


def find_amount_box(p: Prepared, cells: list[BBox], taken: list[BBox],
                    rules: SegmentRules) -> BBox | None:
    """The largest wide box in the right half that is not part of another field (analysis px)."""
    h, w = p.mask.shape

    def inside(c: BBox, t: BBox) -> bool:
        cx, cy = _centre(c)
        return t[0] <= cx <= t[0] + t[2] and t[1] <= cy <= t[1] + t[3]

    cands = [c for c in cells
             if rules.cheque_aspect_min <= c[2] / max(c[3], 1) <= rules.cheque_aspect_max
             and _centre(c)[0] > rules.cheque_right * w
             and c[2] * c[3] > rules.cheque_area * w * h
             and not any(inside(c, t) for t in taken)]
    return max(cands, key=lambda c: c[2] * c[3]) if cands else None


def bridged(mask: np.ndarray, rules: SegmentRules) -> np.ndarray:
    """The mask with short gaps along rows and columns closed (a dotted line made whole)."""
    k = max(3, round(rules.cheque_bridge * mask.shape[1]))
    along = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((1, k), np.uint8))
    return np.maximum(along, cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((k, 1), np.uint8)))


def read_box_as_cell(image: np.ndarray, box: BBox, opts: SegmentOptions, name: str = AMOUNT,
                     inset: float | None = None) -> FieldCrops:
    """A printed box of the page (page px) cut out and segmented as one cell, in page px
    (``inset``: a share of its height left out inside its walls, ``cheque_inset`` unless
    given)."""
    x, y, bw, bh = box
    d = max(2, round((opts.rules.cheque_inset if inset is None else inset) * bh))
    x0, y0 = max(0, x + d), max(0, y + d)
    x1, y1 = min(image.shape[1], x + bw - d), min(image.shape[0], y + bh - d)
    (cell,) = segment_cell(image[y0:y1, x0:x1], opts)
    for seg in cell.segments:
        for opt in seg.options:
            for g in opt:
                gx, gy, gw, gh = g.bbox
                g.bbox = (gx + x0, gy + y0, gw, gh)
    cx, cy, cw, ch = cell.bbox
    return FieldCrops((cx + x0, cy + y0, cw, ch), cell.segments, kind="cell", name=name)


def _overlap(a: BBox, b: BBox) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def date_shaped(f: FieldCrops, order: str, top_right: bool) -> int:
    """How much a line's writing looks like a date, by its likeliest cut: 2 for three groups
    of digits parted by separators (``10.3.26``, ``3/10/2026``), 1 for the order's full width
    of digits without them at the page's top right, else 0."""
    from ..constraints import digit_groups

    def shown(s: Segment) -> list[str]:
        if _slash_option(s) is not None:
            return ["/"]  # a stroke that may be a 1 or a slash: a slash, for the shape
        return [g.label if g.kind == "separator" else "0" for g in s.options[0]]

    labels = [lab for s in f.segments if s.options for lab in shown(s)]
    groups = digit_groups(labels)
    lengths = sorted(map(len, groups))
    # day and month of one or two digits, a year of up to four (a list's <= is lexicographic:
    # each length is compared alone)
    if len(lengths) == 3 and lengths[1] <= 2 and lengths[2] <= 4 and 4 <= sum(lengths) <= 8:
        return 2
    return int(top_right and len(groups) == 1 and len(groups[0]) == len(order))


def _slash_option(s: Segment) -> int | None:
    """The index of ``s``'s option that reads it as a ``/`` sign (not its likeliest), if any."""
    return next((k for k, o in enumerate(s.options) if k and len(o) == 1 and o[0].label == "/"),
                None)


def _slash(s: Segment) -> Segment:
    k = _slash_option(s)
    return s if k is None else Segment([s.options[k]], [0.0], [s.rules[k]])


def find_date_line(image: np.ndarray, p: Prepared, found: Rules, taken: list[BBox],
                   opts: SegmentOptions) -> FieldCrops | None:
    """With no date comb: the writing on a short printed line (``cheque_line_*``, none
    touching ``taken``) that has a date's shape (``date_shaped``; the best, then the highest),
    named ``date`` and read per digit as a date in ``cheque_date_order`` (page px)."""
    from ..constraints import FieldRules

    r = opts.rules
    h, w = p.mask.shape
    n, _, stats, _ = cv2.connectedComponentsWithStats(found.horizontal, connectivity=8)
    best: tuple[int, int, FieldCrops] | None = None
    for i in range(1, n):
        x, y, lw = (int(v) for v in stats[i, :3])
        if not r.cheque_line_min * w <= lw <= r.cheque_line_max * w:
            continue
        reach = round(r.cheque_line_reach * lw)
        x0, x1 = max(0, x - reach), min(w, x + lw + reach)
        y0 = max(0, y - round(r.cheque_line_above * lw))
        y1 = y  # the line itself left out: the digits standing on it would join it
        band = (x0, y0, x1 - x0, y1 - y0)
        if any(_overlap(band, t) for t in taken):
            continue
        f = read_box_as_cell(image, p.to_page(band), opts, DATE, inset=0.0)
        top_right = (_centre(band)[0] > r.cheque_right * w
                     and _centre(band)[1] < r.cheque_date_top * h)
        shape = date_shaped(f, r.cheque_date_order, top_right)
        if shape and (best is None or (shape, -y) > best[:2]):
            best = (shape, -y, f)
    if best is None:
        return None
    shape, _, f = best
    if shape == 2:  # read as the shape was judged: a stroke that may be a slash is one
        f.segments = [_slash(s) for s in f.segments]
    f.kind, f.unsegmented = "string", []
    f.rules = FieldRules(type="date", order=r.cheque_date_order, parted=shape == 2)
    return f


def segment_cheque(image: np.ndarray, opts: SegmentOptions) -> list[FieldCrops]:
    """A whole cheque: its ``date`` (a comb, else a line) and its ``amount`` box (either may
    be missing)."""
    r = opts.rules
    p = prepare(image, opts, max_side=r.cheque_analysis_side)
    found = find_rules(p.mask, r)
    out: list[FieldCrops] = []
    boxes = boxed_fields(p, found) if found.cells else []
    date = find_date(p, group_cells(found.cells, found.thickness, segment_rules=r), boxes, r)
    taken = [date.bbox] if date is not None else []
    box = find_amount_box(p, find_rules(bridged(p.mask, r), r).cells, taken, r)
    if box is not None:
        out.append(read_box_as_cell(image, p.to_page(box), opts))
    else:
        w = p.mask.shape[1]
        right = [f for f in free_fields(p) if _centre(f.bbox)[0] > r.cheque_right * w
                 and not any(f.bbox == t for t in taken)]
        if right:
            best = max(right, key=lambda f: len(f.segments))
            best.name = AMOUNT
            out.append(map_field(p, best))
    if date is not None:
        out.append(map_field(p, date))
    else:
        line = find_date_line(image, p, found, [box] if box is not None else [], opts)
        if line is not None:
            out.append(line)
    return out
