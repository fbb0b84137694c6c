"""Tables: each boxed field's row and column, printed columns told from handwriting."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from click.testing import CliRunner
from read_helpers import font_model, put

from digitocr.cli import cli
from digitocr.segment import RULES, SegmentOptions, segment_boxes

__all__ = ["font_model"]  # a fixture


def table_page(rows: int = 4) -> np.ndarray:
    """A ruled table: a printed row number (one font, one size), then a handwritten-like
    number whose size and height in its box change from row to row."""
    img = np.full((120 + 80 * rows, 700), 255, np.uint8)
    xs = (60, 160, 460)
    for r in range(rows + 1):
        cv2.line(img, (xs[0], 60 + 80 * r), (xs[-1], 60 + 80 * r), 0, 3)
    for x in xs:
        cv2.line(img, (x, 60), (x, 60 + 80 * rows), 0, 3)
    for r in range(rows):
        y = 60 + 80 * r
        cv2.putText(img, str(r + 1), (95, y + 58), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 2)
        put(img, "73"[: 1 + r % 2] + "5", 200 + 9 * r, y + 6 + 4 * (r % 3),
            scale=1.5 + 0.15 * (r % 3), thick=4)
    return img


def test_table_cells_get_row_and_col_and_printed_columns_are_printed() -> None:
    fields = segment_boxes(table_page(), SegmentOptions())
    got = sorted(((f.row, f.col, f.style) for f in fields), key=lambda t: (t[0] or 0, t[1] or 0))
    assert got == [(r, c, "printed" if c == 1 else "handwritten")
                   for r in (1, 2, 3, 4) for c in (1, 2)]
    assert RULES.column_rows <= 4  # enough rows to judge a column


def test_too_few_rows_to_judge_a_column_stay_handwritten() -> None:
    fields = segment_boxes(table_page(rows=2), SegmentOptions())
    assert {f.style for f in fields} == {"handwritten"}
    assert sorted((f.row, f.col) for f in fields) == [(1, 1), (1, 2), (2, 1), (2, 2)]


def test_a_lone_box_has_no_row_or_col() -> None:
    img = np.full((200, 400), 255, np.uint8)
    cv2.rectangle(img, (50, 50), (300, 150), 0, 3)
    put(img, "42", 90, 70, scale=1.6)
    (f,) = segment_boxes(img, SegmentOptions())
    assert (f.row, f.col, f.style) == (None, None, "handwritten")


def test_read_leaves_printed_columns_out_unless_asked(font_model: str, tmp_path: Path) -> None:
    page = tmp_path / "table.png"
    cv2.imwrite(str(page), table_page())
    run = CliRunner().invoke
    plain = run(cli, ["read", str(page), "--model", font_model, "--layout", "boxes",
                      "--format", "jsonl"])
    assert plain.exit_code == 0, plain.output
    (rec,) = [json.loads(line) for line in plain.stdout.splitlines()]
    assert [(f["row"], f["col"], f["style"]) for f in rec["fields"]] == [
        (r, 2, "handwritten") for r in (1, 2, 3, 4)]
    both = run(cli, ["read", str(page), "--model", font_model, "--layout", "boxes",
                     "--include-printed", "--format", "csv"])
    assert both.exit_code == 0, both.output
    rows = [line.split(",") for line in both.stdout.splitlines()[1:]]
    assert [(r[14], r[15], r[13]) for r in rows] == [
        (str(r), str(c), "printed" if c == 1 else "handwritten")
        for r in (1, 2, 3, 4) for c in (1, 2)]
