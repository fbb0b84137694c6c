"""Page → fields → glyph crops. Segmenters find where digits are; they never classify.

Steps shared by every layout:

1. gray, polarity (ink dark on light after this step), background by a grayscale closing at
   reduced scale (uneven light, printed backgrounds) → relative ink darkness in [0, 1];
2. binarisation: Otsu on the ink map with a floor, plus hysteresis so faint stroke ends stay;
3. (pages) deskew from the angle of long printed rules;
4. (boxes) rule lines by morphological opening; removed, then pixels where a stroke crossed a
   rule are put back; closed rectangles are boxes, boxes sharing edges in a row are combs;
5. connected components grouped into strings; small ones are separators (. , -); pieces that
   overlap in x are joined (broken strokes); wide pieces get candidate cuts (touching digits).

A segment can be read in several ways (``Segment.options``); the pipeline scores each with the
classifier and keeps the best, so the segmenter stays classifier-free.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import pairwise

import cv2
import numpy as np

from .normalise import dark_ink_gray, to_gray

BBox = tuple[int, int, int, int]


@dataclass
class GlyphCrop:
    """One glyph's pixels: ``image`` is float32 ink-bright [0, 1], masked to the glyph's own ink."""

    bbox: BBox
    image: np.ndarray
    kind: str = "digit"  # digit | separator
    label: str = ""  # the separator's character


@dataclass
class Segment:
    """A run of ink with alternative readings; ``options[0]`` is the segmenter's first guess."""

    options: list[list[GlyphCrop]]
    penalties: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.penalties:
            self.penalties = [0.0] * len(self.options)


@dataclass
class FieldCrops:
    """A field found on the page: its box (page pixels) and its segments left to right."""

    bbox: BBox
    segments: list[Segment]
    kind: str = "string"  # box | comb | string | digit
    name: str | None = None


