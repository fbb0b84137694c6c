"""Printed rule lines: the page's skew from them, rules and closed boxes found, removed, combs.

A rule is a long run of ink found by a morphological opening; a vertical rule must touch a
horizontal one at both ends (a handwritten 1 rarely does). Closed rectangles between rules are
boxes; boxes sharing edges in a row are combs. Removing rules puts back the pixels where a
stroke crossed one.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .components import cc_stats, linked_groups
from .types import RULES, BBox, SegmentRules


def rule_length(shape: tuple[int, ...], rules: SegmentRules = RULES) -> int:
    """Shortest run of ink taken for a printed rule: longer than a handwritten digit's bar."""
    return max(rules.rule_min, min(shape[:2]) // rules.rule_divisor)


def estimate_skew(mask: np.ndarray, max_angle: float = 6.0,
                  rules: SegmentRules = RULES) -> float:
    """Skew in degrees (positive = text rises to the right) from long horizontal rules."""
    w = mask.shape[1]
    length = rule_length(mask.shape, rules)
    horiz = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(
        cv2.MORPH_RECT, (length, 1)))
    horiz = cv2.dilate(horiz, cv2.getStructuringElement(cv2.MORPH_RECT, (length // 2, 3)))
    n, labels, stats, _ = cc_stats(horiz, 8)
    angles, weights = [], []
    for i in range(1, n):
        cw = stats[i, cv2.CC_STAT_WIDTH]
        if cw < max(rules.skew_rules * length, w // rules.skew_width):
            continue
        x0, y0 = stats[i, cv2.CC_STAT_LEFT], stats[i, cv2.CC_STAT_TOP]
        ch = stats[i, cv2.CC_STAT_HEIGHT]
        sub = (labels[y0 : y0 + ch, x0 : x0 + cw] == i) & (mask[y0 : y0 + ch, x0 : x0 + cw] > 0)
        ys, xs = np.nonzero(sub)
        if len(xs) < rules.skew_points:
            continue
        step = max(1, len(xs) // 2000)
        slope = np.polyfit(xs[::step].astype(np.float64), ys[::step].astype(np.float64), 1)[0]
        angles.append(float(np.degrees(np.arctan(slope))))
        weights.append(float(cw))
    if not angles:
        return 0.0
    order = np.argsort(angles)
    a, wts = np.asarray(angles)[order], np.asarray(weights)[order]
    median = float(a[np.searchsorted(np.cumsum(wts), wts.sum() / 2)])
    angle = -median  # image y grows downwards
    return angle if abs(angle) <= max_angle else 0.0


def rotation(shape: tuple[int, ...], angle: float) -> np.ndarray:
    """The 2x3 matrix rotating an image of ``shape`` by ``angle`` degrees about its centre."""
    h, w = shape[:2]
    return cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), -angle, 1.0)


# ------------------------------------------------------------------ rule lines, boxes, combs


@dataclass
class Rules:
    """Printed rule lines (uint8 0/1 masks), their thickness and the closed boxes they make."""

    horizontal: np.ndarray
    vertical: np.ndarray
    thickness: int
    cells: list[BBox]


def find_rules(mask: np.ndarray, rules: SegmentRules = RULES) -> Rules:
    """Long horizontal and vertical rules, and the closed rectangles between them."""
    h, w = mask.shape
    length = rule_length(mask.shape, rules)
    hk = cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1))
    horiz = cv2.morphologyEx(mask, cv2.MORPH_OPEN, hk)
    vlen = max(rules.vrule_min, length // rules.vrule_divisor)
    vk = cv2.getStructuringElement(cv2.MORPH_RECT, (1, vlen))
    vert = cv2.morphologyEx(mask, cv2.MORPH_OPEN, vk)
    # a vertical rule must touch a horizontal one at both ends (a handwritten 1 rarely does)
    vert = _touching_rules(vert, horiz, rules)
    thick = rule_thickness(horiz, axis=0, default=rules.rule_thickness)
    lines = cv2.dilate(np.maximum(horiz, vert), np.ones((3, 3), np.uint8))
    cells: list[BBox] = []
    if horiz.any() and vert.any():
        n, _, stats, _ = cc_stats(1 - lines, 4)
        min_side = max(rules.box_side_min, vlen // 2)
        for i in range(1, n):
            x, y, cw, ch, area = (int(v) for v in stats[i])
            if x == 0 or y == 0 or x + cw >= w or y + ch >= h:
                continue
            if cw < min_side or ch < min_side or area < rules.box_fill * cw * ch:
                continue
            if cw > rules.box_page * w and ch > rules.box_page * h:
                continue
            cells.append((x - 1, y - 1, cw + 2, ch + 2))
    return Rules(horiz, vert, thick, cells)


def _touching_rules(vert: np.ndarray, horiz: np.ndarray, rules: SegmentRules) -> np.ndarray:
    n, labels, stats, _ = cc_stats(vert, 8)
    if n <= 1:
        return vert
    near = cv2.dilate(horiz, np.ones((rules.rule_touch, rules.rule_touch), np.uint8))
    e = rules.rule_end
    keep = np.zeros(n, bool)
    for i in range(1, n):
        x, y, cw, ch, _ = (int(v) for v in stats[i])
        top = near[y : y + e, x : x + cw].any()
        bottom = near[max(0, y + ch - e) : y + ch, x : x + cw].any()
        keep[i] = bool(top and bottom)
    return (keep[labels]).astype(np.uint8)


def rule_thickness(lines: np.ndarray, axis: int, default: int = RULES.rule_thickness) -> int:
    n, _, stats, _ = cc_stats(lines, 8)
    if n <= 1:
        return default
    if axis == 0:
        t = stats[1:, cv2.CC_STAT_AREA] / np.maximum(stats[1:, cv2.CC_STAT_WIDTH], 1)
    else:
        t = stats[1:, cv2.CC_STAT_AREA] / np.maximum(stats[1:, cv2.CC_STAT_HEIGHT], 1)
    return int(max(1, round(float(np.median(t)))))


def remove_rules(mask: np.ndarray, rules: Rules, restore_vertical: bool = True, *,
                 segment_rules: SegmentRules = RULES) -> np.ndarray:
    """The mask without rule lines; where a stroke crosses a rule its pixels are put back.

    Comb fields pass ``restore_vertical=False``: their vertical rules separate cells, and
    putting pixels back there would join digits written close to both sides of a rule.
    """
    t = rules.thickness + segment_rules.cross_reach
    grow = max(1, rules.thickness // segment_rules.rule_grow)
    # rules grown a little: a blurred or JPEG-ragged rule leaves slivers that read as a "1"
    h = cv2.dilate(rules.horizontal, np.ones((2 * grow + 1, 1), np.uint8))
    v = cv2.dilate(rules.vertical, np.ones((1, 2 * grow + 1), np.uint8))
    rules = Rules(h, v, rules.thickness + 2 * grow, rules.cells)
    clean = mask & (1 - (rules.horizontal | rules.vertical))
    across_h = cv2.morphologyEx(clean, cv2.MORPH_CLOSE, np.ones((t, 1), np.uint8))
    restored = rules.horizontal & across_h
    if restore_vertical:
        across_v = cv2.morphologyEx(clean, cv2.MORPH_CLOSE, np.ones((1, t), np.uint8))
        restored = restored | (rules.vertical & across_v)
    return clean | (restored & mask)


def group_cells(cells: list[BBox], thickness: int, *,
                segment_rules: SegmentRules = RULES) -> list[list[BBox]]:
    """Cells side by side in a row (sharing a vertical rule) form one comb field."""
    gap = segment_rules.comb_gap_thick * thickness + segment_rules.comb_gap

    def side_by_side(i: int, j: int) -> bool:
        ax, ay, aw, ah = cells[i]
        bx, by, bw, bh = cells[j]
        if abs(ay - by) > gap or abs(ah - bh) > gap:
            return False
        return 0 <= bx - (ax + aw) <= gap or 0 <= ax - (bx + bw) <= gap

    out: list[list[BBox]] = []
    for g in linked_groups(len(cells), side_by_side):
        out.extend(comb_runs(sorted((cells[i] for i in g), key=lambda c: c[0]),
                             segment_rules))
    return out


def merge_faint_walls(cells: list[BBox], ink: np.ndarray, thickness: int, *,
                      segment_rules: SegmentRules = RULES) -> list[BBox]:
    """Cells of a row joined across a wall printed ``wall_faint`` times fainter than the
    fainter of the walls on either side of the pair (``ink``: the ink map; a comb's heavy
    frame against its light dividers is no reason), where one of them is wider
    than a comb's cell (``comb_cell_aspect``): such a wall is a comb's light divider that
    rule finding took for a wall, and the box it cuts is one field."""
    r = segment_rules
    gap = r.comb_gap_thick * thickness + r.comb_gap

    def wall(x0: int, x1: int, y0: int, y1: int) -> float:
        # the line's darkness across its band, its median along its length (breaks ignored)
        region = ink[y0:y1, max(0, x0) : x1]
        return float(np.median(region.max(axis=1))) if region.size else 0.0

    # rows first (tops within ``gap``: a px of skew apart), then left to right in each
    rows: list[list[BBox]] = []
    for c in sorted(cells, key=lambda c: c[1]):
        if rows and c[1] - rows[-1][0][1] <= gap:
            rows[-1].append(c)
        else:
            rows.append([c])
    out: list[BBox] = []
    for c in (c for row in rows for c in sorted(row, key=lambda c: c[0])):
        if out:
            lx, ly, lw, lh = last = out[-1]
            x, y, w, h = c
            # cells of a digit's width on both sides are a comb's, walls and all; a wider one
            # is a table's cell that a light divider cut
            wide = max(lw / max(lh, 1), w / max(h, 1)) > r.comb_cell_aspect
            if (wide and abs(ly - y) <= gap and abs(lh - h) <= gap
                    and 0 <= x - (lx + lw) <= gap):
                y0, y1 = max(ly, y) + h // 10, min(ly + lh, y + h) - h // 10
                inner = wall(lx + lw - 2, x + 2, y0, y1)
                outer = min(wall(lx - 2, lx + 2, y0, y1), wall(x + w - 2, x + w + 2, y0, y1))
                if inner < r.wall_faint * outer:
                    out[-1] = group_box([last, c])
                    continue
        out.append(c)
    return out


def group_box(group: list[BBox]) -> BBox:
    """The box round a group of cells (a comb's, a row's)."""
    x0, y0 = min(c[0] for c in group), min(c[1] for c in group)
    return (x0, y0, max(c[0] + c[2] for c in group) - x0, max(c[1] + c[3] for c in group) - y0)


def comb_runs(row: list[BBox], segment_rules: SegmentRules = RULES) -> list[list[BBox]]:
    """A row of adjoining cells split into combs and boxes: a comb's cells hold one digit each
    (at most ``comb_cell_aspect`` times as wide as tall), so a wider cell (a table's cell
    holding a number, a name) is a box of its own and ends the comb before it."""
    runs: list[list[BBox]] = []
    current: list[BBox] = []
    for c in row:
        if c[2] > segment_rules.comb_cell_aspect * c[3]:
            if current:
                runs.append(current)
                current = []
            runs.append([c])
        else:
            current.append(c)
    if current:
        runs.append(current)
    return runs


def inner_dividers(mask: np.ndarray, cell: BBox, thickness: int,
                   segment_rules: SegmentRules = RULES) -> list[tuple[int, int]]:
    """Printed dividers inside a box: vertical lines from its top wall to its bottom wall,
    however faint or broken (a comb printed with light dashed dividers, which the page's rule
    finding does not take for rules), ``divider_span`` of its height long and no thicker than
    the page's printed rules (``thickness``, px). ``(x0, x1)`` column spans, analysis px."""
    r = segment_rules
    x, y, w, h = cell
    sub = mask[y : y + h, x : x + w]
    if h < 8 or w < 8 or not sub.any():
        return []
    gap = max(2, round(r.divider_gap * h))
    closed = cv2.morphologyEx(sub, cv2.MORPH_CLOSE, np.ones((gap, 1), np.uint8))
    span = max(3, round(r.divider_span * h))
    lines = cv2.morphologyEx(closed, cv2.MORPH_OPEN, np.ones((span, 1), np.uint8))
    cols: np.ndarray = np.asarray(lines.any(axis=0))
    margin = max(2, round(r.divider_margin * w))
    cols[:margin] = False  # the box's own walls and what is left of them
    cols[w - margin :] = False
    # a printed line, not a pen stroke: no thicker than the page's rules
    return [(x + a, x + b) for a, b in true_runs(cols)
            if b - a <= max(2, min(thickness + 1, r.divider_thick * h))]


def true_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """The runs of True in a 1-D array, as ``(start, end)`` with ``end`` exclusive."""
    idx = np.flatnonzero(flags)
    if idx.size == 0:
        return []
    breaks = np.diff(idx) > 1
    starts = np.r_[idx[0], idx[1:][breaks]]
    ends = np.r_[idx[:-1][breaks], idx[-1]]
    return [(int(a), int(b) + 1) for a, b in zip(starts, ends, strict=True)]


def column_dividers(ink: np.ndarray, boxes: list[BBox], thickness: int,
                    segment_rules: SegmentRules = RULES) -> dict[BBox, list[tuple[int, int]]]:
    """Dividers of the boxes stacked in table columns, found on the ink map across each
    column's rows (``column_rows`` boxes at least): at each offset from the left wall, a
    row's darkness is its median down the box (a line running through it is dark along most
    of it, a digit's stroke is not), and the column's is the median over its rows (a divider
    is printed in every row, a stroke there is in a few); a divider is where that comes to
    ``column_line`` of the walls' in a ridge (``column_ridge``). ``(x0, x1)`` spans per
    box, as ``inner_dividers`` gives them."""
    r = segment_rules
    tol = r.comb_gap_thick * thickness + r.comb_gap
    columns: list[list[BBox]] = []
    for b in sorted(boxes, key=lambda b: (b[0], b[1])):
        for col in columns:
            c = col[0]
            if abs(b[0] - c[0]) <= tol and abs(b[0] + b[2] - c[0] - c[2]) <= tol:
                col.append(b)
                break
        else:
            columns.append([b])
    out: dict[BBox, list[tuple[int, int]]] = {}
    for col in columns:
        w = min(b[2] for b in col)
        if len(col) < r.column_rows or w < 8:
            continue
        rows, walls = [], []
        for x, y, _, h in col:
            sub = ink[y + h // 10 : y + h - h // 10, x : x + w]
            med = np.median(sub, axis=0)
            # a px of skew from row to row: each offset takes its neighbours' darkest
            rows.append(np.maximum(med, np.maximum(np.r_[med[1:], 0], np.r_[0, med[:-1]])))
            left = ink[y + h // 10 : y + h - h // 10, max(0, x - thickness - 1) : x + 2]
            walls.append(float(np.median(left.max(axis=1))) if left.size else 0.0)
        prof = np.median(np.array(rows), axis=0)
        margin = max(2, round(r.divider_margin * w))
        wall = float(np.median(walls))
        # a line is a narrow ridge: a few px off it on both sides the column is light again
        # (a digit's stroke at the same place in most rows makes a broad bump)
        d = thickness + 2
        side = np.maximum(np.r_[prof[d:], np.zeros(d)], np.r_[np.zeros(d), prof[:-d]])
        cols = (prof >= r.column_line * wall) & (side <= r.column_ridge * prof) & (prof > 0)
        cols[:margin] = False  # the boxes' own walls
        cols[w - margin :] = False
        h = int(np.median([b[3] for b in col]))
        # a printed line, widened by the px of skew: no thicker than the rules + 2
        spans = [(a, e) for a, e in true_runs(cols)
                 if e - a <= max(3, min(thickness + 3, r.divider_thick * h + 2))]
        if spans:
            for b in col:
                out[b] = [(b[0] + a, b[0] + e) for a, e in spans]
    return out


def long_lines(mask: np.ndarray, length: int) -> np.ndarray:
    """Horizontal rules at least ``length`` long (an underline, a box edge), as a 0/1 mask."""
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (min(length, mask.shape[1]), 1))
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, k)
