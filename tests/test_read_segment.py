"""Segmenters: boxes and combs, free strings, separators, touching digits, deskew."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
from read_helpers import form_page, glyph, put, string_image

from digitocr.segment import (
    RULES,
    SegmentOptions,
    binarise,
    estimate_skew,
    ink_map,
    segment_auto,
    segment_boxes,
    segment_digit,
    segment_string,
)

OPTS = SegmentOptions()


def texts_shape(fields: list) -> list[tuple[str, int]]:
    return [(f.kind, len(f.segments)) for f in fields]


def test_boxes_and_combs_in_reading_order() -> None:
    fields = segment_boxes(form_page(), OPTS)
    assert texts_shape(fields) == [("comb", 5), ("box", 3), ("comb", 2)]
    assert fields[0].bbox[:2] == (103, 103)
    # one glyph per comb cell, inside the cell
    xs = [s.options[0][0].bbox[0] for s in fields[0].segments]
    assert all(103 + 80 * i <= x < 103 + 80 * (i + 1) for i, x in enumerate(xs))


def test_empty_comb_cells_are_skipped() -> None:
    fields = segment_boxes(form_page(account="12"), OPTS)
    assert texts_shape(fields)[0] == ("comb", 2)


def test_stroke_across_rule_is_kept() -> None:
    img = np.full((300, 400), 255, np.uint8)
    cv2.rectangle(img, (50, 50), (350, 200), 0, 3)
    cv2.line(img, (200, 80), (200, 240), 0, 6)  # a stroke that crosses the bottom rule
    fields = segment_boxes(img, OPTS)
    (g,) = [s.options[0][0] for s in fields[0].segments]
    assert g.bbox[1] + g.bbox[3] > 230  # the part below the rule is still attached


def test_auto_without_boxes_reads_strings() -> None:
    img = np.full((300, 700), 255, np.uint8)
    put(img, "123", 40, 40)
    put(img, "45", 40, 180)
    fields = segment_auto(img, OPTS)
    assert [len(f.segments) for f in fields] == [3, 2]
    assert fields[0].bbox[1] < fields[1].bbox[1]


def test_string_separators_are_not_digits() -> None:
    (f,) = segment_string(string_image("12.5-0"), OPTS)
    kinds = [s.options[0][0].kind for s in f.segments]
    labels = [s.options[0][0].label for s in f.segments if s.options[0][0].kind != "digit"]
    assert kinds.count("digit") == 4 and labels == [".", "-"]


def test_touching_digits_get_candidate_cuts() -> None:
    (f,) = segment_string(string_image("68", gap=-4), OPTS)
    assert len(f.segments) == 1
    seg = f.segments[0]
    assert len(seg.options[0]) == 1 and any(len(o) == 2 for o in seg.options[1:])


def test_underline_removed_in_string_layout() -> None:
    img = string_image("7")
    cv2.line(img, (0, 100), (img.shape[1] - 1, 100), 0, 3)
    (f,) = segment_string(img, OPTS)
    (g,) = f.segments[0].options[0]
    assert g.bbox[3] < 80


def test_digit_layout_one_glyph_and_bright_polarity() -> None:
    img = 255 - np.pad(glyph("4"), 20, constant_values=255)  # bright ink on black
    (f,) = segment_digit(img, OPTS)
    assert len(f.segments) == 1 and f.bbox == (0, 0, img.shape[1], img.shape[0])


@pytest.mark.parametrize("angle", [-2.0, 1.5])
def test_deskew_estimate(angle: float) -> None:
    page = form_page()
    h, w = page.shape
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    rotated = cv2.warpAffine(page, m, (w, h), borderValue=250)
    est = estimate_skew(binarise(ink_map(rotated)).mask)
    assert abs(est - angle) < 0.3
    fields = segment_boxes(rotated, OPTS)
    assert texts_shape(fields) == [("comb", 5), ("box", 3), ("comb", 2)]


def test_uneven_light_binarisation() -> None:
    img = form_page().astype(np.float32)
    img *= np.linspace(0.45, 1.0, img.shape[1])[None, :]
    fields = segment_boxes(img.astype(np.uint8), OPTS)
    assert texts_shape(fields) == [("comb", 5), ("box", 3), ("comb", 2)]


def test_comb_cell_with_a_broken_stroke_is_not_empty() -> None:
    img = np.full((300, 500), 255, np.uint8)
    for i in range(3):
        cv2.rectangle(img, (50 + 100 * i, 50), (150 + 100 * i, 200), 0, 3)
    # a faint 1 broken in three short pieces, each under a third of the cell's height
    for y0 in (70, 115, 160):
        cv2.line(img, (200, y0), (200, y0 + 30), 0, 4)
    cv2.line(img, (280, 70), (300, 75), 0, 4)  # a real speck-sized mark in the third cell
    (comb,) = segment_boxes(img, OPTS)
    assert comb.kind == "comb" and len(comb.segments) == 1
    (g,) = comb.segments[0].options[0]
    assert g.bbox[3] > 100  # all three pieces, one glyph


def test_leaning_digit_over_its_neighbour_keeps_both_readings() -> None:
    img = np.full((160, 240), 255, np.uint8)
    cv2.line(img, (88, 78), (118, 18), 0, 5)  # a 1 leaning right, over the next digit's span
    cv2.circle(img, (100, 110), 22, 0, 5)  # a 0 whose x-range holds all of the 1's
    (f,) = segment_string(img, OPTS)
    assert len(f.segments) == 1
    options = f.segments[0].options
    assert len(options[0]) == 1 and [len(o) for o in options].count(2) >= 1


def test_a_small_digit_written_flat_is_not_a_dash() -> None:
    img = np.full((140, 360), 255, np.uint8)
    put(img, "0", 20, 30)
    five = glyph("5", scale=2.2, thick=7)
    flat = cv2.resize(five, (five.shape[1], five.shape[0] * 9 // 20), interpolation=cv2.INTER_AREA)
    region = img[60 : 60 + flat.shape[0], 110 : 110 + flat.shape[1]]
    np.minimum(region, flat, out=region)
    cv2.line(img, (200, 75), (245, 80), 0, 5)  # a real dash, slightly tilted
    put(img, "9", 270, 30)
    (f,) = segment_string(img, OPTS)
    kinds = [[g.kind for g in s.options[0]] for s in f.segments]
    assert kinds == [["digit"], ["digit"], ["separator"], ["digit"]]


def test_cutting_a_glyph_of_one_digits_width_costs_more() -> None:
    img = np.full((160, 260), 255, np.uint8)
    cv2.ellipse(img, (70, 80), (27, 40), 0, 0, 360, 0, 5)  # a round 0, 0.7 heights wide
    cv2.ellipse(img, (190, 80), (40, 40), 0, 0, 360, 0, 5)  # a wide 0, as wide as it is tall
    (f,) = segment_string(img, OPTS)
    assert [len(s.options[0]) for s in f.segments] == [1, 1]
    narrow, wide = f.segments
    assert len(narrow.options) == 1  # too narrow for an even cut, and a ring has no neck
    # the wide 0 may be cut (two digits touching look like this too), but each cut pays the
    # prior for a glyph no wider than one digit, on top of the ink it crosses
    assert len(wide.options) > 1
    assert min(wide.penalties[1:]) >= (RULES.wide - 82 / 85) * RULES.narrow_cut


def test_a_fives_bar_written_apart_stays_with_its_digit() -> None:
    img = np.full((160, 300), 255, np.uint8)
    put(img, "0", 20, 30)
    cv2.line(img, (130, 36), (130, 80), 0, 6)  # a 5 in two strokes: the body ...
    cv2.ellipse(img, (140, 100), (14, 22), 0, -150, 150, 0, 6)
    cv2.line(img, (163, 36), (190, 36), 0, 6)  # ... and its bar, lifted off beside it
    cv2.line(img, (220, 85), (260, 85), 0, 6)  # a dash at mid-height stays a dash
    (f,) = segment_string(img, OPTS)
    kinds = [[g.kind for g in s.options[0]] for s in f.segments]
    assert kinds == [["digit"], ["digit"], ["separator"]]
    five = f.segments[1].options[0][0]
    assert five.bbox[0] <= 127 and five.bbox[0] + five.bbox[2] >= 190


def test_a_one_touching_its_neighbour_may_be_cut_at_the_neck() -> None:
    img = np.full((160, 200), 255, np.uint8)
    cv2.line(img, (60, 40), (60, 120), 0, 6)  # a 1 ...
    cv2.ellipse(img, (92, 80), (20, 38), 0, 0, 360, 0, 6)  # ... a narrow 0 beside it ...
    cv2.line(img, (60, 80), (72, 80), 0, 2)  # ... and a thin bridge of ink between them
    (f,) = segment_string(img, OPTS)
    (seg,) = f.segments
    assert [len(o) for o in seg.options] == [1, 2]  # too narrow for an even cut: the neck only
    one, zero = seg.options[1]
    assert one.bbox[2] < 20 and zero.bbox[2] > 35 and seg.penalties[1] >= 0.15


def test_two_ones_leaning_together_may_be_cut_where_they_touch() -> None:
    img = np.full((160, 200), 255, np.uint8)
    cv2.line(img, (70, 40), (84, 120), 0, 9)  # a 1 ...
    cv2.line(img, (112, 40), (88, 120), 0, 9)  # ... leaning into another near its foot
    cv2.line(img, (150, 45), (148, 120), 0, 9)  # a third 1 apart, for the digit height
    (f,) = segment_string(img, OPTS)
    pair = f.segments[0]
    assert [len(o) for o in pair.options] == [1, 2]
    left, right = pair.options[1]
    assert (left.bbox[0], left.bbox[2], right.bbox[0], right.bbox[2]) == (65, 22, 87, 31)
    assert [len(o) for o in f.segments[1].options] == [1]  # a lone 1 is never cut


def test_two_dots_one_above_the_other_stay_dots_not_a_one() -> None:
    img = np.full((160, 240), 255, np.uint8)
    cv2.ellipse(img, (70, 80), (22, 38), 0, 0, 360, 0, 7)  # a 0 ...
    cv2.line(img, (140, 42), (140, 118), 0, 7)  # ... a 1 ...
    cv2.circle(img, (172, 70), 5, 0, -1)  # ... and a colon's dots, a stray mark
    cv2.circle(img, (173, 96), 5, 0, -1)
    (f,) = segment_string(img, OPTS)
    kinds = [[g.kind for g in o] for s in f.segments for o in s.options]
    assert kinds == [["digit"], ["digit"], ["separator"], ["separator"]]


def test_a_digit_lying_on_its_side_is_cut_only_at_a_high_price() -> None:
    img = np.full((160, 620), 255, np.uint8)
    cv2.line(img, (40, 40), (40, 120), 0, 6)  # a 1, for the digit height
    cv2.ellipse(img, (120, 92), (38, 24), 0, 0, 360, 0, 6)  # a 0 lying on its side: low
    cv2.ellipse(img, (240, 80), (38, 38), 0, 0, 360, 0, 6)  # a round 0 as wide: full height
    cv2.ellipse(img, (380, 92), (34, 24), 0, 0, 360, 0, 6)  # two low 0s touching: wide
    cv2.ellipse(img, (446, 92), (34, 24), 0, 0, 360, 0, 6)
    cv2.line(img, (560, 40), (560, 120), 0, 6)
    (f,) = segment_string(img, OPTS)
    lying, upright, pair = f.segments[1:4]
    assert [g.bbox[3] for g in lying.options[0]] == [55]
    # every cut of the lying 0 gives two digits of 55 px in a line of 87 px digits
    assert len(lying.options) > 1 and min(lying.penalties[1:]) > 5.0
    assert len(upright.options) > 1 and max(upright.penalties[1:]) < 1.0
    assert len(pair.options) > 1 and min(pair.penalties[1:]) < 1.0


def test_a_low_stroke_beside_a_tall_one_may_be_one_digit() -> None:
    img = np.full((160, 360), 255, np.uint8)
    cv2.line(img, (40, 40), (40, 120), 0, 6)  # a 1, for the digit height
    cv2.line(img, (130, 40), (95, 82), 0, 6)  # a 4 in two strokes: a low one down and across
    cv2.line(img, (95, 82), (150, 82), 0, 6)
    cv2.line(img, (168, 50), (160, 120), 0, 6)  # ... and a tall one beside it, not touching
    cv2.line(img, (260, 40), (260, 120), 0, 6)
    (f,) = segment_string(img, OPTS)
    assert len(f.segments) == 3  # together 0.92 digit heights wide: offered as one glyph too
    four = f.segments[1]
    assert [[g.bbox for g in o] for o in four.options] == [
        [(92, 37, 80, 87)], [(92, 37, 62, 49), (157, 47, 15, 77)]]


def test_a_table_row_is_cells_and_combs_not_one_comb() -> None:
    # a tally table's row: a printed row number's cell, a wide cell with a written number,
    # then a three-cell comb
    img = np.full((300, 900), 255, np.uint8)
    xs = [40, 110, 460, 530, 600, 670]
    for x0, x1 in itertools.pairwise(xs):
        cv2.rectangle(img, (x0, 100), (x1, 190), 0, 3)
    put(img, "7", 62, 112, scale=1.6)
    put(img, "250", 150, 112, scale=1.6)
    for i, ch in enumerate("318"):
        put(img, ch, 482 + 70 * i, 112, scale=1.6)
    fields = segment_boxes(img, OPTS)
    assert texts_shape(fields) == [("box", 1), ("box", 3), ("comb", 3)]
    assert all(abs(f.bbox[0] - x) <= 4 for f, x in zip(fields, (40, 110, 460), strict=True))
    # the rule that says so: the wide cell is over comb_cell_aspect times as wide as tall
    assert (460 - 110) / 90 > RULES.comb_cell_aspect > 70 / 90


def light_comb() -> np.ndarray:
    """A box 300 x 100 px cut into three cells by thin grey dashed dividers, which rule finding
    does not take for rules."""
    img = np.full((300, 700), 255, np.uint8)
    cv2.rectangle(img, (100, 100), (400, 200), 0, 3)
    for x in (200, 300):
        for y in range(104, 197, 9):
            cv2.line(img, (x, y), (x, min(196, y + 6)), 120, 1)
    return img


def test_a_comb_with_faint_broken_dividers_is_a_comb() -> None:
    img = light_comb()
    for i, ch in enumerate("318"):
        put(img, ch, 125 + 100 * i, 115, scale=3.0, thick=6)
    (f,) = segment_boxes(img, OPTS)
    assert (f.kind, len(f.segments)) == ("comb", 3)
    # a divider lost to the scan: the wide cell is two of the comb's pitch
    img2 = img.copy()
    img2[103:198, 298:303] = 255
    (f,) = segment_boxes(img2, OPTS)
    assert (f.kind, len(f.segments)) == ("comb", 3)


def test_lines_inside_a_box_that_make_no_comb_flag_it() -> None:
    img = np.full((300, 700), 255, np.uint8)
    cv2.rectangle(img, (100, 100), (400, 200), 0, 3)
    for y in range(104, 197, 9):  # one faint divider 0.4 in: cells of no common pitch
        cv2.line(img, (221, y), (221, min(196, y + 6)), 120, 1)
    for i, ch in enumerate("31"):
        put(img, ch, 130 + 150 * i, 115, scale=3.0, thick=6)
    (f,) = segment_boxes(img, OPTS)
    assert (f.kind, f.lines) == ("box", True)
    plain = np.full((300, 700), 255, np.uint8)
    cv2.rectangle(plain, (100, 100), (400, 200), 0, 3)
    for i, ch in enumerate("31"):
        put(plain, ch, 130 + 150 * i, 115, scale=3.0, thick=6)
    (f,) = segment_boxes(plain, OPTS)
    assert (f.kind, f.lines) == ("box", False)


def _tally_column(rows: int, faint: int = 150) -> np.ndarray:
    """A dark-ruled one-column table whose boxes each hold a light three-cell comb."""
    img = np.full((80 + 60 * rows, 400), 255, np.uint8)
    for r in range(rows + 1):
        cv2.line(img, (100, 40 + 60 * r), (280, 40 + 60 * r), 30, 2)
    for x in (100, 280):
        cv2.line(img, (x, 40), (x, 40 + 60 * rows), 30, 2)
    for r in range(rows):
        for x in (160, 220):
            cv2.line(img, (x, 43 + 60 * r), (x, 37 + 60 * (r + 1)), faint, 1)
    return img


def test_a_divider_hidden_in_one_row_is_found_from_its_column() -> None:
    img = _tally_column(5)
    for r in range(5):
        put(img, "4", 232, 48 + 60 * r, scale=1.4, thick=3)
    # row 2's dividers all but gone (a scan's dropout): its column still has them
    img[163:218, 157:163] = 255
    img[163:218, 217:223] = 255
    fields = segment_boxes(img, OPTS)
    assert [(f.kind, len(f.segments)) for f in fields] == [("comb", 1)] * 5
    assert RULES.column_rows <= 5


def test_a_light_divider_taken_for_a_wall_does_not_cut_the_box() -> None:
    # the right divider printed dark enough in one row to be found as a rule: that row's
    # box comes in two cells, 120 and 60 wide, and would be read as two fields
    img = _tally_column(4)
    img[43:97, 220] = 120
    for r in range(4):
        for i, ch in enumerate("27"):
            put(img, ch, 172 + 60 * i, 48 + 60 * r, scale=1.4, thick=3)
    fields = segment_boxes(img, OPTS)
    assert [(f.kind, len(f.segments)) for f in fields] == [("comb", 2)] * 4
    # the rule that joins them: the wall is under wall_faint of the walls beside it
    assert RULES.wall_faint > (255 - 120) / (255 - 30)


def test_a_column_of_ones_is_no_divider() -> None:
    # every row's middle cell holds a thin 1 at the same place: a narrow dark line in most
    # rows that cuts no comb of one pitch; the column's real dividers win
    from digitocr.segment.layouts import even_dividers

    cell = (100, 40, 180, 60)
    spans = [(159, 162), (190, 192), (219, 222)]
    kept, split = even_dividers(cell, spans, RULES)
    assert kept == [(159, 162), (219, 222)]
    assert split is not None and len(split) == 3


def test_a_number_written_small_across_a_light_comb_is_read_as_a_string() -> None:
    img = light_comb()
    put(img, "318", 140, 125, gap=4, scale=2.2, thick=5)  # across the first divider
    (f,) = segment_boxes(img, OPTS)
    assert (f.kind, len(f.segments)) == ("box", 3)
    # written a digit a cell, the same comb is a comb
    img2 = light_comb()
    for i, ch in enumerate("318"):
        put(img2, ch, 130 + 100 * i, 125, scale=2.2, thick=5)
    (f,) = segment_boxes(img2, OPTS)
    assert (f.kind, len(f.segments)) == ("comb", 3)


def test_a_combs_heavy_frame_does_not_make_its_dividers_faint() -> None:
    # a date comb: heavy frame, light dividers, the first divider lost to the scan (its first
    # cell three wide): its dividers are its walls all the same, judged against each other
    from digitocr.segment import find_rules, prepare
    from digitocr.segment.lines import merge_faint_walls

    img = np.full((200, 600), 255, np.uint8)
    cv2.rectangle(img, (100, 60), (420, 120), 0, 5)
    for x in (220, 260, 300, 340, 380):
        cv2.line(img, (x, 60), (x, 120), 170, 2)
    p = prepare(img, OPTS)
    found = find_rules(p.mask, RULES)
    assert len(found.cells) == 6
    assert merge_faint_walls(found.cells, p.ink, found.thickness) == sorted(found.cells)
