"""Page orientation (0, 90, 180 or 270 degrees) from the page's printed text lines.

A page fed in sideways or upside down is read as confident wrong digits: the classifier sees
turned glyphs that still look like digits (6 and 9, 2 and 5, 1 and 7). ``estimate`` finds how
far a page is turned, with OpenCV and numpy only, in two steps:

1. **Which axis the text runs along.** Long rules (box sides, underlines) are taken out of the
   page's ink first. Letters and words of a line stand side by side, closer to each other than
   to the lines above and below: pairs of character-sized components that are near neighbours
   along x (overlapping in y) are counted against pairs that are near neighbours along y
   (overlapping in x). The test is the same with x and y swapped, so it favours neither.
2. **Which way is up.** Neighbours along the axis are joined into text lines, and the page's
   skew is taken out. Latin print stands on an even baseline while its tops are ragged:
   capitals and ascenders (b d f h k l t) stand above the x-height letters, and descenders
   (g j p q y) are rarer. So in each line, the characters whose top is off the level most
   tops sit at are counted against those whose bottom is off the level most bottoms sit at;
   turned by 180 degrees the two counts swap exactly. Lines of digits or capitals are even
   on both sides, and handwriting ragged on both, so they tip neither way.

The answer is only trusted when there are enough pairs and lines and they agree well enough
(``OrientationRules``): on a page with little printed text (an amount crop, a page of boxes and
digits) the estimate is 0 degrees and not confident, and the page is read as given. Turning an
upright page costs more than missing a turned one.

Angles are clockwise: a page whose ``angle`` is 90 was turned 90 degrees clockwise from
upright, and ``upright`` turns it back.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .pages import shrink
from .results import BBox, PageResult
from .segment.components import cc_stats, joined_groups
from .segment.ink import percentile_u8


@dataclass(frozen=True)
class OrientationRules:
    """Every threshold of ``estimate``; lengths in pixels are at the working resolution."""

    #: the page is shrunk by the whole factor that brings its longer side nearest this (speed;
    #: text stays legible)
    max_side: int = 2200
    #: images whose shorter side is below this are crops, not pages: never turned
    min_side: int = 300
    #: the paper's brightness is the brightest pixel within this window (pixels), smoothed
    background: int = 15
    #: ink is darker than the paper by ``ink_fraction`` of the page's strong ink (this
    #: percentile of darkness), and by at least ``min_darkness`` gray levels
    ink_percentile: float = 99.7
    ink_fraction: float = 0.5
    min_darkness: int = 24
    #: straight runs of ink this long (a fraction of the page's longer side, at least
    #: ``min_rule`` pixels) are rules, not letters: taken out before the text is looked at
    rule_fraction: float = 0.025
    min_rule: int = 40
    #: a character or word: its height across the line in this range (pixels), its length
    #: along the line at most ``max_word`` heights, its height at most ``max_stick`` times its
    #: length (taller is a rule's remains or a stroke on its own)
    min_char: int = 5
    max_char: int = 80
    max_word: float = 40.0
    max_stick: float = 10.0
    #: more components than this is a texture, not text: the page is not judged
    max_components: int = 5000
    #: components compared with all others at a time (memory: chunk x components)
    pair_chunk: int = 512
    #: neighbours along a line: the gap between them at most ``pair_gap`` times the thicker
    #: one's thickness (its shorter side), their extents across the line overlapping by
    #: ``pair_overlap`` of the smaller and differing by at most ``pair_size_ratio`` times
    pair_gap: float = 1.0
    pair_overlap: float = 0.5
    pair_size_ratio: float = 2.5
    #: the text axis is trusted with at least this many neighbour pairs, when the larger
    #: direction has this share of them
    min_pairs: int = 30
    axis_share: float = 0.7
    #: a text line: at least this many components; lines this many times as long as they
    #: are high set the page's skew
    min_line_parts: int = 3
    min_line_length: float = 4.0
    #: characters under this fraction of their line's median height (dots, commas) set no
    #: level; a top (bottom) is off its line's level when it is more than ``tolerance`` of the
    #: line's median height away, and at least ``min_tolerance`` pixels
    dot_fraction: float = 0.45
    tolerance: float = 0.15
    min_tolerance: float = 1.5
    #: up/down is trusted with at least this many characters off a level, when one side
    #: (tops or bottoms) has this share of them
    min_marks: int = 12
    updown_share: float = 0.7


RULES = OrientationRules()


@dataclass(frozen=True)
class Estimate:
    """How far a page is turned (clockwise, degrees) and the evidence for it."""

    angle: int
    #: whether the evidence is strong enough to act on (turn the page upright)
    confident: bool
    #: the text surely runs up and down the page (turned 90 or 270 degrees), even when which
    #: way up is not sure; ``angle`` is then the likelier of the two
    sideways: bool = False
    #: neighbour pairs along x and along y (the text axis)
    pairs_x: int = 0
    pairs_y: int = 0
    #: characters off their line's top level and off its bottom level, with the text axis
    #: laid horizontal (upright Latin print: ragged tops, even bottoms)
    up: int = 0
    down: int = 0
    #: text lines that were measured
    lines: int = 0

    @property
    def axis_share(self) -> float:
        """The share of neighbour pairs along the axis the text was found to run on."""
        n = self.pairs_x + self.pairs_y
        return max(self.pairs_x, self.pairs_y) / n if n else 0.0

    @property
    def updown_share(self) -> float:
        """The share of the off-level characters on the side found to be the top."""
        n = self.up + self.down
        return max(self.up, self.down) / n if n else 0.0


#: the estimate of a page not judged (or taken as given)
UPRIGHT = Estimate(0, False)


def _gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3:
        if image.shape[2] >= 3:
            return cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
        return np.ascontiguousarray(image[..., 0])
    return image


def ink_mask(image: np.ndarray, rules: OrientationRules = RULES) -> np.ndarray:
    """The page's dark ink (uint8 0/1) at the working resolution."""
    gray = _gray(np.asarray(image))
    if gray.dtype != np.uint8:  # read_image hands over uint8; other callers may not
        g = gray.astype(np.float64)
        span = float(np.ptp(g)) or 1.0
        gray = ((g - g.min()) * (255.0 / span)).astype(np.uint8)
    h, w = gray.shape
    gray = shrink(gray, max(1, round(max(h, w) / rules.max_side)))
    # darkness against the paper around it (a max filter wipes out strokes narrower than
    # the window): uneven light and tinted paper drop out
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (rules.background, rules.background))
    paper = cv2.blur(cv2.dilate(gray, k), (rules.background, rules.background))
    dark = cv2.subtract(paper, gray)
    # ink is at least half as dark as the page's strong ink: stroke cores without their blur
    # halo (which would fill the gaps between letters), and no faint security print
    ref = percentile_u8(dark, rules.ink_percentile)
    thr = max(rules.min_darkness, rules.ink_fraction * ref)
    return (dark >= thr).astype(np.uint8)


