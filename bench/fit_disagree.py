#!/usr/bin/env python
"""Fit ``digitocr.combined.DISAGREE`` on held-out crops: how often the string reader is right
where the digit classifier disagrees, against the confidence it claims there.

    DIGITOCR_DATA=../shared/data python bench/crnn_mix_data.py /tmp/mix
    python bench/fit_disagree.py /tmp/mix/val

Reads the folder's crops with ``--model auto`` and review off (only the readers' own flags
remain, which for a cell with digits is their disagreement), and prints the share right, the
string reader's mean confidence there (the current factor undone), and their ratio: the factor
that makes the flagged fields' confidence match how often they are right, on average.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

from digitocr.combined import DISAGREE
from digitocr.pipeline import read


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/mix/val")
    with open(folder / "labels.csv", newline="") as fh:
        rows = [(str(folder / r["file"]), r["text"]) for r in csv.DictReader(fh)]
    conf, right = [], []
    pages = read([p for p, _ in rows], "auto", min_confidence=0.0, workers=None)
    for (_, truth), page in zip(rows, pages, strict=True):
        for f in page.fields[:1]:
            if f.needs_review and f.text:
                conf.append(f.confidence / DISAGREE)
                right.append(f.text == truth)
    c, r = np.array(conf), np.array(right)
    print(json.dumps({"disagreements": len(c), "of": len(rows), "right": round(float(r.mean()), 4),
                      "string_confidence": round(float(c.mean()), 4),
                      "factor": round(float(r.mean() / c.mean()), 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
