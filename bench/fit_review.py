#!/usr/bin/env python
"""Fit the review threshold (``--min-confidence``) of a model on real held-out cells.

    DIGITOCR_DATA=/path/to/data python bench/fit_review.py [--model auto] [--cells 4000]

Reads a seeded sample of ``danish-rowid/train`` (ledger cells no shipped model was trained on)
as ``digitocr read DIR`` does, with review off (``min_confidence=0``: only the reader's own
flags, such as the auto reader's disagreement, remain), and prints the risk-coverage table:
for each threshold, the share of cells left unflagged and the share wrong among them. The
fitted threshold is the lowest whose wrong-among-unflagged is at most ``--target``; it is
measured afterwards on other sets (``bench/real.py``), never on this one. ``--write`` stores
it in the model's ``metadata.json`` (``config.min_confidence``) with how it was fitted.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
GRID = [round(x, 3) for x in (*np.arange(0.5, 0.95, 0.05), *np.arange(0.95, 1.0, 0.005))]


def cells(data: Path, n: int, seed: int) -> list[tuple[str, str]]:
    folder = data / "danish-rowid" / "train"
    with open(folder / "labels.csv", newline="") as fh:
        rows = [(str(folder / r["file"]), r["text"]) for r in csv.DictReader(fh)]
    pick = np.random.default_rng(seed).permutation(len(rows))[:n]
    return [rows[i] for i in sorted(pick)]


def readings(rows: list[tuple[str, str]], model: str, workers: int | None
             ) -> list[tuple[float, bool, bool]]:
    """(confidence, flagged by the reader itself, right) per cell."""
    from digitocr.pipeline import read

    out = []
    for (_, truth), page in zip(rows, read([p for p, _ in rows], model, min_confidence=0.0,
                                           workers=workers), strict=True):
        fields = page.fields
        text = "".join(f.text for f in fields)
        conf = min((f.confidence for f in fields), default=0.0)
        flagged = page.error is not None or not fields or any(f.needs_review for f in fields)
        out.append((conf, flagged, truth.isdigit() and text == truth))
    return out


def table(rows: list[tuple[float, bool, bool]]) -> list[dict[str, Any]]:
    conf = np.array([r[0] for r in rows])
    flagged = np.array([r[1] for r in rows])
    right = np.array([r[2] for r in rows])
    out = []
    for t in GRID:
        kept = ~flagged & (conf >= t)
        n = int(kept.sum())
        out.append({"threshold": t, "unflagged": round(n / len(rows), 4),
                    "wrong_among_unflagged": round(float((~right[kept]).mean()) if n else 0.0, 4),
                    "n_unflagged": n})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA",
                                                      str(REPO.parent / "shared" / "data")))
    ap.add_argument("--model", default="auto")
    ap.add_argument("--cells", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target", type=float, default=0.02,
                    help="largest share of wrong fields among the unflagged")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--write", action="store_true", help="store the threshold in the model")
    args = ap.parse_args()
    rows = cells(Path(args.data), args.cells, args.seed)
    got = readings(rows, args.model, args.workers)
    tab = table(got)
    for row in tab:
        print(json.dumps(row))
    ok = [r for r in tab if r["wrong_among_unflagged"] <= args.target and r["n_unflagged"]]
    fitted = ok[0] if ok else None
    print(json.dumps({"fitted": fitted, "target": args.target, "cells": len(rows),
                      "right": round(float(np.mean([r[2] for r in got])), 4)}))
    if args.write and fitted is not None:
        from digitocr.backends import read_metadata, resolve_model_dir, write_metadata

        directory = resolve_model_dir(args.model)
        meta = read_metadata(directory)
        meta.setdefault("config", {})["min_confidence"] = fitted["threshold"]
        meta["review_fit"] = {
            "command": "python bench/fit_review.py " + " ".join(sys.argv[1:]),
            "set": f"danish-rowid/train, {len(rows)} cells (seed {args.seed})",
            "target_wrong_among_unflagged": args.target, **fitted}
        write_metadata(directory, meta)
        print(f"wrote min_confidence {fitted['threshold']} to {directory}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