def without_rules(mask: np.ndarray, rules: OrientationRules = RULES) -> np.ndarray:
    """``mask`` with its long straight horizontal and vertical runs (rules, frames) taken out."""
    n = max(rules.min_rule, round(rules.rule_fraction * max(mask.shape)))
    horizontal = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, n), np.uint8)) > 0
    vertical = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((n, 1), np.uint8)) > 0
    return ((mask > 0) & ~horizontal & ~vertical).astype(np.uint8)


def _parts(stats: np.ndarray, rules: OrientationRules) -> np.ndarray:
    """Which components (rows x, y, w, h; the line along x) can be letters or words."""
    w, h = stats[:, 2], stats[:, 3]
    return ((h >= rules.min_char) & (h <= rules.max_char) & (w <= rules.max_word * h)
            & (h <= rules.max_stick * w))


def _pairs(boxes: np.ndarray, rules: OrientationRules) -> np.ndarray:
    """Index pairs (i, j), i < j, of neighbours along x (boxes as rows x, y, w, h)."""
    b = boxes.astype(np.float64)
    x, y, w, h = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    thick = np.minimum(w, h)
    found = [np.zeros((0, 2), np.int64)]
    for start in range(0, len(b), rules.pair_chunk):  # chunks: memory stays flat
        i = slice(start, start + rules.pair_chunk)
        xi, yi, wi, hi, ti = (v[i, None] for v in (x, y, w, h, thick))
        gap = np.maximum(xi, x) - np.minimum(xi + wi, x + w)
        overlap = np.minimum(yi + hi, y + h) - np.maximum(yi, y)
        hmax, hmin = np.maximum(hi, h), np.minimum(hi, h)
        ok = ((gap <= rules.pair_gap * np.maximum(ti, thick))
              & (overlap >= rules.pair_overlap * hmin) & (hmax <= rules.pair_size_ratio * hmin))
        rows, cols = np.nonzero(ok)
        rows = rows + start
        found.append(np.stack([rows, cols], axis=1)[rows < cols])
    return np.concatenate(found)


def _level(values: np.ndarray, tol: float) -> float:
    """The level most values sit at (within ``tol``): a mode that two clusters cannot split."""
    near = (np.abs(values[:, None] - values[None, :]) <= tol).sum(axis=1)
    return float(np.median(values[near == near.max()]))


def _skew(boxes: np.ndarray, lines: list[np.ndarray], rules: OrientationRules) -> float:
    """The page's skew (dy/dx): the median slope of its long text lines' centres."""
    slopes = []
    for idx in lines:
        b = boxes[idx].astype(np.float64)
        cx, cy = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
        if len(b) >= rules.min_line_parts and np.ptp(cx) >= rules.min_line_length * float(
                np.median(b[:, 3])):
            slopes.append(float(np.polyfit(cx, cy, 1)[0]))
    return float(np.median(slopes)) if slopes else 0.0


