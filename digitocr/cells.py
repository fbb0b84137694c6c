"""Kept for compatibility: cut-cell cleaning lives in ``digitocr.segment.cells`` now (import
from ``digitocr.segment``)."""

from __future__ import annotations

from .segment.cells import (
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

__all__ = [
    "Cell",
    "border_mask",
    "cell_crop",
    "clean_cell",
    "rule_masks",
    "segment_cell",
    "segment_page_or_cell",
    "without_bent_rules",
    "without_rule_remains",
]
