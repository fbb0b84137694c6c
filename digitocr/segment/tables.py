"""Tables: the row and column of each boxed field, and which columns are printed.

A ruled table's boxes (``boxed_fields``' fields) touch one another: boxes that share a wall,
across or down, are one table, numbered rows and columns from 1 (as Textract's ``RowIndex``
and ``ColumnIndex`` are). A column of a table whose writing stands at one height on one line
in every row is printed text (row numbers, names, a caption), not handwriting: a hand never
writes a dozen numbers that alike. Printed fields are left out of the reading unless asked
(``read --include-printed``).
"""

from __future__ import annotations

import numpy as np

from .components import linked_groups
from .types import RULES, BBox, FieldCrops, SegmentRules

HANDWRITTEN = "handwritten"
PRINTED = "printed"


def _touch(a: BBox, b: BBox, gap: float) -> bool:
    """Whether boxes ``a`` and ``b`` share a wall (within ``gap`` px), across or down."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    across = min(ay + ah, by + bh) - max(ay, by) > 0.5 * min(ah, bh)
    down = min(ax + aw, bx + bw) - max(ax, bx) > 0.5 * min(aw, bw)
    if across and (abs(bx - (ax + aw)) <= gap or abs(ax - (bx + bw)) <= gap):
        return True
    return down and (abs(by - (ay + ah)) <= gap or abs(ay - (by + bh)) <= gap)


def _bands(starts: list[int], gap: float) -> list[int]:
    """The 1-based band of each start, starts within ``gap`` px of the band's first sharing one."""
    order = sorted(range(len(starts)), key=starts.__getitem__)
    band = [0] * len(starts)
    first, n = None, 0
    for i in order:
        if first is None or starts[i] - first > gap:
            first, n = starts[i], n + 1
        band[i] = n
    return band


def place_in_tables(fields: list[FieldCrops], thickness: int,
                    rules: SegmentRules = RULES) -> list[list[FieldCrops]]:
    """Set ``row`` and ``col`` of the boxed fields that are in a table (at least two rows and
    two columns of boxes sharing walls; the others keep None), and return the tables."""
    gap = rules.comb_gap_thick * thickness + rules.comb_gap
    boxes = [f.bbox for f in fields]
    tables = linked_groups(len(boxes), lambda i, j: _touch(boxes[i], boxes[j], gap))
    out: list[list[FieldCrops]] = []
    for members in tables:
        rows = _bands([boxes[i][1] for i in members], gap)
        cols = _bands([boxes[i][0] for i in members], gap)
        if max(rows) < 2 or max(cols) < 2:
            continue
        for i, r, c in zip(members, rows, cols, strict=True):
            fields[i].row, fields[i].col = r, c
        out.append([fields[i] for i in members])
    return out


def _ink_extent(f: FieldCrops) -> tuple[int, int] | None:
    """Top and bottom (px) of the field's first-guess glyphs, None when it has none."""
    boxes = [g.bbox for s in f.segments if s.options for g in s.options[0]]
    if not boxes:
        return None
    return min(b[1] for b in boxes), max(b[1] + b[3] for b in boxes)


def mark_printed(tables: list[list[FieldCrops]], rules: SegmentRules = RULES) -> None:
    """Set ``style`` to printed on every field of a table's column whose writing, in
    ``column_rows`` rows at least, is of one height and on one line: the spread (standard
    deviation) of its heights and of its bottoms below the box's top at most
    ``printed_spread`` of the height, or ``printed_px`` px where that is more."""
    columns: dict[tuple[int, int | None], list[FieldCrops]] = {}
    for t, table in enumerate(tables):
        for f in table:
            columns.setdefault((t, f.col), []).append(f)
    for col in columns.values():
        inked = [(f, e) for f in col if (e := _ink_extent(f)) is not None]
        if len(inked) < rules.column_rows:
            continue
        heights = np.array([b - t for _, (t, b) in inked], np.float64)
        bottoms = np.array([b - f.bbox[1] for f, (_, b) in inked], np.float64)
        limit = max(rules.printed_px, rules.printed_spread * float(np.median(heights)))
        if heights.std() <= limit and bottoms.std() <= limit:
            for f in col:
                f.style = PRINTED