@dataclass(frozen=True)
class SegmentRules:
    """Every decision the segmenters make, as data: ``replace(RULES, wide=1.2)`` tunes one.

    Sizes are in units of the estimated digit height ``dh`` of the string where they say so
    (``wh``: the writing height of a cut cell), so they hold at any resolution; ``px`` are
    pixels of the analysis image; priors are added to a reading's score penalty. A layout may
    be given overrides as a JSON object (``digitocr read --rules FILE``, ``rules_from_json``).
    """

    # -- ink map and binarisation
    #: the background is estimated on the image shrunk to this many px on its long side
    bg_side: float = 400.0
    #: background closing kernel of an image not shrunk, as a fraction of its short side
    bg_kernel: float = 0.12
    #: ... and at least this many px
    bg_kernel_min: int = 7
    #: background closing kernel (px of the shrunk image) of an image that was shrunk
    bg_kernel_shrunk: int = 9
    #: gray level: paper darker than this counts as this when ink is made relative to paper
    bg_floor: float = 32.0
    #: ink darkness: the binarisation threshold (Otsu on the ink map) is never below this
    ink_floor: float = 0.18
    #: fraction of the threshold: weak ink above it is kept where it touches strong ink
    hysteresis: float = 0.6
    # -- page preparation
    #: px: pages are analysed at about this many pixels on their short side (an A4 page at
    #: 150 dpi): digits stay 30+ px tall, more than the 20 px the classifier sees
    analysis_side: int = 1240
    #: a page is shrunk only when its short side is over this many times ``analysis_side``
    shrink_over: float = 1.4
    #: degrees: a skew smaller than this is left alone
    min_skew: float = 0.15
    #: px: smallest component kept on a page, or (short side / ``area_divisor``) squared
    min_area: int = 3
    #: see ``min_area``
    area_divisor: int = 400
    # -- printed rule lines, boxes and combs
    #: px: shortest run of ink taken for a printed rule (longer than a handwritten bar) ...
    rule_min: int = 60
    #: ... or the page's short side over this, if longer
    rule_divisor: int = 25
    #: px: shortest vertical rule, or the rule length over ``vrule_divisor`` if longer
    vrule_min: int = 12
    #: see ``vrule_min``
    vrule_divisor: int = 2
    #: px: a vertical rule's ends must lie within this square kernel of a horizontal rule
    rule_touch: int = 7
    #: px: rows at each end of a vertical rule looked at for that touch
    rule_end: int = 3
    #: px: rule thickness assumed where there are no rules
    rule_thickness: int = 3
    #: rule lengths: a rule that sets the skew is at least this many long ...
    skew_rules: int = 4
    #: ... and at least the page width over this
    skew_width: int = 8
    #: px: fewest ink pixels on a rule to fit its slope
    skew_points: int = 10
    #: px: a box's shortest side, or half the shortest vertical rule if longer
    box_side_min: int = 8
    #: fraction of its bounding box a closed region fills to be a box (not a gap between rules)
    box_fill: float = 0.85
    #: fraction of the page's width and height: a region as large is the page, not a box
    box_page: float = 0.9
    #: px beyond the rule's thickness: strokes either side of a rule are joined across it
    cross_reach: int = 4
    #: rules are grown by their thickness over this on each side before they are removed (a
    #: blurred or JPEG-ragged rule leaves slivers that read as a "1")
    rule_grow: int = 3
    #: rule thicknesses (plus ``comb_gap`` px): cells this close in a row form one comb
    comb_gap_thick: int = 2
    #: px: see ``comb_gap_thick``
    comb_gap: int = 6
    #: fraction of a comb cell's width and height: ink smaller in both is a speck, not a digit
    comb_speck: float = 0.35
    # -- glyph crops
    #: px: a glyph's crop keeps the ink map this far (a square kernel) around its mask
    crop_rim: int = 3
    #: px of paper round a glyph's crop
    crop_pad: int = 2
    # -- strings: specks, joins, separators
    #: fraction of the tallest piece: pieces at least this tall set the digit height
    tall_share: float = 0.45
    #: px: a piece with less ink than this is a speck ...
    speck_area: float = 4.0
    #: ... or less than this many stroke widths squared
    speck_stroke: float = 0.25
    #: dh: a piece shorter than this both ways is a speck
    speck_size: float = 0.12
    #: dh: a piece lower than this is part of a digit (a bar, a broken stroke, one stroke of
    #: two), not a digit's whole body
    low: float = 0.6
    #: dh: a bar at most this far from a digit's body may be its bar (a 5's or a 7's) ...
    bar_gap: float = 0.1
    #: dh: ... when its middle is no lower than this below the digits' top (a dash sits at
    #: mid-height)
    bar_top: float = 0.3
    #: fraction of the narrower piece: pieces overlapping this much in x are joined when one
    #: is low ...
    join_overlap: float = 0.55
    #: ... and two tall ones when they overlap this much
    join_overlap_tall: float = 0.8
    #: dh: flat (a dash, a bar) is lower than this ...
    flat_height: float = 0.5
    #: ... and wider than this many times its height
    flat_aspect: float = 1.3
    #: dh: a flat single stroke narrower than this is a dash (``-`` after an amount)
    dash_width: float = 1.5
    #: dh: a piece lower than this and narrower than ``sep_width`` is a separator; under it
    #: both ways it is a dot (two dots one above the other stay dots: a colon)
    dot: float = 0.42
    #: dh: see ``dot``
    sep_width: float = 0.8
    #: a separator wider than this many times its height (and ``dash_min`` dh) is a ``-`` ...
    dash_aspect: float = 1.8
    #: dh: see ``dash_aspect``
    dash_min: float = 0.2
    #: ... else one taller than this many times its width a ``,``, else a ``.``
    comma_aspect: float = 1.4
    #: a flat piece is one stroke when its inkiest column holds at most this many times the
    #: median column's ink (a small flat 5 has a column as thick as its height) ...
    stroke_even: float = 2.5
    #: ... and fewer than this share of its columns cross ink more than once
    stroke_runs: float = 0.25
    # -- strings: merges of pieces that nearly touch
    #: dh: pieces at most this far apart may be one broken digit (or two narrow ones)
    merge_gap: float = 0.05
    #: dh: two tall pieces merged are at most this wide (a low piece and a tall one: ``wide``)
    merge_width: float = 0.85
    #: dh: merged pieces this wide are as likely one digit as two ...
    merge_even: float = 0.7
    #: ... and each dh wider (narrower) costs one digit (two) this prior
    merge_prior: float = 4.0
    #: prior against reading two x-overlapping tall pieces as two digits rather than one
    apart_prior: float = 0.5
    # -- strings: cuts of wide glyphs
    #: dh: a glyph wider than this is more likely two digits than one
    wide: float = 1.1
    #: dh per piece: narrowest glyph offered an even cut into pieces
    even_cut: float = 0.45
    #: dh per piece: widest glyph offered an even cut into pieces
    piece_width: float = 1.3
    #: prior, per dh short of ``wide``, against cutting a glyph of a single digit's width
    narrow_cut: float = 2.0
    #: most pieces one glyph is cut into
    max_split: int = 3
    #: prior per unit of ink a cut crosses (the cut column's over the inkiest column's)
    cut_ink: float = 0.3
    #: px: narrowest piece a cut may leave
    cut_min_width: int = 2
    #: fraction of the glyph's width: a cut in two lies between this ...
    cut_from: float = 0.25
    #: ... and this
    cut_to: float = 0.75
    #: candidate cuts in two are this many (at the lowest ink) ...
    cut_alternatives: int = 3
    #: ... at least the glyph's width over this (and 2 px) apart
    cut_spacing: int = 12
    #: a cut into k > 2 pieces lies within the width over (this times k) of the even cut
    cut_window: int = 3
    #: dh: glyphs from this wide may be cut at a thin neck
    neck_ratio: float = 0.45
    #: fraction of the glyph's width: a neck lies between this ...
    neck_from: float = 0.15
    #: ... and this
    neck_to: float = 0.85
    #: a neck's column holds at most this fraction of the inkiest column (two 1s leaning
    #: together touch along a stretch of their strokes, not at one point)
    neck_ink: float = 0.5
    #: dh: both parts either side of a neck are at least this tall
    neck_height: float = 0.7
    #: prior against cutting at a neck (a broken 6 has one too)
    neck_prior: float = 0.15
    #: dh: a piece lower than this is a broken stroke or a speck, not a digit ...
    stub_height: float = 0.5
    #: ... and reading one as a digit costs this prior
    stub_prior: float = 3.0
    #: dh: cutting a glyph of one digit's width into pieces lower than this pays
    #: ``short_prior`` per dh short (two touching digits each stand the line's height; a digit
    #: lying on its side, a flat 0 or 6, is low as well as narrow)
    short_height: float = 0.9
    #: see ``short_height``
    short_prior: float = 10.0
    # -- strings: signs (``/`` and ``$``)
    #: px: fewest ink pixels of a sign
    sign_min_ink: int = 8
    #: a ``/`` is thinner than this (minor over major axis of its ink)
    slash_thin: float = 0.22
    #: degrees: a stroke leaning right this far is a ``/`` outright (a tenth of MNIST's 1s
    #: lean over 31 degrees, 1 % over 40) ...
    slash_lean: float = 45.0
    #: degrees: ... and from this far an alternative reading (it wins only when the
    #: classifier is unsure of a digit)
    slash_maybe: float = 33.0
    #: prior of that alternative
    slash_prior: float = 0.7
    #: dh: a ``$`` is at least this tall (its bar's tips stick out) ...
    dollar_height: float = 1.1
    #: ... and at least this many times its height wide
    dollar_width: float = 0.4
    #: fraction of its height: the rows at each end looked at for the bar's tips
    dollar_tip: float = 0.08
    #: fraction of its width: a tip's ink starts right of this ...
    tip_from: float = 0.2
    #: ... ends left of this ...
    tip_to: float = 0.8
    #: ... and is at most this wide
    tip_width: float = 0.4
    #: prior of reading a ``$`` at the start of a string ...
    dollar_prior_leading: float = 0.5
    #: ... and elsewhere
    dollar_prior: float = 1.0
    # -- lines and fields
    #: fraction of the lower box: fields overlapping this much in height are one line
    line_overlap: float = 0.5
    #: fraction of the tallest piece: pieces at least this tall set a free page's digit height
    free_tall: float = 0.4
    #: dh: a piece joins a string when its middle is this close to the string's rows ...
    line_reach: float = 0.3
    #: dh: ... and it is this close to the string's right end
    word_gap: float = 1.2
    #: dh: a string whose tallest piece is lower than this is no field
    free_min_height: float = 0.4
    #: fraction of the image's width (and ``underline_min`` px): a rule this long is removed
    #: from a string (an underline, a box edge)
    underline: float = 0.5
    #: px: see ``underline``
    underline_min: int = 25
    #: px: smallest component of a ``string`` image
    string_min_area: int = 3
    #: px: smallest component of a ``digit`` image ...
    digit_min_area: int = 2
    #: ... and the digit keeps pieces with at least this share of its largest's ink
    digit_keep: float = 0.05
    # -- cheques
    #: width over height: the courtesy-amount box is at least this wide ...
    cheque_aspect_min: float = 1.8
    #: ... and at most this
    cheque_aspect_max: float = 9.0
    #: fraction of the page's width: the box's (or string's) centre is right of this
    cheque_right: float = 0.5
    #: fraction of the page's area: the box is larger than this
    cheque_area: float = 0.004
    # -- cut cells (a ledger cell, an amount crop): ``wh`` is the writing's height
    #: fraction of the crop's short side: a dark region this thick touching the crop's edge
    #: is scan border (far thicker than any pen stroke)
    cell_border: float = 0.08
    #: fraction of the paper's level: gray below it is "dark" for the border test
    cell_border_dark: float = 0.55
    #: percentile of the crop's gray taken as the paper's level
    cell_paper: float = 90.0
    #: percentile of the crop's gray painted over the border when the ink is bright
    cell_paper_bright: float = 10.0
    #: gray level: paper (outside the border) darker than this means bright ink on dark
    cell_dark_paper: float = 110.0
    #: wh: a straight run this long (and thin) is a printed rule
    cell_rule: float = 2.5
    #: px: ... and at least this long
    cell_rule_min: int = 8
    #: wh: gaps of a dashed or broken rule, bridged before runs are measured
    cell_dash_gap: float = 0.25
    #: wh: a rule is at most this thick ...
    cell_rule_thick: float = 0.25
    #: px: ... and this thickness at least is allowed
    cell_rule_thick_min: int = 2
    #: rule thicknesses: a piece no wider than this lying in a removed vertical rule's band
    #: is the rule's remains
    cell_remains: int = 2
    #: wh: components closer than this side by side (half that one above the other) belong
    #: to one group of writing
    cell_gap: float = 1.0
    #: wh: a piece cut by the crop's side edge joins the writing only this close to it
    cell_near: float = 0.6
    #: a group touching the crop's edge counts this much less (a neighbour cut by the crop)
    cell_edge_factor: float = 0.35
    #: fraction of the tallest group's height: a group lower than this is small print
    cell_small: float = 0.55
    #: wh of paper round the writing's box when it is read
    cell_pad: float = 0.25
    #: px: ... and at least this
    cell_pad_min: int = 2
    #: px: ``auto`` reads an image whose long side is at most this, and that has no printed
    #: boxes, as one cell (a cut ledger cell or amount, not a page)
    cell_side: int = 700
    #: fraction of such an image: one printed box over this much of it is the cell's frame
    cell_own_frame: float = 0.4
    #: a piece more elongated than this is a line, not writing, when estimating ``wh``
    line_aspect: float = 12.0
    #: fraction of the crop's height or width: a piece spanning this much is "across" it
    cell_span: float = 0.8
    #: a piece across most of the crop that fills less than this share of its box is rules
    frame_fill: float = 0.08
    #: a piece across most of the crop, or touching its edge, whose length is this many times
    #: its mean thickness (length squared over area) is a rule, however slanted, bowed or bent
    #: into a corner: a 2 px pen stroke 80 px long scores 40, a column rule across a cell 80+
    line_elongation: float = 40.0
    #: px: pieces with less ink are not used to estimate ``wh`` ...
    cell_min_area: int = 6
    #: ... which is the height of the tallest of this many inkiest pieces
    cell_inkiest: int = 3


