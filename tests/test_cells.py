"""Cut cells (ledger cells, amount crops): border, rules and neighbours go before glyphs form;
``--model auto`` reads strings with the string reader, checked by the digit classifier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from digitocr import fields, pipeline
from digitocr.backends import StringReader
from digitocr.combined import DISAGREE, AutoReader
from digitocr.combined import read_fields as read_combined
from digitocr.results import Field
from digitocr.segment import SegmentOptions, clean_cell, segment_cell, segment_page_or_cell
from digitocr.segment.cells import alternatives_of
from digitocr.strings import StringReading

#: where the synthetic cell's number is drawn (x0, y0, x1, y1)
NUMBER = (50, 80, 100, 112)


def ledger_cell(number: bool = True) -> np.ndarray:
    """A cell as archives cut them: black scan border at the left, the column's rule at the
    right, a rule at the top, a line of small print at the bottom, a number in the middle."""
    img = np.full((210, 140), 235, np.uint8)
    img[:, :38] = 18  # scan border, touching the crop's edge
    img[:, 126:128] = 40  # the column's vertical rule
    img[6:8, 40:140] = 40  # a horizontal rule joining it at the top corner
    cv2.putText(img, "Trykt for", (44, 200), cv2.FONT_HERSHEY_PLAIN, 0.7, 60, 1)
    if number:
        cv2.putText(img, "26", (52, 110), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.0, 20, 2)
    return img


def test_clean_cell_keeps_the_number_only() -> None:
    cell = clean_cell(ledger_cell())
    assert cell.box is not None
    x, y, w, h = cell.box
    nx0, ny0, nx1, ny1 = NUMBER
    assert nx0 - 4 <= x and x + w <= nx1 + 6 and ny0 - 14 <= y and y + h <= ny1 + 4
    assert not cell.mask[:, :40].any(), "the scan border's edge is not writing"
    assert not cell.mask[:, 124:].any(), "the column's rule is not writing"
    assert not cell.mask[185:].any(), "the printed caption is not the cell's writing"


def test_digits_written_on_a_base_line_across_the_crop_are_found() -> None:
    """An amount crop whose digits sit on the printed line under them, which runs across the
    whole crop: ink and line are one piece, once taken for the crop's frame (ORAND-CAR)."""
    img = np.full((40, 150), 225, np.uint8)
    cv2.putText(img, "2750", (8, 33), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.3, 40, 2)
    cols = np.flatnonzero((img < 128).any(axis=0))
    img[33:35, :] = 60  # the base line, touching every digit
    img = img[7:37]  # cut tight: the writing spans the crop's height
    cell = clean_cell(img)
    assert cell.box is not None
    x, _y, w, h = cell.box
    assert abs(x - cols[0]) <= 3 and abs(x + w - 1 - cols[-1]) <= 3 and h > 20
    assert not cell.mask[26:28, 110:].any(), "the line beyond the writing is not writing"
    (f,) = segment_cell(img, SegmentOptions())
    assert len([g for s in f.segments for g in s.options[0]]) >= 3


def test_segment_cell_is_one_field_round_the_writing() -> None:
    (f,) = segment_cell(ledger_cell(), SegmentOptions())
    assert f.kind == "cell"
    x, _y, w, h = f.bbox
    assert x >= 38 and x + w <= 126 and h < 80
    glyphs = [g.bbox for s in f.segments for g in s.options[0]]
    assert glyphs and all(gx >= 38 and gx + gw <= 126 for gx, _, gw, _ in glyphs)


def test_auto_layout_reads_a_small_image_as_a_cell() -> None:
    (f,) = segment_page_or_cell(ledger_cell(), SegmentOptions())
    assert f.kind == "cell"


