"""Templates: made from a reference page, registered to moved scans, field rules and
constrained decoding, the ``template`` commands."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from read_helpers import font_model, form_page, save_png

from digitocr.backends import Classifier, FitResult
from digitocr.cli import cli
from digitocr.constraints import FieldRules, decode, k_best, luhn, mod11, mod97, parse_date
from digitocr.errors import TemplateError
from digitocr.fields import ReadOptions, classify_fields
from digitocr.io import load_pages
from digitocr.pipeline import read
from digitocr.register import register
from digitocr.results import Field, Glyph, validate
from digitocr.segment import FieldCrops, GlyphCrop, Segment
from digitocr.templates import (
    Template,
    check,
    load_template,
    make_template,
    parse_template,
    save_template,
)

__all__ = ["font_model"]  # a fixture

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def gray(name: str) -> np.ndarray:
    return next(load_pages(SAMPLES / name, gray=True)).image


@pytest.fixture(scope="module")
def form_template() -> Template:
    return make_template(gray("form-clean.png"))


# ------------------------------------------------------------------ make


def test_make_finds_the_sample_forms_fields(form_template: Template, tmp_path: Path) -> None:
    t = form_template
    assert [f.name for f in t.fields] == [f"field_{n}" for n in range(1, 8)]
    assert [f.cells for f in t.fields] == [10, 8, None, 5, None, None, 6]
    assert [f.layout for f in t.fields] == ["boxes"] * 7
    assert (t.width, t.height) == (1240, 1754) and t.reference is not None
    truth = json.loads((SAMPLES / "truth.json").read_text())["form-clean.png"][0]["fields"]
    for f, tr in zip(t.fields, truth, strict=True):  # each rectangle holds its printed box
        x, y, w, h = f.bbox
        tx, ty, tw, th = tr["bbox"]
        assert x <= tx and y <= ty and x + w >= tx + tw and y + h >= ty + th
        assert w * h < 2 * tw * th
    save_template(t, tmp_path / "t.json")
    again = load_template(tmp_path / "t.json")
    assert again.to_dict() == t.to_dict()


def test_make_on_a_page_without_boxes_or_digits_is_a_clear_error() -> None:
    with pytest.raises(TemplateError, match="no boxes, combs"):
        make_template(np.full((400, 300), 250, np.uint8))


# ------------------------------------------------------------------ registration


def test_registration_recovers_shift_rotation_and_scale(form_template: Template) -> None:
    t = form_template
    page = gray("form-clean.png")
    h, w = page.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 2.5, 1.07)  # template -> page
    m[:, 2] += (45, -60)
    moved = cv2.warpAffine(page, m, (w, h), borderValue=250)
    reg = register(moved, t.reference, (t.width, t.height))
    assert reg.ok, reg.error
    assert reg.angle == pytest.approx(2.5, abs=0.1)  # turned counter-clockwise
    assert reg.scale == pytest.approx(1 / 1.07, abs=0.005)
    corners = np.float32([[0, 0], [w, 0], [0, h], [w, h], [w / 2, h / 2]])
    on_page = corners @ m[:, :2].T + m[:, 2]
    back = on_page @ reg.matrix[:, :2].T + reg.matrix[:, 2]
    assert np.abs(back - corners).max() < 3.0  # template pixels, over the whole page


def test_a_page_that_does_not_register_is_an_error_record(form_template: Template,
                                                          font_model: str, tmp_path: Path) -> None:
    save_png(form_page(), tmp_path / "other.png")  # another form: boxes, but not these
    (page,) = read([tmp_path / "other.png"], font_model, template=form_template)
    rec = page.to_dict()
    assert rec["fields"] == [] and rec["error"].startswith(
        f"{tmp_path / 'other.png'}: page 1 does not match the template (")
    assert set(rec["registration"]) == {"inliers", "error_px", "angle", "scale", "shift"}
    validate(rec)


def test_reading_the_sample_scan_with_a_made_template(form_template: Template) -> None:
    """The issue's target: 7 of 7 fields of samples/form-scan.jpg (moved and turned against
    form-clean.png) with the shipped default reader, in the template's order and names."""
    (page,) = read([SAMPLES / "form-scan.jpg"], template=form_template)
    rec = page.to_dict()
    validate(rec)
    truth = json.loads((SAMPLES / "truth.json").read_text())["form-scan.jpg"][0]["fields"]
    assert [f["name"] for f in rec["fields"]] == [f"field_{n}" for n in range(1, 8)]
    assert [f["text"] for f in rec["fields"]] == [f["text"] for f in truth]
    assert rec["registration"]["inliers"] >= 100 and abs(rec["registration"]["angle"]) > 1
    for f, tr in zip(rec["fields"], truth, strict=True):  # boxes in the scan's own pixels
        assert abs(f["bbox"][0] - tr["bbox"][0]) < 25 and abs(f["bbox"][1] - tr["bbox"][1]) < 25


