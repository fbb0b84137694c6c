#!/usr/bin/env python
"""Whole cheques in five national layouts, with real handwritten amounts: where
``--layout cheque`` finds the amount and the date, and what it reads. A tuning aid (judge on
the real IDRBT scans: ``bench/real.py``, ``bench/cheque_turned.py``).

    DIGITOCR_DATA=../shared/data python bench/cheque_layouts.py [--per-layout 20] [--dpi 200]

Layouts (sizes and places as the printed forms have them, roughly):

- ``india``: CTS-2010, 202 x 92 mm, the date a comb of 8 cells top right, ``Rs.`` and the
  amount box at the right below the lines of the amount in words;
- ``uk``: 160 x 76 mm, the date comb top right, ``GBP`` and the box at the right;
- ``us``: 152 x 70 mm, ``Date`` on a printed line top right (written in digits), ``$`` and the
  box at the right of the payee line;
- ``euro``: 175 x 80 mm, ``EUR`` and the box top right, ``Datum`` on a line at the bottom;
- ``uruguay``: 170 x 75 mm, ``U$S`` and the box top right, no date in digits.

Each amount is an ORAND-CAR *test* crop (real handwriting; the string reader trained on the
train split), its paper lifted to white and laid over the box's inside; dates are MNIST test
digits. Each cheque gets the guilloche background, a skew and noise (``make_samples.degrade``)
and is saved as JPEG. Per layout: the amount located (a field named ``amount`` with at least
``INSIDE`` of it in the printed box), read exactly, flagged, and wrong while not flagged; the
date likewise where the layout prints a comb (a date on a line is not found: the figure says
how often something else was taken for it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "samples"))

INSIDE = 0.8
#: name: (width, height in mm; amount box x, y, w, h in mm; currency; date: "comb" cells
#: box x, y, w, h, or "line" x, y, or None)
LAYOUTS: dict[str, dict[str, Any]] = {
    "india": {"size": (202, 92), "box": (150, 40, 46, 11), "sign": "Rs.",
              "date": ("comb", (148, 7, 48, 7))},
    "uk": {"size": (160, 76), "box": (115, 34, 40, 11), "sign": "GBP",
           "date": ("comb", (110, 8, 45, 7))},
    "us": {"size": (152, 70), "box": (112, 22, 34, 10), "sign": "$",
           "date": ("line", (92, 12))},
    "euro": {"size": (175, 80), "box": (125, 10, 44, 11), "sign": "EUR",
             "date": ("line", (20, 70))},
    "uruguay": {"size": (170, 75), "box": (120, 9, 44, 11), "sign": "U$S", "date": None},
}


def inside(found: list[int] | tuple[int, ...], truth: list[int]) -> float:
    fx, fy, fw, fh = found
    tx, ty, tw, th = truth
    iw = max(0, min(fx + fw, tx + tw) - max(fx, tx))
    ih = max(0, min(fy + fh, ty + th) - max(fy, ty))
    return iw * ih / max(1, fw * fh)


def paste_amount(img: np.ndarray, crop: np.ndarray, box: tuple[int, int, int, int],
                 rng: np.random.Generator) -> None:
    """Lay a real amount crop (its paper lifted to white) over the box's inside, darker wins."""
    x, y, w, h = box
    paper = float(np.percentile(crop, 90)) or 255.0
    ink = np.clip(crop.astype(np.float32) * (255.0 / paper), 0, 255)
    s = min(h * rng.uniform(0.7, 0.9) / ink.shape[0], (w * 0.92) / ink.shape[1])
    ink = cv2.resize(ink, (max(1, round(ink.shape[1] * s)), max(1, round(ink.shape[0] * s))),
                     interpolation=cv2.INTER_AREA)
    ih, iw = ink.shape
    ox = x + int(rng.integers(2, max(3, w - iw - 1)))
    oy = y + (h - ih) // 2
    region = img[oy : oy + ih, ox : ox + iw].astype(np.float32)
    img[oy : oy + ih, ox : ox + iw] = np.minimum(region, ink[..., None]).astype(np.uint8)


