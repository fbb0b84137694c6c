"""Dates written in parts on a line: their groups, and the separators a parted date needs."""

from __future__ import annotations

from digitocr.constraints import FieldRules, parse_date


def test_date_parted_by_separators_reads_its_groups() -> None:
    from digitocr.constraints import digit_groups

    assert digit_groups(list("10.3.26")) == ["10", "3", "26"]
    assert parse_date("10326", "DDMMYYYY", ["10", "3", "26"]) == "2026-03-10"
    assert parse_date("3102026", "MMDDYYYY", ["3", "10", "2026"]) == "2026-03-10"
    assert parse_date("13326", "DDMMYYYY", ["13", "3", "2"]) is None  # a year of one digit
    assert parse_date("1326", "MMDDYYYY", ["13", "2", "6"]) is None  # no 13th month


def test_a_parted_date_needs_its_separators() -> None:
    rules = FieldRules(type="date", order="DDMMYYYY", parted=True)
    assert rules.check("10326", list("10/3/26"))
    assert not rules.check("10032026", list("10032026"))  # slashes read as digits: not this
    assert FieldRules(type="date", order="DDMMYYYY").check("10032026", list("10032026"))
    assert rules.value("10326", list("10/3/26")) == "2026-03-10"
