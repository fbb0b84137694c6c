"""What ``read`` returns: PageResult → Field → Glyph, and the JSON Schema their dicts follow;
what a string reader returns: StringReading → CharSpan; when a field needs review
(``review_reasons``, the one rule every reader's field assembly uses)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("schema.json")
BBox = tuple[int, int, int, int]


def _r(x: float) -> float:
    return round(float(x), 4)


@dataclass
class CharSpan:
    """One decoded character: where it fired (fractions of the crop's width) and how surely."""

    start: float
    end: float
    label: str
    confidence: float
    alternatives: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class StringReading:
    """A whole-string reading: digits, a confidence in [0, 1], and (optionally) coarse spans."""

    text: str
    confidence: float
    chars: list[CharSpan] = field(default_factory=list)


@dataclass
class Glyph:
    """One character: a digit (``label`` 0-9, or ``?`` under --min-confidence) or a separator."""

    bbox: BBox
    label: str
    confidence: float
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    kind: str = "digit"  # digit | separator
    #: the segmentation rule whose reading this glyph is part of (``Candidate.rule``; empty for
    #: a string reader's characters); never part of the record
    rule: str = field(default="", repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bbox": list(self.bbox),
            "label": self.label,
            "kind": self.kind,
            "confidence": _r(self.confidence),
            "alternatives": [{"label": lab, "confidence": _r(c)} for lab, c in self.alternatives],
        }


@dataclass(frozen=True)
class Candidate:
    """One candidate reading of a segment as the assembler scored it (``read --debug``)."""

    #: the segmentation rule that proposed it (``segment.types.WHOLE`` lists them)
    rule: str
    #: its glyphs' best guesses, separators and signs included
    text: str
    #: the segmenter's prior against it (subtracted from its score)
    prior: float
    #: what the assembler compared: the glyphs' log-confidences and bonus, less the prior
    score: float


@dataclass(frozen=True)
class Choice:
    """How one segment's reading was chosen: its candidates and the one that won (None when
    the field's rules chose, over every segment at once: ``digitocr.constraints``)."""

    #: the segment's place in its field, from 1
    segment: int
    candidates: tuple[Candidate, ...]
    won: int | None

    @property
    def runner_up(self) -> float | None:
        """The best score of the candidates that did not win (None: it had no rival)."""
        rest = [c.score for k, c in enumerate(self.candidates) if k != self.won]
        return max(rest) if rest and self.won is not None else None


@dataclass
class Field:
    """One box, comb or free digit string; ``text`` holds the digits only (separators left out)."""

    index: int
    bbox: BBox
    text: str
    confidence: float
    needs_review: bool
    glyphs: list[Glyph] = field(default_factory=list)
    name: str | None = None
    #: an amount's value as a decimal string (``"8800000.00"``), from its digits and separators
    #: (``digitocr.amounts``); None for other fields, or when the separators are ambiguous
    value: str | None = None
    #: whether the reading satisfies its template field's rules (``digitocr.constraints``);
    #: None when the field has none
    valid: bool | None = None
    #: ``handwritten``, or ``printed`` (a table's column of printed text, read only with
    #: ``--include-printed``)
    style: str = "handwritten"
    #: a table's cell: its row and column, from 1; None off a table
    row: int | None = None
    col: int | None = None
    #: how each segment's reading was chosen, kept only when asked (``ReadOptions.explain``,
    #: ``read --debug``); never part of the record
    choices: list[Choice] = field(default_factory=list, repr=False, compare=False)

    @property
    def key(self) -> str:
        """``name`` when the field has one, else its 1-based index."""
        return self.name if self.name is not None else str(self.index)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index}
        if self.name is not None:
            out["name"] = self.name
        out.update(
            bbox=list(self.bbox),
            text=self.text,
            confidence=_r(self.confidence),
            needs_review=self.needs_review,
            glyphs=[g.to_dict() for g in self.glyphs],
        )
        if self.value is not None:
            out["value"] = self.value
        if self.valid is not None:
            out["valid"] = self.valid
        out["style"] = self.style
        if self.row is not None:
            out["row"], out["col"] = self.row, self.col
        return out