#: the default rules (never mutated: ``dataclasses.replace`` makes a tuned copy)
RULES = SegmentRules()


@dataclass
class SegmentOptions:
    """Knobs shared by the layouts (picklable: sent to worker processes)."""

    polarity: str = "auto"  # auto | dark (ink darker than paper) | bright
    deskew: bool = True
    max_skew: float = 6.0  # degrees
    rules: SegmentRules = field(default_factory=SegmentRules)


Segmenter = Callable[[np.ndarray, SegmentOptions], list[FieldCrops]]


# ------------------------------------------------------------------ connected components


def cc_stats(mask: np.ndarray,
             connectivity: int = 8) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """``cv2.connectedComponentsWithStats``, same labels, stats and centroids, faster on ink.

    Ink is a few percent of a page, so on a sparse mask the statistics are gathered over
    foreground pixels only (a third faster than OpenCV's pass over every pixel on a 9 Mpx
    page); a dense mask (the space between rule lines) and small crops go to OpenCV's own.
    Label 0 (the background) is reported as the whole image (with centroid (0, 0) on the sparse
    path): no caller uses it.
    """
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    fg = int(cv2.countNonZero(mask))
    if mask.size < 100_000 or fg > mask.size // 4:
        n0, lab0, st0, ce0 = cv2.connectedComponentsWithStats(mask, connectivity=connectivity)
        st0[0, :4] = (0, 0, mask.shape[1], mask.shape[0])  # label 0: the whole image, as below
        return int(n0), lab0, st0, ce0
    n, labels = cv2.connectedComponents(mask, connectivity=connectivity, ltype=cv2.CV_32S)
    h, w = mask.shape
    stats = np.zeros((n, 5), np.int32)
    cents = np.zeros((n, 2), np.float64)
    stats[0] = (0, 0, w, h, mask.size - fg)
    if n <= 1:
        return n, labels, stats, cents
    pts = cv2.findNonZero(mask).reshape(-1, 2).astype(np.int64)
    xs, ys = pts[:, 0], pts[:, 1]
    lab: np.ndarray = labels[ys, xs].astype(np.intp)
    area = np.bincount(lab, minlength=n)
    x0, y0 = np.full(n, w, np.int64), np.full(n, h, np.int64)
    x1, y1 = np.full(n, -1, np.int64), np.full(n, -1, np.int64)
    np.minimum.at(x0, lab, xs)
    np.minimum.at(y0, lab, ys)
    np.maximum.at(x1, lab, xs)
    np.maximum.at(y1, lab, ys)
    s = slice(1, None)
    stats[s, 0], stats[s, 1] = x0[s], y0[s]
    stats[s, 2], stats[s, 3], stats[s, 4] = x1[s] - x0[s] + 1, y1[s] - y0[s] + 1, area[s]
    cents[s, 0] = np.bincount(lab, xs.astype(np.float64), minlength=n)[s] / area[s]
    cents[s, 1] = np.bincount(lab, ys.astype(np.float64), minlength=n)[s] / area[s]
    return n, labels, stats, cents


