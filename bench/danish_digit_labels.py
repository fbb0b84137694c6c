#!/usr/bin/env python
"""Held-out ledger cells whose label is digits only, read with a model: exact, and trust.

    DIGITOCR_DATA=/path/to/data python bench/danish_digit_labels.py MODEL

Reads ``danish-rowid/validation`` as ``digitocr read DIR --model MODEL`` does (the model's own
review threshold) and scores the cells whose label is plain digits (``bench/real.py`` scores
every cell, counting a letter label as right only when flagged).
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

from digitocr.pipeline import read


def main() -> int:
    model = sys.argv[1] if len(sys.argv) > 1 else "auto"
    data = Path(os.environ.get("DIGITOCR_DATA", "../shared/data"))
    folder = data / "danish-rowid" / "validation"
    with open(folder / "labels.csv", newline="") as fh:
        rows = [(r["file"], r["text"]) for r in csv.DictReader(fh)]
    digits = [(f, t) for f, t in rows if t.isdigit()]
    exact = unflagged = wrong = 0
    pages = read([str(folder / f) for f, _ in digits], model, workers=None)
    for (_, truth), page in zip(digits, pages, strict=True):
        text = "".join(x.text for x in page.fields)
        exact += text == truth
        if page.fields and not any(x.needs_review for x in page.fields):
            unflagged += 1
            wrong += text != truth
    print(json.dumps({"model": model, "cells": len(digits), "of": len(rows),
                      "exact": round(exact / len(digits), 4), "unflagged": unflagged,
                      "wrong_among_unflagged": round(wrong / max(unflagged, 1), 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
