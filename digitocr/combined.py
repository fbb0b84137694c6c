"""``--model auto``: each kind of field read by the reader that is best for it, cross-checked.

- Cut cells (``--layout string``, a small image read with ``auto``: a ledger cell, an amount
  crop): the whole-string reader (``crnn``) reads the field, since joined handwriting defeats
  cutting it into digits. The per-digit classifier (``cnn``) reads the same field as a check.
  Where the two disagree the field needs review: two readers that see the ink differently
  rarely make the *same* mistake, so agreement is the cheapest honest evidence that a reading
  is right. The string's confidence is calibrated (``AutoReader.calibrated``), apart for
  confirmed and unconfirmed readings.
- Review (``results.review_reasons``): besides the per-digit reasons, a disagreement and a
  cut cell read empty flag a field whatever ``--min-confidence`` is.
- Every field found on a page (boxes, combs, free lines, a cheque's date) and single digits:
  the per-digit classifier (``STRING_KINDS`` says why), checked the other way round: the
  string reader reads each digit alone (``glyph_disagreements``), and a digit it reads as
  another flags the field. On the IDRBT dates this flagged the one date read wrong and sure
  (a year's 4 read as 9), and 1 of the 377 unflagged tally numbers; a whole cheque's amount
  is cut out and read as a cell.

The model directory ``models/auto`` names its two members (``digits``, ``strings``), its
review threshold (``min_confidence``, 0.9: a policy, flag what is less than 90 % likely right)
and its ``calibration``, fitted on held-out real crops (``bench/fit_calibration.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from .amounts import agreed_value
from .backends import Classifier, FitResult, Progress, StringReader, load_model, load_string_reader
from .errors import ModelError
from .results import Field, Glyph, review_reasons
from .strings import StringReading

if TYPE_CHECKING:
    from .fields import ReadOptions
    from .segment import FieldCrops, SegmentRules

#: a string reading that the per-digit classifier does not confirm keeps this share of its
#: confidence, so that such fields (flagged in any case) say how often they are right: on the
#: held-out validation crops of the shipped crnn (``bench/fit_disagree.py``) the string reader
#: is right on 63.6 % of 539 disagreements, where it claims 70.9 % on average
DISAGREE = 0.9
#: field kinds read as whole strings; the others per digit. Only cut cells (and ``--layout
#: string``) for now: on the generated forms the CRNN read the fields of boxes and free lines
#: worse than the CNN (20 pages, seed 1: 94.3 % of fields against 98.6 %)
STRING_KINDS = ("cell",)


def platt(p: float, ab: Sequence[float]) -> float:
    """``p`` through ``sigmoid(a * logit(p) + b)`` (Platt scaling; ``(1, 0)`` leaves it)."""
    a, b = float(ab[0]), float(ab[1])
    q = min(max(float(p), CLIP), 1.0 - CLIP)
    z = a * math.log(q / (1.0 - q)) + b
    return 1.0 / (1.0 + math.exp(-z)) if z > -50 else 0.0


#: confidences are clipped this far from 0 and 1 before their logit is taken
CLIP = 1e-6


class AutoReader(StringReader):
    """Reads free strings with a string reader, digits in cells with a classifier.

    ``calibration`` (in the model's config): Platt parameters ``[a, b]`` for string readings
    the digit classifier confirms (``agree``) and for those it does not (``disagree``), fitted
    on held-out real crops (``bench/fit_calibration.py``), so that a cell's confidence is the
    probability that it is right; without them, a disagreement keeps ``DISAGREE`` of its
    confidence. ``accept_disagree``: the calibrated confidence from which a disagreement is no
    reason for review by itself (joined handwriting defeats the classifier's segmentation, not
    the string reader); absent, every disagreement is flagged.
    """

    backend = "auto"

    def calibrated(self, confidence: float, agree: bool) -> float:
        """The field confidence of a string reading of ``confidence``, confirmed or not."""
        cal = self.options.get("calibration")
        if not isinstance(cal, dict):
            return confidence if agree else confidence * DISAGREE
        return platt(confidence, cal["agree" if agree else "disagree"])

    def accepts(self, calibrated: float) -> bool:
        """Whether a string reading the digit classifier does not confirm needs no review for
        that alone: its calibrated confidence is at least ``accept_disagree`` (fitted on held-out
        crops, ``bench/fit_calibration.py``; absent: never)."""
        accept = self.options.get("accept_disagree")
        return accept is not None and calibrated >= float(accept)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.digits: Classifier | None = None
        self.strings: StringReader | None = None

    def fit(self, crops: list[np.ndarray], labels: list[str], *,
            validation: tuple[list[np.ndarray], list[str]] | None = None,
            progress: Progress | None = None) -> FitResult:
        raise ModelError("auto combines trained models: train its members (cnn, crnn) instead")

    def _members(self) -> tuple[Classifier, StringReader]:
        if self.digits is None or self.strings is None:
            raise ModelError("the auto reader has no members loaded")
        return self.digits, self.strings

    def read_strings(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        return self._members()[1].read_strings(crops)

    def read_detailed(self, crops: list[np.ndarray], polarity: str = "auto") -> list[StringReading]:
        return self._members()[1].read_detailed(crops, polarity=polarity)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)  # the members are named in the metadata

    @classmethod
    def load(cls, directory: Path, options: dict[str, Any]) -> AutoReader:
        cal = options.get("calibration")
        if cal is not None and not (
                isinstance(cal, dict) and all(
                    isinstance(cal.get(k), list) and len(cal[k]) == 2
                    and all(isinstance(v, (int, float)) and math.isfinite(v) for v in cal[k])
                    for k in ("agree", "disagree"))):
            raise ModelError(f"{directory}: 'calibration' must give [a, b] numbers for "
                             "'agree' and 'disagree'")
        accept = options.get("accept_disagree")
        if accept is not None and not (isinstance(accept, (int, float))
                                       and not isinstance(accept, bool) and 0 < accept <= 1):
            raise ModelError(f"{directory}: 'accept_disagree' must be a number in (0, 1], "
                             f"not {accept!r}")
        inst = cls(**options)
        inst.digits = load_model(str(options.get("digits", "cnn")))
        inst.strings = load_string_reader(str(options.get("strings", "crnn")))
        return inst


def _field_box(f: FieldCrops) -> tuple[int, int, int, int] | None:
    """What the string reader reads of a field: a cell's own box (it is the writing's, padded),
    nothing of the other kinds."""
    if f.kind in STRING_KINDS and f.segments and f.bbox[2] >= 4 and f.bbox[3] >= 4:
        return f.bbox
    return None


def string_amount_value(check: Field, digits: str, read: Field | None = None) -> str | None:
    """An amount's value from the string reader's ``digits`` placed into the separators the
    per-digit ``check`` saw, where every choice of them agrees (``amounts.agreed_value``: some
    may be strays). When the check read the same digits (or as many, and there is no
    ``read`` to place them by), the marks go where the check has them; else, given the string
    reader's field ``read`` (its digits' spans on the page), each mark goes between the digits
    either side of its centre. None when neither places them (a misplaced decimal mark costs a
    hundredfold)."""
    tokens = [g.label for g in check.glyphs]
    if not digits.isdigit():
        return None
    spans = read is not None and len(read.glyphs) == len(digits) and bool(digits)
    # the check's digit slots are the string reader's digits only when it read the same
    # digits, or when there is nothing better: a check that reads a comma as 1 and the
    # ending as 4 has as many slots as digits by chance ("2,70,000/-" would be 2700.00)
    checked = "".join(t for t in tokens if t.isdigit())
    if len(checked) == len(digits) and (checked == digits or not spans):
        it = iter(digits)
        return agreed_value([next(it) if t.isdigit() else t for t in tokens])
    if read is None or not spans:
        return None

    def centre(g: Glyph) -> float:
        return g.bbox[0] + g.bbox[2] / 2.0

    marks = [(centre(g), g.label) for g in check.glyphs if g.kind == "separator"]
    placed = sorted([*((centre(g), d) for g, d in zip(read.glyphs, digits, strict=True)),
                     *marks], key=lambda t: t[0])
    # the check's marks come from another segmentation than these digits: some may be
    # strays, so only a value that every choice of them agrees on is given
    return agreed_value([t for _, t in placed])


def glyph_crops(image: np.ndarray, field: Field, rules: SegmentRules) -> list[np.ndarray]:
    """Each digit of a per-digit field as the string reader is given it: the glyph's box
    (``rules.check_pad`` of its height more above and below, within the field) on paper
    ``rules.check_margin`` heights wide at each side, so that no neighbour's stroke shows."""
    _fx, fy, _fw, fh = field.bbox
    out = []
    for g in field.glyphs:
        if g.kind != "digit":
            continue
        x, y, w, h = g.bbox
        pad = round(rules.check_pad * h)
        y0, y1 = max(fy, y - pad), min(fy + fh, y + h + pad)
        crop = image[y0:y1, x : x + w]
        if crop.size == 0:
            out.append(crop)
            continue
        paper = np.floor(np.percentile(crop.reshape(-1, *crop.shape[2:]), rules.cell_paper,
                                       axis=0))
        side = max(2, round(rules.check_margin * h))
        out.append(cv2.copyMakeBorder(crop, 0, 0, side, side, cv2.BORDER_CONSTANT,
                                      value=np.atleast_1d(paper).tolist()))
    return out


