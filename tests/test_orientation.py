"""Orientation: a sideways or upside-down page is turned back and read like the upright one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from read_helpers import FontTemplateClassifier, font_model, form_page, save_png

from digitocr import orientation
from digitocr.cli import cli
from digitocr.io import load_pages
from digitocr.pipeline import ReadOptions, read, read_image
from digitocr.results import Field, PageResult, validate

__all__ = ["font_model"]

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def turned(image: np.ndarray, angle: int) -> np.ndarray:
    """``image`` turned ``angle`` degrees clockwise (as a page fed in that way)."""
    return np.ascontiguousarray(np.rot90(image, -(angle // 90)))


@pytest.fixture(scope="module")
def form() -> np.ndarray:
    """The committed clean sample form (printed labels and instructions, handwritten digits)."""
    return next(iter(load_pages(str(SAMPLES / "form-clean.png")))).image


def test_upright_sample_pages_stay_upright() -> None:
    for name in ("form-clean.png", "form-scan.jpg", "forms.pdf", "forms-1bit.tif",
                 "cheque.jpg", "amounts/amount-5.bmp"):
        for page in load_pages(str(SAMPLES / name)):
            est = orientation.estimate(page.image)
            assert est.angle == 0 and not est.sideways, (name, page.page, est)
    assert orientation.estimate(form_page()).angle == 0  # no printed text: not judged


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_turned_form_is_found(form: np.ndarray, angle: int) -> None:
    est = orientation.estimate(turned(form, angle))
    assert est.confident and est.angle == angle, est


def test_estimate_is_the_same_evidence_turned(form: np.ndarray) -> None:
    up = orientation.estimate(form)
    down = orientation.estimate(turned(form, 180))
    assert (up.up, up.down) == (down.down, down.up) and up.up > up.down


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_box_back_round_trip(angle: int) -> None:
    page = np.zeros((40, 60), np.uint8)
    page[5:9, 10:30] = 1  # a box (10, 5, 20, 4) of the upright page
    given = turned(page, angle)
    ys, xs = np.nonzero(given)
    want = (int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
    assert orientation.box_back((10, 5, 20, 4), angle, given.shape[1], given.shape[0]) == want
    assert np.array_equal(orientation.upright(given, angle), page)


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_turned_page_reads_like_the_upright_one(form: np.ndarray, angle: int) -> None:
    clf = FontTemplateClassifier()
    upright = read_image(form, clf)
    page = turned(form, angle)
    result = read_image(page, clf)
    assert upright.orientation == 0 and result.orientation == angle
    assert [f.text for f in result.fields] == [f.text for f in upright.fields]
    assert [f.confidence for f in result.fields] == [f.confidence for f in upright.fields]
    h, w = page.shape
    assert [f.bbox for f in result.fields] == [
        orientation.box_back(f.bbox, angle, w, h) for f in upright.fields]
    assert result.warning is None and not any(f.needs_review for f in result.fields)
    record = result.to_dict()
    validate(record)
    assert record["orientation"] == angle and (record["width"], record["height"]) == (w, h)
    # without the check the same page reads as other digits: the test can fail
    blind = read_image(page, clf, ReadOptions(orientation=False))
    assert [f.text for f in blind.fields] != [f.text for f in upright.fields]


def test_upright_records_keep_their_keys(form: np.ndarray) -> None:
    record = read_image(form, FontTemplateClassifier()).to_dict()
    assert set(record) == {"file", "page", "width", "height", "fields"}


def test_sideways_but_unsure_flags_every_field() -> None:
    result = PageResult("x.png", 1, 60, 40, [Field(1, (10, 5, 20, 4), "12", 0.99, False)])
    est = orientation.Estimate(90, confident=False, sideways=True)
    orientation.restore(result, est)
    assert result.orientation == 90 and result.warning
    assert result.fields[0].needs_review and result.fields[0].bbox == (51, 10, 4, 20)
    validate(result.to_dict())


def test_cli_upside_down_page_is_not_read_as_confident_wrong_digits(
        font_model: str, form: np.ndarray, tmp_path: Path) -> None:
    save_png(form, tmp_path / "up.png")
    save_png(turned(form, 180), tmp_path / "down.png")
    runner = CliRunner()
    out = {}
    for name in ("up", "down"):
        res = runner.invoke(cli, ["read", str(tmp_path / f"{name}.png"), "--model", font_model,
                                   "--format", "json"], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        (out[name],) = json.loads(res.output)
        validate(out[name])
    up, down = out["up"], out["down"]
    assert "orientation" not in up and down["orientation"] == 180
    for a, b in zip(up["fields"], down["fields"], strict=True):
        # the same digits, or flagged: never other digits given as sure
        assert b["text"] == a["text"] or b["needs_review"]
    assert [f["text"] for f in down["fields"]] == [f["text"] for f in up["fields"]]


def test_orientation_can_be_switched_off(font_model: str, form: np.ndarray,
                                         tmp_path: Path) -> None:
    save_png(turned(form, 180), tmp_path / "down.png")
    (on,) = read([tmp_path / "down.png"], font_model)
    (off,) = read([tmp_path / "down.png"], font_model, orientation=False)
    assert on.orientation == 180 and off.orientation == 0


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (301, 299)])
@pytest.mark.parametrize("q", [0.0, 37.3, 50.0, 99.7, 100.0])
def test_percentile_u8_is_numpys(shape: tuple[int, int], q: float) -> None:
    from digitocr.segment.ink import percentile_u8

    rng = np.random.default_rng(shape[0] * 1000 + int(q * 10))
    for top in (2, 40, 256):  # few levels (ties everywhere) to the full range
        img = rng.integers(0, top, shape).astype(np.uint8)
        assert percentile_u8(img, q) == pytest.approx(float(np.percentile(img, q)), abs=1e-9)
        view = np.asarray(img)[:, ::2]  # not contiguous
        assert percentile_u8(view, q) == pytest.approx(float(np.percentile(view, q)), abs=1e-9)


@pytest.mark.parametrize("model", ["auto", "cnn"])
def test_upside_down_cheque_is_turned_by_its_layout(model: str, tmp_path: Path) -> None:
    """The sample cheque has too little lowercase print for the text's way up; upside down its
    amount is found only turned back (``readpages._cheque_way_up``), in either reading path."""
    (page,) = load_pages(str(SAMPLES / "cheque.jpg"))
    h, w = page.image.shape[:2]
    assert not orientation.estimate(turned(page.image, 180)).confident  # the text cannot tell
    save_png(turned(page.image, 180), tmp_path / "down.png")
    (up,) = read([SAMPLES / "cheque.jpg"], model, layout="cheque")
    (down,) = read([tmp_path / "down.png"], model, layout="cheque")
    (blind,) = read([tmp_path / "down.png"], model, layout="cheque", orientation=False)
    assert up.orientation == 0 and down.orientation == 180 and down.warning is None
    assert [f.name for f in up.fields] == ["amount"] and up.fields[0].text == "8530"
    assert [(f.name, f.text, f.value, f.needs_review) for f in down.fields] == [
        (f.name, f.text, f.value, f.needs_review) for f in up.fields]
    # turned back, the analysis image is shrunk from the other corner: nearly the same crop
    assert down.fields[0].confidence == pytest.approx(up.fields[0].confidence, abs=0.01)
    assert [f.bbox for f in down.fields] == [
        orientation.box_back(f.bbox, 180, w, h) for f in up.fields]
    assert [f.text for f in blind.fields] != ["8530"]  # read as given, it is not the amount
