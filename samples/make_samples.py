#!/usr/bin/env python
"""Make realistic ``digitocr read`` inputs with ground truth, from MNIST *test* digits.

Handwriting is MNIST test-split digits (never the training split) composited in pen colours on
printed forms: comb fields (one cell per digit) and boxed fields (a free digit string in one
rectangle), a bank cheque with a courtesy-amount box on a security background, and crops of
amounts. Pages get skew, uneven light, blur, noise and JPEG artefacts. Everything is seeded.

The small committed set (``samples/``)::

    python samples/make_samples.py --data /path/to/data --out samples

A benchmark set of 200 A4 forms at 300 dpi::

    python samples/make_samples.py --data /path/to/data --pages 200 --dpi 300 --out bench/out/forms

``--data`` defaults to ``$DIGITOCR_DATA`` (a folder holding ``mnist/`` or the IDX files).
Ground truth goes to ``truth.json`` in the output folder: for each file, its pages, and for
each page its fields (``name``, ``bbox`` [x, y, w, h] in page pixels, ``text``) and the layout
to read it with. ``template.json`` describes the form's fields for ``--template``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

MM_PER_INCH = 25.4

# form fields: name, kind, x mm, y mm, cells (comb) or width mm (box), digit count range
FORM_FIELDS: list[tuple[str, str, float, float, int, tuple[int, int]]] = [
    ("account", "comb", 60, 50, 10, (10, 10)),
    ("date", "comb", 60, 72, 8, (8, 8)),
    ("amount", "box", 60, 94, 62, (3, 7)),
    ("postcode", "comb", 60, 118, 5, (5, 5)),
    ("phone", "box", 60, 140, 95, (8, 10)),
    ("quantity", "box", 60, 164, 30, (1, 3)),
    ("reference", "comb", 60, 188, 6, (4, 6)),
]
CELL_W, CELL_H, BOX_H = 6.5, 8.5, 13.0  # mm
PENS = [(25, 25, 30), (20, 40, 140), (35, 35, 90), (60, 60, 60)]  # RGB


@dataclass
class Digits:
    """MNIST digits of one split: images (N, 28, 28) uint8 ink bright, labels (N,)."""

    x: np.ndarray
    y: np.ndarray

    def index(self, rng: np.random.Generator, digit: int) -> int:
        """A random image of ``digit``, by its position in the split."""
        return int(rng.choice(np.flatnonzero(self.y == digit)))

    def pick(self, rng: np.random.Generator, digit: int) -> np.ndarray:
        return self.x[self.index(rng, digit)]


def load_digits(data: str | None, split: str = "test") -> Digits:
    """An MNIST split (test unless told) through ``digitocr.data.load_source``."""
    from digitocr.data import load_source

    ds = load_source(data, split)
    return Digits((ds.x * 255).astype(np.uint8), ds.y)


# ------------------------------------------------------------------ drawing helpers


def mm(v: float, dpi: int) -> int:
    return round(v / MM_PER_INCH * dpi)


def paper(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    tint = rng.integers(238, 256, size=3).astype(np.uint8)
    return np.ones((h, w, 3), np.uint8) * tint


def text(img: np.ndarray, s: str, x: int, y: int, size: float, dpi: int,
         colour: tuple[int, int, int] = (30, 30, 30)) -> None:
    scale = size * dpi / 300.0
    cv2.putText(img, s, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour,
                max(1, round(2 * dpi / 300)), cv2.LINE_AA)


def digit_ink(d: np.ndarray, height: int, max_w: int) -> np.ndarray:
    """An MNIST digit cropped to its ink and scaled to ``height`` (width at most ``max_w``)."""
    ys, xs = np.nonzero(d > 30)
    crop = d[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255.0
    h, w = crop.shape
    s = height / h
    if w * s > max_w:
        s = max_w / w
    nh, nw = max(2, round(h * s)), max(2, round(w * s))
    return np.clip(cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_LINEAR), 0, 1)


def stamp(img: np.ndarray, ink: np.ndarray, x: int, y: int, pen: tuple[int, int, int]) -> None:
    """Composite ink (0..1) at (x, y) in pen colour (multiplicative, like real ink)."""
    h, w = ink.shape
    H, W = img.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        return
    a = ink[y0 - y : y1 - y, x0 - x : x1 - x, None] * 0.95
    region = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = np.clip(region * (1 - a) + np.asarray(pen, np.float32) * a, 0, 255)


def write_string(img: np.ndarray, digits: Digits, rng: np.random.Generator, s: str,
                 x: int, y_mid: int, height: int, pen: tuple[int, int, int],
                 max_x: int) -> None:
    """Handwrite digit string ``s`` left to right from ``x``, centred on ``y_mid``."""
    cursor = x
    for ch in s:
        if ch in ".,":
            r = max(2, height // 14)
            cy = y_mid + height // 2 - r
            cv2.circle(img, (cursor + r, cy), r, pen, -1, cv2.LINE_AA)
            cursor += 4 * r
            continue
        h = int(height * rng.uniform(0.85, 1.05))
        ink = digit_ink(digits.pick(rng, int(ch)), h, int(height * 0.9))
        jitter = int(rng.integers(-height // 12, height // 12 + 1))
        stamp(img, ink, cursor, y_mid - ink.shape[0] // 2 + jitter, pen)
        gap = rng.uniform(0.08, 0.35) if rng.random() > 0.05 else rng.uniform(-0.02, 0.02)
        cursor += ink.shape[1] + int(gap * height)
        if cursor > max_x:
            break


# ------------------------------------------------------------------ documents


def make_form(
    digits: Digits, rng: np.random.Generator, dpi: int
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """One A4 form page (RGB uint8) and its fields' ground truth (before degradation)."""
    W, H = mm(210, dpi), mm(297, dpi)
    img = paper(H, W, rng)
    rule = [(40, 40, 40), (60, 60, 160), (170, 60, 60)][int(rng.integers(0, 3))]
    lw = max(1, mm(0.3, dpi))
    text(img, "APPLICATION FORM 7B", mm(20, dpi), mm(25, dpi), 1.6, dpi)
    text(img, "Please write one digit per box, in black or blue ink.", mm(20, dpi),
         mm(35, dpi), 0.8, dpi, (80, 80, 80))
    pen = PENS[int(rng.integers(0, len(PENS)))]
    truth = []
    for name, kind, xm, ym, size, (lo, hi) in FORM_FIELDS:
        x, y = mm(xm, dpi), mm(ym, dpi)
        text(img, name.capitalize(), mm(20, dpi), y + mm(6, dpi), 0.9, dpi)
        n = int(rng.integers(lo, hi + 1))
        s = "".join(str(int(d)) for d in rng.integers(0, 10, n))
        if kind == "comb":
            cw, ch = mm(CELL_W, dpi), mm(CELL_H, dpi)
            cv2.rectangle(img, (x, y), (x + cw * size, y + ch), rule, lw)
            for i in range(1, size):
                cv2.line(img, (x + cw * i, y), (x + cw * i, y + ch), rule, lw)
            for i, c in enumerate(s):
                ink = digit_ink(digits.pick(rng, int(c)), int(ch * rng.uniform(0.55, 0.72)),
                                int(cw * 0.8))
                ox = x + cw * i + (cw - ink.shape[1]) // 2
                ox += int(rng.integers(-cw // 10, cw // 10 + 1))
                oy = y + (ch - ink.shape[0]) // 2 + int(rng.integers(-ch // 12, ch // 12 + 1))
                stamp(img, ink, ox, oy, pen)
            box = [x, y, cw * size, ch]
        else:
            bw, bh = mm(size, dpi), mm(BOX_H, dpi)
            cv2.rectangle(img, (x, y), (x + bw, y + bh), rule, lw)
            height = int(bh * rng.uniform(0.5, 0.62))
            start = x + mm(2, dpi) + int(rng.integers(0, mm(3, dpi)))
            write_string(img, digits, rng, s, start, y + bh // 2, height, pen, x + bw - height)
            box = [x, y, bw, bh]
        truth.append({"name": name, "bbox": box, "text": s})
    text(img, "Signature: ______________________", mm(20, dpi), mm(230, dpi), 0.9, dpi)
    return img, truth


def make_cheque(
    digits: Digits, rng: np.random.Generator, dpi: int
) -> tuple[np.ndarray, list[dict[str, Any]], list[int]]:
    """A bank cheque (RGB uint8), its amount's ground truth, and the amount box."""
    W, H = mm(160, dpi), mm(72, dpi)
    img = paper(H, W, rng) * np.asarray([0.97, 1.0, 0.98], np.float32)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    period = mm(3, dpi)
    wave = np.sin((xx + 6 * period * np.sin(yy / (4 * period))) / period * 2 * np.pi)
    img = (img - (wave[..., None] > 0.85) * 28.0).astype(np.uint8)  # guilloche background
    text(img, "FIRST DIGITAL BANK", mm(8, dpi), mm(10, dpi), 1.1, dpi, (30, 50, 110))
    text(img, "PAY TO THE ORDER OF", mm(8, dpi), mm(30, dpi), 0.7, dpi)
    cv2.line(img, (mm(45, dpi), mm(30, dpi)), (mm(105, dpi), mm(30, dpi)), (40, 40, 40), 2)
    cv2.line(img, (mm(8, dpi), mm(45, dpi)), (mm(150, dpi), mm(45, dpi)), (40, 40, 40), 2)
    text(img, "DOLLARS", mm(135, dpi), mm(43, dpi), 0.6, dpi)
    text(img, "1234 5678 901", mm(10, dpi), mm(67, dpi), 0.9, dpi)  # printed MICR-ish line
    bx, by, bw, bh = mm(112, dpi), mm(20, dpi), mm(40, dpi), mm(13, dpi)
    text(img, "$", bx - mm(5, dpi), by + mm(9, dpi), 1.2, dpi)
    cv2.rectangle(img, (bx, by), (bx + bw, by + bh), (40, 40, 40), max(1, mm(0.3, dpi)))
    whole = str(int(rng.integers(1, 10 ** int(rng.integers(1, 4)))))
    amount = whole + (("." + "".join(str(int(d)) for d in rng.integers(0, 10, 2)))
                      if rng.random() < 0.5 else "")
    pen = PENS[int(rng.integers(0, len(PENS)))]
    height = int(bh * 0.6)
    write_string(img, digits, rng, amount, bx + mm(3, dpi), by + bh // 2, height, pen,
                 bx + bw - height // 2)
    text_digits = amount.replace(".", "")
    truth = [{"name": "amount", "bbox": [bx, by, bw, bh], "text": text_digits}]
    return img, truth, [bx, by, bw, bh]


def degrade(img: np.ndarray, rng: np.random.Generator, truth: list[dict[str, Any]],
            strength: float = 1.0) -> np.ndarray:
    """Skew, uneven light, blur and noise; field boxes in ``truth`` follow the skew."""
    H, W = img.shape[:2]
    img = img.astype(np.float32)
    angle = float(rng.uniform(-2.5, 2.5)) * strength
    m = cv2.getRotationMatrix2D(((W - 1) / 2.0, (H - 1) / 2.0), angle, 1.0)
    img = cv2.warpAffine(img, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    for f in truth:
        x, y, w, h = f["bbox"]
        cx, cy = x + w / 2, y + h / 2
        nx = m[0, 0] * cx + m[0, 1] * cy + m[0, 2]
        ny = m[1, 0] * cx + m[1, 1] * cy + m[1, 2]
        f["bbox"] = [round(nx - w / 2), round(ny - h / 2), w, h]
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    gx, gy = rng.uniform(-1, 1, 2)
    ramp = np.tanh((gx * (xx / W - 0.5) + gy * (yy / H - 0.5)) * 3)
    light = 1.0 - strength * 0.25 * (0.5 + 0.5 * ramp)
    img = img * light[..., None]
    sigma = float(rng.uniform(0, 1.0)) * strength * W / 2480 * 2
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    noise = float(rng.uniform(2, 7)) * strength
    img = img + rng.normal(0, noise, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def save(img: np.ndarray, path: Path, quality: int = 80) -> None:
    im = Image.fromarray(img)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        im.save(path, quality=quality)
    else:
        im.save(path)


# ------------------------------------------------------------------ sets


def small_set(digits: Digits, out: Path, seed: int, dpi: int) -> dict[str, Any]:
    """The committed sample set: every input kind the reader supports, a few pages each."""
    rng = np.random.default_rng(seed)
    truth: dict[str, Any] = {}

    def page_truth(fields: list[dict[str, Any]], layout: str = "auto") -> dict[str, Any]:
        return {"layout": layout, "fields": fields}

    img, t = make_form(digits, rng, dpi)
    clean = np.clip(img, 0, 255).astype(np.uint8)
    save(cv2.cvtColor(clean, cv2.COLOR_RGB2GRAY), out / "form-clean.png")
    truth["form-clean.png"] = [page_truth(t)]

    img, t = make_form(digits, rng, dpi)
    save(degrade(img, rng, t), out / "form-scan.jpg", quality=int(rng.integers(55, 80)))
    truth["form-scan.jpg"] = [page_truth(t)]

    pdf_pages, pdf_truth = [], []
    for _ in range(2):
        img, t = make_form(digits, rng, dpi)
        pdf_pages.append(Image.fromarray(cv2.cvtColor(degrade(img, rng, t, 0.7),
                                                      cv2.COLOR_RGB2GRAY)))
        pdf_truth.append(page_truth(t))
    pdf_pages[0].save(out / "forms.pdf", save_all=True, append_images=pdf_pages[1:],
                      resolution=float(dpi), quality=70)
    truth["forms.pdf"] = pdf_truth

    tif_pages, tif_truth = [], []
    for _ in range(2):
        img, t = make_form(digits, rng, dpi)
        gray = cv2.cvtColor(degrade(img, rng, t, 0.5), cv2.COLOR_RGB2GRAY)
        tif_pages.append(Image.fromarray(gray).point(lambda v: 255 if v > 150 else 0).convert("1"))
        tif_truth.append(page_truth(t))
    tif_pages[0].save(out / "forms-1bit.tif", save_all=True, append_images=tif_pages[1:],
                      compression="group4", dpi=(dpi, dpi))
    truth["forms-1bit.tif"] = tif_truth

    cdpi = max(dpi, 200)
    img, t, _ = make_cheque(digits, rng, cdpi)
    scan = degrade(img, rng, t, 0.4)
    save(scan, out / "cheque.jpg", quality=85)
    truth["cheque.jpg"] = [page_truth(t, "cheque")]

    crops = out / "amounts"
    crops.mkdir(exist_ok=True)
    for i, mode in enumerate(["L16", "RGBA", "P", "CMYK", "BMP"]):
        img, t, (bx, by, bw, bh) = make_cheque(digits, rng, 200)
        crop = img[by + 4 : by + bh - 4, bx + 4 : bx + bw - 4]
        crop = degrade(crop, rng, [], 0.3)
        gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
        if mode == "L16":
            name = f"amount-{i + 1}-16bit.png"
            Image.fromarray(gray.astype(np.uint16) * 257).save(crops / name)
        elif mode == "RGBA":
            name = f"amount-{i + 1}-rgba.png"
            rgba = np.dstack([crop, np.full(crop.shape[:2], 255, np.uint8)])
            rgba[:3, :, 3] = 0  # a transparent strip: composited on white
            Image.fromarray(rgba, "RGBA").save(crops / name)
        elif mode == "P":
            name = f"amount-{i + 1}-palette.png"
            Image.fromarray(crop).convert("P", palette=Image.Palette.ADAPTIVE).save(crops / name)
        elif mode == "CMYK":
            name = f"amount-{i + 1}-cmyk.jpg"
            Image.fromarray(crop).convert("CMYK").save(crops / name, quality=90)
        else:
            name = f"amount-{i + 1}.bmp"
            Image.fromarray(crop).save(crops / name)
        h, w = gray.shape
        truth[f"amounts/{name}"] = [page_truth([{"name": "amount", "bbox": [0, 0, w, h],
                                                 "text": t[0]["text"]}], "string")]
    template = {
        "width": mm(210, dpi), "height": mm(297, dpi),
        "fields": [{"name": f["name"], "bbox": f["bbox"]}
                   for f in truth["form-clean.png"][0]["fields"]],
    }
    # template rectangles get a margin so that a slightly shifted scan still fits
    pad = mm(3, dpi)
    for f in template["fields"]:
        x, y, w, h = f["bbox"]
        f["bbox"] = [x - pad, y - pad, w + 2 * pad, h + 2 * pad]
    (out / "template.json").write_text(json.dumps(template, indent=1) + "\n")
    return truth


def page_name(i: int, pages: int, fmt: str = "jpg") -> str:
    """File name of page ``i`` (from 0) of a ``pages``-page benchmark set."""
    return f"form-{i + 1:0{len(str(pages))}d}.{fmt}"


def bench_set(digits: Digits, out: Path, seed: int, dpi: int, pages: int,
              fmt: str = "jpg") -> dict[str, Any]:
    """``pages`` degraded A4 forms, one file each."""
    truth: dict[str, Any] = {}
    for i in range(pages):
        rng = np.random.default_rng([seed, i])
        img, t = make_form(digits, rng, dpi)
        name = page_name(i, pages, fmt)
        save(degrade(img, rng, t), out / name, quality=int(rng.integers(60, 90)))
        truth[name] = [{"layout": "auto", "fields": t}]
    return truth


def cheque_set(digits: Digits, out: Path, seed: int, count: int) -> dict[str, Any]:
    """``count`` courtesy-amount crops (string layout), for speed and accuracy checks."""
    truth: dict[str, Any] = {}
    for i in range(count):
        rng = np.random.default_rng([seed, 7, i])
        img, t, (bx, by, bw, bh) = make_cheque(digits, rng, 200)
        crop = degrade(img[by + 4 : by + bh - 4, bx + 4 : bx + bw - 4], rng, [], 0.3)
        name = f"amount-{i + 1:05d}.png"
        save(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), out / name)
        h, w = crop.shape[:2]
        truth[name] = [{"layout": "string",
                        "fields": [{"name": "amount", "bbox": [0, 0, w, h], "text": t[0]["text"]}]}]
    return truth


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA"),
                    help="MNIST folder (or a folder holding mnist/); default $DIGITOCR_DATA")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dpi", type=int, default=None,
                    help="resolution (default 150 for the small set, 300 for --pages)")
    ap.add_argument("--pages", type=int, default=0, help="make N benchmark forms instead")
    ap.add_argument("--split", default="test", choices=["test", "train"],
                    help="MNIST split the handwriting comes from (train: material to train on)")
    ap.add_argument("--cheques", type=int, default=0, help="make N amount crops instead")
    ap.add_argument("--format", default="jpg", choices=["jpg", "png"], help="for --pages")
    args = ap.parse_args(argv)
    if not args.data:
        print("give --data or set DIGITOCR_DATA", file=sys.stderr)
        return 2
    digits = load_digits(args.data, args.split)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.pages:
        truth = bench_set(digits, args.out, args.seed, args.dpi or 300, args.pages, args.format)
    elif args.cheques:
        truth = cheque_set(digits, args.out, args.seed, args.cheques)
    else:
        truth = small_set(digits, args.out, args.seed, args.dpi or 150)
    (args.out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    print(f"wrote {len(truth)} files and truth.json to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
