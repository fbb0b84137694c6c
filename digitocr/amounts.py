"""A courtesy amount's value from what the reader saw: digits and the separators between them.

``text`` keeps the digits only (``88,00,000/-`` reads ``8800000``); ``value`` is the decimal
string an ETL job can load (``"8800000.00"``), built from the writing conventions real cheques
use: a decimal mark followed by two digits (``1,250.00``, ``1.250,00``), grouping by thousands
or the Indian lakh grouping (``88,00,000``), currency signs, and endings that mean "only"
(``/-``, ``=``, ``-``, ``/``) or give the cents as a fraction (``50/100``). When the separators
do not fit one reading (mixed grouping marks, groups of the wrong size, a mark with nothing
after it), the value is None and the field needs review.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

#: marks that end an amount ("only"): dropped from the end
ENDINGS = "-=/"
#: marks that group digits or separate the decimals
MARKS = ",."
#: currency signs, dropped wherever they stand at either end
CURRENCY = "$€£₹¥"
#: digits after a decimal mark
DECIMALS = 2


def amount_value(tokens: Sequence[str]) -> str | None:
    """The value of an amount written as ``tokens`` (one character each, digits and marks),
    as a decimal string with two decimals; None when the marks do not fit one reading."""
    parsed = _parse(tokens)
    return parsed[0] if parsed else None


def _parse(tokens: Sequence[str]) -> tuple[str, bool] | None:
    """``amount_value`` and whether a mark in it was read as the decimal mark."""
    toks = [t for t in tokens if t]
    while toks and toks[0] in CURRENCY:
        toks.pop(0)
    while toks and toks[-1] in CURRENCY:
        toks.pop()
    # "50/100": the cents as a fraction of a hundred
    cents_fraction = None
    if len(toks) >= 6 and "".join(toks[-4:]) == "/100" and all(t.isdigit() for t in toks[-6:-4]):
        cents_fraction = "".join(toks[-6:-4])
        toks = toks[:-6]
    while toks and toks[-1] in ENDINGS:
        toks.pop()
    if not toks or not toks[0].isdigit() or not all(t.isdigit() or t in MARKS for t in toks):
        return None
    # runs of digits between marks
    groups: list[str] = [""]
    marks: list[str] = []
    for t in toks:
        if t.isdigit():
            groups[-1] += t
        else:
            if not groups[-1]:
                return None  # two marks in a row
            marks.append(t)
            groups.append("")
    if not groups[-1]:
        return None  # a mark with no digits after it
    whole, cents, decimal = groups, "00", False
    if marks:
        if len(groups[-1]) == DECIMALS:  # grouping never ends in two digits: decimals
            cents, whole, decimal = groups[-1], groups[:-1], True
            if marks[-1] in marks[:-1]:
                return None  # the decimal mark also groups: no single reading
            marks = marks[:-1]
        elif len(groups[-1]) != 3:
            return None  # "12.5", "1,2500": not a convention
    # the grouping marks (the decimal one taken off) are of one kind where there are
    # decimals, so that the decimal mark is told apart; without decimals every mark groups,
    # and a dot read for a comma (its tail lost: "22,23.000") still does
    if (len(set(marks)) > 1 and len(whole) < len(groups)) or not _grouped(whole):
        return None
    if cents_fraction is not None:
        if cents != "00":
            return None
        cents = cents_fraction
    integer = "".join(whole).lstrip("0") or "0"
    return f"{integer}.{cents}", decimal or cents_fraction is not None


def _grouped(groups: list[str]) -> bool:
    """Digit groups as thousands (``1,250,000``) or lakhs (``12,50,000``) write them."""
    if len(groups) == 1:
        return True
    first, rest = groups[0], groups[1:]
    if not 1 <= len(first) <= 3 or len(rest[-1]) != 3:
        return False
    thousands = all(len(g) == 3 for g in rest)
    lakhs = all(len(g) == 2 for g in rest[:-1]) and len(first) <= 2
    return thousands or lakhs


#: more marks than this between an amount's digits are not sorted out (2**N readings)
MAX_MARKS = 8


def agreed_value(tokens: Sequence[str]) -> str | None:
    """``amount_value`` of ``tokens`` when the marks a segmenter saw may hold strays (a piece
    of a joined zero read as a dot): the reading with every mark when there is one; else,
    with the fewest marks left out that give a reading, the whole-units value those give,
    unless one of them has decimals (a decimal mark that only a stray's removal makes would
    be a guess, and a hundredfold error when wrong): then None. ``22.35000`` (the second comma
    of ``22,35,000`` missed) is 2235000.00; ``85.30`` stays 85.30; ``8,5.30`` has none."""
    toks = [t for t in tokens if t]
    full = amount_value(toks)
    at = [i for i, t in enumerate(toks) if not t.isdigit()]
    if full is not None or len(at) > MAX_MARKS:
        return full
    for out in range(1, len(at) + 1):
        readings = {p for drop in itertools.combinations(at, out)
                    if (p := _parse([t for i, t in enumerate(toks) if i not in drop]))}
        if readings:
            # "250000.0.0" less one dot is 250000.00 with a decimal mark: a guess, even
            # though its cents are 00 (the joined zeros it came from were 25000000)
            values = {v for v, _ in readings}
            whole = len(values) == 1 and not any(decimal for _, decimal in readings)
            return values.pop() if whole else None
    return None
