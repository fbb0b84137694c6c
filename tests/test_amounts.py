"""An amount's value from its digits and separators, as cheques write them."""

from __future__ import annotations

import pytest

from digitocr.amounts import agreed_value, amount_value


@pytest.mark.parametrize(("written", "value"), [
    ("88,00,000/-", "8800000.00"),  # Indian grouping, "only"
    ("12,50,000", "1250000.00"),
    ("1,250,000", "1250000.00"),
    ("1,250.00", "1250.00"),
    ("1.250,00", "1250.00"),  # European marks
    ("85.30", "85.30"),
    ("12,50", "12.50"),
    ("8530", "8530.00"),
    ("$1,250", "1250.00"),
    ("1250=", "1250.00"),
    ("7-", "7.00"),
    ("25050/100", "250.50"),  # cents as a fraction of a hundred
    ("00120", "120.00"),
    ("22,23.000", "2223000.00"),  # no decimals: every mark groups, a comma read as a dot too
])
def test_conventions(written: str, value: str) -> None:
    assert amount_value(list(written)) == value


@pytest.mark.parametrize("written", ["1,2500", "12.5", "1.250.50", "1,,2", "/-", "", "1,250.5",
                                     "12,5,000", "1,250.00,", "1.250,000.00"])
def test_marks_that_fit_no_reading_give_no_value(written: str) -> None:
    assert amount_value(list(written)) is None


@pytest.mark.parametrize(("seen", "value"), [
    ("85.30", "85.30"),  # every mark fits: kept
    ("22.35000/-", "2235000.00"),  # a comma missed: the stray-looking dot left out
    ("2500.0.000", "25000000.00"),  # two dots inside joined zeros
    ("1.2.3.4", None),  # leaving out one or another gives different values
    ("8,5.30", None),  # 85.30 or 8530.00: a decimal only a stray's removal makes
    ("7,3,0", None),
    # one dot less gives 250000.00 through a decimal mark, cents 00 or not: a guess
    ("250000.0.0", None),
])
def test_stray_marks_are_left_out_only_when_that_is_unambiguous(seen: str,
                                                                value: str | None) -> None:
    assert agreed_value(list(seen)) == value
