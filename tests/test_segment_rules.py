"""Segmentation rules as data: ``SegmentRules`` tuned with ``replace``, carried to the layouts
and to worker processes, and read from ``digitocr read --rules FILE``."""

from __future__ import annotations

import json
import pickle
from dataclasses import fields, replace
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner, Result
from read_helpers import font_model, string_image

from digitocr import segment
from digitocr.cli import cli
from digitocr.pipeline import read, read_options
from digitocr.segment import (
    RULES,
    RulesError,
    SegmentOptions,
    SegmentRules,
    load_rules,
    rules_from_dict,
    segment_string,
)

__all__ = ["font_model"]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["read", *args], catch_exceptions=False)


def test_every_rule_is_a_documented_number() -> None:
    lines = Path(segment.rules.__file__).read_text(encoding="utf-8").splitlines()
    for f in fields(SegmentRules):
        # numbers, and the one date order (a string of constraints.DATE_ORDERS)
        assert isinstance(getattr(RULES, f.name), (int, float, str)), f.name
        (i,) = [i for i, ln in enumerate(lines) if ln.startswith(f"    {f.name}: ")]
        assert lines[i - 1].lstrip().startswith("#:"), f.name  # its doc comment


def test_options_carry_the_rules_and_pickle() -> None:
    opts = SegmentOptions(rules=replace(RULES, wide=1.2))
    back = pickle.loads(pickle.dumps(opts))
    assert back == opts and back.rules.wide == 1.2 and RULES.wide == 1.1


def test_the_layout_reads_its_rules_from_the_options() -> None:
    img = string_image("407")
    (f,) = segment_string(img, SegmentOptions())
    assert len(f.segments) == 3
    huge = SegmentOptions(rules=replace(RULES, string_min_area=10**6))
    (f,) = segment_string(img, huge)
    assert f.segments == []


def test_rules_from_dict_overrides_and_converts() -> None:
    r = rules_from_dict({"wide": 1, "max_split": 2})
    assert r == replace(RULES, wide=1.0, max_split=2) and isinstance(r.wide, float)
    us = rules_from_dict({"cheque_date_order": "MMDDYYYY"})
    assert us.cheque_date_order == "MMDDYYYY" and RULES.cheque_date_order == "DDMMYYYY"


@pytest.mark.parametrize(("data", "message"), [
    ({"wider": 1.2}, "unknown rule 'wider' (did you mean 'wide'?)"),
    ({"zzz": 1}, "unknown rule 'zzz'"),
    ({"wide": "big"}, "rule 'wide' must be a finite number >= 0, not 'big'"),
    ({"wide": -1}, "rule 'wide' must be a finite number >= 0, not -1"),
    ({"wide": True}, "rule 'wide' must be a finite number >= 0, not True"),
    ({"max_split": 2.5}, "rule 'max_split' must be a whole number >= 1, not 2.5"),
    ({"crop_rim": 0}, "rule 'crop_rim' must be a whole number >= 1, not 0"),
    ([1, 2], "rules must be a JSON object of rule names and numbers"),
    ({"cheque_date_order": "DMY"}, "rule 'cheque_date_order' must be one of DDMMYYYY, "
     "MMDDYYYY, YYYYMMDD, DDMMYY, MMDDYY, YYMMDD, not 'DMY'"),
])
def test_bad_rules_name_the_key(data: object, message: str) -> None:
    with pytest.raises(RulesError) as exc:
        rules_from_dict(data, source="r.json")
    assert str(exc.value) == f"r.json: {message}"


def test_load_rules_bad_json(tmp_path: Path) -> None:
    p = tmp_path / "r.json"
    p.write_text('{"wide": NaN}')
    with pytest.raises(RulesError, match="rules are not valid JSON"):
        load_rules(p)


def test_read_options_thread_the_rules(tmp_path: Path) -> None:
    p = tmp_path / "r.json"
    p.write_text(json.dumps({"wide": 1.25}))
    assert read_options(rules=p).segment.rules == replace(RULES, wide=1.25)
    assert read_options().segment.rules == RULES


def test_cli_rules_reach_the_workers(font_model: str, tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    for name in ("a", "b"):
        cv2.imwrite(str(d / f"{name}.png"), string_image("407"))
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"string_min_area": 10**6}))
    args = [str(d), "--model", font_model, "--layout", "string", "--format", "jsonl",
            "--workers", "2"]
    plain = [json.loads(x) for x in run(*args).stdout.splitlines()]
    assert [p["fields"][0]["text"] for p in plain] == ["407", "407"]
    r = run(*args, "--rules", str(rules))
    assert r.exit_code == 0, r.output
    assert [json.loads(x)["fields"][0]["text"] for x in r.stdout.splitlines()] == ["", ""]
    # the library takes the same file
    pages = list(read(str(d / "a.png"), font_model, "string", rules=rules))
    assert pages[0].fields[0].text == ""


def test_cli_bad_rules_is_a_usage_error(font_model: str, tmp_path: Path) -> None:
    img = tmp_path / "a.png"
    cv2.imwrite(str(img), string_image("407"))
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"wide": 1.2, "merge_gapp": 0.1}))
    r = run(str(img), "--model", font_model, "--rules", str(rules))
    assert r.exit_code == 2
    assert r.stderr == (f"Error: {rules}: unknown rule 'merge_gapp' (did you mean "
                        "'merge_gap'?)\n")
    assert r.stdout == ""
