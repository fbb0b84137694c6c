"""A page's fields: the read options, the layout's segmenter, and one batched
classification per page with each segment's best reading assembled into fields.

Every crop of a page (all candidate cuts included) is normalised and classified in one
``predict_proba`` call; each segment then keeps the reading with the best score (sum of the
glyphs' log-confidences, a small bonus per glyph, minus the segmenter's prior penalty); with
``ReadOptions.explain`` each field keeps how (``Field.choices``: every candidate's rule, prior
and score, the winner). Whether a field needs review is ``results.review_reasons``. The
string readers' field assembly (``strings``, ``combined``) finds its fields here too, so neither
imports the pipeline that calls it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .amounts import amount_value
from .constraints import MAX_CANDIDATES, FieldRules, best_valid, decode, k_best
from .errors import DigitOCRError, InputError
from .io import DEFAULT_DPI, MAX_PIXELS
from .normalise import normalise
from .results import Candidate, Choice, Field, Glyph, PageResult, review_reasons
from .segment import AMOUNT, FieldCrops, GlyphCrop, Segment, Segmenter, SegmentOptions
from .segment.tables import PRINTED

# the templates' names, still reachable as fields.X (pipeline, tests and bench use them)
from .templates import (  # noqa: F401
    MAX_TEMPLATE_COORD,
    Template,
    TemplateField,
    load_template,
)

if TYPE_CHECKING:
    from .backends import Classifier

#: score bonus per digit glyph: stops the scorer from always preferring fewer, merged glyphs
GLYPH_BONUS = 0.0
#: ``read --debug`` logs each segment's candidates here (``log_choices``)
log = logging.getLogger(__name__)


#: ``ReadOptions.read_side``: the shorter side of an A4 page at 150 dpi
READ_SIDE = 1240


@dataclass
class ReadOptions:
    """Everything that shapes how one page is read (picklable, sent to workers)."""

    layout: str = "auto"
    min_confidence: float = 0.0
    dpi: int = DEFAULT_DPI
    max_pixels: int = MAX_PIXELS
    polarity: str = "auto"
    deskew: bool = True
    template: Template | None = None
    annotate: Path | None = None
    #: --annotate names keep each file's path below this folder (the inputs' common folder)
    annotate_root: str = ""
    glyph_bonus: float = GLYPH_BONUS
    segment: SegmentOptions = field(default_factory=SegmentOptions)
    #: seconds one file may take to decode and segment (``--timeout-per-file``); None: no limit
    timeout: float | None = None
    #: decode pages straight to gray (every built-in layout reads gray; JPEG decodes ~2x faster)
    gray: bool = True
    #: a page whose shorter side is at least twice this is read reduced by the whole factor
    #: that keeps it at least this (``pages.reduced``; a 300 dpi A4 at 150 dpi: the segmenter
    #: works at that resolution anyway, and the crops are shrunk to 28 or 32 px); boxes stay
    #: in the page's pixels. None: every page at full resolution (``--full-resolution``)
    read_side: int | None = READ_SIDE
    #: turn a page found sideways or upside down upright before reading it (``orientation``)
    orientation: bool = True
    #: keep how each segment's reading was chosen (``Field.choices``, ``read --debug``)
    explain: bool = False
    #: read printed fields too (a table's printed row numbers and names: ``segment.tables``)
    include_printed: bool = False


def get_segmenter(name: str) -> Segmenter:
    """The segmenter registered as ``name`` (through ``register_segmenters``)."""
    from .plugins import registry

    fn: Segmenter = registry("segmenters").get(name, "layout", InputError)
    return fn


def layouts() -> list[str]:
    """Names of the registered layouts."""
    from .plugins import get_segmenters

    return sorted(get_segmenters())


#: with a registered template, a box the page's own segmentation found is a template field's
#: when at least this share of its area lies inside the field's rectangle
INSIDE = 0.6


def find_fields(image: np.ndarray, opts: ReadOptions) -> list[FieldCrops]:
    """Run the layout's segmenter, or read the template's rectangles.

    A template with a reference picture reads a page already registered to it (``templates.
    align``): its ``boxes`` fields are the boxes and combs the page's own segmentation finds
    inside their rectangles (the crops ``--layout auto`` would read), the others, and boxes
    not found, are segmented inside their rectangle alone. Older templates' rectangles are
    scaled by the page's size and each segmented alone."""
    seg_opts = replace(opts.segment, polarity=opts.polarity, deskew=opts.deskew)
    if opts.template is None:
        page = get_segmenter(opts.layout)(image, seg_opts)
        return page if opts.include_printed else [f for f in page if f.style != PRINTED]
    t = opts.template
    h, w = image.shape[:2]
    sx = w / t.width if t.width else 1.0
    sy = h / t.height if t.height else 1.0
    found: list[FieldCrops] = []
    if t.reference is not None and any(tf.layout == "boxes" for tf in t.fields):
        found = get_segmenter("boxes")(image, replace(seg_opts, deskew=False))
    used: set[int] = set()
    out: list[FieldCrops] = []
    for tf in t.fields:
        x, y, bw, bh = tf.bbox
        x0, y0 = max(0, round(x * sx)), max(0, round(y * sy))
        x1, y1 = min(w, round((x + bw) * sx)), min(h, round((y + bh) * sy))
        box = (x0, y0, max(0, x1 - x0), max(0, y1 - y0))
        segments: list[Segment] = []
        mine = [i for i, f in enumerate(found) if i not in used and tf.layout == "boxes"
                and _inside(f.bbox, box) >= INSIDE]
        if mine:
            used.update(mine)
            for i in sorted(mine, key=lambda i: found[i].bbox[0]):
                segments.extend(found[i].segments)
        elif x1 - x0 >= 4 and y1 - y0 >= 4:
            layout = tf.layout if tf.layout != "auto" or opts.layout == "auto" else opts.layout
            inner = get_segmenter(layout)(image[y0:y1, x0:x1], replace(seg_opts, deskew=False))
            for f in inner:
                for s in f.segments:
                    segments.append(_offset(s, x0, y0))
        out.append(FieldCrops(box, segments, kind="template", name=tf.name))
    return out


