"""``--layout cheque``: the date comb and amount box of a whole cheque, and the amount's value."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from read_helpers import put

from digitocr.combined import string_amount_value
from digitocr.results import Field, Glyph
from digitocr.segment import RULES, SegmentOptions, find_rules, prepare
from digitocr.segment.cheque import bridged, find_amount_box, segment_cheque

OPTS = SegmentOptions()


def cheque(amount: str = "250", dotted: bool = False, date: str | None = "15032016") -> np.ndarray:
    """A plain cheque: a payee line, an 8-cell date comb top right, the amount box right."""
    img = np.full((500, 1200), 245, np.uint8)
    put(img, "999", 60, 380)  # printed numbers elsewhere on the cheque
    cv2.line(img, (60, 250), (700, 250), 0, 2)
    if date is not None:
        for i, ch in enumerate(date):
            cv2.rectangle(img, (760 + 52 * i, 30), (812 + 52 * i, 100), 0, 2)
            put(img, ch, 772 + 52 * i, 40, scale=1.3, thick=4)
    x0, y0, x1, y1 = 780, 200, 1150, 300
    if dotted:  # a thin printed line that the scan broke into dots
        for x in range(x0, x1, 6):
            img[y0 : y0 + 2, x : x + 4] = 0
            img[y1 : y1 + 2, x : x + 4] = 0
        for y in range(y0, y1 + 2, 6):
            img[y : y + 4, x0 : x0 + 2] = 0
            img[y : y + 4, x1 : x1 + 2] = 0
    else:
        cv2.rectangle(img, (x0, y0), (x1, y1), 0, 3)
    put(img, amount, 810, 218)
    return img


def test_date_comb_and_amount_box_are_named() -> None:
    fields = {f.name: f for f in segment_cheque(cheque(), OPTS)}
    assert set(fields) == {"amount", "date"}
    date, amount = fields["date"], fields["amount"]
    assert date.kind == "comb" and len(date.segments) == 8
    assert date.bbox[0] >= 755 and date.bbox[1] <= 35
    # the amount is read as one cell (whole-string reader), inside the box's walls
    assert amount.kind == "cell" and len(amount.segments) == 3
    x, y, w, h = amount.bbox
    assert x >= 780 and x + w <= 1150 and y >= 200 and y + h <= 300


def test_no_comb_no_date() -> None:
    names = [f.name for f in segment_cheque(cheque(date=None), OPTS)]
    assert names == ["amount"]


def test_a_date_on_a_printed_line_is_read_in_its_parts() -> None:
    img = cheque(date=None)
    cv2.line(img, (760, 110), (1090, 110), 0, 2)  # the date's line, top right
    x = 775
    for part in ("15", "3", "2016"):
        put(img, part, x, 50, scale=1.3, thick=4)
        x += 32 * len(part) + 12
        if part != "2016":
            cv2.circle(img, (x, 100), 4, 0, -1)  # a dot parts day, month and year
            x += 20
    fields = {f.name: f for f in segment_cheque(img, OPTS)}
    date = fields["date"]
    assert date.kind == "string" and date.rules is not None and date.rules.parted
    assert date.bbox[1] >= 20 and date.bbox[1] + date.bbox[3] <= 110  # padded, above the line
    labels = [g.label for s in date.segments for g in s.options[0] if g.kind == "separator"]
    assert labels == [".", "."]


def test_writing_on_a_long_line_is_no_date() -> None:
    img = cheque(date=None)
    put(img, "15.3.2016", 100, 190)  # on the payee's line: too long for a date's
    assert [f.name for f in segment_cheque(img, OPTS)] == ["amount"]


def test_a_dotted_amount_box_is_bridged() -> None:
    img = cheque(dotted=True)
    p = prepare(img, OPTS)
    assert find_amount_box(p, find_rules(p.mask).cells, [], RULES) is None  # dots make no rule
    box = find_amount_box(p, find_rules(bridged(p.mask, RULES)).cells, [], RULES)
    assert box is not None and abs(box[0] - 780) <= 4 and abs(box[2] - 372) <= 8
    (amount,) = [f for f in segment_cheque(img, OPTS) if f.name == "amount"]
    assert amount.kind == "cell" and len(amount.segments) == 3


def test_a_box_too_narrow_is_not_the_amount() -> None:
    img = cheque()
    cv2.rectangle(img, (700, 200), (760, 300), 0, 3)  # the currency sign's own box
    p = prepare(img, OPTS)
    box = find_amount_box(p, find_rules(bridged(p.mask, RULES)).cells, [], RULES)
    assert box is not None and box[0] >= 775
    assert RULES.cheque_aspect_min > 60 / 100  # the rule that leaves the sign's box out


def check_field(tokens: str) -> Field:
    glyphs = [Glyph((0, 0, 1, 1), t, 1.0, [], kind="digit" if t.isdigit() else "separator")
              for t in tokens]
    return Field(1, (0, 0, 1, 1), "".join(t for t in tokens if t.isdigit()), 1.0, False, glyphs,
                 "amount")


def test_string_amount_value_takes_the_checks_separators() -> None:
    # the string reader's digits, placed into the separators the per-digit reader saw
    assert string_amount_value(check_field("88,00,000-"), "8800000") == "8800000.00"
    assert string_amount_value(check_field("85.30"), "8530") == "85.30"
    assert string_amount_value(check_field("85.30"), "8630") == "86.30"
    # a different number of digits: where the marks go is a guess, so no value
    assert string_amount_value(check_field("85.30"), "853") is None
    assert string_amount_value(check_field("8530"), "") is None


def test_a_check_with_other_digits_does_not_place_the_marks() -> None:
    # "2,70,000/-": the check read the comma as 1 and the ending as 4, six slots for six
    # digits by chance; the string reader's spans place its own digits instead
    check = check_field("2170.04-")
    at = [1855, 1892, 1915, 1961, 2003, 2034, 2061, 2165]  # left edges on the page
    check.glyphs = [replace(g, bbox=(x, 0, 20, 20)) for g, x in zip(check.glyphs, at, strict=True)]
    read = Field(1, (0, 0, 1, 1), "270000", 1.0, False, [
        Glyph((x, 0, 12, 20), d, 1.0, []) for x, d in zip(
            [1860, 1916, 1966, 2029, 2069, 2108], "270000", strict=True)], "amount")
    assert string_amount_value(check, "270000", read) == "270000.00"


def test_read_a_cheque_gives_amount_and_date(tmp_path: Path) -> None:
    from digitocr import read

    path = tmp_path / "cheque.png"
    cv2.imwrite(str(path), cheque())
    (page,) = read(str(path), layout="cheque")
    got = {f.name: (f.text, f.value, f.valid) for f in page.fields}
    assert got == {"amount": ("250", "250.00", None), "date": ("15032016", "2016-03-15", True)}


def test_a_cheque_date_that_is_no_date_needs_review(tmp_path: Path) -> None:
    from digitocr import read

    path = tmp_path / "cheque.png"
    cv2.imwrite(str(path), cheque(date="39192016"))  # day 39, month 19
    (page,) = read(str(path), layout="cheque")
    (date,) = [f for f in page.fields if f.name == "date"]
    assert date.needs_review
    # either no reading is a date (invalid, no value), or the nearest one needs digits the
    # classifier doubts (a value, but flagged): never a sure date read off an impossible one
    assert (date.valid is False and date.value is None) or date.text != "39192016"
