#!/usr/bin/env python
"""ORAND-CAR's own digits, cut by their boxes and written again as new amounts (crnn stage 8).

    DIGITOCR_DATA=../shared/data python bench/crnn_orand_recombine.py OUT \\
        --with /tmp/idrbt-all/train/labels.csv [--count 8000] [--seed 8]
    digitocr train crnn --data OUT/train --val /tmp/round/val --init crnn --epochs 1 \\
        --copies 1 --batch-size 32 --lr 3e-4 --seed 0 --out /tmp/crnn-rec --force

The crnn has seen each of the 696 ORAND-CAR training amounts as a whole, a few hundred writers'
strings; on the test split it stays near 86 % exact whatever else it learnt. Here every digit
of those training amounts (``digit-boxes.coco.json``) is cut out and the digits are put
together again into ``--count`` new amounts: each digit scaled to the string's height (a
little jitter each), set side by side with gaps that may be negative (touching, overlapping
digits), its baseline wandering a little, the ink laid on real ORAND paper
(``synth.background_bank``), with thousands dots between groups on some and a cheque ending
(``/-``) on others. Texts: random lengths as the training amounts have them, about half ending
in zeros. Only the training split's amounts are used (not its 60 validation crops, not the
test split: those score the result). ``--with`` adds a labels file's rows (the shipped model's
last training set) to ``OUT/train/labels.csv``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crnn_amount_data import ENDINGS
from crnn_mix_data import ORAND_VALIDATION, mix_rows
from orand import split as orand_split

#: a digit's height is the string's times a factor in this range
HEIGHT_JITTER = (0.9, 1.1)
#: the gap after a digit, in string heights (negative: the next one overlaps it)
GAP = (-0.12, 0.3)
#: the baseline's wander, in string heights
BASELINE = 0.06
P_DOTS = 0.3
P_ENDING = 0.2
P_ROUND = 0.5


def digit_bank(folder: Path, files: set[str]) -> dict[str, list[np.ndarray]]:
    """Every boxed digit of ``files`` (gray, ink dark), by label."""
    coco = json.loads((folder / "digit-boxes.coco.json").read_text())
    names = {im["id"]: im["file_name"] for im in coco["images"] if im["file_name"] in files}
    labels = {c["id"]: c["name"] for c in coco["categories"]}
    images: dict[str, np.ndarray] = {}
    bank: dict[str, list[np.ndarray]] = {str(d): [] for d in range(10)}
    for a in coco["annotations"]:
        name = names.get(a["image_id"])
        if name is None:
            continue
        if name not in images:
            images[name] = cv2.imread(str(folder / "images" / name), cv2.IMREAD_GRAYSCALE)
        x, y, w, h = (round(v) for v in a["bbox"])
        crop = images[name][max(0, y) : y + h, max(0, x) : x + w]
        if crop.size and w >= 3 and h >= 8:
            bank[labels[a["category_id"]]].append(crop)
    return bank


def amount_text(rng: np.random.Generator, lengths: list[int]) -> str:
    n = int(rng.choice(lengths))
    text = [str(rng.integers(1, 10))] + [str(d) for d in rng.integers(0, 10, n - 1)]
    if n > 2 and rng.random() < P_ROUND:
        zeros = int(rng.integers(1, n))
        text[n - zeros :] = ["0"] * zeros
    return "".join(text)


#: ink at least this dark is a stroke; a stroke at a box's left or right edge that is under
#: ``NEIGHBOUR_AREA`` of the box's largest is a neighbouring digit's, cut by the box
STROKE = 0.3
NEIGHBOUR_AREA = 0.35


def own_ink(ink: np.ndarray) -> np.ndarray:
    """A digit box's ink without the pieces of its neighbours that the box cuts."""
    mask = (ink > STROKE).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(mask, np.ones((3, 3))), 8)
    if n <= 2:
        return ink
    area = stats[1:, cv2.CC_STAT_AREA]
    x0, x1 = stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_LEFT] + stats[1:, cv2.CC_STAT_WIDTH]
    edge = (x0 == 0) | (x1 >= ink.shape[1])
    drop = np.flatnonzero(edge & (area < NEIGHBOUR_AREA * area.max())) + 1
    out = ink.copy()
    out[np.isin(labels, drop)] = 0.0
    return out


