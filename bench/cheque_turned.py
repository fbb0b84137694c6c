#!/usr/bin/env python
"""Whole IDRBT cheques fed in turned: the amount and the date read with ``--layout cheque``.

    DIGITOCR_DATA=../shared/data python bench/cheque_turned.py [--model auto] [--out DIR]

Each of the 25 scans is written turned 0, 90, 180 and 270 degrees clockwise (PNG, lossless:
the pixels of the scan as decoded, only turned) and read with the defaults. Per angle: the
amounts and dates read exactly (text against ``labels.csv`` / ``dates.csv``), flagged for
review, wrong and not flagged, and the pages read turned back (``orientation`` = the angle).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from pathlib import Path

import cv2

TURN = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def main() -> int:
    from digitocr.pipeline import read

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA", "../shared/data"))
    ap.add_argument("--model", default=None, help="Default: the command line's default model.")
    ap.add_argument("--out", type=Path, default=None, help="Keep the turned scans here.")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    folder = Path(args.data) / "cheques-idrbt"
    with open(folder / "labels.csv", newline="") as fh:
        amounts = {r["file"]: r["digits"] for r in csv.DictReader(fh)}
    with open(folder / "dates.csv", newline="") as fh:
        dates = {r["file"]: r["digits"] for r in csv.DictReader(fh)}
    files = sorted(amounts)
    out = args.out or Path(tempfile.mkdtemp(prefix="cheque-turned-"))
    kw = {"model": args.model} if args.model else {}
    for angle in (0, 90, 180, 270):
        paths = []
        for f in files:
            im = cv2.imread(str(folder / f), cv2.IMREAD_COLOR)
            if angle:
                im = cv2.rotate(im, TURN[angle])
            p = out / str(angle) / (Path(f).stem + ".png")
            p.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(p), im)
            paths.append(str(p))
        c = {"angle": angle, "cheques": len(files), "dates": sum(f in dates for f in files),
             "amount_exact": 0, "amount_flagged": 0, "amount_unflagged_wrong": 0,
             "date_exact": 0, "date_flagged": 0, "date_unflagged_wrong": 0, "turned_back": 0}
        pages = read(paths, layout="cheque", workers=args.workers, **kw)
        for f, page in zip(files, pages, strict=True):
            named = {x.name: x for x in page.fields}
            for key, truth in (("amount", amounts.get(f)), ("date", dates.get(f))):
                got = named.get(key)
                if truth is None or got is None:
                    continue
                c[f"{key}_exact"] += got.text == truth
                c[f"{key}_flagged"] += got.needs_review
                c[f"{key}_unflagged_wrong"] += got.text != truth and not got.needs_review
            c["turned_back"] += angle != 0 and page.orientation == angle
        print(json.dumps(c), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
