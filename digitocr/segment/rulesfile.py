"""Reading overrides of ``SegmentRules`` from JSON (``digitocr read --rules FILE``)."""

from __future__ import annotations

import math
from dataclasses import fields, replace
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from ..errors import DigitOCRError
from ..jsonfile import read_json
from .rules import RULES, SegmentRules


class RulesError(DigitOCRError):
    """A ``--rules`` file is missing, not JSON, or names a rule that does not exist."""


def rules_from_dict(data: object, base: SegmentRules = RULES,
                    source: str = "rules") -> SegmentRules:
    """``base`` with the overrides in ``data`` (a mapping of rule names to numbers).

    Integer rules (pixels, counts) take whole numbers of at least 1, a date order one of
    ``constraints.DATE_ORDERS``, the others finite numbers of at least 0; anything else, or a
    name that is no rule, is a ``RulesError`` naming it.
    """
    if not isinstance(data, dict):
        raise RulesError(f"{source}: rules must be a JSON object of rule names and numbers")
    names = {f.name for f in fields(SegmentRules)}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            near = get_close_matches(str(key), names, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise RulesError(f"{source}: unknown rule {key!r}{hint}")
        if isinstance(getattr(base, key), str):  # a date order
            from ..constraints import DATE_ORDERS

            if value not in DATE_ORDERS:
                raise RulesError(f"{source}: rule {key!r} must be one of "
                                 f"{', '.join(DATE_ORDERS)}, not {value!r:.40}")
            changes[key] = value
        elif isinstance(getattr(base, key), int):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise RulesError(f"{source}: rule {key!r} must be a whole number >= 1, "
                                 f"not {value!r:.40}")
            changes[key] = value
        else:
            if (not isinstance(value, (int, float)) or isinstance(value, bool)
                    or not math.isfinite(value) or value < 0):
                raise RulesError(f"{source}: rule {key!r} must be a finite number >= 0, "
                                 f"not {value!r:.40}")
            changes[key] = float(value)
    return replace(base, **changes)


def load_rules(path: str | Path, base: SegmentRules = RULES) -> SegmentRules:
    """``read --rules FILE``: a JSON object of rule overrides (``{"wide": 1.2}``) on ``base``."""
    p = Path(path)
    data = read_json(p, "rules", RulesError, plural=True)
    return rules_from_dict(data, base, str(p))
