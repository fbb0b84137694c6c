"""One cell cut from a scan (a ledger cell, an amount box): clear what is not writing, find the ink.

Archives and row-id datasets cut a column's cell with what surrounds it: the scan's black
border, the column's printed rules, an underline, a neighbour's words cut by the crop, a line of
printed text. Read as they are, those become confident ``1``s. Before any glyph is formed:

1. the scan border (large solid dark regions touching the crop's edge) is taken out;
2. long straight rules are taken out: vertical runs at least ``SegmentRules.cell_rule`` times the
   height of the tallest other writing, horizontal runs at least that times its height (an
   underline or a rule; strokes that cross one keep their pixels); then pieces that long and
   that thin however bent (a rule bowed by the scan), and thin upright pieces in one column
   across most of the crop (a rule the scan broke into pieces too far apart to bridge);
3. the remaining ink is grouped (components closer than ``SegmentRules.cell_gap`` heights) and the
   group that looks most like the cell's writing is kept: tall, inky, not cut by the crop's
   edge. Everything else (printed captions, fragments of neighbours) is dropped from it; the
   next likeliest groups (``SegmentRules.cell_alternatives``, small print included) are kept
   as the field's alternatives, which ``--model auto`` reads in turn when the likeliest one
   yields no digit or a doubtful one (a register's number below a taller note).

All sizes are in units of the estimated writing height ``wh``, so the rules hold at any
resolution; they are the ``cell_*`` (and ``line_*``, ``frame_fill``) fields of ``SegmentRules``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .components import cc_stats
from .ink import binarise, gray_u8, ink_map
from .layouts import prepare, segment_auto, segment_string
from .lines import Rules, find_rules, remove_rules
from .types import RULES, BBox, FieldCrops, SegmentOptions, SegmentRules


@dataclass
class Cell:
    """The cleaned binary ink of a cell and the box of its writing (None: no writing found)."""

    mask: np.ndarray  # uint8 0/1, only the writing kept
    ink: np.ndarray  # float32 ink map [0, 1]
    box: BBox | None
    #: the gray crop with everything but the writing painted paper-white
    gray: np.ndarray | None = None
    #: the boxes of the other groups that could be the writing, likeliest first
    others: list[BBox] = field(default_factory=list)


def border_mask(gray: np.ndarray, rules: SegmentRules = RULES) -> np.ndarray:
    """Solid dark regions touching the crop's edge (a scan's black border), as uint8 0/1."""
    h, w = gray.shape
    paper = float(np.percentile(gray, rules.cell_paper))
    dark = (gray < rules.cell_border_dark * paper).astype(np.uint8)
    k = max(3, round(rules.cell_border * min(h, w)))
    solid = cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    if not solid.any():
        return solid
    n, labels, stats, _ = cc_stats(solid, 8)
    keep = np.zeros(n, bool)
    for i in range(1, n):
        x, y, cw, ch, _ = (int(v) for v in stats[i])
        keep[i] = x == 0 or y == 0 or x + cw >= w or y + ch >= h
    out = keep[labels].astype(np.uint8)
    # the border's ragged edge and its shadow belong to it
    return cv2.dilate(out, np.ones((k // 2 * 2 + 1, k // 2 * 2 + 1), np.uint8))


def _bent_lines(stats: np.ndarray, shape: tuple[int, ...], rules: SegmentRules) -> np.ndarray:
    """Which components (rows of ``cc_stats``) are lines, straight or not: across most of the
    crop or touching its edge, and ``rules.line_elongation`` times longer than thick."""
    x0, y0, w, h, area = (stats[:, i].astype(float) for i in range(5))
    spans = (h >= rules.cell_span * shape[0]) | (w >= rules.cell_span * shape[1])
    edge = (x0 <= 0) | (y0 <= 0) | (x0 + w >= shape[1]) | (y0 + h >= shape[0])
    long_side = np.maximum(w, h)
    return (spans | edge) & (long_side**2 / np.maximum(area, 1.0) >= rules.line_elongation)


def _writing_height(mask: np.ndarray, rules: SegmentRules) -> float:
    """The height of the writing: the tallest of the three inkiest pieces that are not lines."""
    n, _, stats, _ = cc_stats(mask, 8)
    if n <= 1:
        return 0.0
    hs = stats[1:, cv2.CC_STAT_HEIGHT].astype(float)
    ws = stats[1:, cv2.CC_STAT_WIDTH].astype(float)
    area = stats[1:, cv2.CC_STAT_AREA].astype(float)
    aspect = np.maximum(hs, ws) / np.maximum(np.minimum(hs, ws), 1.0)
    # a frame, or rules meeting at a corner: across most of the crop, and nearly empty inside
    tall = hs >= rules.cell_span * mask.shape[0]
    broad = ws >= rules.cell_span * mask.shape[1]
    frame = (tall | broad) & ((area / np.maximum(hs * ws, 1.0) < rules.frame_fill)
                              | (tall & broad))
    line = (aspect >= rules.line_aspect) | _bent_lines(stats, mask.shape, rules)[1:]
    ok = (area >= rules.cell_min_area) & ~frame & ~line
    if not ok.any():
        return 0.0
    inkiest = np.argsort(-np.where(ok, area, -1.0))[: min(rules.cell_inkiest, int(ok.sum()))]
    return float(hs[inkiest].max())


def rule_masks(mask: np.ndarray, wh: float, rules: SegmentRules = RULES) -> Rules:
    """Long thin straight runs in ``mask`` (vertical and horizontal), as ``segment.Rules``."""
    h, w = mask.shape
    length = max(rules.cell_rule_min, round(rules.cell_rule * wh))
    thick = max(rules.cell_rule_thick_min, round(rules.cell_rule_thick * wh))
    found = []
    for horizontal in (True, False):
        out = np.zeros_like(mask)
        found.append(out)
        if (w if horizontal else h) < length:
            continue
        ksize = (length, 1) if horizontal else (1, length)  # OpenCV sizes are (cols, rows)
        # dashed and broken rules: bridge gaps along the line first (a digit's pieces bridged
        # this way still make no long thin straight run)
        gap = max(1, round(rules.cell_dash_gap * wh))
        bridged = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(
            cv2.MORPH_RECT, (gap, 1) if horizontal else (1, gap)))
        run = cv2.morphologyEx(bridged, cv2.MORPH_OPEN,
                               cv2.getStructuringElement(cv2.MORPH_RECT, ksize))
        n, labels, stats, _ = cc_stats(run, 8)
        for i in range(1, n):
            cw, ch, area = (int(stats[i, j]) for j in (2, 3, 4))
            long_side = cw if horizontal else ch
            if long_side >= length and area / max(long_side, 1) <= thick:
                out[labels == i] = 1
    return Rules(found[0] & mask, found[1] & mask, thick, [])


def without_rule_remains(mask: np.ndarray, lines: Rules,
                         rules: SegmentRules = RULES) -> np.ndarray:
    """``mask`` without the broken-off pieces of a removed vertical rule (a column's): pieces no
    wider than two rule thicknesses lying wholly in the rule's band of columns. Horizontal
    rules are left alone: digits sit on them, and a piece within their rows may be a digit's."""
    if not lines.vertical.any():
        return mask
    n, labels, stats, _ = cc_stats(mask, 8)
    if n <= 1:
        return mask
    cols = np.asarray(lines.vertical.any(axis=0), np.uint8).reshape(1, -1)
    band = cv2.dilate(cols, np.ones((1, 2 * lines.thickness + 1), np.uint8))[0] > 0
    cum = np.concatenate([[0], np.cumsum(band)])
    x0, w = stats[:, 0], stats[:, 2]
    drop = ((cum[x0 + w] - cum[x0]) == w) & (w <= rules.cell_remains * lines.thickness)
    drop[0] = False
    return (mask & ~drop[labels]).astype(np.uint8) if drop.any() else mask


def without_bent_rules(mask: np.ndarray, wh: float, rules: SegmentRules = RULES) -> np.ndarray:
    """``mask`` without pieces that are rules but not straight enough for ``rule_masks``: at
    least ``rules.cell_rule`` writing heights long and line-like (``_bent_lines``: a column rule
    bowed or slanted by the scan, two rules meeting in a corner)."""
    n, labels, stats, _ = cc_stats(mask, 8)
    if n <= 1:
        return mask
    long_side = np.maximum(stats[:, 2], stats[:, 3]).astype(float)
    bent = (long_side >= rules.cell_rule * wh) & _bent_lines(stats, mask.shape, rules)
    bent[0] = False
    return (mask & ~bent[labels]).astype(np.uint8) if bent.any() else mask


def without_broken_rules(mask: np.ndarray, wh: float, rules: SegmentRules = RULES) -> np.ndarray:
    """``mask`` without a vertical rule broken into pieces too short for ``rule_masks`` and too
    far apart to bridge (a page's edge or a faint column rule in a scan): thin upright pieces
    (no wider than a rule, ``rules.cell_broken_aspect`` times taller than wide) in one column,
    at least two, across most of the crop (``rules.cell_span``) and covering
    ``rules.cell_broken_cover`` of its height between them."""
    n, labels, stats, _ = cc_stats(mask, 8)
    if n <= 2:
        return mask
    h = mask.shape[0]
    thick = max(rules.cell_rule_thick_min, round(rules.cell_rule_thick * wh))
    x0, y0, w, hh = (stats[:, i] for i in range(4))
    thin = np.flatnonzero((w <= thick) & (hh >= rules.cell_broken_aspect * w))
    thin = thin[thin > 0]
    drop: list[int] = []
    for start in sorted(thin, key=lambda i: x0[i]):
        col = [i for i in thin if x0[i] <= x0[start] + w[start] and x0[start] <= x0[i] + w[i]]
        if len(col) < 2 or any(i in drop for i in col):
            continue
        covered = np.zeros(h, bool)
        for i in col:
            covered[y0[i] : y0[i] + hh[i]] = True
        rows = np.flatnonzero(covered)
        if (rows[-1] - rows[0] + 1 >= rules.cell_span * h
                and covered.sum() >= rules.cell_broken_cover * h):
            drop.extend(int(i) for i in col)
    if not drop:
        return mask
    return (mask & ~np.isin(labels, drop)).astype(np.uint8)


def clean_cell(image: np.ndarray, polarity: str = "auto", rules: SegmentRules = RULES) -> Cell:
    """The cell's writing without border, rules and stray pieces, and the box round it."""
    gray = gray_u8(image)
    border = np.zeros(gray.shape, np.uint8)
    if polarity != "bright":
        border = border_mask(gray, rules)
        if polarity == "auto" and border.any():
            # the black border can be most of the crop: judge the paper without it (as
            # ``dark_ink_gray`` does the whole image), or the cell is read inverted
            paper = gray[border == 0]
            polarity = ("bright" if paper.size and float(np.median(paper)) < rules.cell_dark_paper
                        else "dark")
    ink = ink_map(gray, polarity, rules)
    mask = binarise(ink, rules=rules).mask & (1 - border)
    wh = _writing_height(mask, rules)
    if wh <= 0 and mask.any():
        # the writing touches a rule that crosses the crop: find the rules at a guessed
        # height, then measure the writing without them
        lines = rule_masks(mask, rules.cell_guess * mask.shape[0], rules)
        wh = _writing_height(remove_rules(mask, lines, segment_rules=rules), rules)
    if wh <= 0:
        return Cell(np.zeros_like(mask), ink, None, None)
    lines = rule_masks(mask, wh, rules)
    if lines.horizontal.any() or lines.vertical.any():
        # strokes that cross a rule keep their pixels there
        mask = remove_rules(mask, lines, segment_rules=rules)
        wh = _writing_height(mask, rules) or wh
        mask = without_rule_remains(mask, lines, rules)
    mask = without_broken_rules(without_bent_rules(mask, wh, rules), wh, rules)
    boxes, keep = _writing_groups(mask, wh, rules)
    box = boxes[0] if boxes else None
    clean = gray
    if border.any():  # a reader of the gray would see the border's edge as a stroke
        clean = gray.copy()
        clean[border > 0] = int(np.percentile(
            gray, rules.cell_paper_bright if polarity == "bright" else rules.cell_paper))
    return Cell(keep, ink, box, clean, boxes[1:])


def cell_crop(cell: Cell, rules: SegmentRules = RULES, box: BBox | None = None
              ) -> tuple[np.ndarray, tuple[int, int]] | None:
    """The cleaned gray round the writing (or round ``box``, one of ``cell.others``), with
    ``rules.cell_pad`` heights of paper, and its offset."""
    box = cell.box if box is None else box
    if box is None or cell.gray is None:
        return None
    x, y, w, h = box
    pad = max(rules.cell_pad_min, round(rules.cell_pad * h))
    H, W = cell.gray.shape[:2]
    x0, y0 = max(0, x - pad), max(0, y - pad)
    x1, y1 = min(W, x + w + pad), min(H, y + h + pad)
    return cell.gray[y0:y1, x0:x1], (x0, y0)


def segment_cell(image: np.ndarray, opts: SegmentOptions) -> list[FieldCrops]:
    """The whole image is one field: a cell's writing, read without border, rules, neighbours.

    The field's box is the writing's, with ``rules.cell_pad`` heights of paper round it (what
    a whole-string reader should see); no writing gives an empty field over the whole image.
    The other groups of ink that could be the writing are the field's alternatives (their
    crops, segmented when read: ``alternatives_of``)."""
    h, w = image.shape[:2]
    cell = clean_cell(image, opts.polarity, opts.rules)
    got = cell_crop(cell, opts.rules)
    if got is None:
        return [FieldCrops((0, 0, w, h), [], kind="cell")]
    main = _cell_field(got, opts)
    for box in cell.others:
        alt = cell_crop(cell, opts.rules, box)
        if alt is not None:
            main.unsegmented.append((alt[0], alt[1], opts))
    return [main]


def alternatives_of(f: FieldCrops) -> list[FieldCrops]:
    """``f``'s alternatives (``FieldCrops.alternatives``), those ``segment_cell`` left
    unsegmented segmented now, once."""
    if f.unsegmented:
        f.alternatives.extend(_cell_field((sub, off), opts) for sub, off, opts in f.unsegmented)
        f.unsegmented = []
    return f.alternatives


def _cell_field(got: tuple[np.ndarray, tuple[int, int]], opts: SegmentOptions) -> FieldCrops:
    """A cell's crop (and its offset in the cell) segmented as a string, in the cell's px."""
    sub, (dx, dy) = got
    (inner,) = segment_string(sub, opts)
    for seg in inner.segments:
        for opt in seg.options:
            for g in opt:
                gx, gy, gw, gh = g.bbox
                g.bbox = (gx + dx, gy + dy, gw, gh)
    return FieldCrops((dx, dy, sub.shape[1], sub.shape[0]), inner.segments, kind="cell")


def segment_page_or_cell(image: np.ndarray, opts: SegmentOptions) -> list[FieldCrops]:
    """``auto``: a small image without printed boxes (or inside its own frame) is one cell;
    anything else a page."""
    r = opts.rules
    if max(image.shape[:2]) <= r.cell_side:
        p = prepare(image, opts, deskew=False)
        boxes = find_rules(p.mask, r).cells
        h, w = p.mask.shape
        # one printed box over most of the image is the cell's own frame, not a form's box
        if not boxes or (len(boxes) == 1
                         and boxes[0][2] * boxes[0][3] >= r.cell_own_frame * h * w):
            fields = segment_cell(image, opts)
            return fields if fields[0].segments else []  # a blank image has no field
    return segment_auto(image, opts)


def _without_cut_neighbours(ids: np.ndarray, stats: np.ndarray, width: int, wh: float,
                            rules: SegmentRules) -> np.ndarray:
    """Drop pieces cut by the crop's left or right edge that stand apart from the rest (more
    than ``rules.cell_near`` writing heights): a neighbouring column's words, not this cell's."""
    if len(ids) < 2:
        return ids
    x0 = stats[ids, 0]
    x1 = x0 + stats[ids, 2]
    keep = np.ones(len(ids), bool)
    for k in range(len(ids)):
        if x0[k] > 0 and x1[k] < width:
            continue
        others = np.delete(np.arange(len(ids)), k)
        gap = np.maximum(x0[others] - x1[k], x0[k] - x1[others]).clip(min=0).min()
        keep[k] = gap <= rules.cell_near * wh
    return ids[keep] if keep.any() else ids


def _writing_groups(mask: np.ndarray, wh: float, rules: SegmentRules
                    ) -> tuple[list[BBox], np.ndarray]:
    """The boxes of the groups of components that may be the cell's writing, likeliest first
    (tall, inky, not cut by the crop's edge; ``rules.cell_alternatives`` after the first),
    and the mask of only the likeliest (no group: no box, an empty mask)."""
    h, w = mask.shape
    n, labels, stats, _ = cc_stats(mask, 8)
    if n <= 1:
        return [], np.zeros_like(mask)
    g = max(1, round(rules.cell_gap * wh))
    joined = cv2.dilate(mask, np.ones((max(1, g // 2) * 2 + 1, g * 2 + 1), np.uint8))
    gn, glabels, _, _ = cc_stats(joined, 8)
    groups = []  # (component ids, x0, y0, x1, y1) of each group of writing
    for i in range(1, gn):
        ids = np.unique(labels[(glabels == i) & (mask > 0)])
        ids = ids[ids > 0]
        if len(ids):
            groups.append((ids, int(stats[ids, 0].min()), int(stats[ids, 1].min()),
                           int((stats[ids, 0] + stats[ids, 2]).max()),
                           int((stats[ids, 1] + stats[ids, 3]).max())))
    # a strip across the whole crop, many times longer than wide, is a rule's remains
    groups = [grp for grp in groups
              if not (grp[2] <= 0 and grp[4] >= h and grp[4] - grp[2] >= rules.line_aspect
                      * (grp[3] - grp[1]))
              and not (grp[1] <= 0 and grp[3] >= w and grp[3] - grp[1] >= rules.line_aspect
                       * (grp[4] - grp[2]))]
    if not groups:
        return [], np.zeros_like(mask)
    tallest = max(y1 - y0 for _, _, y0, _, y1 in groups)
    scored = []
    for ids, x0, y0, x1, y1 in groups:
        score = float(stats[ids, 4].sum()) * (y1 - y0)
        if x0 <= 0 or y0 <= 0 or x1 >= w or y1 >= h:
            score *= rules.cell_edge_factor
        # small print is never the likeliest, but may be the writing when that reads as none
        small = y1 - y0 < rules.cell_small * tallest
        if score > 0:
            scored.append((small, -score, ids))
    scored.sort(key=lambda t: t[:2])  # stable: ties keep the groups' order
    if not scored or scored[0][0]:
        return [], np.zeros_like(mask)
    kept = [_without_cut_neighbours(ids, stats, w, wh, rules)
            for _, _, ids in scored[: 1 + rules.cell_alternatives]]
    boxes = []
    for ids in kept:  # the union of the components' (tight) boxes
        x0, y0 = int(stats[ids, 0].min()), int(stats[ids, 1].min())
        boxes.append((x0, y0, int((stats[ids, 0] + stats[ids, 2]).max()) - x0,
                      int((stats[ids, 1] + stats[ids, 3]).max()) - y0))
    return boxes, np.isin(labels, kept[0]).astype(np.uint8)
