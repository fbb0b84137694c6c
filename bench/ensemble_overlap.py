#!/usr/bin/env python
"""How much the models' MNIST test errors overlap, and what a soft vote of all of them scores.

    DIGITOCR_DATA=../shared/data python bench/ensemble_overlap.py runs/e12-s50 runs/deep-s4-sp ...

Prints each model's error count, the errors each pair shares, how many digits every model
misses, and the soft vote's accuracy: the ceiling an ensemble of these members can reach.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from digitocr.backends import load_model
from digitocr.data import load_source


def main(paths: list[str]) -> None:
    test = load_source(os.environ.get("DIGITOCR_DATA"), "test")
    probs = {p: load_model(p).predict_proba(test.x) for p in paths}
    wrong = {p: set(np.flatnonzero(pr.argmax(1) != test.y).tolist()) for p, pr in probs.items()}
    heads = " | ".join(f"shared with {i + 1}" for i in range(len(paths)))
    print(f"| model | errors | {heads} |")
    print("|---|---|" + "---|" * len(paths))
    for i, p in enumerate(paths):
        shared = " | ".join(str(len(wrong[p] & wrong[q])) for q in paths)
        print(f"| {i + 1}. {p} | {len(wrong[p])} | {shared} |")
    everyone = set.intersection(*wrong.values())
    vote = sum(probs.values()).argmax(1)
    print(f"\nmissed by every model: {len(everyone)}; "
          f"soft vote of all {len(paths)}: {float((vote == test.y).mean()):.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