def write_amount(text: str, bank: dict[str, list[np.ndarray]], paper: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """``text`` in ORAND digits on ``paper`` (gray, ink dark)."""
    from digitocr.strings import ink_image

    crops = [bank[c][int(rng.integers(len(bank[c])))] for c in text]
    height = int(np.median([c.shape[0] for c in crops]))
    inks, marks = [], []
    for i, c in enumerate(crops):
        h = max(8, round(height * rng.uniform(*HEIGHT_JITTER)))
        w = max(2, round(c.shape[1] * h / c.shape[0]))
        inks.append(cv2.resize(own_ink(ink_image(c, "dark")), (w, h),
                               interpolation=cv2.INTER_AREA))
        left = len(text) - 1 - i
        marks.append(left > 0 and left % 3 == 0)
    dots = rng.random() < P_DOTS
    pad = round(0.25 * height)
    width = sum(k.shape[1] for k in inks) + round(len(inks) * 0.4 * height) + 2 * pad
    canvas = np.zeros((round(1.6 * height) + 2 * pad, width), np.float32)
    x, base = pad, pad + round(1.2 * height)
    for ink, mark in zip(inks, marks, strict=True):
        h, w = ink.shape
        y = int(np.clip(base - h + round(rng.normal(0, BASELINE) * height), 0,
                        canvas.shape[0] - h))
        x = int(np.clip(x, 0, canvas.shape[1] - w))
        canvas[y : y + h, x : x + w] = np.maximum(canvas[y : y + h, x : x + w], ink)
        x += w + round(rng.uniform(*GAP) * height)
        if dots and mark:
            r = max(1, round(0.06 * height))
            cv2.circle(canvas, (x + r, base - r), r, 1.0, -1)
            x += 3 * r
    canvas = canvas[:, : min(canvas.shape[1], x + pad)]
    bg = cv2.resize(paper, (canvas.shape[1], canvas.shape[0])).astype(np.float32)
    darkness = float(rng.uniform(0.55, 0.85))
    return np.clip(bg * (1.0 - darkness * canvas), 0, 255).astype(np.uint8)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--with", dest="base", type=Path, default=None)
    ap.add_argument("--count", type=int, default=8000)
    ap.add_argument("--seed", type=int, default=8)
    args = ap.parse_args()
    from digitocr.synth import append_ending, background_bank

    data = Path(os.environ.get("DIGITOCR_DATA", "../shared/data")).resolve()
    folder = data / "orand-car"
    train = orand_split(folder, "train")
    # the stage-4 mix held ORAND_VALIDATION of them out for validation: so do we
    val_paths = {r[0] for r in mix_rows(data, orand_repeats=1)["val"]}
    held = {f for f, _ in train if str(folder / "images" / f) in val_paths}
    assert len(held) == ORAND_VALIDATION, len(held)
    files = {f for f, _ in train if f not in held}
    bank = digit_bank(folder, files)
    papers = background_bank([cv2.imread(str(folder / "images" / f), cv2.IMREAD_GRAYSCALE)
                              for f in sorted(files)[:200]])
    lengths = [len(t) for f, t in train if f in files]
    rng = np.random.default_rng(args.seed)
    img = args.out / "img"
    img.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str]] = []
    for i in range(args.count):
        text = amount_text(rng, lengths)
        gray = write_amount(text, bank, papers[int(rng.integers(len(papers)))], rng)
        if rng.random() < P_ENDING:
            gray = append_ending(gray, rng, str(rng.choice(ENDINGS)))
        path = img / f"rec-{i:05d}.png"
        cv2.imwrite(str(path), gray)
        rows.append((str(path), text))
    if args.base is not None:
        with open(args.base, newline="") as fh:
            rows += [(r["file"], r["text"]) for r in csv.DictReader(fh)]
    (args.out / "train").mkdir(exist_ok=True)
    with open(args.out / "train" / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "text"])
        w.writerows(rows)
    print(f"{args.count} recombined amounts ({sum(len(v) for v in bank.values())} digits of "
          f"{len(files)} amounts), {len(rows)} rows in {args.out / 'train' / 'labels.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
