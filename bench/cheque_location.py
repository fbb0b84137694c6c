#!/usr/bin/env python
"""Where ``--layout cheque`` finds the amount and the date, measured apart from reading them.

    DIGITOCR_DATA=../shared/data python bench/cheque_location.py [--show] [--scale 0.5] [--gray]

For each whole IDRBT cheque (``cheques-idrbt``), the segmenter alone (no classifier) gives its
``amount`` and ``date`` fields; a field is **located** when at least ``INSIDE`` of its box lies
in the truth box (the truth boxes are the printed box with its margin, the found ones the
writing or the comb, so IoU says little). ``--scale`` resizes each scan first (0.5: the
300 dpi scans as 150 dpi ones, 2: as 600 dpi), ``--gray`` drops the colour.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

INSIDE = 0.8


def inside(found: tuple[int, int, int, int], truth: list[int]) -> float:
    """Share of ``found``'s area within ``truth``."""
    fx, fy, fw, fh = found
    tx, ty, tw, th = truth
    iw = max(0, min(fx + fw, tx + tw) - max(fx, tx))
    ih = max(0, min(fy + fh, ty + th) - max(fy, ty))
    return iw * ih / max(1, fw * fh)


def main() -> int:
    from digitocr.io import load_pages
    from digitocr.segment import SegmentOptions, segment_cheque

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA", "../shared/data"))
    ap.add_argument("--show", action="store_true", help="One line per cheque.")
    ap.add_argument("--scale", type=float, default=1.0, help="Resize each scan by this.")
    ap.add_argument("--gray", action="store_true", help="Read the scans in gray.")
    args = ap.parse_args()
    folder = Path(args.data) / "cheques-idrbt"
    truth = json.loads((folder / "truth.json").read_text())["cheques"]
    located = {"amount": 0, "date": 0}
    total = {"amount": 0, "date": 0}
    seconds = []
    for c in truth:
        image = next(load_pages(str(folder / c["image"]), gray=args.gray)).image
        if args.scale != 1.0:
            image = cv2.resize(image, None, fx=args.scale, fy=args.scale,
                               interpolation=cv2.INTER_AREA if args.scale < 1 else
                               cv2.INTER_CUBIC)
        t0 = time.perf_counter()
        fields = {f.name: f for f in segment_cheque(image, SegmentOptions())}
        seconds.append(time.perf_counter() - t0)
        line = [c["image"]]
        for tf in c["fields"]:
            name = tf["name"]
            if name not in total:
                continue
            total[name] += 1
            f = fields.get(name)
            box = [round(v * args.scale) for v in tf["bbox_xywh"]]
            share = inside(f.bbox, box) if f is not None else 0.0
            located[name] += share >= INSIDE
            line.append(f"{name} {share:.2f}")
        if args.show:
            print("  ".join(line))
    for name in total:
        print(json.dumps({"field": name, "cheques": total[name], "located": located[name],
                          "share": round(located[name] / max(1, total[name]), 3)}))
    print(json.dumps({"median_ms_per_cheque": round(1000 * float(np.median(seconds)), 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