# ------------------------------------------------------------------ ink map & binarisation


@dataclass
class Ink:
    """The ink map (float32, 0 = paper, 1 = darkest ink) and its binarisation."""

    ink: np.ndarray
    mask: np.ndarray  # uint8 0/1
    threshold: float


def ink_map(image: np.ndarray, polarity: str = "auto",
            rules: SegmentRules = RULES) -> np.ndarray:
    """Relative ink darkness in [0, 1] after removing the background (uneven light, tints)."""
    gray = dark_ink_gray(image, polarity)
    h, w = gray.shape
    scale = min(1.0, rules.bg_side / max(h, w))
    small = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1 else gray
    k = (int(max(rules.bg_kernel_min, round(min(small.shape) * rules.bg_kernel))) | 1
         if scale == 1.0 else rules.bg_kernel_shrunk)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    bg = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
    bg = cv2.blur(bg, (k, k))
    bg = np.maximum(bg, cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel))
    if scale < 1:
        bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)
    ink = (bg - gray) / np.maximum(bg, rules.bg_floor)
    return np.clip(ink, 0.0, 1.0).astype(np.float32)


def binarise(ink: np.ndarray, floor: float | None = None, rules: SegmentRules = RULES) -> Ink:
    """Otsu on the ink map (never below ``floor``, default ``rules.ink_floor``), with
    hysteresis down to ``rules.hysteresis`` of it."""
    floor = rules.ink_floor if floor is None else floor
    u8 = (ink * 255).astype(np.uint8)
    otsu, _ = cv2.threshold(u8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    thr = max(float(otsu) / 255.0, floor)
    strong = (ink > thr).astype(np.uint8)
    weak = (ink > thr * rules.hysteresis).astype(np.uint8)
    n, labels = cv2.connectedComponents(weak, connectivity=8)
    if n > 1:
        has_strong = np.zeros(n, bool)
        has_strong[np.unique(labels[strong > 0])] = True
        has_strong[0] = False
        mask = has_strong[labels].astype(np.uint8)
    else:
        mask = strong
    return Ink(ink, mask, thr)


# ------------------------------------------------------------------ deskew


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
    thick = _thickness(horiz, axis=0, default=rules.rule_thickness)
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


def _thickness(lines: np.ndarray, axis: int, default: int = RULES.rule_thickness) -> int:
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
    order = sorted(range(len(cells)), key=lambda i: (cells[i][1], cells[i][0]))
    parent = list(range(len(cells)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    gap = segment_rules.comb_gap_thick * thickness + segment_rules.comb_gap
    for a_i, a in enumerate(order):
        ax, ay, aw, ah = cells[a]
        for b in order[a_i + 1 :]:
            bx, by, bw, bh = cells[b]
            if abs(ay - by) > gap or abs(ah - bh) > gap:
                continue
            if 0 <= bx - (ax + aw) <= gap or 0 <= ax - (bx + bw) <= gap:
                parent[find(b)] = find(a)
    groups: dict[int, list[BBox]] = {}
    for i in range(len(cells)):
        groups.setdefault(find(i), []).append(cells[i])
    return [sorted(g, key=lambda c: c[0]) for g in groups.values()]


# ------------------------------------------------------------------ components → strings


@dataclass
class Comp:
    """A group of connected components: bounding box and label ids in the label image."""

    x0: int
    y0: int
    x1: int
    y1: int
    ids: list[int]
    area: int

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    @property
    def h(self) -> int:
        return self.y1 - self.y0

    def merged(self, other: Comp) -> Comp:
        return Comp(min(self.x0, other.x0), min(self.y0, other.y0), max(self.x1, other.x1),
                    max(self.y1, other.y1), self.ids + other.ids, self.area + other.area)


class Components:
    """Connected components of a binary mask, with crops taken from the ink map; ``rules``
    are the segmentation rules that the strings made of them follow."""

    def __init__(self, mask: np.ndarray, ink: np.ndarray, offset: tuple[int, int] = (0, 0),
                 rules: SegmentRules = RULES):
        self.n, self.labels, self.stats, self.centroids = cc_stats(mask, 8)
        self.ink = ink
        self.offset = offset
        self.rules = rules

    def comps(self, ids: Iterable[int]) -> list[Comp]:
        out = []
        for i in ids:
            x, y, w, h, a = (int(v) for v in self.stats[i])
            out.append(Comp(x, y, x + w, y + h, [int(i)], a))
        return out

    def own(self, comp: Comp) -> np.ndarray:
        """Boolean mask, over ``comp``'s bounding box, of the pixels that belong to it."""
        return np.isin(self.labels[comp.y0 : comp.y1, comp.x0 : comp.x1], comp.ids)

    def inside(self, box: BBox, min_area: int) -> list[Comp]:
        """Components whose centroid lies in ``box`` (label-image coordinates)."""
        x, y, w, h = box
        c = self.centroids
        a = self.stats[:, cv2.CC_STAT_AREA]
        sel = np.flatnonzero((c[:, 0] >= x) & (c[:, 0] < x + w) & (c[:, 1] >= y)
                             & (c[:, 1] < y + h) & (a >= min_area))
        return self.comps(sel[sel > 0])

    def crop(self, comp: Comp, x_range: tuple[int, int] | None = None,
             kind: str = "digit", label: str = "") -> GlyphCrop | None:
        """The glyph image of ``comp`` (optionally only columns ``x_range``), masked to its ink."""
        x0, x1 = (comp.x0, comp.x1) if x_range is None else x_range
        lab = self.labels[comp.y0 : comp.y1, x0:x1]
        own = np.isin(lab, comp.ids)
        if not own.any():
            return None
        ys, xs = np.nonzero(own)
        ya, yb, xa, xb = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        own = own[ya:yb, xa:xb]
        gy, gx = comp.y0 + ya, x0 + xa
        pad = self.rules.crop_pad
        H, W = self.labels.shape
        py0, px0 = max(0, gy - pad), max(0, gx - pad)
        py1, px1 = min(H, gy + own.shape[0] + pad), min(W, gx + own.shape[1] + pad)
        m = np.zeros((py1 - py0, px1 - px0), np.uint8)
        m[gy - py0 : gy - py0 + own.shape[0], gx - px0 : gx - px0 + own.shape[1]] = own
        if x_range is None:
            m = cv2.dilate(m, np.ones((self.rules.crop_rim, self.rules.crop_rim), np.uint8))
        img = self.ink[py0:py1, px0:px1] * m
        ox, oy = self.offset
        bbox = (int(gx + ox), int(gy + oy), int(own.shape[1]), int(own.shape[0]))
        return GlyphCrop(bbox, img.astype(np.float32), kind, label)


def string_segments(cc: Components, comps: list[Comp], *,
                    max_split: int | None = None) -> list[Segment]:
    """Components of one field → segments left to right, with candidate joins and cuts.

    The rules are ``cc.rules``; ``max_split`` (default ``rules.max_split``) caps the pieces
    one glyph is cut into."""
    r = cc.rules
    max_split = r.max_split if max_split is None else max_split
    comps = [c for c in comps if c.area > 0]
    if not comps:
        return []
    tall = max(c.h for c in comps)
    heights = [c.h for c in comps if c.h >= r.tall_share * tall]
    dh = float(np.median(heights))
    stroke = max(1.0, float(np.median([c.area / max(c.h + c.w, 1) for c in comps])))
    # specks
    comps = [c for c in comps if c.area >= max(r.speck_area, r.speck_stroke * stroke * stroke)
             and max(c.w, c.h) >= r.speck_size * dh]
    if not comps:
        return []
    comps.sort(key=lambda c: c.x0)
    # join pieces that overlap in x (broken strokes, detached bars); two tall pieces may also
    # be two digits, one leaning over the other (a slanted 1): kept as an alternative reading
    joined: list[Comp] = []
    apart: dict[int, list[Comp]] = {}
    top = float(np.median([c.y0 for c in comps if c.h >= r.low * dh]
                          or [c.y0 for c in comps]))
    for c in comps:
        if joined:
            p = joined[-1]
            if c.x0 - p.x1 <= r.bar_gap * dh and (_top_bar(c, p, dh, top, r)
                                                  or _top_bar(p, c, dh, top, r)):
                joined[-1] = p.merged(c)
                continue
            ov = min(p.x1, c.x1) - max(p.x0, c.x0)
            short = p.h < r.low * dh or c.h < r.low * dh
            if ov > r.join_overlap * min(p.w, c.w) and (
                    short or ov > r.join_overlap_tall * min(p.w, c.w)) and not (
                    _dot(p, dh, r) and _dot(c, dh, r)):  # a colon or a dotted mark stays dots
                joined[-1] = p.merged(c)
                if not short:
                    apart[len(joined) - 1] = [*apart.pop(len(joined) - 1, [p]), c]
                else:
                    apart.pop(len(joined) - 1, None)
                continue
        joined.append(c)
    # the digit height again, now that the pieces of broken digits are whole
    tall = max(c.h for c in joined)
    dh = max(dh, float(np.median([c.h for c in joined if c.h >= r.tall_share * tall])))
    segs: list[Segment] = []
    i = 0
    while i < len(joined):
        c = joined[i]
        dash = (_flat(c, dh, r) and c.w < r.dash_width * dh  # - = after an amount
                and _one_stroke(cc, c))  # not a small digit written flat
        if (c.h < r.dot * dh and c.w < r.sep_width * dh) or dash:
            sep = _separator(c, dh, cc)
            if sep is not None:
                segs.append(Segment([[sep]]))
            i += 1
            continue
        sign = _sign(cc, c, dh, leading=not any(o[0].kind == "digit" for sg in segs
                                                 for o in sg.options if o))
        if sign is not None:
            segs.append(sign)
            i += 1
            continue
        # pieces that (nearly) touch and together are no wider than one digit: a broken digit,
        # or two narrow digits; the classifier's confidence decides, geometry gives the prior
        group, merged, j = [c], c, i + 1
        while j < len(joined):
            nxt = joined[j]
            if ((nxt.h < r.dot * dh and nxt.w < r.sep_width * dh)
                    or nxt.x0 - merged.x1 > r.merge_gap * dh):
                break
            # a low piece beside a tall one may be a stroke of it (a 4 written in two strokes)
            widest = r.wide if min(nxt.h, merged.h) < r.low * dh else r.merge_width
            if merged.merged(nxt).w > widest * dh:
                break
            group.append(nxt)
            merged = merged.merged(nxt)
            j += 1
        if len(group) > 1:
            whole = cc.crop(merged)
            parts = [cc.crop(g) for g in group]
            if whole is not None and all(parts):
                ratio = merged.w / dh
                pieces = [g for g in parts if g is not None]
                segs.append(Segment([[whole], pieces],
                                    [max(0.0, ratio - r.merge_even) * r.merge_prior,
                                     max(0.0, r.merge_even - ratio) * r.merge_prior
                                     + _stub_penalty(pieces, dh, r)]))
                i = j
                continue
        seg = _cut_options(cc, c, dh, max_split)
        if i in apart:
            crops = [cc.crop(p) for p in apart[i]]
            pieces = [p for p in crops if p is not None]
            if len(pieces) == len(crops):
                seg.options.append(pieces)
                seg.penalties.append(r.apart_prior)
        segs.append(seg)
        i += 1
    return segs


def _dot(c: Comp, dh: float, r: SegmentRules) -> bool:
    """A dot: two of them one above the other are a colon or a dotted mark, not a digit."""
    return c.h < r.dot * dh and c.w < r.dot * dh


def _top_bar(bar: Comp, body: Comp, dh: float, top: float, r: SegmentRules) -> bool:
    """A short bar at the top of the line beside a digit's body: a 5's or a 7's, broken off.

    A dash sits at mid-height; the bar of a 5 written in two strokes sits at the digits' top.
    """
    return (_flat(bar, dh, r) and body.h >= r.low * dh
            and (bar.y0 + bar.y1) / 2 < top + r.bar_top * dh)


def _flat(c: Comp, dh: float, r: SegmentRules) -> bool:
    """Low and wider than tall: the shape of a dash, or of a 5's or 7's bar."""
    return c.h < r.flat_height * dh and c.w > r.flat_aspect * c.h


def _stub_penalty(pieces: list[GlyphCrop], dh: float, r: SegmentRules,
                  narrow: bool = True) -> float:
    """Prior against readings that make a digit of a stub (the tail of a broken 6, a speck),
    and, cutting a ``narrow`` glyph, against pieces lower than the line's digits."""
    stubs = r.stub_prior * sum(1 for p in pieces if p.bbox[3] < r.stub_height * dh)
    if not narrow:
        return stubs
    return stubs + r.short_prior * sum(
        max(0.0, r.short_height - max(p.bbox[3] / dh, r.stub_height)) for p in pieces)


def _sign(cc: Components, c: Comp, dh: float, leading: bool) -> Segment | None:
    """``/`` (dates) and ``$`` (amounts) by their shape: non-digit glyphs, left out of the text.

    A ``/`` is one thin straight stroke leaning right; handwritten 1s lean too (a tenth of
    MNIST's lean over 31 degrees, 1 % over 40), so past ``slash_lean`` it is a ``/`` outright
    and from ``slash_maybe`` (or past ``slash_lean`` before any digit: a slash separates) it is
    an alternative that wins only when the classifier is unsure of a digit. A ``$`` is an S
    crossed by a vertical bar whose tips stick out above and below the digits' height; it is
    offered as an alternative, cheaper at the start of a string.
    """
    r = cc.rules
    if c.h < r.low * dh or c.area < r.sign_min_ink:
        return None
    own = cc.own(c)
    ys, xs = np.nonzero(own)
    if len(xs) < r.sign_min_ink:
        return None
    cov = np.cov(np.vstack([xs, ys]).astype(np.float64))
    evals, evecs = np.linalg.eigh(cov)
    major = evecs[:, 1]
    thin = math.sqrt(max(evals[0], 0.0) / max(evals[1], 1e-9))
    lean = math.degrees(math.atan2(abs(major[0]), abs(major[1])))
    if major[0] * major[1] < 0 and thin < r.slash_thin:  # x grows as y shrinks: leans right
        # nothing to separate yet: a leading stroke is a 1 as likely as a slash
        penalty = (0.0 if lean >= r.slash_lean and not leading
                   else r.slash_prior if lean >= r.slash_maybe else None)
        if penalty is not None:
            return _sign_segment(cc, c, "/", penalty)
    if c.h >= r.dollar_height * dh and c.w >= r.dollar_width * c.h:
        rows = max(1, round(r.dollar_tip * c.h))
        if _narrow_tip(own[:rows], r) and _narrow_tip(own[-rows:], r):
            return _sign_segment(cc, c, "$", r.dollar_prior_leading if leading
                                 else r.dollar_prior)
    return None


def _narrow_tip(rows: np.ndarray, r: SegmentRules) -> bool:
    """The ends of a ``$``'s bar: ink only in a narrow middle band of the glyph's width."""
    cols = np.flatnonzero(rows.any(axis=0))
    w = rows.shape[1]
    return bool(cols.size) and cols[0] >= r.tip_from * w and cols[-1] < r.tip_to * w and (
        cols[-1] - cols[0] + 1 <= r.tip_width * w)


def _sign_segment(cc: Components, c: Comp, label: str, penalty: float) -> Segment | None:
    sign = cc.crop(c, kind="separator", label=label)
    if sign is None:
        return None
    if penalty == 0.0:
        return Segment([[sign]])
    whole = cc.crop(c)
    return Segment([[whole], [sign]], [0.0, penalty]) if whole is not None else None


def _one_stroke(cc: Components, c: Comp) -> bool:
    """Whether a wide glyph is one horizontal stroke: columns cross its ink once, evenly thick.

    A small digit written flat (a squashed 5) has a column as thick as its height somewhere.
    """
    r = cc.rules
    own = cc.own(c).astype(np.int8)
    runs = (np.diff(own, axis=0, prepend=0) == 1).sum(axis=0)
    ink = own.sum(axis=0)
    if not ink.any():
        return True
    even = ink.max() <= r.stroke_even * float(np.median(ink[ink > 0]))
    return even and float(np.mean(runs[runs > 0] > 1)) < r.stroke_runs


def _separator(c: Comp, dh: float, cc: Components) -> GlyphCrop | None:
    r = cc.rules
    label = "-" if c.w > r.dash_aspect * c.h and c.w > r.dash_min * dh else ","
    if label == "," and c.h < r.comma_aspect * c.w:
        label = "."
    return cc.crop(c, kind="separator", label=label)


def _cut_options(cc: Components, c: Comp, dh: float, max_split: int) -> Segment:
    r = cc.rules
    whole = cc.crop(c)
    options: list[list[GlyphCrop]] = [[whole]] if whole else []
    penalties: list[float] = [0.0] if whole else []
    ratio = c.w / max(dh, 1.0)
    if ratio < r.neck_ratio:
        return Segment(options, penalties)
    own = cc.own(c)
    profile = own.sum(axis=0).astype(np.float32)
    if len(profile) >= 5:
        profile = np.convolve(profile, np.ones(3, np.float32) / 3, mode="same")
    candidates: list[tuple[list[int], float]] = []  # cut columns and their prior
    if ratio < r.even_cut * 2:
        # too narrow for two digits, unless a thin neck joins two tall parts (a 1 touching)
        neck = _neck(own, profile, dh, r)
        if neck is not None:
            candidates.append(([neck], r.neck_prior))
    for k in range(2, max_split + 1):
        if ratio < r.even_cut * k or ratio > r.piece_width * k:
            continue
        narrow = max(0.0, r.wide - ratio / (k - 1)) * r.narrow_cut
        candidates += [(cuts, narrow) for cuts in _best_cuts(profile, k, r)]
    for cuts, prior in candidates:
        pieces = [cc.crop(c, (c.x0 + a, c.x0 + b)) for a, b in pairwise([0, *cuts, c.w])]
        if all(p is not None and p.bbox[2] >= r.cut_min_width for p in pieces):
            options.append([p for p in pieces if p is not None])
            cost = float(sum(profile[x] for x in cuts)) / max(float(profile.max()), 1.0)
            penalties.append(r.cut_ink * cost + prior
                             + _stub_penalty(options[-1], dh, r, ratio < r.wide))
    if not options:
        return Segment([], [])
    if ratio > r.wide and penalties:
        penalties[0] += ratio - r.wide
    return Segment(options, penalties)


def _neck(own: np.ndarray, profile: np.ndarray, dh: float, r: SegmentRules) -> int | None:
    """The column of one thin bridge between two parts that both reach most of the digit height.

    ``own`` is the glyph's pixel mask, ``profile`` its smoothed column sums.
    """
    w = len(profile)
    lo, hi = int(w * r.neck_from), int(w * r.neck_to)
    if hi <= lo + 1:
        return None
    x = lo + int(np.argmin(profile[lo:hi]))
    if profile[x] > r.neck_ink * float(profile.max()):
        return None
    col = own[:, x].astype(np.int8)
    if int((np.diff(col, prepend=0) == 1).sum()) != 1:  # a ring's middle is crossed twice
        return None
    for part in (own[:, :x], own[:, x + 1 :]):
        rows = np.flatnonzero(part.any(axis=1))
        if not rows.size or rows[-1] - rows[0] + 1 < r.neck_height * dh:
            return None
    return x


def _best_cuts(profile: np.ndarray, k: int, r: SegmentRules) -> list[list[int]]:
    """Up to ``r.cut_alternatives`` sets of ``k - 1`` cut columns near the even split, at
    low ink."""
    w = len(profile)
    n = r.cut_alternatives
    out: list[list[int]] = []
    if k == 2:
        lo, hi = int(w * r.cut_from), int(w * r.cut_to)
        if hi <= lo + 1:
            return []
        region = profile[lo:hi]
        idx = np.argsort(region, kind="stable")
        chosen: list[int] = []
        for j in idx:
            x = lo + int(j)
            if all(abs(x - y) > max(2, w // r.cut_spacing) for y in chosen):
                chosen.append(x)
            if len(chosen) >= n:
                break
        return [[x] for x in chosen]
    cuts = []
    for j in range(1, k):
        centre = w * j / k
        lo, hi = int(centre - w / (r.cut_window * k)), int(centre + w / (r.cut_window * k))
        lo, hi = max(1, lo), min(w - 1, hi)
        if hi <= lo:
            return []
        cuts.append(lo + int(np.argmin(profile[lo:hi])))
    out.append(cuts)
    return out


# ------------------------------------------------------------------ reading order


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


# ------------------------------------------------------------------ layouts


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


def gray_u8(image: np.ndarray) -> np.ndarray:
    """Fast gray conversion for uint8 RGB pages; anything else through ``to_gray``."""
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if image.dtype == np.uint8 and image.ndim == 2:
        return image
    return np.clip(to_gray(image), 0, 255).astype(np.uint8)


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


def _min_area(shape: tuple[int, ...], rules: SegmentRules = RULES) -> int:
    return max(rules.min_area, int(min(shape[:2]) / rules.area_divisor) ** 2)


def _map_field(p: Prepared, f: FieldCrops) -> FieldCrops:
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
    groups = group_cells(rules.cells, rules.thickness, segment_rules=r)
    cc = Components(remove_rules(p.mask, rules, segment_rules=r), p.ink, rules=r)
    comb_cc = cc
    if any(len(g) > 1 for g in groups):
        comb_cc = Components(remove_rules(p.mask, rules, restore_vertical=False,
                                          segment_rules=r), p.ink, rules=r)
    min_area = _min_area(p.mask.shape, r)
    fields: list[FieldCrops] = []
    for group in groups:
        x0 = min(c[0] for c in group)
        y0 = min(c[1] for c in group)
        x1 = max(c[0] + c[2] for c in group)
        y1 = max(c[1] + c[3] for c in group)
        bbox = (x0, y0, x1 - x0, y1 - y0)
        if len(group) == 1:
            comps = cc.inside(group[0], min_area)
            fields.append(FieldCrops(bbox, string_segments(cc, comps), kind="box"))
            continue
        segs: list[Segment] = []
        for cell in group:
            comps = comb_cc.inside(cell, min_area)
            if not comps:
                continue
            merged = comps[0]
            for c in comps[1:]:
                merged = merged.merged(c)
            if merged.h < r.comb_speck * cell[3] and merged.w < r.comb_speck * cell[2]:
                continue  # a speck, not a digit: the cell is empty
            crop = comb_cc.crop(merged)
            if crop is not None:
                segs.append(Segment([[crop]]))
        fields.append(FieldCrops(bbox, segs, kind="comb"))
    return fields


def free_fields(p: Prepared) -> list[FieldCrops]:
    """Fields of a page without boxes: components grouped into lines and strings."""
    r = p.rules
    cc = Components(p.mask, p.ink, rules=r)
    comps = cc.comps(range(1, cc.n))
    min_area = _min_area(p.mask.shape, r)
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
    return reading_order([_map_field(p, f) for f in fields], opts.rules)


def segment_boxes(image: np.ndarray, opts: SegmentOptions) -> list[FieldCrops]:
    """Only printed boxes and combs (nothing outside them is read)."""
    p = prepare(image, opts)
    rules = find_rules(p.mask, opts.rules)
    return reading_order([_map_field(p, f) for f in boxed_fields(p, rules)], opts.rules)


def segment_string(image: np.ndarray, opts: SegmentOptions) -> list[FieldCrops]:
    """The whole image is one digit string (rules such as an underline are removed)."""
    r = opts.rules
    p = prepare(image, opts, deskew=False)
    h, w = p.mask.shape
    horiz = _long_lines(p.mask, max(r.underline_min, int(r.underline * w)))
    mask = p.mask
    if horiz.any():
        zero = np.zeros_like(horiz)
        mask = remove_rules(p.mask, Rules(horiz, zero, _thickness(horiz, 0, r.rule_thickness),
                                          []), segment_rules=r)
    cc = Components(mask, p.ink, rules=r)
    comps = [c for c in cc.comps(range(1, cc.n)) if c.area >= r.string_min_area]
    return [FieldCrops((0, 0, w, h), string_segments(cc, comps), kind="string")]


def _long_lines(mask: np.ndarray, length: int) -> np.ndarray:
    """Horizontal rules at least ``length`` long (an underline, a box edge), as a 0/1 mask."""
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (min(length, mask.shape[1]), 1))
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, k)


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


def segment_cheque(image: np.ndarray, opts: SegmentOptions) -> list[FieldCrops]:
    """A full cheque: the courtesy-amount box (right half, wide), read as one digit string and
    named ``amount`` (its ``value`` is built from the digits and separators)."""
    r = opts.rules
    p = prepare(image, opts)
    rules = find_rules(p.mask, r)
    h, w = p.mask.shape
    cands = [c for c in rules.cells
             if r.cheque_aspect_min <= c[2] / max(c[3], 1) <= r.cheque_aspect_max
             and c[0] + c[2] / 2 > r.cheque_right * w and c[2] * c[3] > r.cheque_area * w * h]
    if cands:
        box = max(cands, key=lambda c: c[2] * c[3])
        clean = remove_rules(p.mask, rules, segment_rules=r)
        cc = Components(clean, p.ink, rules=r)
        comps = cc.inside(box, _min_area(p.mask.shape, r))
        return [_map_field(p, FieldCrops(box, string_segments(cc, comps), kind="box",
                                         name="amount"))]
    free = free_fields(p)
    right = [f for f in free if f.bbox[0] + f.bbox[2] / 2 > r.cheque_right * w]
    if not right:
        return []
    best = max(right, key=lambda f: len(f.segments))
    best.name = "amount"
    return [_map_field(p, best)]


BUILTIN: dict[str, Segmenter] = {
    "auto": segment_auto,
    "boxes": segment_boxes,
    "string": segment_string,
    "digit": segment_digit,
    "cheque": segment_cheque,
}
