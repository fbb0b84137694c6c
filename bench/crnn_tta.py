#!/usr/bin/env python
"""Test-time variants of the string reader's crops: which views, and which rule picks the text.

    DIGITOCR_DATA=../shared/data python bench/crnn_tta.py [--limit N]

Reads the real sets in this process (ORAND-CAR test split with ``--layout string``, the
danish-rowid validation cells, the IDRBT cheques with ``--layout cheque``) with the default
model, records every crop the pipeline hands to the crnn, then reads each crop again under a
few geometric views of its prepared image (``VIEWS``) and prints, per set, the
exact rate of each view alone, of each selection rule over the views, and of the oracle (any
view right). Truth is matched per crop for ORAND and danish (one crop each); cheques are
scored on the amount crop only (the widest crop the crnn is given on a page).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from orand import split as orand_split

from digitocr.strings import MAX_WIDTH, MIN_WIDTH, prepare

REPO = Path(__file__).resolve().parent.parent

#: test-time views of a prepared crop (``view``): as it is; a border of ``VIEW_PAD`` rows of
#: paper all round (the writing smaller in the same height); widened or narrowed by
#: ``VIEW_STRETCH``; strokes thickened by a 2x2 dilation
VIEWS = ("plain", "pad", "wide", "narrow", "pad-wide", "bold")
VIEW_PAD = 4
VIEW_STRETCH = (1.2, 0.85)


def view(img: np.ndarray, name: str) -> np.ndarray:
    """One of ``VIEWS`` of a prepared (height, width) crop, at the same height."""
    h, w = img.shape
    if name in ("pad", "pad-wide"):
        big = cv2.copyMakeBorder(img, VIEW_PAD, VIEW_PAD, VIEW_PAD, VIEW_PAD,
                                 cv2.BORDER_CONSTANT, value=0.0)
        w = max(MIN_WIDTH, round(big.shape[1] * h / big.shape[0]))
        img = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)
    if name in ("wide", "pad-wide", "narrow"):
        s = VIEW_STRETCH[1] if name == "narrow" else VIEW_STRETCH[0]
        w = int(min(MAX_WIDTH, max(MIN_WIDTH, round(w * s))))
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    if name == "bold":
        img = cv2.dilate(img, np.ones((2, 2), np.uint8))
    if name not in VIEWS:
        raise ValueError(f"unknown view {name!r}: expected one of {', '.join(VIEWS)}")
    return img


def read_views(reader: Any, crop: np.ndarray, polarity: str,
               views: tuple[str, ...] = VIEWS) -> list[Any]:
    """``reader``'s readings of ``crop`` under each of ``views``."""
    img = prepare(crop, polarity)
    return reader.read_prepared([view(img, v) for v in views])


def record(paths: list[str], **kw: Any) -> list[list[tuple[np.ndarray, str]]]:
    """Each file's crops given to the string reader, in order."""
    import digitocr_plugins.crnn as crnn

    from digitocr.pipeline import read

    seen: list[list[tuple[np.ndarray, str]]] = []
    orig = crnn.CRNNReader.read_detailed

    def spy(self: Any, crops: list[np.ndarray], polarity: str = "auto",
            batch_size: int = 128) -> Any:
        seen[-1].extend((c.copy(), polarity) for c in crops)
        return orig(self, crops, polarity, batch_size)

    crnn.CRNNReader.read_detailed = spy  # type: ignore[method-assign]
    try:
        for p in paths:
            seen.append([])
            list(read([p], workers=1, **kw))
    finally:
        crnn.CRNNReader.read_detailed = orig  # type: ignore[method-assign]
    return seen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA",
                                                     str(REPO.parent / "shared" / "data")))
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    data = Path(args.data)
    from digitocr.backends import load_string_reader

    reader = load_string_reader("crnn")
    sets: dict[str, tuple[list[tuple[np.ndarray, str]], list[str]]] = {}
    rows = orand_split(data / "orand-car", "test")[: args.limit]
    got = record([str(data / "orand-car" / "images" / f) for f, _ in rows], layout="string")
    pairs = [(g[0], t) for (_, t), g in zip(rows, got, strict=True) if g]
    sets["orand"] = ([c for c, _ in pairs], [t for _, t in pairs])
    folder = data / "danish-rowid" / "validation"
    with open(folder / "labels.csv", newline="") as fh:
        drows = [(r["file"], r["text"]) for r in csv.DictReader(fh)][: args.limit]
    got = record([str(folder / f) for f, _ in drows])
    keep = [(g, t) for (f, t), g in zip(drows, got, strict=True) if len(g) == 1 and t.isdigit()]
    sets["danish"] = ([g[0] for g, _ in keep], [t for _, t in keep])
    truth = json.loads((data / "cheques-idrbt" / "truth.json").read_text())["cheques"]
    truth = truth[: args.limit]
    got = record([str(data / "cheques-idrbt" / c["image"]) for c in truth], layout="cheque")
    amt = [(max(g, key=lambda c: c[0].shape[1]), next(f["text"] for f in c["fields"]
                                                      if f["name"] == "amount"))
           for c, g in zip(truth, got, strict=True) if g]
    sets["idrbt-amount"] = ([a for a, _ in amt], [t for _, t in amt])
    for name, (crops, labels) in sets.items():
        per_view = {v: [] for v in VIEWS}
        for crop, pol in crops:
            for v, r in zip(VIEWS, read_views(reader, crop, pol, VIEWS), strict=True):
                per_view[v].append((r.text, r.confidence))
        n = len(labels)
        out: dict[str, Any] = {"set": name, "crops": n}
        for v in VIEWS:
            right = sum(t == y for (t, _), y in zip(per_view[v], labels, strict=True))
            out[v] = round(right / n, 4)
        rules: dict[str, list[str]] = {"vote": [], "maxconf": [], "sumconf": [], "oracle": []}
        for i, y in enumerate(labels):
            reads = [per_view[v][i] for v in VIEWS]
            votes = Counter(t for t, _ in reads)
            top = max(votes.values())
            first = next(t for t, _ in reads if votes[t] == top)  # ties: the earlier view
            rules["vote"].append(first)
            rules["maxconf"].append(max(reads, key=lambda r: r[1])[0])
            sums: Counter[str] = Counter()
            for t, c in reads:
                sums[t] += c
            rules["sumconf"].append(sums.most_common(1)[0][0])
            rules["oracle"].append(y if any(t == y for t, _ in reads) else reads[0][0])
        for r, texts in rules.items():
            out[r] = round(sum(t == y for t, y in zip(texts, labels, strict=True)) / n, 4)
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
