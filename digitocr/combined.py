"""``--model auto``: each kind of field read by the reader that is best for it, cross-checked.

- Free strings (a cut cell, ``--layout string``, an amount, a line of digits): the whole-string
  reader (``crnn``) reads the field, since joined handwriting defeats cutting it into digits.
  The per-digit classifier (``cnn``) reads the same field as a check. Where the two disagree,
  the string's confidence is multiplied by ``DISAGREE`` and the field needs review: two readers
  that see a page differently rarely make the *same* mistake, so agreement is the cheapest
  honest evidence that a reading is right.
- Combs (one digit per printed cell) and single digits: the per-digit classifier alone; a
  string reader reads a comb's cell walls as ones.

The model directory ``models/auto`` names its two members (``digits``, ``strings``) and the
review threshold (``min_confidence``) chosen on real held-out data (``bench/real.py``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .backends import Classifier, FitResult, Progress, StringReader, load_model, load_string_reader
from .errors import ModelError
from .results import Field
from .strings import StringReading

if TYPE_CHECKING:
    from .pipeline import ReadOptions
    from .segment import FieldCrops

#: a string reading that the per-digit classifier does not confirm keeps this share of its
#: confidence (measured: where they disagree the string reader is right about half the time)
DISAGREE = 0.5
#: field kinds read as whole strings; the others per digit. Only cut cells (and ``--layout
#: string``) for now: on the generated forms the CRNN read the fields of boxes and free lines
#: worse than the CNN (20 pages, seed 1: 94.3 % of fields against 98.6 %)
STRING_KINDS = ("cell",)
#: the string reader sees the writing's box with this many box heights of paper round it
PAD = 0.12


class AutoReader(StringReader):
    """Reads free strings with a string reader, digits in cells with a classifier."""

    backend = "auto"

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
        inst = cls(**options)
        inst.digits = load_model(str(options.get("digits", "cnn")))
        inst.strings = load_string_reader(str(options.get("strings", "crnn")))
        return inst


def _writing_box(f: FieldCrops, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """The box round a field's glyphs (its first reading), padded; None without glyphs."""
    glyphs = [g.bbox for seg in f.segments if seg.options for g in seg.options[0]]
    if not glyphs:
        return None
    x = min(g[0] for g in glyphs)
    y = min(g[1] for g in glyphs)
    x1 = max(g[0] + g[2] for g in glyphs)
    y1 = max(g[1] + g[3] for g in glyphs)
    pad = max(2, round(PAD * (y1 - y)))
    h, w = shape[:2]
    x0, y0, x1, y1 = max(0, x - pad), max(0, y - pad), min(w, x1 + pad), min(h, y1 + pad)
    return (x0, y0, x1 - x0, y1 - y0) if x1 - x0 >= 4 and y1 - y0 >= 4 else None


def _field_box(f: FieldCrops, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """What the string reader reads of a field: a cell's own box (it is the writing's), the
    padded box round the glyphs of other string fields, nothing of combs and digits."""
    if f.kind == "cell":
        return f.bbox if f.segments and f.bbox[2] >= 4 and f.bbox[3] >= 4 else None
    return _writing_box(f, shape) if f.kind in STRING_KINDS else None


def read_fields(image: np.ndarray, reader: AutoReader, opts: ReadOptions) -> list[Field]:
    """The fields of one page: strings by the string reader (checked), cells per digit."""
    from .pipeline import classify_fields, find_fields
    from .strings import field_from_reading

    digits, strings = reader._members()
    found = find_fields(image, opts)
    per_digit = classify_fields(found, digits, opts)
    todo: list[int] = []
    crops: list[np.ndarray] = []
    for i, f in enumerate(found):
        box = _field_box(f, image.shape)
        if box is not None:
            x, y, w, h = box
            todo.append(i)
            crops.append(image[y : y + h, x : x + w])
    readings = strings.read_detailed(crops, polarity=opts.polarity) if crops else []
    out = list(per_digit)
    for i, r in zip(todo, readings, strict=True):
        check = per_digit[i]
        agree = r.text == check.text
        conf = r.confidence if agree else r.confidence * DISAGREE
        box = _field_box(found[i], image.shape)
        assert box is not None
        field = field_from_reading(check.index, found[i].bbox, found[i].name,
                                   StringReading(r.text, conf, r.chars), opts.min_confidence,
                                   glyph_box=box)
        out[i] = replace(field, needs_review=field.needs_review or not agree or not r.text)
    return out
