#!/usr/bin/env python
"""Generated tally tables: a tuning aid for ruled tables, never a substitute for real pages.

    DIGITOCR_DATA=../shared/data python bench/tally_forms.py [--pages 10] [--dpi 100] [--seed 1]

Each page is a ruled table like an election tally form: a printed row number, a printed name,
then ``COLUMNS`` numbers, each written into a three-cell comb whose dividers are printed
faint and thin; some cells are crossed out with an ``X`` (nothing is right there but a flag
or no digits), some left blank, some numbers written small across the comb, ignoring its
cells (``IGNORED``). Handwriting is MNIST *test* digits
(``samples/make_samples.py``'s pen, skew, light and noise), printed at ``--dpi`` (75-150 is
what such forms are scanned at). Read with the defaults (``--model auto``, ``--layout auto``);
each truth comb is matched to the field over it. Printed: combs found, exact, wrong among the
unflagged, crossed-out cells read as a sure number, and printed row numbers returned as
fields (they are not handwriting).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "samples"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_samples import PENS, degrade, load_digits, mm, paper, save, text, write_string
from score import iou

REPO = Path(__file__).resolve().parent.parent

ROWS = 12
COLUMNS = 4
#: share of number cells crossed out, and left blank
CROSSED = 0.1
BLANK = 0.05
#: share of numbers written small across the comb from its left, ignoring its cells
IGNORED = 0.06


def make_page(digits: Any, rng: np.random.Generator, dpi: int) -> tuple[np.ndarray, list[dict]]:
    """One tally table (RGB) and its truth: one entry per comb (and per printed row number)."""
    W, H = mm(297, dpi), mm(210, dpi)
    img = paper(H, W, rng)
    x0, y0 = mm(15, dpi), mm(25, dpi)
    row_h = mm(11, dpi)
    cell_w = mm(9, dpi)
    widths = [mm(14, dpi), mm(60, dpi)] + [3 * cell_w + mm(4, dpi)] * COLUMNS
    xs = [x0]
    for w in widths:
        xs.append(xs[-1] + w)
    dark, faint = (40, 40, 40), (150, 150, 150)
    thick = max(1, round(2 * dpi / 300))
    text(img, "TALLY SHEET", x0, y0 - mm(8, dpi), 1.4, dpi)
    truth: list[dict] = []
    pen = PENS[int(rng.integers(len(PENS)))]
    for r in range(ROWS + 1):
        y = y0 + r * row_h
        cv2.line(img, (xs[0], y), (xs[-1], y), dark, thick)
    for x in xs:
        cv2.line(img, (x, y0), (x, y0 + ROWS * row_h), dark, thick)
    for r in range(ROWS):
        y = y0 + r * row_h
        text(img, str(r + 1), xs[0] + mm(3, dpi), y + row_h - mm(3, dpi), 0.9, dpi)
        truth.append({"kind": "printed", "bbox": [xs[0], y, widths[0], row_h]})
        text(img, f"Candidate {chr(65 + r % 26)}", xs[1] + mm(2, dpi), y + row_h - mm(3, dpi),
             0.9, dpi)
        for c in range(COLUMNS):
            cx = xs[2 + c] + mm(2, dpi)
            for k in (1, 2):  # the comb's dividers: faint and thin, broken here and there
                x = cx + k * cell_w
                for yy in range(y + 2, y + row_h - 2, max(3, mm(1.5, dpi))):
                    if rng.random() > 0.15:
                        cv2.line(img, (x, yy), (x, min(y + row_h - 2, yy + mm(1.2, dpi))),
                                 faint, 1)
            box = [cx, y, 3 * cell_w, row_h]
            roll = rng.random()
            if roll < CROSSED:
                m = mm(1.5, dpi)
                t = max(1, round(3 * dpi / 300))
                cv2.line(img, (cx + m, y + m), (cx + 3 * cell_w - m, y + row_h - m), pen, t)
                cv2.line(img, (cx + 3 * cell_w - m, y + m), (cx + m, y + row_h - m), pen, t)
                truth.append({"kind": "crossed", "bbox": box, "text": ""})
                continue
            if roll < CROSSED + BLANK:
                truth.append({"kind": "blank", "bbox": box, "text": ""})
                continue
            n = int(rng.integers(1, 4))
            s = str(int(rng.integers(10 ** (n - 1) if n > 1 else 0, 10**n)))
            if rng.random() < IGNORED:  # small, left to right across the cells
                s = str(int(rng.integers(10, 1000)))
                write_string(img, digits, rng, s, cx + mm(1.5, dpi), y + row_h // 2,
                             int(row_h * 0.45), pen, cx + 3 * cell_w - mm(1, dpi))
                truth.append({"kind": "number", "bbox": box, "text": s})
                continue
            height = int(row_h * 0.7)
            start = cx + (3 - len(s)) * cell_w + mm(1.5, dpi)  # right-aligned, one a cell
            for i, ch in enumerate(s):
                write_string(img, digits, rng, ch, start + i * cell_w, y + row_h // 2, height,
                             pen, start + (i + 1) * cell_w)
            truth.append({"kind": "number", "bbox": box, "text": s})
    return img, truth


def main() -> int:
    from digitocr.pipeline import read

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=10)
    ap.add_argument("--dpi", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--model", default="auto")
    ap.add_argument("--show", type=int, default=0)
    args = ap.parse_args()
    data = os.environ.get("DIGITOCR_DATA")
    folder = REPO / "bench" / "out" / f"tally-{args.pages}-{args.seed}-{args.dpi}"
    folder.mkdir(parents=True, exist_ok=True)
    digits = load_digits(data)
    rng = np.random.default_rng(args.seed)
    pages = []
    for i in range(args.pages):
        img, truth = make_page(digits, rng, args.dpi)
        img = degrade(img, rng, truth, strength=0.5)
        path = folder / f"tally-{i:03d}.jpg"
        save(img, path, quality=85)
        pages.append((str(path), truth))
    counts = {"numbers": 0, "found": 0, "exact": 0, "unflagged": 0, "unflagged_wrong": 0,
              "crossed": 0, "crossed_read_sure": 0, "printed_rows": 0, "printed_read": 0}
    misses: list[str] = []
    for (path, truth), page in zip(pages, read([p for p, _ in pages], args.model), strict=True):
        for t in truth:
            over = [f for f in page.fields if iou(list(f.bbox), t["bbox"]) > 0.3]
            f = max(over, key=lambda f: iou(list(f.bbox), t["bbox"])) if over else None
            if t["kind"] == "printed":
                counts["printed_rows"] += 1
                counts["printed_read"] += f is not None and bool(f.text)
                continue
            if t["kind"] == "crossed":
                counts["crossed"] += 1
                counts["crossed_read_sure"] += f is not None and bool(f.text) and not f.needs_review
                continue
            if t["kind"] != "number":
                continue
            counts["numbers"] += 1
            got = f.text if f is not None else None
            counts["found"] += f is not None
            counts["exact"] += got == t["text"]
            if f is not None and not f.needs_review:
                counts["unflagged"] += 1
                counts["unflagged_wrong"] += got != t["text"]
            if got != t["text"]:
                misses.append(f"{Path(path).name}: read {got!r}, truth {t['text']!r}")
    n = max(1, counts["numbers"])
    out = {"pages": args.pages, "dpi": args.dpi, **counts,
           "found_share": round(counts["found"] / n, 4),
           "exact_share": round(counts["exact"] / n, 4),
           "unflagged_wrong_share": round(counts["unflagged_wrong"] / max(1, counts["unflagged"]),
                                          4)}
    print(json.dumps(out))
    for m in misses[: args.show]:
        print("  miss", m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