class FixedReader(StringReader):
    """A string reader that reads every crop as ``text`` with ``confidence``."""

    backend = "fixed"

    def __init__(self, text: str = "26", confidence: float = 0.96, **options: Any) -> None:
        super().__init__(**options)
        self.text, self.confidence = text, confidence

    def fit(self, crops: list[np.ndarray], labels: list[str], **kw: Any) -> Any:
        raise NotImplementedError

    def read_strings(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        return [(self.text, self.confidence) for _ in crops]

    def read_detailed(self, crops: list[np.ndarray], polarity: str = "auto") -> list[StringReading]:
        return [StringReading(self.text, self.confidence) for _ in crops]

    def save(self, directory: Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, directory: Path, options: dict[str, Any]) -> FixedReader:
        return cls(**options)


@pytest.mark.parametrize(("digit_text", "confidence", "review"),
                         [("26", 0.96, False), ("28", 0.96 * DISAGREE, True)])
def test_auto_reader_checks_strings_against_the_digit_classifier(
        monkeypatch: pytest.MonkeyPatch, digit_text: str, confidence: float,
        review: bool) -> None:
    def per_digit(fields: list[Any], classifier: Any, opts: Any) -> list[Field]:
        return [Field(n, f.bbox, digit_text, 0.99, False, [], f.name)
                for n, f in enumerate(fields, start=1)]

    monkeypatch.setattr(fields, "classify_fields", per_digit)
    reader = AutoReader()
    reader.digits, reader.strings = object(), FixedReader()  # type: ignore[assignment]
    opts = pipeline.ReadOptions(layout="string", min_confidence=0.9)
    (f,) = read_combined(ledger_cell(), reader, opts)
    assert (f.text, f.confidence, f.needs_review) == ("26", pytest.approx(confidence), review)


@pytest.mark.parametrize(("string_text", "review"),
                         [("3", False), ("5", True), ("", False), ("13", False)])
def test_auto_reader_checks_each_digit_of_a_box_with_the_string_reader(
        monkeypatch: pytest.MonkeyPatch, string_text: str, review: bool) -> None:
    """A field read per digit (a box, a comb) is checked digit by digit: the string reader
    given a digit alone that reads another digit flags it; reading nothing, or more strokes
    round the same digit, does not."""
    from digitocr.results import Glyph
    from digitocr.segment import FieldCrops

    page = np.full((60, 120), 230, np.uint8)
    glyphs = [Glyph((20, 15, 14, 24), "7", 0.99), Glyph((50, 15, 14, 24), "3", 0.99)]
    monkeypatch.setattr(fields, "find_fields",
                        lambda image, opts: [FieldCrops((10, 10, 80, 34), [], kind="box")])
    monkeypatch.setattr(fields, "classify_fields", lambda found, classifier, opts: [
        Field(1, (10, 10, 80, 34), "73", 0.98, False, glyphs)])
    seen: list[tuple[int, ...]] = []

    class PerDigit(FixedReader):
        def read_strings(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
            seen.extend(c.shape for c in crops)
            return [("7", 0.9), (self.text, 0.9)]

    reader = AutoReader()
    reader.digits, reader.strings = object(), PerDigit(string_text)  # type: ignore[assignment]
    opts = pipeline.ReadOptions(layout="boxes", min_confidence=0.9)
    (f,) = read_combined(page, reader, opts)
    assert (f.text, f.needs_review) == ("73", review)
    assert f.confidence == pytest.approx(0.98 * (DISAGREE if review else 1.0))
    # each digit alone: its box, a little more above and below, paper at the sides
    margin = round(0.33 * 24)
    assert seen == [(24 + 2 * 4, 14 + 2 * margin)] * 2


def test_review_threshold_comes_from_the_model() -> None:
    assert pipeline.review_threshold("auto") == 0.9
    assert pipeline.review_threshold(FixedReader(min_confidence=0.75)) == 0.75
    assert pipeline.review_threshold(FixedReader()) == 0.0


def test_bowed_rules_and_rule_corners_are_not_writing() -> None:
    """The scans' rules are seldom straight: a column rule slanted by the scanner and bent at
    its foot, and two rules meeting in a corner, are rules (they were read as a sure ``1``)."""
    img = np.full((164, 140), 235, np.uint8)
    img[:, :30] = 18  # scan border
    pts = np.array([[124, 0], [131, 80], [138, 150], [139, 163]], np.int32)
    cv2.polylines(img, [pts], False, 40, 2)  # the column's rule, slanted and bent
    cv2.polylines(img, [np.array([[30, 0], [100, 0], [100, 90]], np.int32)], False, 40, 1)
    cv2.putText(img, "26", (60, 110), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.0, 20, 2)
    cell = clean_cell(img)
    assert cell.box is not None
    x, y, w, h = cell.box
    assert x >= 55 and x + w <= 115 and y >= 80 and y + h <= 116, cell.box
    assert not cell.mask[:, 118:].any() and not cell.mask[:40].any()


def test_a_border_over_most_of_the_crop_does_not_turn_the_cell_over() -> None:
    """The black border can be most of a cut cell: the paper, not the whole crop, says which
    way the ink is (judged on the whole crop, the cell was read inverted)."""
    img = np.full((200, 140), 235, np.uint8)
    img[:, :90] = 18  # scan border: 64 % of the crop
    cv2.putText(img, "26", (95, 110), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 0.7, 20, 2)
    cell = clean_cell(img)
    assert cell.box is not None
    x, y, w, h = cell.box
    assert x >= 92 and x + w <= 138 and y >= 80 and y + h <= 116, cell.box


def test_the_cells_module_is_kept_for_compatibility() -> None:
    from digitocr import cells

    assert cells.segment_cell is segment_cell and cells.clean_cell is clean_cell


def noted_cell() -> np.ndarray:
    """A ledger cell whose number sits below a note of two lines at the crop's top edge: the
    note is the taller, inkier group, and the number small print beside it."""
    img = np.full((210, 140), 235, np.uint8)
    cv2.putText(img, "2 An", (40, 16), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 0.8, 20, 2)
    cv2.putText(img, "20 d", (44, 44), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 0.8, 20, 2)
    cv2.putText(img, "15", (60, 110), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 0.6, 20, 2)
    return img


def test_a_cells_other_groups_of_ink_are_its_alternatives() -> None:
    cell = clean_cell(noted_cell())
    assert cell.box is not None and cell.box[1] <= 2  # the note, at the top edge
    assert len(cell.others) == 1
    x, y, w, h = cell.others[0]
    assert x >= 55 and x + w <= 100 and y >= 90 and y + h <= 114  # the number
    (f,) = segment_cell(noted_cell(), SegmentOptions())
    assert f.alternatives == [] and len(f.unsegmented) == 1  # segmented only when read
    assert [a.bbox[1] > 80 for a in alternatives_of(f)] == [True]
    assert f.unsegmented == [] and alternatives_of(f) is f.alternatives  # once


@pytest.mark.parametrize(("reads", "text", "review"), [("15", "15", False), ("", "", True)])
def test_a_cell_whose_likeliest_group_reads_as_nothing_is_read_from_another(
        monkeypatch: pytest.MonkeyPatch, reads: str, text: str, review: bool) -> None:
    def per_digit(found: list[Any], classifier: Any, opts: Any) -> list[Field]:
        return [Field(n, f.bbox, "15" if f.bbox[1] > 80 else "", 0.99, False, [], f.name)
                for n, f in enumerate(found, start=1)]

    class NoteBlind(FixedReader):  # reads no digit in the note, ``reads`` in anything lower
        def read_detailed(self, crops: list[np.ndarray],
                          polarity: str = "auto") -> list[StringReading]:
            return [StringReading("" if c.shape[0] > 40 else self.text, self.confidence)
                    for c in crops]

    monkeypatch.setattr(fields, "classify_fields", per_digit)
    reader = AutoReader()
    reader.digits, reader.strings = object(), NoteBlind(reads)  # type: ignore[assignment]
    (f,) = read_combined(noted_cell(), reader, pipeline.ReadOptions(layout="string",
                                                                    min_confidence=0.9))
    assert (f.text, f.needs_review) == (text, review)
    assert (f.bbox[1] > 80) == bool(reads)  # the number's box when it was read from there
    if reads:
        assert f.confidence == pytest.approx(0.96)
        assert [f.bbox[1] <= g.bbox[1] for g in f.glyphs] == [True] * len(f.glyphs)


@pytest.mark.parametrize(("alt_conf", "text"), [(0.96, "15"), (0.5, "4")])
def test_a_doubtful_reading_gives_way_only_to_a_sure_one_from_another_group(
        monkeypatch: pytest.MonkeyPatch, alt_conf: float, text: str) -> None:
    """The likeliest group read as 4 at 0.6 (flagged): another group read as 15, confirmed
    per digit and sure, is the cell's writing; read as unsurely, the first reading stays."""
    def per_digit(found: list[Any], classifier: Any, opts: Any) -> list[Field]:
        return [Field(n, f.bbox, "15" if f.bbox[1] > 80 else "4", 0.99, False, [], f.name)
                for n, f in enumerate(found, start=1)]

    class TwoGroups(FixedReader):
        def read_detailed(self, crops: list[np.ndarray],
                          polarity: str = "auto") -> list[StringReading]:
            return [StringReading("4", 0.6) if c.shape[0] > 40 else StringReading("15", alt_conf)
                    for c in crops]

    monkeypatch.setattr(fields, "classify_fields", per_digit)
    reader = AutoReader()
    reader.digits, reader.strings = object(), TwoGroups()  # type: ignore[assignment]
    (f,) = read_combined(noted_cell(), reader, pipeline.ReadOptions(layout="string",
                                                                    min_confidence=0.9))
    assert (f.text, f.needs_review) == (text, text == "4")


def test_a_rule_broken_into_pieces_is_not_writing() -> None:
    """A page's edge or faint column rule that the scan broke into pieces, too short and too
    far apart to be a rule each, beside the number: taken out before the writing is grouped."""
    img = np.full((182, 135), 235, np.uint8)
    for y0, y1 in ((6, 57), (77, 92), (118, 157), (174, 182)):  # as a register scan has it
        img[y0:y1, 70:73] = 40  # the broken line, close enough to join the digits' group
    cv2.putText(img, "10", (86, 110), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.1, 30, 2)
    cell = clean_cell(img)
    assert cell.box is not None
    x, y, _w, h = cell.box
    assert x >= 80 and y >= 80 and h <= 40, cell.box  # the number alone
    ones = np.full((182, 135), 235, np.uint8)
    ones[60:90, 66:69] = 40  # a 1 above a 1, in one column: not across the crop
    ones[100:130, 66:69] = 40
    got = clean_cell(ones).box
    assert got is not None and got[1] <= 62 and got[1] + got[3] >= 128