def ragged_sides(boxes: np.ndarray, rules: OrientationRules = RULES, skew: float = 0.0
                 ) -> tuple[int, int]:
    """How many of a horizontal line's characters (rows x, y, w, h) stand off the level most
    tops sit at, and off the level most bottoms sit at (with the page's skew taken out)."""
    b = boxes.astype(np.float64)
    b = b[b[:, 3] >= rules.dot_fraction * float(np.median(b[:, 3]))]  # dots set no level
    if len(b) < rules.min_line_parts:
        return 0, 0
    shift = skew * (b[:, 0] + b[:, 2] / 2)
    top, bottom = b[:, 1] - shift, b[:, 1] + b[:, 3] - shift
    tol = max(rules.min_tolerance, rules.tolerance * float(np.median(b[:, 3])))
    return (int(np.sum(np.abs(top - _level(top, tol)) > tol)),
            int(np.sum(np.abs(bottom - _level(bottom, tol)) > tol)))


def estimate(image: np.ndarray, rules: OrientationRules = RULES) -> Estimate:
    """How far ``image`` (gray or RGB) is turned from upright, clockwise, and how sure that is."""
    arr = np.asarray(image)
    if arr.ndim < 2 or min(arr.shape[:2]) < rules.min_side:
        return UPRIGHT
    mask = without_rules(ink_mask(arr, rules), rules)
    _, _, stats, _ = cc_stats(mask, 8)  # OpenCV's own statistics pass is 4x slower on ink
    stats = stats[1:, :4].astype(np.int64)
    if len(stats) > rules.max_components:
        return UPRIGHT
    found = []
    for view in ([0, 1, 2, 3], [1, 0, 3, 2]):  # text along x, then along y (x and y swapped)
        boxes = stats[:, view]
        keep = np.flatnonzero(_parts(boxes, rules))
        found.append((boxes[keep], _pairs(boxes[keep], rules)))
    nx, ny = len(found[0][1]), len(found[1][1])
    vertical = ny > nx
    axis_ok = nx + ny >= rules.min_pairs and max(nx, ny) >= rules.axis_share * (nx + ny)
    boxes, pairs = found[1] if vertical else found[0]
    if vertical:  # as if turned back from 90 degrees clockwise (x' = y, y' = W - x)
        width = int((boxes[:, 1] + boxes[:, 3]).max())  # swapped view: column 1 is x
        boxes = np.stack([boxes[:, 0], width - boxes[:, 1] - boxes[:, 3], boxes[:, 2],
                          boxes[:, 3]], axis=1)
    lines = [np.array(g) for g in joined_groups(len(boxes), pairs.tolist())
             if len(g) >= rules.min_line_parts]
    skew = _skew(boxes, lines, rules)
    up = down = 0
    for idx in lines:
        t, b = ragged_sides(boxes[idx], rules, skew)
        up, down = up + t, down + b
    updown_ok = up + down >= rules.min_marks and max(up, down) >= rules.updown_share * (
        up + down)
    angle = (90 if vertical else 0) + (180 if down > up else 0)
    confident = axis_ok and updown_ok
    sideways = axis_ok and vertical
    return Estimate(angle if confident or sideways else 0, confident, sideways, nx, ny, up, down,
                    len(lines))


def upright(image: np.ndarray, angle: int) -> np.ndarray:
    """``image`` turned back to upright from ``angle`` degrees clockwise."""
    k = (angle // 90) % 4  # np.rot90 turns counter-clockwise
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


def box_back(bbox: BBox, angle: int, width: int, height: int) -> BBox:
    """A box of the upright image in the pixels of the image as given (``width`` x
    ``height``, turned ``angle`` degrees clockwise from upright)."""
    x, y, w, h = bbox
    a = angle % 360
    if a == 90:  # upright (x, y) sits at (width - 1 - y, x) in the given image
        return (width - y - h, x, h, w)
    if a == 180:
        return (width - x - w, height - y - h, w, h)
    if a == 270:  # upright (x, y) sits at (y, height - 1 - x)
        return (y, height - x - w, h, w)
    return bbox


def should_turn(est: Estimate) -> bool:
    """Whether a page is read turned back by ``est.angle``: the estimate is sure, or the text
    surely runs sideways (the likelier way up beats reading the page across its lines)."""
    return est.angle != 0 and (est.confident or est.sideways)


def restore(result: PageResult, est: Estimate) -> PageResult:
    """A page read turned back by ``est.angle``: boxes into the pixels of the page as given
    (``result.width`` x ``result.height``), the angle recorded, and when which way up was not
    sure, every field flagged and the page given a warning."""
    if not should_turn(est):
        return result
    w, h = result.width, result.height
    for f in result.fields:
        f.bbox = box_back(f.bbox, est.angle, w, h)
        for g in f.glyphs:
            g.bbox = box_back(g.bbox, est.angle, w, h)
        if not est.confident:
            f.needs_review = True
    result.orientation = est.angle
    if not est.confident:
        result.warning = (f"page is turned sideways; read turned back by {est.angle} degrees, "
                          "but which way up is not sure")
    return result