def make(layout: str, amount: tuple[np.ndarray, str], digits: Any, rng: np.random.Generator,
         dpi: int) -> tuple[np.ndarray, dict[str, Any]]:
    import make_samples as ms

    spec = LAYOUTS[layout]
    W, H = (ms.mm(v, dpi) for v in spec["size"])
    img = ms.paper(H, W, rng) * np.asarray([0.97, 1.0, 0.98], np.float32)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    period = ms.mm(float(rng.uniform(2, 4)), dpi)
    wave = np.sin((xx + 6 * period * np.sin(yy / (4 * period))) / period * 2 * np.pi)
    img = (img - (wave[..., None] > 0.85) * 24.0).astype(np.uint8)
    ms.text(img, "BANK OF " + layout.upper(), ms.mm(8, dpi), ms.mm(10, dpi), 1.0, dpi,
            (30, 50, 110))
    for k, y_mm in enumerate((28, 40)):  # payee line and the amount in words
        ms.text(img, ("PAY" if k == 0 else "THE SUM OF"), ms.mm(8, dpi), ms.mm(y_mm - 1, dpi),
                0.6, dpi)
        cv2.line(img, (ms.mm(30, dpi), ms.mm(y_mm, dpi)),
                 (ms.mm(spec["box"][0] - 8, dpi), ms.mm(y_mm, dpi)), (50, 50, 50), 2)
    ms.text(img, "0012 3456 7890", ms.mm(20, dpi), H - ms.mm(5, dpi), 0.9, dpi)
    bx, by, bw, bh = (ms.mm(v, dpi) for v in spec["box"])
    ms.text(img, spec["sign"], bx - ms.mm(3 + 3 * len(spec["sign"]), dpi), by + bh * 2 // 3,
            0.9, dpi)
    cv2.rectangle(img, (bx, by), (bx + bw, by + bh), (40, 40, 40), max(2, ms.mm(0.3, dpi)))
    paste_amount(img, amount[0], (bx, by, bw, bh), rng)
    truth: dict[str, Any] = {"amount": {"bbox": [bx, by, bw, bh], "text": amount[1]}}
    date = "".join(str(int(d)) for d in (rng.integers(1, 3), rng.integers(0, 9),
                                          0, rng.integers(1, 10), 2, 0, 2, rng.integers(0, 6)))
    pen = ms.PENS[int(rng.integers(0, len(ms.PENS)))]
    if spec["date"] and spec["date"][0] == "comb":
        dx, dy, dw, dh = (ms.mm(v, dpi) for v in spec["date"][1])
        cell = dw // 8
        for i in range(8):
            cv2.rectangle(img, (dx + i * cell, dy), (dx + (i + 1) * cell, dy + dh),
                          (40, 40, 40), 2)
            ms.write_string(img, digits, rng, date[i], dx + i * cell + cell // 5, dy + dh // 2,
                            int(dh * 0.7), pen, dx + (i + 1) * cell)
        truth["date"] = {"bbox": [dx, dy, dw, dh], "text": date}
    elif spec["date"]:
        lx, ly = (ms.mm(v, dpi) for v in spec["date"][1])
        ms.text(img, "DATE", lx, ly - ms.mm(1, dpi), 0.6, dpi)
        x0, x1 = lx + ms.mm(12, dpi), lx + ms.mm(52, dpi)
        cv2.line(img, (x0, ly), (x1, ly), (50, 50, 50), 2)
        day, month, year = date[:2], date[2:4], date[4:]
        if rng.random() < 0.5:  # written short: 3.10.26
            day, month, year = day.lstrip("0") or "0", month.lstrip("0") or "0", year[2:]
        groups = (month, day, year) if layout == "us" else (day, month, year)
        sep = str(rng.choice(["/", "-"] if layout == "us" else [".", "/"]))
        height = ms.mm(float(rng.uniform(3.5, 4.5)), dpi)
        end = write_date(img, digits, rng, groups, sep, x0 + ms.mm(1, dpi), ly - height // 2 - 2,
                         height, pen)
        truth["date"] = {"bbox": [x0, ly - height - ms.mm(1, dpi), max(end, x1) - x0,
                                  height + ms.mm(2, dpi)], "text": "".join(groups),
                         "value": f"{date[4:]}-{date[2:4]}-{date[:2]}"}
    boxes = [{"bbox": t["bbox"]} for t in truth.values()]
    img = ms.degrade(img, rng, boxes, 0.6)
    for t, b in zip(truth.values(), boxes, strict=True):
        t["bbox"] = b["bbox"]
    return img, truth


