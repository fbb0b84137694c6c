"""The built-in layouts: ``auto``, ``boxes``, ``string``, ``digit``, ``cheque``, and the steps
they share (``prepare`` a page, its ``boxed_fields`` or ``free_fields``, ``map_field`` back to
page pixels, ``reading_order``)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

from .components import Comp, Components, cc_stats
from .glyphs import string_segments
from .ink import binarise, gray_u8, ink_map
from .lines import (
    Rules,
    column_dividers,
    estimate_skew,
    find_rules,
    group_box,
    group_cells,
    inner_dividers,
    long_lines,
    merge_faint_walls,
    remove_rules,
    rotation,
    rule_thickness,
)
from .tables import mark_printed, place_in_tables
from .types import RULES, BBox, FieldCrops, Segment, Segmenter, SegmentOptions, SegmentRules


def reading_order(fields: list[FieldCrops], rules: SegmentRules = RULES) -> list[FieldCrops]:
    """Top to bottom in lines (boxes whose vertical spans overlap), left to right in a line."""
    rest = sorted(fields, key=lambda f: f.bbox[1])
    out: list[FieldCrops] = []
    while rest:
        first = rest[0]
        y0, y1 = first.bbox[1], first.bbox[1] + first.bbox[3]
        line = [f for f in rest if min(y1, f.bbox[1] + f.bbox[3]) - max(y0, f.bbox[1])
                > rules.line_overlap * min(first.bbox[3], f.bbox[3])]
        out.extend(sorted(line, key=lambda f: f.bbox[0]))
        rest = [f for f in rest if f not in line]
    return out


@dataclass
class Prepared:
    """A page ready for segmentation: deskewed ink map and mask, and the way back to page space."""

    ink: np.ndarray
    mask: np.ndarray
    angle: float
    shape: tuple[int, int]
    scale: float = 1.0  # page pixels per analysis pixel
    rules: SegmentRules = RULES

    def to_page(self, box: BBox) -> BBox:
        """Map a box of the (scaled, deskewed) analysis image back to page pixels."""
        x, y, w, h = box
        cx, cy = x + w / 2.0, y + h / 2.0
        if self.angle:
            inv = cv2.invertAffineTransform(rotation(self.shape, self.angle))
            cx, cy = (inv[0, 0] * cx + inv[0, 1] * cy + inv[0, 2],
                      inv[1, 0] * cx + inv[1, 1] * cy + inv[1, 2])
        s = self.scale
        return (round((cx - w / 2.0) * s), round((cy - h / 2.0) * s), round(w * s), round(h * s))


def prepare(image: np.ndarray, opts: SegmentOptions, deskew: bool = True,
            max_side: int | None = -1) -> Prepared:
    """Ink map, binarisation and (optionally) deskew of one page, at analysis resolution
    (``max_side``: default ``opts.rules.analysis_side``; None: native resolution)."""
    r = opts.rules
    max_side = r.analysis_side if max_side == -1 else max_side
    gray = gray_u8(image)
    scale = 1.0
    short = min(gray.shape[:2])
    if max_side and short > r.shrink_over * max_side:
        scale = short / max_side
        size = (round(gray.shape[1] / scale), round(gray.shape[0] / scale))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        scale = image.shape[1] / gray.shape[1]
    ink = ink_map(gray, opts.polarity, r)
    b = binarise(ink, rules=r)
    angle = 0.0
    if deskew and opts.deskew:
        angle = estimate_skew(b.mask, opts.max_skew, r)
        if abs(angle) >= r.min_skew:
            m = rotation(ink.shape, angle)
            ink = cv2.warpAffine(ink, m, (ink.shape[1], ink.shape[0]), flags=cv2.INTER_LINEAR)
            b = binarise(ink, rules=r)
        else:
            angle = 0.0
    return Prepared(b.ink, b.mask, angle, (ink.shape[0], ink.shape[1]), scale, r)


def min_component_area(shape: tuple[int, ...], rules: SegmentRules = RULES) -> int:
    """Fewest pixels a component of a page of ``shape`` has to count (smaller ones are dust)."""
    return max(rules.min_area, int(min(shape[:2]) / rules.area_divisor) ** 2)


def map_field(p: Prepared, f: FieldCrops) -> FieldCrops:
    """``f`` (found on ``p``'s analysis image) with its and its glyphs' boxes in page pixels."""
    if not p.angle and p.scale == 1.0:
        return f
    for seg in f.segments:
        for opt in seg.options:
            for g in opt:
                g.bbox = p.to_page(g.bbox)
    f.bbox = p.to_page(f.bbox)
    return f


def boxed_fields(p: Prepared, rules: Rules) -> list[FieldCrops]:
    """Fields of a page with printed boxes: one field per box, one glyph per comb cell."""
    r = p.rules
    cells = merge_faint_walls(rules.cells, p.ink, rules.thickness, segment_rules=r)
    groups = group_cells(cells, rules.thickness, segment_rules=r)
    # faint dividers inside a single box (a comb printed light, which rule finding misses):
    # where they cut it into even cells, they are taken out and the box read as a comb
    splits: dict[BBox, list[BBox]] = {}
    lined: set[BBox] = set()
    across: set[BBox] = set()  # combs whose writing ignores their cells
    clean = remove_rules(p.mask, rules, segment_rules=r)
    voted = column_dividers(p.ink, [g[0] for g in groups if len(g) == 1], rules.thickness, r)
    for g in groups:
        if len(g) != 1:
            continue
        # the column's dividers first: one row's own may miss a broken one that the cut
        # then leaves in a cell, to be read as a 1
        split = None
        if g[0] in voted:
            spans, split = even_dividers(g[0], voted[g[0]], r)
        if split is None:
            spans = inner_dividers(p.mask, g[0], rules.thickness, r)
            split = comb_split(g[0], spans, r)
        if split is None:
            if spans:
                lined.add(g[0])
            continue  # lines that make no comb may be strokes (a tall 1): they stay
        splits[g[0]] = split
        crossing = straddles(clean, g[0], split, r)
        if crossing:
            across.add(g[0])
        _, y, _, h = g[0]
        for a, b in spans:
            band = clean[y : y + h, max(0, a - 1) : b + 1]
            if crossing:  # where a stroke runs through the divider, the line stays
                side = clean[y : y + h, max(0, a - 2)] | clean[y : y + h, min(
                    clean.shape[1] - 1, b + 1)]
                band[side == 0] = 0
            else:
                band[:] = 0
    cc = Components(clean, p.ink, rules=r)
    comb_cc = cc
    if any(len(g) > 1 for g in groups):
        comb_cc = Components(remove_rules(p.mask, rules, restore_vertical=False,
                                          segment_rules=r), p.ink, rules=r)
    min_area = min_component_area(p.mask.shape, r)
    fields: list[FieldCrops] = []
    for group in groups:
        bbox = group_box(group)
        cells_cc = comb_cc
        if len(group) == 1:
            split = splits.get(group[0])
            if split is None or group[0] in across:  # no comb, or written across it
                comps = cc.inside(group[0], min_area)
                fields.append(FieldCrops(bbox, string_segments(cc, comps), kind="box",
                                         lines=group[0] in lined))
                continue
            group, cells_cc = split, cc
        segs: list[Segment] = []
        for cell in group:
            comps = cells_cc.inside(cell, min_area)
            if not comps:
                continue
            merged = comps[0]
            for c in comps[1:]:
                merged = merged.merged(c)
            if merged.h < r.comb_speck * cell[3] and merged.w < r.comb_speck * cell[2]:
                continue  # a speck, not a digit: the cell is empty
            crop = cells_cc.crop(merged)
            if crop is not None:
                segs.append(Segment([[crop]]))
        fields.append(FieldCrops(bbox, segs, kind="comb"))
    mark_printed(place_in_tables(fields, rules.thickness, r), r)
    return fields


def straddles(mask: np.ndarray, box: BBox, cells: list[BBox], r: SegmentRules) -> bool:
    """Whether the writing in ``box`` (``mask``: rules out, a light comb's dividers still in)
    ignores the comb's ``cells``: a component at least ``comb_speck`` of the box's height
    tall reaches ``straddle`` of its width past a cut between two cells on each side (a number
    written small across the comb; a divider it touches is part of it)."""
    x, y, w, h = box
    n, _, stats, _ = cc_stats(mask[y : y + h, x : x + w], 8)
    cuts = [c[0] - x for c in cells[1:]]
    for cx, _, cw, ch, _ in stats[1:n]:
        if ch < r.comb_speck * h:
            continue
        reach = r.straddle * cw
        if any(cx + reach < cut < cx + cw - reach for cut in cuts):
            return True
    return False


def comb_split(cell: BBox, spans: list[tuple[int, int]], r: SegmentRules) -> list[BBox] | None:
    """The cells a box's inner dividers cut it into, when they make a comb: cells of one
    pitch, where a cell ``divider_missing`` times as wide as the narrowest (a divider the scan
    lost) is cut into that many, each no wider than ``comb_cell_aspect``; else None."""
    if not spans:
        return None
    x, y, w, h = cell
    edges = [x, *[(a + b) // 2 for a, b in spans], x + w]
    pieces = [(a, b - a) for a, b in itertools.pairwise(edges) if b - a > 2]
    if len(pieces) < 2:
        return None
    pitch = min(pw for _, pw in pieces)
    cells: list[BBox] = []
    for a, pw in pieces:
        k = round(pw / pitch)
        if k < 1 or k > r.divider_missing or abs(pw - k * pitch) > (r.divider_even - 1) * pitch:
            return None
        for i in range(k):
            cells.append((a + round(i * pw / k), y, round(pw / k), h))
    if max(c[2] for c in cells) > r.comb_cell_aspect * h:
        return None
    return cells


#: more lines voted in one column than this is no comb (and would be many subsets to try)
MAX_VOTED = 8


def even_dividers(cell: BBox, spans: list[tuple[int, int]], r: SegmentRules
                  ) -> tuple[list[tuple[int, int]], list[BBox] | None]:
    """The subset of ``spans`` that cuts ``cell`` into a comb (``comb_split``) with the
    fewest dividers taken for lost, then the most kept, and the comb: a column's vote may add
    a line that is no divider (a column of 1s or 4s written alike)."""
    if len(spans) > MAX_VOTED:
        return spans, None
    best: tuple[tuple[int, int], list[tuple[int, int]], list[BBox]] | None = None
    for k in range(len(spans), 0, -1):
        for keep in itertools.combinations(spans, k):
            split = comb_split(cell, list(keep), r)
            if split is None:
                continue
            score = (len(split) - k - 1, -k)  # dividers taken for lost, then fewest kept
            if best is None or score < best[0]:
                best = (score, list(keep), split)
    return (best[1], best[2]) if best is not None else (spans, None)


def free_fields(p: Prepared) -> list[FieldCrops]:
    """Fields of a page without boxes: components grouped into lines and strings."""
    r = p.rules
    cc = Components(p.mask, p.ink, rules=r)
    comps = cc.comps(range(1, cc.n))
    min_area = min_component_area(p.mask.shape, r)
    comps = [c for c in comps if c.area >= min_area]
    if not comps:
        return []
    tall = max(c.h for c in comps)
    dh = float(np.median([c.h for c in comps if c.h >= r.free_tall * tall]))
    comps.sort(key=lambda c: c.x0)
    groups: list[list[Comp]] = []
    for c in comps:
        cy = (c.y0 + c.y1) / 2
        for g in groups:
            last = g[-1]
            gy0 = min(x.y0 for x in g)
            gy1 = max(x.y1 for x in g)
            if (gy0 - r.line_reach * dh <= cy <= gy1 + r.line_reach * dh
                    and c.x0 - max(x.x1 for x in g) < r.word_gap * dh):
                g.append(c)
                break
            del last
        else:
            groups.append([c])
    fields = []
    for g in groups:
        if max(c.h for c in g) < r.free_min_height * dh:
            continue
        x0, y0 = min(c.x0 for c in g), min(c.y0 for c in g)
        x1, y1 = max(c.x1 for c in g), max(c.y1 for c in g)
        segs = string_segments(cc, g)
        if segs:
            fields.append(FieldCrops((x0, y0, x1 - x0, y1 - y0), segs, kind="string"))
    return fields


def segment_auto(image: np.ndarray, opts: SegmentOptions) -> list[FieldCrops]:
    """Boxes and combs when the page has them, else free digit strings."""
    p = prepare(image, opts)
    rules = find_rules(p.mask, opts.rules)
    fields = boxed_fields(p, rules) if rules.cells else free_fields(p)
    return reading_order([map_field(p, f) for f in fields], opts.rules)


def segment_boxes(image: np.ndarray, opts: SegmentOptions) -> list[FieldCrops]:
    """Only printed boxes and combs (nothing outside them is read)."""
    p = prepare(image, opts)
    rules = find_rules(p.mask, opts.rules)
    return reading_order([map_field(p, f) for f in boxed_fields(p, rules)], opts.rules)


def segment_string(image: np.ndarray, opts: SegmentOptions) -> list[FieldCrops]:
    """The whole image is one digit string (rules such as an underline are removed)."""
    r = opts.rules
    p = prepare(image, opts, deskew=False)
    h, w = p.mask.shape
    horiz = long_lines(p.mask, max(r.underline_min, int(r.underline * w)))
    mask = p.mask
    if horiz.any():
        zero = np.zeros_like(horiz)
        mask = remove_rules(p.mask, Rules(horiz, zero, rule_thickness(horiz, 0, r.rule_thickness),
                                          []), segment_rules=r)
    cc = Components(mask, p.ink, rules=r)
    comps = [c for c in cc.comps(range(1, cc.n)) if c.area >= r.string_min_area]
    return [FieldCrops((0, 0, w, h), string_segments(cc, comps), kind="string")]


def segment_digit(image: np.ndarray, opts: SegmentOptions) -> list[FieldCrops]:
    """The whole image is one digit."""
    r = opts.rules
    p = prepare(image, opts, deskew=False)
    h, w = p.mask.shape
    cc = Components(p.mask, p.ink, rules=r)
    comps = [c for c in cc.comps(range(1, cc.n)) if c.area >= r.digit_min_area]
    segs: list[Segment] = []
    if comps:
        big = max(c.area for c in comps)
        keep = [c for c in comps if c.area >= r.digit_keep * big]
        merged = keep[0]
        for c in keep[1:]:
            merged = merged.merged(c)
        crop = cc.crop(merged)
        if crop is not None:
            segs.append(Segment([[crop]]))
    return [FieldCrops((0, 0, w, h), segs, kind="digit")]


BUILTIN: dict[str, Segmenter] = {
    "auto": segment_auto,
    "boxes": segment_boxes,
    "string": segment_string,
    "digit": segment_digit,
}