# ------------------------------------------------------------------ rules


def test_checksums_on_known_numbers() -> None:
    assert luhn("79927398713") and not luhn("79927398710") and luhn("4111111111111111")
    assert mod11("0306406152") and mod11("0198534531") and not mod11("0306406153")
    # GB82 WEST 1234 5698 7654 32: letters as numbers (W=32 E=14 S=28 T=29, G=16 B=11)
    assert mod97("3214282912345698765432161182") and not mod97("3214282912345698765432161183")
    assert not luhn("") and not mod97("12a")


def test_dates_come_out_normalised() -> None:
    assert parse_date("15032016", "DDMMYYYY") == "2016-03-15"
    assert parse_date("03152016", "MMDDYYYY") == "2016-03-15"
    assert parse_date("20160315", "YYYYMMDD") == "2016-03-15"
    assert parse_date("150316", "DDMMYY") == "2016-03-15"
    assert parse_date("150396", "DDMMYY") == "1996-03-15"
    assert parse_date("31022016", "DDMMYYYY") is None
    assert parse_date("1503201", "DDMMYYYY") is None
    rules = FieldRules("date", 8, 8, order="DDMMYYYY")
    assert not rules.check("15038954")  # a calendar date, not one a form is filled in
    f = decode(field_of([[("1", 0.9)], [("5", 0.9)], [("0", 0.9)], [("3", 0.9)],
                         [("2", 0.9)], [("0", 0.9)], [("1", 0.9)], [("6", 0.9)]]), rules)
    assert (f.text, f.value, f.valid) == ("15032016", "2016-03-15", True)


def field_of(alts: list[list[tuple[str, float]]]) -> Field:
    glyphs = [Glyph((10 * i, 0, 10, 10), a[0][0], a[0][1], a) for i, a in enumerate(alts)]
    text = "".join(g.label for g in glyphs)
    return Field(1, (0, 0, 100, 10), text, float(np.prod([g.confidence for g in glyphs])),
                 False, glyphs, "account")


def test_constrained_decoding_takes_the_second_best_glyph_when_the_best_breaks_the_checksum(
) -> None:
    # 7992739871|3 passes Luhn; the reader's best guess for the 4th digit is 8 (which fails)
    alts = [[(c, 0.99), ("1", 0.01)] for c in "79927398713"]
    alts[3] = [("8", 0.6), ("2", 0.35), ("3", 0.05)]
    f = field_of(alts)
    assert f.text == "79987398713" and not luhn(f.text)
    got = decode(f, FieldRules(checksum="luhn", min_length=11, max_length=11), 0.5)
    assert (got.text, got.valid) == ("79927398713", True)
    assert got.glyphs[3].label == "2" and got.glyphs[3].confidence == pytest.approx(0.35)
    assert got.confidence == pytest.approx(0.35 * 0.99 ** 10)
    assert got.needs_review  # 0.31 < 0.5: the corrected reading is still unsure
    assert got.to_dict()["valid"] is True


def test_no_valid_reading_is_marked_invalid_and_for_review() -> None:
    f = field_of([[("1", 0.9), ("7", 0.1)]] * 4)
    got = decode(f, FieldRules(min_length=5, max_length=5))
    assert (got.text, got.valid, got.needs_review) == ("1111", False, True)
    assert decode(f, FieldRules(pattern="7+")).text == "7777"
    assert decode(f, FieldRules(min=1000, max=1200)).text == "1111"
    assert decode(f, FieldRules(min=1500, max=1800)).text == "1711"  # the likeliest in range
    blank = Field(1, (0, 0, 10, 10), "", 1.0, False, [], "x")
    assert decode(blank, FieldRules(min_length=3)).valid is True
    assert decode(blank, FieldRules(required=True)).valid is False


def test_k_best_enumerates_by_decreasing_score() -> None:
    pos = [[0.0, -1.0, -5.0], [0.0, -0.5], [-0.1, -0.2]]
    got = list(k_best(pos, limit=100))
    scores = [s for s, _ in got]
    assert len(got) == 12 and len({i for _, i in got}) == 12
    assert scores == sorted(scores, reverse=True) and scores[0] == pytest.approx(-0.1)
    assert len(list(k_best(pos, limit=3))) == 3


