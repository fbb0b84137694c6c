"""Glyphs: the components of one field → segments left to right, each with its readings.

Small pieces are separators (``.`` ``,`` ``-``) and thin leaning strokes or crossed S shapes
signs (``/``, ``$``); pieces that overlap in x are joined (broken strokes), pieces that nearly
touch are offered merged and apart, and wide pieces get candidate cuts (touching digits). Each
alternative carries a prior (``Segment.penalties``) and the name of the rule that proposed it
(``Segment.rules``, listed at ``types.WHOLE``); the classifier's confidence decides.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np

from .components import Comp, Components
from .types import WHOLE, GlyphCrop, Segment, SegmentRules


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
                segs.append(Segment([[sep]], rules=["separator"]))
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
                                     + _stub_penalty(pieces, dh, r)],
                                    ["join:near", "apart:near"]))
                i = j
                continue
        seg = _cut_options(cc, c, dh, max_split)
        if i in apart:
            crops = [cc.crop(p) for p in apart[i]]
            pieces = [p for p in crops if p is not None]
            if len(pieces) == len(crops):
                if seg.rules and seg.rules[0] == WHOLE:
                    seg.rules[0] = "join:overlap"
                seg.options.append(pieces)
                seg.penalties.append(r.apart_prior)
                seg.rules.append("apart:overlap")
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
    rule = f"sign:{label}"
    if penalty == 0.0:
        return Segment([[sign]], rules=[rule])
    whole = cc.crop(c)
    return Segment([[whole], [sign]], [0.0, penalty], [WHOLE, rule]) if whole is not None else (
        None)


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
    rules: list[str] = [WHOLE] if whole else []
    ratio = c.w / max(dh, 1.0)
    if ratio < r.neck_ratio:
        return Segment(options, penalties, rules)
    own = cc.own(c)
    profile = own.sum(axis=0).astype(np.float32)
    if len(profile) >= 5:
        profile = np.convolve(profile, np.ones(3, np.float32) / 3, mode="same")
    candidates: list[tuple[list[int], float, str]] = []  # cut columns, prior, rule
    if ratio < r.even_cut * 2:
        # too narrow for two digits, unless a thin neck joins two tall parts (a 1 touching)
        neck = _neck(own, profile, dh, r)
        if neck is not None:
            candidates.append(([neck], r.neck_prior, "cut:neck"))
    for k in range(2, max_split + 1):
        if ratio < r.even_cut * k or ratio > r.piece_width * k:
            continue
        narrow = max(0.0, r.wide - ratio / (k - 1)) * r.narrow_cut
        candidates += [(cuts, narrow, f"cut:{k}") for cuts in _best_cuts(profile, k, r)]
    for cuts, prior, rule in candidates:
        pieces = [cc.crop(c, (c.x0 + a, c.x0 + b)) for a, b in pairwise([0, *cuts, c.w])]
        if all(p is not None and p.bbox[2] >= r.cut_min_width for p in pieces):
            options.append([p for p in pieces if p is not None])
            cost = float(sum(profile[x] for x in cuts)) / max(float(profile.max()), 1.0)
            penalties.append(r.cut_ink * cost + prior
                             + _stub_penalty(options[-1], dh, r, ratio < r.wide))
            rules.append(rule)
    if not options:
        return Segment([], [])
    if ratio > r.wide and penalties:
        penalties[0] += ratio - r.wide
    return Segment(options, penalties, rules)


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