def glyph_disagreements(image: np.ndarray, fields: list[Field], found: list[FieldCrops],
                        strings: StringReader, opts: ReadOptions) -> list[bool]:
    """For each field read per digit, whether the string reader, given each digit alone
    (``glyph_crops``), reads one of them without that digit. A digit it reads as nothing is no
    evidence (it leaves out lone ``1`` strokes); cut cells are checked the other way round."""
    todo = [i for i, f in enumerate(found) if f.kind not in STRING_KINDS and fields[i].glyphs]
    crops = {i: glyph_crops(image, fields[i], opts.segment.rules) for i in todo}
    flat = [c for i in todo for c in crops[i] if c.size]
    readings = iter(strings.read_strings(flat) if flat else [])
    out = [False] * len(fields)
    for i in todo:
        digits = [g.label for g in fields[i].glyphs if g.kind == "digit"]
        for label, crop in zip(digits, crops[i], strict=True):
            text = next(readings)[0] if crop.size else ""
            # more characters round the digit are strokes of its neighbourhood (a divider's
            # edge read as 1): only a reading without the digit contradicts it
            out[i] = out[i] or (bool(text) and label not in text)
    return out


def read_alternatives(image: np.ndarray, f: FieldCrops, strings: StringReader,
                      digits: Classifier, opts: ReadOptions
                      ) -> list[tuple[FieldCrops, StringReading, Field]]:
    """A cut cell's other groups of ink (``FieldCrops.alternatives``, likeliest first) that
    the string reader reads as characters: each group, its reading and the per-digit check's."""
    from .fields import classify_fields
    from .segment.cells import alternatives_of

    alts = [(a, box) for a in alternatives_of(f) if (box := _field_box(a)) is not None]
    crops = [image[y : y + h, x : x + w] for _, (x, y, w, h) in alts]
    readings = strings.read_detailed(crops, polarity=opts.polarity) if crops else []
    read = [(replace(a, name=f.name, rules=f.rules, style=f.style, row=f.row, col=f.col), r)
            for (a, _), r in zip(alts, readings, strict=True) if r.text]
    checks = classify_fields([a for a, _ in read], digits, opts) if read else []
    return [(a, r, check) for (a, r), check in zip(read, checks, strict=True)]