def test_rules_in_a_template_file(tmp_path: Path) -> None:
    t = parse_template({"width": 100, "height": 50, "fields": [
        {"name": "acct", "bbox": [0, 0, 50, 20], "cells": 10, "type": "digits", "length": 10,
         "checksum": "luhn"},
        {"name": "when", "bbox": [0, 25, 50, 20], "type": "date", "order": "DDMMYYYY",
         "min": "2000-01-01"},
        {"name": "sum", "bbox": [60, 0, 40, 20], "type": "amount", "length": [1, 7],
         "max": 5000},
        {"name": "note", "bbox": [60, 25, 40, 20]}]})
    acct, when, total, note = t.fields
    assert acct.rules == FieldRules("digits", 10, 10, checksum="luhn") and acct.cells == 10
    assert when.rules == FieldRules("date", 8, 8, min="2000-01-01", order="DDMMYYYY")
    assert total.rules == FieldRules("amount", 1, 7, max=5000) and note.rules is None
    assert parse_template(t.to_dict()).to_dict() == t.to_dict()


@pytest.mark.parametrize("field,message", [
    ({"type": "number"}, r"field 1 \('f'\): 'type' must be one of digits, amount, date"),
    ({"length": 0}, r"field 1 \('f'\): 'length' must be a whole number >= 1 or \[least, most\]"),
    ({"length": [5, 3]}, r"'length' must be"),
    ({"pattern": "[0-9"}, r"field 1 \('f'\): 'pattern' is not a regular expression"),
    ({"checksum": "crc"}, r"'checksum' must be one of luhn, mod11, mod97, iban, not 'crc'"),
    ({"type": "date"}, r"a date needs 'order', one of DDMMYYYY"),
    ({"order": "DDMMYYYY"}, r"'order' is for fields of type date"),
    ({"type": "date", "order": "DDMMYYYY", "min": "2016-02-30"}, r"'min' must be a date"),
    ({"min": 5, "max": 1}, r"'min' is above 'max'"),
    ({"min": "5"}, r"'min' must be a number"),
    ({"cells": 0}, r"'cells' must be a whole number >= 1"),
    ({"required": "yes"}, r"'required' must be true or false"),
    ({"checksun": "luhn"}, r"field 1 \('f'\): unknown key 'checksun'"),
])
def test_bad_field_rules_name_the_file_and_field(tmp_path: Path, field: dict[str, object],
                                                 message: str) -> None:
    p = tmp_path / "t.json"
    p.write_text(json.dumps({"fields": [{"name": "f", "bbox": [0, 0, 10, 10], **field}]}))
    with pytest.raises(TemplateError, match=f"^{re.escape(str(p))}: .*{message}"):
        load_template(p)


@pytest.mark.parametrize("data,message", [
    ({"fields": [{"name": "a", "bbox": [0, 0, 9, 9]}, {"name": "a", "bbox": [0, 0, 9, 9]}]},
     "two fields are named 'a'"),
    ({"fields": [{"bbox": [0, 0, 9, 9]}], "reference": {"png": "x"}},
     "a template with a 'reference' needs 'width' and 'height'"),
    ({"width": 9, "height": 9, "fields": [{"bbox": [0, 0, 9, 9]}], "reference": {"png": "@@"}},
     "'reference.png' is not a base64 PNG"),
    ({"fields": [{"bbox": [0, 0, 9, 9]}], "registration": {"min_inliers": -1}},
     "'registration.min_inliers' must be like 30"),
    ({"fields": [{"bbox": [0, 0, 9, 9]}], "registration": {"inliers": 5}},
     "'registration' has unknown key 'inliers'"),
    ({"fields": [{"bbox": [0, 0, 9, 9]}], "colour": "red"}, "unknown key 'colour'"),
])
def test_bad_templates_say_what_is_wrong(data: dict[str, object], message: str) -> None:
    with pytest.raises(TemplateError, match=f"^t.json: {re.escape(message)}"):
        parse_template(data, "t.json")


# ------------------------------------------------------------------ the commands


