"""What ``read`` returns: PageResult → Field → Glyph, and the JSON Schema their dicts follow;
what a string reader returns: StringReading → CharSpan."""

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "bbox": list(self.bbox),
            "label": self.label,
            "kind": self.kind,
            "confidence": _r(self.confidence),
            "alternatives": [{"label": lab, "confidence": _r(c)} for lab, c in self.alternatives],
        }


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
        return out


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