def _inside(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """The share of box ``a``'s area inside box ``b``."""
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, iw) * max(0, ih) / max(1, a[2] * a[3])


def _offset(seg: Segment, dx: int, dy: int) -> Segment:
    for opt in seg.options:
        for g in opt:
            x, y, w, h = g.bbox
            g.bbox = (x + dx, y + dy, w, h)
    return seg


def classify_fields(
    fields: list[FieldCrops], classifier: Classifier, opts: ReadOptions
) -> list[Field]:
    """One batched ``predict_proba`` over every digit crop, then the best reading per segment."""
    return classify_pages([fields], classifier, opts)[0]


def classify_pages(
    pages: list[list[FieldCrops]], classifier: Classifier, opts: ReadOptions
) -> list[list[Field]]:
    """``classify_fields`` for several pages' fields with one ``predict_proba`` call."""
    crops: list[GlyphCrop] = []
    index: dict[int, int] = {}
    for fields in pages:
        for f in fields:
            for s in f.segments:
                for opt in s.options:
                    for g in opt:
                        if g.kind == "digit" and id(g) not in index:
                            index[id(g)] = len(crops)
                            crops.append(g)
    if crops:
        batch = np.stack([normalise(g.image, polarity="bright") for g in crops])
        probs = np.asarray(classifier.predict_proba(batch), dtype=np.float64)
        if probs.shape != (len(crops), 10):
            raise DigitOCRError(
                f"classifier returned shape {probs.shape}, expected ({len(crops)}, 10)")
    else:
        probs = np.zeros((0, 10))
    return [_assemble(fields, probs, index, opts) for fields in pages]


def _assemble(fields: list[FieldCrops], probs: np.ndarray, index: dict[int, int],
              opts: ReadOptions) -> list[Field]:
    out: list[Field] = []
    rules = {tf.name: tf.rules for tf in opts.template.fields} if opts.template else {}
    for n, f in enumerate(fields, start=1):
        r = rules.get(f.name or "") or f.rules
        if r is not None:
            out.append(_constrained(n, f, probs, index, opts, r))
            continue
        glyphs: list[Glyph] = []
        choices: list[Choice] = []
        for si, s in enumerate(f.segments, start=1):
            if not s.options:
                continue
            scores = [_score(o, p, probs, index, opts)
                      for o, p in zip(s.options, s.penalties, strict=True)]
            best = max(range(len(scores)), key=scores.__getitem__)
            if opts.explain:
                choices.append(_choice(si, s, scores, best, probs, index))
            for g in s.options[best]:
                glyphs.append(_glyph(g, probs, index, opts.min_confidence, s.rules[best]))
        out.append(_field(n, f, glyphs, opts.min_confidence))
        out[-1].choices = choices
    return out


def _choice(si: int, s: Segment, scores: list[float], won: int | None, probs: np.ndarray,
            index: dict[int, int]) -> Choice:
    """The record of one segment's candidates (``Field.choices``)."""
    def text(opt: list[GlyphCrop]) -> str:
        return "".join(str(int(np.argmax(probs[index[id(g)]]))) if g.kind == "digit"
                       else g.label for g in opt)

    return Choice(si, tuple(Candidate(rule, text(o), float(p), float(sc)) for o, p, rule, sc
                            in zip(s.options, s.penalties, s.rules, scores, strict=True)), won)