def test_cli_template_make_and_check(tmp_path: Path) -> None:
    out, ann = tmp_path / "form.json", tmp_path / "form.png"
    r = CliRunner().invoke(cli, ["template", "make", str(SAMPLES / "form-clean.png"), "-o",
                                 str(out), "--annotate", str(ann)])
    assert r.exit_code == 0, r.output
    assert r.output == f"{out}: 7 fields (4 combs) on a 1240 x 1754 page\n"
    assert cv2.imread(str(ann)).shape == (1754, 1240, 3)
    t = load_template(out)
    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / "a.jpg").write_bytes((SAMPLES / "form-scan.jpg").read_bytes())
    lines = [c.line() for c in check(t, [str(scans / "a.jpg")])]
    r = CliRunner().invoke(cli, ["template", "check", str(out), str(scans)])
    assert r.exit_code == 0, r.output
    assert r.output == f"{lines[0]}\n1 of 1 pages registered\n"
    assert re.fullmatch(rf"{re.escape(str(scans / 'a.jpg'))} p1: ok \(\d+ inliers, error "
                        r"\d\.\d\d px, angle 2\.\d\d, scale \d\.\d{4}\)", lines[0])
    save_png(form_page(), scans / "b.png")
    r = CliRunner().invoke(cli, ["template", "check", str(out), str(scans)])
    assert r.exit_code == 1
    first, second, last = r.output.splitlines()
    assert first == lines[0] and last == "1 of 2 pages registered"
    assert second.startswith(f"{scans / 'b.png'} p1: FAILED does not match the template (")


def test_cli_template_check_without_a_reference(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["template", "check", str(SAMPLES / "template.json"),
                                 str(SAMPLES / "form-scan.jpg")])
    assert r.exit_code == 2
    assert r.output == ("Error: the template has no reference picture to register pages to "
                        "(make one with: digitocr template make PAGE -o form.json)\n")


class Rows(Classifier):
    """Answers each crop with the next of its given rows (``classify_fields`` sends the crops
    field by field, segment by segment, cut by cut, glyph by glyph)."""

    def __init__(self, rows: list[dict[int, float]]) -> None:
        super().__init__()
        self.rows = rows

    def fit(self, x: np.ndarray, y: np.ndarray, **kw: object) -> FitResult:
        return FitResult()

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        out = np.full((len(x), 10), 1e-4)
        for i, row in enumerate(self.rows[: len(x)]):
            for d, p in row.items():
                out[i, d] = p
        return out / out.sum(axis=1, keepdims=True)

    def save(self, directory: Path) -> None:
        pass

    @classmethod
    def load(cls, directory: Path, options: dict[str, object]) -> Rows:
        raise NotImplementedError


def test_a_length_rule_picks_the_cut_of_touching_digits() -> None:
    """One blob read whole as an 8 (0.9) or cut in two as 3, 0 (0.8 each, cut penalty 0.5):
    unconstrained reading keeps the 8; a length of 2 takes the cut."""
    ink = np.zeros((28, 28), np.float32)
    ink[6:22, 8:20] = 1.0
    whole, left, right = (GlyphCrop((0, 0, 20, 30), ink), GlyphCrop((0, 0, 10, 30), ink),
                          GlyphCrop((10, 0, 10, 30), ink))
    seg = Segment([[whole], [left, right]], [0.0, 0.5])
    crops = [FieldCrops((0, 0, 40, 40), [seg], kind="template", name="n")]
    clf = Rows([{8: 0.9, 3: 0.1}, {3: 0.8, 5: 0.2}, {0: 0.8, 6: 0.2}])
    box = {"name": "n", "bbox": [0, 0, 40, 40]}
    plain = ReadOptions(template=parse_template({"fields": [box]}))
    (f,) = classify_fields(crops, clf, plain)
    assert (f.text, f.valid) == ("8", None)
    ruled = ReadOptions(template=parse_template({"fields": [{**box, "length": 2}]}))
    (f,) = classify_fields(crops, clf, ruled)
    assert (f.text, f.valid) == ("30", True)
    assert f.confidence == pytest.approx(0.64, abs=0.01)
    odd = ReadOptions(template=parse_template({"fields": [{**box, "length": 2,
                                                           "pattern": "[0-9]5"}]}))
    (f,) = classify_fields(crops, clf, odd)  # no 5 among the second digit's choices
    assert (f.text, f.valid, f.needs_review) == ("8", False, True)


def test_the_committed_sample_template_names_and_checks_fields() -> None:
    (page,) = read([SAMPLES / "form-scan.jpg"], template=SAMPLES / "form-template.json")
    truth = json.loads((SAMPLES / "truth.json").read_text())["form-scan.jpg"][0]["fields"]
    got = [(f.name, f.text, f.valid) for f in page.fields]
    assert got == [(t["name"], t["text"], True) for t in truth]
    assert page.fields[2].value == "4012633.00"  # type amount


