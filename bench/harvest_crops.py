#!/usr/bin/env python
"""Digit crops exactly as ``digitocr read`` sees them, labelled from generated forms' truth.

    python samples/make_samples.py --pages 400 --seed 100 --split train --out runs/forms-train
    DIGITOCR_DATA=… python bench/harvest_crops.py runs/forms-train --out runs/forms-crops.npz

The forms must be made from MNIST *train* digits (``--split train``): the crops are training
material (``digitocr train … --extra runs/forms-crops.npz``). Each page goes through the page
pipeline; a field read with as many digits as its truth gives one 28x28 crop per digit,
labelled with the true digit (also where the model misread it: those are the useful ones).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from score import iou


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="forms and truth.json from make_samples.py")
    ap.add_argument("--out", type=Path, required=True, help=".npz to write (images, labels)")
    ap.add_argument("--model", default="cnn", help="model that picks among candidate cuts")
    args = ap.parse_args()
    from digitocr.backends import load_model
    from digitocr.io import load_pages
    from digitocr.normalise import normalise
    from digitocr.pipeline import ReadOptions, classify_fields, find_fields

    truth = json.loads((args.folder / "truth.json").read_text())
    clf = load_model(args.model)
    opts = ReadOptions()
    images: list[np.ndarray] = []
    labels: list[int] = []
    fields_used = fields_all = 0
    for name in sorted(truth):
        page = next(iter(load_pages(str(args.folder / name))))
        found = find_fields(page.image, opts)
        crops = {g.bbox: g for f in found for s in f.segments for o in s.options for g in o
                 if g.kind == "digit"}
        read = classify_fields(found, clf, opts)
        for t in truth[name][0]["fields"]:
            fields_all += 1
            best = max(read, key=lambda f: iou(t["bbox"], list(f.bbox)), default=None)
            if best is None or iou(t["bbox"], list(best.bbox)) < 0.5:
                continue
            digits = [g for g in best.glyphs if g.kind == "digit"]
            if len(digits) != len(t["text"]):
                continue
            fields_used += 1
            for g, want in zip(digits, t["text"], strict=True):
                images.append(normalise(crops[g.bbox].image, polarity="bright"))
                labels.append(int(want))
    x = (np.stack(images) * 255).round().astype(np.uint8)
    np.savez_compressed(args.out, images=x, labels=np.asarray(labels, np.uint8))
    print(f"{len(labels)} crops from {fields_used} of {fields_all} fields → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
