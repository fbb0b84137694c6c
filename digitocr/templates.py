"""Templates of known forms: named fields in the pixels of a reference page, with their types
and rules, and what registration needs to align every scan to that page.

With a ``reference`` (``digitocr template make`` writes one), every page is registered to it
(``digitocr.register``) and read on the aligned page; a page that does not register is an
error record. Without one, the rectangles are scaled by the page's size (older templates).

The work is in three modules, re-exported here: ``templatefile`` (the dataclasses and their
JSON file), ``templatemake`` (a template found on a reference page) and ``templatereg``
(registering pages to a template, when reading and for ``template check``).
"""

from __future__ import annotations

from .templatefile import (
    FIELD_KEYS,
    MAX_TEMPLATE_COORD,
    TEMPLATE_KEYS,
    Template,
    TemplateField,
    field_dict,
    load_template,
    parse_template,
    save_template,
)
from .templatemake import (
    BRIDGED_MIN_SIDE,
    BRIDGED_OVERLAP_MAX,
    COMB_MAX_ASPECT,
    FIELD_COLOUR,
    FIELD_PAD,
    LABEL_COLOUR,
    MIN_PAD,
    annotate_template,
    bridged_cells,
    make_template,
)
from .templatereg import Check, align, check, finish, unregistered

__all__ = [
    "BRIDGED_MIN_SIDE",
    "BRIDGED_OVERLAP_MAX",
    "COMB_MAX_ASPECT",
    "FIELD_COLOUR",
    "FIELD_KEYS",
    "FIELD_PAD",
    "LABEL_COLOUR",
    "MAX_TEMPLATE_COORD",
    "MIN_PAD",
    "TEMPLATE_KEYS",
    "Check",
    "Template",
    "TemplateField",
    "align",
    "annotate_template",
    "bridged_cells",
    "check",
    "field_dict",
    "finish",
    "load_template",
    "make_template",
    "parse_template",
    "save_template",
    "unregistered",
]