def test_make_splits_a_table_into_cells_and_keeps_a_comb_whole() -> None:
    page = np.full((700, 900), 250, np.uint8)
    cv2.putText(page, "ORDER FORM", (60, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.5, 30, 3)
    for row in range(3):  # a table: 3 rows of 2 wide cells
        for col in range(2):
            x, y = 60 + 300 * col, 120 + 70 * row
            cv2.rectangle(page, (x, y), (x + 300, y + 70), 0, 3)
    x0, y0 = 60, 450  # a comb of 6 cells
    cv2.rectangle(page, (x0, y0), (x0 + 6 * 50, y0 + 66), 0, 3)
    for i in range(1, 6):
        cv2.line(page, (x0 + 50 * i, y0), (x0 + 50 * i, y0 + 66), 0, 3)
    t = make_template(page)
    assert [f.cells for f in t.fields] == [None] * 6 + [6]
    rows = [f.bbox[1] for f in t.fields[:6]]
    assert rows == sorted(rows) and len(set(rows)) == 3  # reading order: row by row
    assert all(280 < f.bbox[2] < 360 for f in t.fields[:6])


def test_a_300_dpi_pdf_registers_to_a_150_dpi_template() -> None:
    pages = list(read([SAMPLES / "forms.pdf"], template=SAMPLES / "form-template.json"))
    truth = json.loads((SAMPLES / "truth.json").read_text())["forms.pdf"]
    for page, t in zip(pages, truth, strict=True):
        assert page.registration is not None
        assert page.registration["scale"] == pytest.approx(0.5, abs=0.005)
        assert [f.text for f in page.fields] == [f["text"] for f in t["fields"]]
        assert page.width == 2480  # rendered at 300 dpi; boxes in its pixels
        assert 650 < page.fields[0].bbox[0] < 760


def test_a_ruled_fields_choices_say_its_rules_chose() -> None:
    """With ``explain`` a field whose rules chose over all its segments keeps every segment's
    candidates, none marked the winner (``Choice.won`` None, no runner-up)."""
    from dataclasses import replace

    from digitocr.fields import choice_lines
    from digitocr.results import PageResult

    ink = np.zeros((28, 28), np.float32)
    ink[6:22, 8:20] = 1.0
    whole, left, right = (GlyphCrop((0, 0, 20, 30), ink), GlyphCrop((0, 0, 10, 30), ink),
                          GlyphCrop((10, 0, 10, 30), ink))
    seg = Segment([[whole], [left, right]], [0.0, 0.5], ["whole", "cut:2"])
    crops = [FieldCrops((0, 0, 40, 40), [seg], kind="template", name="n")]
    clf = Rows([{8: 0.9, 3: 0.1}, {3: 0.8, 5: 0.2}, {0: 0.8, 6: 0.2}])
    box = {"name": "n", "bbox": [0, 0, 40, 40], "length": 2}
    ruled = ReadOptions(template=parse_template({"fields": [box]}), explain=True)
    (f,) = classify_fields(crops, clf, ruled)
    assert f.text == "30" and [g.rule for g in f.glyphs] == ["cut:2", "cut:2"]
    [c] = f.choices
    assert (c.won, c.runner_up, [k.rule for k in c.candidates]) == (None, None,
                                                                    ["whole", "cut:2"])
    assert choice_lines(PageResult("x.png", 1, fields=[f])) == [
        "x.png p1 field n segment 1: whole '8' prior 0.00 score -0.106; "
        "cut:2 '30' prior 0.50 score -0.948 (the field's rules chose)"]
    (plain,) = classify_fields(crops, clf, replace(ruled, explain=False))
    assert plain.choices == [] and plain.to_dict() == f.to_dict()


def dotted_rectangle(page: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    """A box of thin dotted rules (2 px dashes, 2 px gaps), as a cheque's amount box scans."""
    for x in range(x0, x1, 4):
        page[y0:y0 + 2, x:x + 2] = 0
        page[y1 - 2:y1, x:x + 2] = 0
    for y in range(y0, y1, 4):
        page[y:y + 2, x0:x0 + 2] = 0
        page[y:y + 2, x1 - 2:x1] = 0


def test_make_finds_a_box_of_dotted_rules_too() -> None:
    page = np.full((500, 900), 250, np.uint8)
    cv2.rectangle(page, (60, 80), (360, 160), 0, 3)  # a box of solid rules
    solid = make_template(page)
    assert len(solid.fields) == 1
    dotted_rectangle(page, 480, 300, 820, 400)
    t = make_template(page)
    assert [f.layout for f in t.fields] == ["boxes", "boxes"]
    assert t.fields[0].bbox == solid.fields[0].bbox  # what plain rules find stays as it was
    x, y, w, h = t.fields[1].bbox
    assert x <= 482 and y <= 302 and x + w >= 818 and y + h >= 398
    assert w < 400 and h < 150
