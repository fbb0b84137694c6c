"""Field types and rules of a template, and constrained decoding.

A template field may say what it holds: ``type`` (``digits``, ``amount``, ``date``), a
``length`` or range, a ``pattern`` (a regular expression over its digits), a ``checksum``
(``luhn``, ``mod11``, ``mod97``/``iban``), ``min``/``max`` and, for dates, their ``order``.
``decode`` reads a field under them: every glyph's alternatives (the classifier's top guesses
with their probabilities) span readings, enumerated best first (``k_best``); the most
probable reading that satisfies the rules is kept. When none does within ``MAX_CANDIDATES``,
the best reading stays and the field is marked invalid (and for review).
"""

from __future__ import annotations

import datetime
import heapq
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from .amounts import amount_value
from .results import Field

#: field types a template knows
TYPES = ("digits", "amount", "date")
#: checksum names a template knows (``iban`` is another name for ``mod97``)
CHECKSUMS = ("luhn", "mod11", "mod97", "iban")
#: date orders: day, month and year fields in the order they are written
DATE_ORDERS = ("DDMMYYYY", "MMDDYYYY", "YYYYMMDD", "DDMMYY", "MMDDYY", "YYMMDD")
#: two-digit years below this are 20xx, the others 19xx
YEAR_PIVOT = 50
#: a date field's bounds when its template gives no ``min``/``max`` (8954 is a calendar
#: year, not one a form is filled in)
DATE_MIN, DATE_MAX = "1900-01-01", "2099-12-31"
#: readings tried per field before giving up (best first): 10 glyphs with 3 alternatives each
#: make 59,049 readings; the valid one, when there is one, is nearly always far up the list
MAX_CANDIDATES = 5000
#: the probability floor of an alternative (log of 0 is not a score)
MIN_PROB = 1e-6


# ------------------------------------------------------------------ checksums


def luhn(digits: str) -> bool:
    """The Luhn check (payment cards, many account numbers): ``"79927398713"`` passes."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mod11(digits: str) -> bool:
    """Weighted mod 11: the sum of each digit times its position from the right (1 for the
    last) is a multiple of 11 (ISBN-10 without an X, the Dutch "elfproef")."""
    if not digits.isdigit():
        return False
    return sum(int(ch) * w for w, ch in enumerate(reversed(digits), start=1)) % 11 == 0


def mod97(digits: str) -> bool:
    """ISO 7064 MOD 97-10 over digits, the IBAN check: the number mod 97 is 1."""
    return digits.isdigit() and int(digits) % 97 == 1


CHECKSUM_FUNCS = {"luhn": luhn, "mod11": mod11, "mod97": mod97, "iban": mod97}


# ------------------------------------------------------------------ dates


def parse_date(digits: str, order: str, groups: Sequence[str] | None = None) -> str | None:
    """``digits`` written in ``order`` (``DDMMYYYY``...) as an ISO date, None if not a date.

    ``groups``: the digits as the writer parted them (``10.3.26``: ``10``, ``3``, ``26``, from
    the separators between them), read in ``order``'s sequence of day, month and year, each
    of one or two digits (a year of two or four): a date on a line is rarely written in the
    order's full widths."""
    if groups is not None and len(groups) == 3:
        return _parse_groups(groups, order)
    if len(digits) != len(order) or not digits.isdigit():
        return None
    year = "YYYY" if "YYYY" in order else "YY"
    parts: dict[str, int] = {}
    for key in (year, "MM", "DD"):
        at = order.find(key)
        if at < 0:
            return None
        parts[key] = int(digits[at : at + len(key)])
    return _iso(parts["YYYY"] if year == "YYYY" else _century(parts["YY"]), parts["MM"],
                parts["DD"])


def _century(yy: int) -> int:
    return 2000 + yy if yy < YEAR_PIVOT else 1900 + yy


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        return None


def _parse_groups(groups: Sequence[str], order: str) -> str | None:
    keys = sorted(("D", "M", "Y"), key=lambda k: order.find(k))
    if any(order.find(k) < 0 for k in keys) or not all(g.isdigit() for g in groups):
        return None
    parts = dict(zip(keys, groups, strict=True))
    if len(parts["D"]) > 2 or len(parts["M"]) > 2 or len(parts["Y"]) not in (2, 4):
        return None
    year = int(parts["Y"]) if len(parts["Y"]) == 4 else _century(int(parts["Y"]))
    return _iso(year, int(parts["M"]), int(parts["D"]))


def digit_groups(labels: Sequence[str]) -> list[str]:
    """The runs of digits between separators in a reading's labels (``["1", "0", ".", "3"]``:
    ``10``, ``3``); a sign or an ending counts as a separator."""
    return [g for g in re.split(r"\D+", "".join(lab if lab.isdigit() else " " for lab in labels))
            if g]


# ------------------------------------------------------------------ rules