def choice_lines(page: PageResult) -> list[str]:
    """One line per segment of each field read with ``ReadOptions.explain``: its candidates
    (rule, reading, prior, score), the winner marked ``won``; a field whose rules chose over
    all its segments at once says so."""
    lines = []
    for f in page.fields:
        for c in f.choices:
            cands = "; ".join(
                f"{k.rule} {k.text!r} prior {_num(k.prior, 2)} score {_num(k.score, 3)}"
                + (" won" if i == c.won else "") for i, k in enumerate(c.candidates))
            tail = "" if c.won is not None else " (the field's rules chose)"
            lines.append(f"{page.file} p{page.page} field {f.key} segment {c.segment}: "
                         f"{cands}{tail}")
    return lines


def _num(x: float, places: int) -> str:
    return f"{round(x, places) + 0.0:.{places}f}"  # + 0.0: never "-0.000"


def log_choices(page: PageResult) -> None:
    """``choice_lines``, each a debug message of this module's logger."""
    if log.isEnabledFor(logging.DEBUG):
        for line in choice_lines(page):
            log.debug("%s", line)


#: constrained decoding (a template field with rules): the ways of cutting the field's
#: segments looked at, best first; each is searched for a reading satisfying the rules
#: (``constraints.best_valid``), the best-scoring cut with its full share of readings, the
#: others with ``constraints.MAX_CANDIDATES // SEGMENTINGS`` each
SEGMENTINGS = 16


def _constrained(n: int, f: FieldCrops, probs: np.ndarray, index: dict[int, int],
                 opts: ReadOptions, rules: FieldRules) -> Field:
    """The field's most probable reading that satisfies ``rules`` over its segments' cuts and
    its glyphs' alternatives: a comb's cell count, touching digits cut in two when a length
    says so, a second-best digit when the best breaks a checksum."""
    places = [si for si, s in enumerate(f.segments, start=1) if s.options]
    segs = [f.segments[si - 1] for si in places]
    scores = [[_score(o, p, probs, index, opts) for o, p in zip(s.options, s.penalties,
                                                                 strict=True)] for s in segs]
    choices = [_choice(si, s, sc, None, probs, index)
               for si, s, sc in zip(places, segs, scores, strict=True)] if opts.explain else []
    orders = [sorted(range(len(sc)), key=sc.__getitem__, reverse=True) for sc in scores]
    positions = [[sc[k] for k in order] for sc, order in zip(scores, orders, strict=True)]
    first: Field | None = None
    best: tuple[float, Field] | None = None
    for score, idx in k_best(positions, SEGMENTINGS):
        glyphs = [_glyph(g, probs, index, opts.min_confidence, s.rules[order[k]])
                  for s, order, k in zip(segs, orders, idx, strict=True)
                  for g in s.options[order[k]]]
        field = _field(n, f, glyphs, opts.min_confidence)
        limit = MAX_CANDIDATES if first is None else MAX_CANDIDATES // SEGMENTINGS
        first = first or field
        got = best_valid(field, rules, opts.min_confidence, limit)
        if got is not None and (best is None or score + got[0] > best[0]):
            best = (score + got[0], got[1])
    if best is not None:
        best[1].choices = choices
        return best[1]
    if first is None:  # no segments: a blank field
        first = _field(n, f, [], opts.min_confidence)
    out = decode(first, rules, opts.min_confidence)
    out.choices = choices
    return out


def _score(opt: list[GlyphCrop], penalty: float, probs: np.ndarray, index: dict[int, int],
           opts: ReadOptions) -> float:
    total = -penalty
    for g in opt:
        if g.kind == "digit":
            total += math.log(max(float(probs[index[id(g)]].max()), 1e-9)) + opts.glyph_bonus
    return total


def _glyph(g: GlyphCrop, probs: np.ndarray, index: dict[int, int], min_conf: float,
           rule: str = "") -> Glyph:
    if g.kind != "digit":
        return Glyph(g.bbox, g.label, 1.0, [], kind="separator", rule=rule)
    p = probs[index[id(g)]]
    top = np.argsort(-p, kind="stable")[:3]
    conf = float(p[top[0]])
    label = str(int(top[0]))  # the best guess stays; the field's review flag says "unsure"
    alts = [(str(int(k)), float(p[k])) for k in top]
    return Glyph(g.bbox, label, conf, alts, rule=rule)


def _field(n: int, f: FieldCrops, glyphs: list[Glyph], min_conf: float) -> Field:
    digits = [g for g in glyphs if g.kind == "digit"]
    text = "".join(g.label for g in digits)
    conf = float(np.prod([g.confidence for g in digits])) if digits else 1.0
    value = amount_value([g.label for g in glyphs]) if f.name == AMOUNT and text else None
    # a field with ink but no digit read (only separators, say) is not a sure blank
    review = review_reasons(conf, text, min_conf, ink=bool(glyphs), amount=f.name == AMOUNT,
                            value=value, lines=f.lines)
    x, y, w, h = f.bbox
    return Field(n, (int(x), int(y), int(w), int(h)), text, conf, bool(review), glyphs, f.name,
                 value, style=f.style, row=f.row, col=f.col)