def write_date(img: np.ndarray, digits: Any, rng: np.random.Generator, groups: tuple[str, ...],
               sep: str, x: int, y_mid: int, height: int, pen: tuple[int, int, int]) -> int:
    """Handwrite ``groups`` parted by ``sep`` (``/`` a leaning stroke, ``-`` a dash, ``.`` a
    dot) from ``x``; the x where the writing ends."""
    import make_samples as ms

    cursor = x
    t = max(2, height // 12)
    for k, group in enumerate(groups):
        if k:  # a separator, clear of the digits beside it
            cursor += height // 5
            if sep == "/":
                lean = int(height * rng.uniform(0.5, 0.9))  # 27-42 degrees from upright
                cv2.line(img, (cursor + lean, y_mid - height // 2),
                         (cursor, y_mid + height // 2), pen, t, cv2.LINE_AA)
                cursor += lean
            elif sep == "-":
                cv2.line(img, (cursor, y_mid), (cursor + height // 3, y_mid), pen, t, cv2.LINE_AA)
                cursor += height // 3
            else:
                r = max(2, height // 14)
                cv2.circle(img, (cursor + r, y_mid + height // 2 - r), r, pen, -1, cv2.LINE_AA)
                cursor += 2 * r
            cursor += height // 5
        for ch in group:
            ink = ms.digit_ink(digits.pick(rng, int(ch)), int(height * rng.uniform(0.85, 1.05)),
                               int(height * 0.9))
            ms.stamp(img, ink, cursor, y_mid - ink.shape[0] // 2, pen)
            cursor += ink.shape[1] + int(rng.uniform(0.08, 0.3) * height)
    return cursor


def main() -> int:
    import make_samples as ms
    from orand import orand_dir, split

    from digitocr.pipeline import read
    from digitocr.segment import RULES

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA", "../shared/data"))
    ap.add_argument("--per-layout", type=int, default=20)
    ap.add_argument("--dpi", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default=None, help="Default: the command line's default model.")
    ap.add_argument("--out", type=Path, default=None, help="Keep the cheques here.")
    ap.add_argument("--show", action="store_true", help="List the misses on stderr.")
    args = ap.parse_args()
    folder = orand_dir(args.data)
    rows = split(folder, "test")
    digits = ms.load_digits(args.data)
    out = args.out or Path(tempfile.mkdtemp(prefix="cheque-layouts-"))
    kw: dict[str, Any] = {"model": args.model} if args.model else {}
    for li, layout in enumerate(LAYOUTS):
        order = {"us": "MMDDYYYY"}.get(layout)
        rng = np.random.default_rng([args.seed, li])
        paths, truths = [], []
        for i in range(args.per_layout):
            name, text = rows[int(rng.integers(0, len(rows)))]
            crop = cv2.imread(str(folder / "images" / name), cv2.IMREAD_GRAYSCALE)
            img, truth = make(layout, (crop, text), digits, rng, args.dpi)
            p = out / layout / f"{i:03d}.jpg"
            p.parent.mkdir(parents=True, exist_ok=True)
            ms.save(img, p, quality=90)
            paths.append(str(p))
            truths.append(truth)
        score = {"layout": layout, "cheques": len(paths)}
        for key in ("amount", "date"):
            score.update({f"{key}_{k}": 0 for k in ("located", "exact", "flagged",
                                                      "unflagged_wrong", "taken_wrongly")})
        for path, truth, page in zip(paths, truths,
                                     read(paths, layout="cheque", workers=2,
                                          rules=replace(RULES, cheque_date_order=order)
                                          if order else None, **kw), strict=True):
            named = {f.name: f for f in page.fields}
            for key in ("amount", "date"):
                got, want = named.get(key), truth.get(key)
                if got is None:
                    continue
                if want is None or inside(got.bbox, want["bbox"]) < INSIDE:
                    score[f"{key}_taken_wrongly"] += 1
                    continue
                score[f"{key}_located"] += 1
                score[f"{key}_exact"] += got.text == want["text"]
                if "value" in want:  # a date on a line: its ISO value too
                    score["date_value_right"] = score.get("date_value_right", 0) + (
                        got.value == want["value"])
                score[f"{key}_flagged"] += got.needs_review
                score[f"{key}_unflagged_wrong"] += got.text != want["text"] and not (
                    got.needs_review)
                if args.show and got.text != want["text"]:
                    print(f"  miss {path} {key}: read {got.text!r}"
                          f"{' (flagged)' if got.needs_review else ''}, truth {want['text']!r}",
                          file=sys.stderr)
        print(json.dumps(score), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