@dataclass(frozen=True)
class FieldRules:
    """What a template field's reading must satisfy (None: no such rule)."""

    type: str = "digits"
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    checksum: str | None = None
    min: float | str | None = None  # a number; an ISO date for dates
    max: float | str | None = None
    order: str | None = None  # dates
    #: a date written in three parts on a line: a reading must show the separators parting it
    parted: bool = False
    required: bool = False

    def value(self, text: str, labels: Sequence[str]) -> str | None:
        """The field's value: an amount's decimal string, a date's ISO form, else None."""
        if not text:
            return None
        if self.type == "amount":
            return amount_value(list(labels))
        if self.type == "date" and self.order:
            return parse_date(text, self.order, _groups(labels))
        return None

    def check(self, text: str, labels: Sequence[str] = ()) -> bool:
        """Does the reading ``text`` (its glyphs' ``labels``, separators included) satisfy
        every rule? A blank field does unless it is required."""
        if not text:
            return not self.required
        if self.min_length is not None and len(text) < self.min_length:
            return False
        if self.max_length is not None and len(text) > self.max_length:
            return False
        if not text.isdigit():
            return False
        if self.pattern is not None and re.fullmatch(self.pattern, text) is None:
            return False
        if self.checksum is not None and not CHECKSUM_FUNCS[self.checksum](text):
            return False
        if self.type == "date":
            groups = _groups(labels)
            if self.parted and groups is None:
                return False
            iso = parse_date(text, self.order or "", groups)
            if iso is None:
                return False
            lo = DATE_MIN if self.min is None else str(self.min)
            return lo <= iso <= (DATE_MAX if self.max is None else str(self.max))
        if self.min is None and self.max is None:
            return self.type != "amount" or amount_value(list(labels or text)) is not None
        if self.type == "amount":
            v = amount_value(list(labels or text))
            if v is None:
                return False
            number = float(v)
        else:
            number = float(int(text))
        return ((self.min is None or number >= float(self.min))
                and (self.max is None or number <= float(self.max)))


def _groups(labels: Sequence[str]) -> list[str] | None:
    """A date's parts as written, when separators part it in three (else None: the digits are
    read in the order's widths, a comb's way)."""
    groups = digit_groups(labels)
    return groups if len(groups) == 3 else None


# ------------------------------------------------------------------ k-best readings


def k_best(positions: Sequence[Sequence[float]], limit: int = MAX_CANDIDATES
           ) -> Iterator[tuple[float, tuple[int, ...]]]:
    """Index tuples (one choice per position) by decreasing total score, at most ``limit``.

    ``positions[i]`` are position i's choice scores (log-probabilities), best first. Best-first
    search over the lattice: each popped tuple pushes its neighbours with one choice one step
    worse, so the heap stays small and nothing is enumerated twice.
    """
    if any(len(p) == 0 for p in positions):
        return
    start = (0,) * len(positions)
    heap = [(-sum(p[0] for p in positions), start)]
    seen = {start}
    n = 0
    while heap and n < limit:
        neg, idx = heapq.heappop(heap)
        yield -neg, idx
        n += 1
        for i, k in enumerate(idx):
            if k + 1 < len(positions[i]):
                nxt = (*idx[:i], k + 1, *idx[i + 1 :])
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (neg + positions[i][k] - positions[i][k + 1], nxt))


def best_valid(f: Field, rules: FieldRules, min_confidence: float = 0.0,
               limit: int = MAX_CANDIDATES) -> tuple[float, Field] | None:
    """The most probable reading of ``f`` (from each glyph's alternatives, best first, at
    most ``limit`` tried) that satisfies ``rules``, with its log-probability less that of
    ``f``'s own reading (0 when that one satisfies them); None when none of them does."""
    digits = [i for i, g in enumerate(f.glyphs) if g.kind == "digit"]
    choices: list[list[tuple[str, float]]] = []
    for i in digits:
        g = f.glyphs[i]
        alts = [(lab, p) for lab, p in g.alternatives if lab.isdigit()] or [(g.label, g.confidence)]
        if g.label not in [lab for lab, _ in alts]:  # the shown label always is a choice
            alts.insert(0, (g.label, g.confidence))
        alts.sort(key=lambda a: -a[1])
        choices.append(alts)
    scores = [[math.log(max(p, MIN_PROB)) for _, p in alts] for alts in choices]
    top = sum(sc[0] for sc in scores)
    for score, idx in k_best(scores, limit):
        labels = [g.label for g in f.glyphs]
        for j, (pos, k) in enumerate(zip(digits, idx, strict=True)):
            labels[pos] = choices[j][k][0]
        text = "".join(labels[i] for i in digits)
        if not rules.check(text, labels):
            continue
        glyphs = list(f.glyphs)
        for j, (pos, k) in enumerate(zip(digits, idx, strict=True)):
            lab, p = choices[j][k]
            if lab != glyphs[pos].label:
                glyphs[pos] = replace(glyphs[pos], label=lab, confidence=float(p))
        conf = math.prod(glyphs[i].confidence for i in digits) if digits else f.confidence
        review = f.needs_review or (min_confidence > 0 and conf < min_confidence)
        return score - top, replace(
            f, text=text, confidence=float(conf), glyphs=glyphs,
            value=rules.value(text, labels) or (f.value if text == f.text else None),
            needs_review=bool(review), valid=True)
    return None


def invalid(f: Field, rules: FieldRules) -> Field:
    """``f`` as read, marked as satisfying none of its rules (and for review)."""
    return replace(f, needs_review=True, valid=False,
                   value=None if rules.type == "date" else f.value)


def decode(f: Field, rules: FieldRules, min_confidence: float = 0.0,
           limit: int = MAX_CANDIDATES) -> Field:
    """The field read under ``rules``: its most probable reading (from each glyph's
    alternatives) that satisfies them, or its own reading marked invalid and for review."""
    got = best_valid(f, rules, min_confidence, limit)
    return got[1] if got is not None else invalid(f, rules)