def _string_field(reader: AutoReader, f: FieldCrops, box: tuple[int, int, int, int],
                  r: StringReading, check: Field, opts: ReadOptions) -> Field:
    """A cut cell's field from the string reader's reading ``r`` of ``box``, checked by the
    per-digit reading ``check``: calibrated, flagged when it needs review."""
    from .segment import AMOUNT
    from .strings import field_from_reading

    agree = r.text == check.text
    conf = reader.calibrated(r.confidence, agree)
    field = field_from_reading(check.index, f.bbox, f.name, StringReading(r.text, conf, r.chars),
                               opts.min_confidence, glyph_box=box)
    value = string_amount_value(check, r.text, field) if f.name == AMOUNT else None
    review = review_reasons(conf, field.text, opts.min_confidence, amount=f.name == AMOUNT,
                            value=value, agree=agree or reader.accepts(conf), cell=True)
    return replace(field, needs_review=bool(review), value=value)


def read_fields(image: np.ndarray, reader: AutoReader, opts: ReadOptions,
                found: list[FieldCrops] | None = None) -> list[Field]:
    """The fields of one page: cut cells by the string reader (checked), the rest per digit
    (``found``: the page's fields when they are segmented already)."""
    from .fields import classify_fields, find_fields

    digits, strings = reader._members()
    found = find_fields(image, opts) if found is None else found
    per_digit = classify_fields(found, digits, opts)
    todo: list[tuple[int, tuple[int, int, int, int]]] = []
    crops: list[np.ndarray] = []
    for i, f in enumerate(found):
        box = _field_box(f)
        if box is not None:
            x, y, w, h = box
            todo.append((i, box))
            crops.append(image[y : y + h, x : x + w])
    readings = strings.read_detailed(crops, polarity=opts.polarity) if crops else []
    out = list(per_digit)
    for (i, box), r in zip(todo, readings, strict=True):
        out[i] = _string_field(reader, found[i], box, r, per_digit[i], opts)
        if not r.text or out[i].needs_review:
            # the cell's writing may be another group than the likeliest: an empty reading
            # takes the first group read as characters, a doubtful one only a group read surely
            # (a cell without other groups has none to read: read_alternatives gives [])
            for alt, r_alt, check in read_alternatives(image, found[i], strings, digits, opts):
                got = _string_field(reader, alt, alt.bbox, r_alt,
                                    replace(check, index=per_digit[i].index), opts)
                if not r.text or not got.needs_review:
                    found[i], out[i] = alt, got
                    break
    for i, disagree in enumerate(glyph_disagreements(image, out, found, strings, opts)):
        if disagree:  # a digit the string reader reads otherwise: the field needs review
            conf = out[i].confidence * DISAGREE
            out[i] = replace(out[i], confidence=conf, needs_review=out[i].needs_review or bool(
                review_reasons(conf, out[i].text, opts.min_confidence, agree=False)))
    for i, f in enumerate(found):  # a cell given to be read that yields no digit: say so
        if f.kind in STRING_KINDS and not out[i].text:
            out[i] = replace(out[i], confidence=0.0, needs_review=bool(
                review_reasons(0.0, "", opts.min_confidence, cell=True)))
    return out
