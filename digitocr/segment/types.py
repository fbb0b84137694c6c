"""What segmentation works with: glyph crops, segments and fields, and the options.

``SegmentOptions`` carries the rules (``rules.SegmentRules``, every number the segmenters
decide by) to each layout (and, pickled, to worker processes); the rules' names are
re-exported here, where the layouts have always imported them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .rules import RULES, SegmentRules
from .rulesfile import RulesError, load_rules, rules_from_dict

if TYPE_CHECKING:
    from ..constraints import FieldRules

BBox = tuple[int, int, int, int]

#: the field whose value is an amount (``--layout cheque`` names it so, and so may a template)
AMOUNT = "amount"
#: the name ``--layout cheque`` gives the date comb
DATE = "date"


@dataclass
class GlyphCrop:
    """One glyph's pixels: ``image`` is float32 ink-bright [0, 1], masked to the glyph's own ink."""

    bbox: BBox
    image: np.ndarray
    kind: str = "digit"  # digit | separator
    label: str = ""  # the separator's character


#: the rules that propose a segment's readings (``Segment.rules``), as ``--debug`` names them:
#: ``whole`` (the ink as found), ``cut:2``/``cut:3`` (cut into so many pieces at low ink),
#: ``cut:neck`` (cut at a thin bridge), ``join:near``/``apart:near`` (pieces that nearly
#: touch, merged or read apart), ``join:overlap``/``apart:overlap`` (tall pieces overlapping
#: in x, joined or read apart), ``sign:/``/``sign:$`` (a sign, left out of the text),
#: ``separator`` (``.``, ``,``, ``-``); a plugin's unnamed alternatives are ``option:K``
WHOLE = "whole"


@dataclass
class Segment:
    """A run of ink with alternative readings; ``options[0]`` is the segmenter's first guess.

    ``penalties[k]`` is the prior against ``options[k]`` (subtracted from its score) and
    ``rules[k]`` names the rule that proposed it (``WHOLE`` and its neighbours above)."""

    options: list[list[GlyphCrop]]
    penalties: list[float] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.penalties:
            self.penalties = [0.0] * len(self.options)
        if not self.rules:
            self.rules = [WHOLE if k == 0 else f"option:{k}" for k in range(len(self.options))]


@dataclass
class FieldCrops:
    """A field found on the page: its box (page pixels) and its segments left to right."""

    bbox: BBox
    segments: list[Segment]
    kind: str = "string"  # box | comb | string | digit
    name: str | None = None
    #: what the field's reading must satisfy, when the layout knows (a cheque's date comb is
    #: a date); a template's field rules take precedence
    rules: FieldRules | None = None
    #: printed lines run wall to wall inside the box but make no comb (``inner_dividers``):
    #: its reading may hold a line read as a 1, so it is flagged for review
    lines: bool = False
    #: ``handwritten`` or ``printed`` (a table's column of printed text: ``segment.tables``)
    style: str = "handwritten"
    #: a table's cell: its row and column, from 1 (``segment.tables``); None off a table
    row: int | None = None
    col: int | None = None
    #: a cut cell's other groups of ink, likeliest first (``segment.cells``): read in turn
    #: when the main group yields no digit or a doubtful one (a ledger cell's number below a
    #: note)
    alternatives: list[FieldCrops] = field(default_factory=list)
    #: alternatives not segmented yet: each group's cleaned gray crop, its offset in the cell
    #: and the options (``cells.alternatives_of`` segments them on first use: most cells never
    #: need them)
    unsegmented: list[tuple[np.ndarray, tuple[int, int], SegmentOptions]] = field(
        default_factory=list, compare=False, repr=False)




@dataclass
class SegmentOptions:
    """Knobs shared by the layouts (picklable: sent to worker processes)."""

    polarity: str = "auto"  # auto | dark (ink darker than paper) | bright
    deskew: bool = True
    max_skew: float = 6.0  # degrees
    rules: SegmentRules = field(default_factory=SegmentRules)


Segmenter = Callable[[np.ndarray, SegmentOptions], list[FieldCrops]]


__all__ = [
    "AMOUNT",
    "DATE",
    "RULES",
    "WHOLE",
    "BBox",
    "FieldCrops",
    "GlyphCrop",
    "RulesError",
    "Segment",
    "SegmentOptions",
    "SegmentRules",
    "Segmenter",
    "load_rules",
    "rules_from_dict",
]
