#!/usr/bin/env python
"""Which forms misses are the classifier's own MNIST errors, and which the page pipeline's.

    python bench/forms.py --pages 200 --seed 2 --model cnn --workers 2 --show-misses 200 > m.txt
    DIGITOCR_DATA=… python bench/forms_misses.py m.txt --seed 2 --model cnn

The forms draw MNIST *test* digits; this replays ``samples/make_samples.py``'s random picks to
find the test image behind every digit of a misread field (same length as the truth), and
says whether ``--model`` also misreads that image clean, straight from the MNIST file.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def picks(seed: int, pages: int, data: str) -> dict[tuple[str, str], list[int]]:
    """(file, field name) → the MNIST test index of each of its digits, in order."""
    sys.path.insert(0, str(REPO / "samples"))
    import make_samples as ms

    digits = ms.load_digits(data)
    log: list[int] = []
    index = ms.Digits.index

    def logged(self: ms.Digits, rng: np.random.Generator, digit: int) -> int:
        log.append(index(self, rng, digit))
        return log[-1]

    ms.Digits.index = logged
    out: dict[tuple[str, str], list[int]] = {}
    for i in range(pages):
        log.clear()
        _, truth = ms.make_form(digits, np.random.default_rng([seed, i]), 300)
        k = 0
        for f in truth:
            out[(ms.page_name(i, pages), f["name"])] = log[k : k + len(f["text"])]
            k += len(f["text"])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("misses", type=Path, help="bench/forms.py output with its miss lines")
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA"))
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--model", default="cnn")
    args = ap.parse_args()
    from digitocr.backends import load_model
    from digitocr.data import load_source

    test = load_source(args.data, "test")
    index = picks(args.seed, args.pages, args.data)
    found = []
    lengths = 0
    for line in args.misses.read_text().splitlines():
        m = re.search(r"miss (\S+?):(\w+): read '(.*)', truth '(.*)'", line)
        if not m:
            continue
        name, field, read, truth = m.groups()
        if len(read) != len(truth):
            lengths += 1
            continue
        found += [(name, field, truth[i], read[i], index[(name, field)][i])
                  for i in range(len(truth)) if read[i] != truth[i]]
    clf = load_model(args.model)
    ids = np.array([f[4] for f in found], dtype=int)
    clean = clf.predict_proba(test.x[ids].astype(np.float32)).argmax(1) if len(ids) else ids
    for (name, field, want, got, j), c in zip(found, clean, strict=True):
        print(f"{name} {field}: {want} read as {got}; MNIST test #{j}, clean read as {c}")
    kinds = Counter("classifier" if int(c) != int(f[2]) else "pipeline"
                    for f, c in zip(found, clean, strict=True))
    print(f"{len(found)} misread digits: {kinds['classifier']} misread clean as well, "
          f"{kinds['pipeline']} read right clean; {lengths} fields of the wrong length")
    return 0


if __name__ == "__main__":
    sys.exit(main())
