"""Page → fields → glyph crops. Segmenters find where digits are; they never classify.

Steps shared by every layout, one module each:

1. ``ink``: gray, polarity (ink dark on light after this step), background by a grayscale
   closing at reduced scale (uneven light, printed backgrounds) → relative ink darkness in
   [0, 1]; binarisation: Otsu on the ink map with a floor, plus hysteresis so faint stroke
   ends stay;
2. ``lines``: (pages) deskew from the angle of long printed rules; (boxes) rule lines by
   morphological opening, removed, then pixels where a stroke crossed a rule are put back;
   closed rectangles are boxes, boxes sharing edges in a row are combs;
3. ``components`` → ``glyphs``: connected components grouped into strings; small ones are
   separators (. , -); pieces that overlap in x are joined (broken strokes); wide pieces get
   candidate cuts (touching digits);
4. ``layouts``: the built-in layouts put these together; ``cells`` reads one cell cut from a
   scan (a ledger cell, an amount) without its border, rules and neighbours.

``types`` holds the data: crops, segments, fields and ``SegmentOptions``; ``rules`` holds
``SegmentRules`` (every number the steps decide by). A segment can be read in several ways
(``Segment.options``); the pipeline scores each with the classifier and keeps the best, so the
segmenter stays classifier-free.

A plugin layout (``register_segmenters``) is a ``Segmenter``: ``(image, SegmentOptions) ->
list[FieldCrops]``, usually ``prepare`` + its own field finding + ``string_segments`` on a
``Components`` + ``map_field``; everything it needs is in ``__all__``.
"""

from __future__ import annotations

from .cells import (
    Cell,
    border_mask,
    cell_crop,
    clean_cell,
    rule_masks,
    segment_cell,
    segment_page_or_cell,
    without_bent_rules,
    without_rule_remains,
)
from .cheque import segment_cheque
from .components import Comp, Components, cc_stats
from .glyphs import string_segments
from .ink import Ink, binarise, gray_u8, ink_map
from .layouts import (
    BUILTIN,
    Prepared,
    boxed_fields,
    free_fields,
    map_field,
    min_component_area,
    prepare,
    reading_order,
    segment_auto,
    segment_boxes,
    segment_digit,
    segment_string,
)
from .lines import (
    Rules,
    comb_runs,
    estimate_skew,
    find_rules,
    group_box,
    group_cells,
    long_lines,
    remove_rules,
    rotation,
    rule_length,
    rule_thickness,
)
from .types import (
    AMOUNT,
    DATE,
    RULES,
    BBox,
    FieldCrops,
    GlyphCrop,
    RulesError,
    Segment,
    Segmenter,
    SegmentOptions,
    SegmentRules,
    load_rules,
    rules_from_dict,
)

# the names these had when they were private to one module (kept while branches still use them)
_map_field = map_field
_min_area = min_component_area
_thickness = rule_thickness
_long_lines = long_lines

__all__ = [
    "AMOUNT",
    "BUILTIN",
    "DATE",
    "RULES",
    "BBox",
    "Cell",
    "Comp",
    "Components",
    "FieldCrops",
    "GlyphCrop",
    "Ink",
    "Prepared",
    "Rules",
    "RulesError",
    "Segment",
    "SegmentOptions",
    "SegmentRules",
    "Segmenter",
    "_long_lines",
    "_map_field",
    "_min_area",
    "_thickness",
    "binarise",
    "border_mask",
    "boxed_fields",
    "cc_stats",
    "cell_crop",
    "clean_cell",
    "comb_runs",
    "estimate_skew",
    "find_rules",
    "free_fields",
    "gray_u8",
    "group_box",
    "group_cells",
    "ink_map",
    "load_rules",
    "long_lines",
    "map_field",
    "min_component_area",
    "prepare",
    "reading_order",
    "remove_rules",
    "rotation",
    "rule_length",
    "rule_masks",
    "rule_thickness",
    "rules_from_dict",
    "segment_auto",
    "segment_boxes",
    "segment_cell",
    "segment_cheque",
    "segment_digit",
    "segment_page_or_cell",
    "segment_string",
    "string_segments",
    "without_bent_rules",
    "without_rule_remains",
]