#: why a field needs review (``review_reasons``). The first five count only under a review
#: threshold (``--min-confidence`` above 0); the last two always do.
#: its confidence is below the threshold
LOW_CONFIDENCE = "low confidence"
#: a ``?`` in its text (a reader that writes one for a character it cannot tell)
UNSURE_CHARACTER = "unsure character"
#: ink was found (or a crop given to be read) but no digit read: not a sure blank
NO_DIGIT = "no digit"
#: an amount with digits whose separators fit no reading (``amounts.amount_value`` is None)
AMOUNT_UNREAD = "amount unread"
#: the box holds printed lines from wall to wall that make no comb (dividers it could not
#: place): one of its "digits" may be a line
PRINTED_LINES = "printed lines"
#: ``--model auto``: the per-digit classifier's check reads the field otherwise
READERS_DISAGREE = "readers disagree"
#: ``--model auto``: a cut cell given to be read yields no digit
EMPTY_CELL = "empty cell"
REVIEW_REASONS = (LOW_CONFIDENCE, UNSURE_CHARACTER, NO_DIGIT, AMOUNT_UNREAD, PRINTED_LINES,
                  READERS_DISAGREE, EMPTY_CELL)


def review_reasons(confidence: float, text: str, min_confidence: float, *, ink: bool = True,
                   amount: bool = False, value: str | None = None, agree: bool = True,
                   cell: bool = False, lines: bool = False) -> tuple[str, ...]:
    """Why a field needs review, in the order of ``REVIEW_REASONS`` (empty: it does not).

    ``text`` is the field's digits, ``confidence`` its reading's; ``ink``: something was there
    to read (glyphs found, a crop given to a string reader); ``amount``: the field is an amount
    and ``value`` its value (None: its separators fit no reading); ``agree``: a second reader
    read the same (``--model auto``); ``cell``: a cut cell that had to hold digits; ``lines``:
    the segmenter saw printed lines in the field that make no comb.
    """
    out: list[str] = []
    if min_confidence > 0:
        if confidence < min_confidence:
            out.append(LOW_CONFIDENCE)
        if "?" in text:
            out.append(UNSURE_CHARACTER)
        if ink and not text:
            out.append(NO_DIGIT)
        if amount and text and value is None:
            out.append(AMOUNT_UNREAD)
        if lines and text:
            out.append(PRINTED_LINES)
    if not agree:
        out.append(READERS_DISAGREE)
    if cell and not text:
        out.append(EMPTY_CELL)
    return tuple(out)


@dataclass(frozen=True)
class Provenance:
    """Which reader produced a record: for a warehouse row to say how it was read."""

    #: digitocr's version
    digitocr: str
    #: the model as named to ``read`` (a shipped model's name or a directory)
    model: str
    #: SHA-256 over the model's files (``digitocr.provenance.model_sha256``); None for a model
    #: object handed in without its directory
    model_sha256: str | None
    layout: str

    def to_dict(self) -> dict[str, Any]:
        return {"digitocr": self.digitocr, "model": self.model,
                "model_sha256": self.model_sha256, "layout": self.layout}


@dataclass
class PageResult:
    """One page of one file; ``error`` is set (and ``fields`` empty) when it could not be read."""

    file: str
    page: int
    width: int = 0
    height: int = 0
    fields: list[Field] = field(default_factory=list)
    error: str | None = None
    #: degrees (clockwise) the page was found turned and was turned back before reading; boxes
    #: stay in the pixels of the page as given
    orientation: int = 0
    #: the page was read but needs a look as a whole (every field is flagged for review)
    warning: str | None = None
    #: how the page registered to its template (``digitocr.register``); None without one
    registration: dict[str, Any] | None = None
    #: the reader that produced the record (set by ``read``; left out of the record when None)
    provenance: Provenance | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file": self.file,
            "page": self.page,
            "width": self.width,
            "height": self.height,
            "fields": [f.to_dict() for f in self.fields],
        }
        if self.orientation:  # left out on upright pages: their records stay as they were
            out["orientation"] = self.orientation
        if self.warning is not None:
            out["warning"] = self.warning
        if self.registration is not None:
            out["registration"] = self.registration
        if self.error is not None:
            out["error"] = self.error
        if self.provenance is not None:
            out["provenance"] = self.provenance.to_dict()
        return out


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The JSON Schema of one page record (``digitocr/schema.json``)."""
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded


def validate(record: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` when ``record`` is not a valid page record (needs
    the ``validate`` extra)."""
    from .extras import requires

    with requires("validating a record"):
        import jsonschema

    jsonschema.validate(record, schema())
