#!/usr/bin/env python
"""The IDRBT amounts as the reader sees them, for leave-one-bank-out fine-tuning of the crnn.

    DIGITOCR_DATA=../shared/data python bench/idrbt_amount_crops.py OUT [--hold-out PREFIX] \
        [--with /tmp/round/train/labels.csv --repeat 40]

Each whole cheque goes through ``--layout cheque``'s segmenter; the amount field's box (what
the string reader is given, ``combined._field_box``) is cut from the page and written to
``OUT/img`` with its digits in ``OUT/labels.csv``. The three banks of the set are told by
the scans' names (``0836``, ``1008``, ``1206``); ``--hold-out`` leaves one bank out, to be
read by the model trained on the other two (a bank never seen, as a user's would be).
``--with`` also writes ``OUT/train/labels.csv``: that file's rows and the amounts ``--repeat``
times, a training set for ``digitocr train crnn --data OUT/train``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import cv2


def main() -> int:
    from digitocr.combined import _field_box
    from digitocr.io import load_pages
    from digitocr.segment import SegmentOptions
    from digitocr.segment.cheque import segment_cheque

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--hold-out", default=None, help="A bank's scan-name prefix to leave out.")
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA", "../shared/data"))
    ap.add_argument("--with", dest="base", type=Path, default=None,
                    help="A labels.csv whose rows go before the amounts in OUT/train.")
    ap.add_argument("--repeat", type=int, default=40, help="Times each amount is listed.")
    args = ap.parse_args()
    folder = Path(args.data) / "cheques-idrbt"
    truth = json.loads((folder / "truth.json").read_text())["cheques"]
    (args.out / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for c in truth:
        name = Path(c["image"]).stem
        if args.hold_out and name.startswith(args.hold_out):
            continue
        digits = next(f["text"] for f in c["fields"] if f["name"] == "amount")
        page = next(load_pages(str(folder / c["image"]), gray=True)).image
        amount = next((f for f in segment_cheque(page, SegmentOptions())
                       if f.name == "amount"), None)
        box = _field_box(amount) if amount is not None else None
        if box is None:
            continue
        x, y, w, h = box
        dest = args.out / "img" / f"idrbt-{name}.png"
        cv2.imwrite(str(dest), page[y : y + h, x : x + w])
        rows.append((str(dest.resolve()), digits))
    with open(args.out / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "text"])
        writer.writerows(rows)
    print(f"{args.out}: {len(rows)} amounts", file=sys.stderr)
    if args.base is not None:
        with open(args.base, newline="") as fh:
            base = list(csv.reader(fh))[1:]
        (args.out / "train").mkdir(exist_ok=True)
        with open(args.out / "train" / "labels.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["file", "text"])
            writer.writerows(base + rows * args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
