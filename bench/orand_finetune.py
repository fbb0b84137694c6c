#!/usr/bin/env python
"""Train a CNN on MNIST plus ORAND-CAR per-digit boxes of the *train* split only.

    DIGITOCR_DATA=/path/to/data python bench/orand_finetune.py --out bench/out/orand-cnn

Digit boxes (``digit-boxes.coco.json``) of the images in ``bench/orand.py``'s fixed train split
are cut from the background-corrected ink map (``digitocr.segment.ink_map``) and go through
``normalise``, the same path ``read`` uses. The result is a model directory for
``--model bench/out/orand-cnn`` (loadable by ``digitocr.backends.load_model``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np
from orand import orand_dir, split


def orand_digits(folder: Path, files: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """Normalised digit crops and labels from the COCO boxes of ``files``."""
    from digitocr.normalise import normalise
    from digitocr.segment import ink_map

    coco = json.loads((folder / "digit-boxes.coco.json").read_text())
    images = {im["id"]: im["file_name"] for im in coco["images"] if im["file_name"] in files}
    names = {c["id"]: int(c["name"]) for c in coco["categories"]}
    by_image: dict[int, list[dict]] = {}
    for a in coco["annotations"]:
        if a["image_id"] in images:
            by_image.setdefault(a["image_id"], []).append(a)
    xs, ys = [], []
    for image_id, anns in sorted(by_image.items()):
        img = cv2.imread(str(folder / "images" / images[image_id]), cv2.IMREAD_GRAYSCALE)
        if img is None:
            continue
        ink = ink_map(img)
        for a in anns:
            x, y, w, h = (round(v) for v in a["bbox"])
            crop = ink[max(0, y) : y + h, max(0, x) : x + w]
            if crop.size == 0:
                continue
            xs.append(normalise(crop, polarity="bright"))
            ys.append(names[a["category_id"]])
    return np.stack(xs), np.asarray(ys, np.uint8)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA"))
    ap.add_argument("--out", type=Path, default=Path("bench/out/orand-cnn"))
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--mnist", type=int, default=30000, help="MNIST training images mixed in")
    ap.add_argument("--repeat", type=int, default=6, help="ORAND crops repeated this often")
    args = ap.parse_args()
    folder = orand_dir(args.data)
    train_files = {f for f, _ in split(folder, "train")}
    ox, oy = orand_digits(folder, train_files)
    print(f"ORAND train digits: {len(oy)}", file=sys.stderr)

    from digitocr_plugins.cnn import CNNClassifier

    from digitocr.backends import write_metadata
    from digitocr.data import load_source

    mnist = load_source(args.data, "train")
    rng = np.random.default_rng(0)
    pick = rng.permutation(len(mnist.y))[: args.mnist]
    x = np.concatenate([mnist.x[pick], *([ox] * args.repeat)])
    y = np.concatenate([mnist.y[pick], *([oy] * args.repeat)])
    hold = rng.permutation(len(y))
    val, tr = hold[:2000], hold[2000:]
    config = {"arch": "wide", "epochs": args.epochs, "seed": 0}
    model = CNNClassifier(**config)
    model.fit(x[tr], y[tr], validation=(x[val], y[val]),
              progress=lambda m: print(m, file=sys.stderr))
    model.save(args.out)
    write_metadata(args.out, {
        "backend": "cnn", "config": config,
        "trained_on": f"mnist:train[{args.mnist}] + orand-car train split digit boxes "
                      f"({len(oy)} x{args.repeat})",
    })
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
