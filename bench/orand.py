#!/usr/bin/env python
"""ORAND-CAR-A benchmark: digit-string exact match of ``read --layout string`` on courtesy amounts.

    DIGITOCR_DATA=/path/to/data python bench/orand.py --model cnn --split test

With a string reader (``--model crnn``) the whole crop is one field read by the recogniser, and
the crops are also read in one batched call (``batched_crops_per_s``).

The split is fixed: files sorted by name, shuffled with seed 0, the first 70 % ``train``
(the only part any fine-tuning may use, see ``bench/orand_finetune.py``), the rest ``test``.
Also reports digit accuracy (1 - edit distance / length) and crops/s.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from score import edit_distance

REPO = Path(__file__).resolve().parent.parent


def orand_dir(data: str | None) -> Path:
    base = Path(data) if data else REPO.parent / "shared" / "data"
    return base / "orand-car" if (base / "orand-car").is_dir() else base


def split(folder: Path, part: str, train_fraction: float = 0.7) -> list[tuple[str, str]]:
    """(file, digits) of one part of the fixed split."""
    with open(folder / "labels.csv", newline="") as fh:
        rows = sorted((r["file"], r["digits"]) for r in csv.DictReader(fh))
    order = np.random.default_rng(0).permutation(len(rows))
    cut = round(len(rows) * train_fraction)
    idx = order[:cut] if part == "train" else order[cut:]
    return [rows[i] for i in sorted(idx)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA"))
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--split", choices=["train", "test", "all"], default="test")
    ap.add_argument("--layout", default="string")
    ap.add_argument("--show-misses", type=int, default=10)
    args = ap.parse_args()
    folder = orand_dir(args.data)
    rows = split(folder, "train") + split(folder, "test") if args.split == "all" else split(
        folder, args.split)

    from digitocr.pipeline import read, resolve_classifier

    model = resolve_classifier(args.model)
    exact = digits = errors = 0
    misses = []
    t0 = time.perf_counter()
    pages = read([str(folder / "images" / f) for f, _ in rows], model, args.layout)
    for (name, truth), page in zip(rows, pages, strict=True):
        text = page.fields[0].text if page.fields else ""
        exact += text == truth
        digits += len(truth)
        errors += min(len(truth), edit_distance(text, truth))
        if text != truth:
            misses.append(f"{name}: read {text!r}, truth {truth!r}")
    took = time.perf_counter() - t0
    print(json.dumps({
        "split": args.split, "images": len(rows), "model": args.model,
        "exact_match": round(exact / len(rows), 4),
        "digit_accuracy": round(1 - errors / digits, 4),
        "seconds": round(took, 2), "crops_per_s": round(len(rows) / took, 1),
    }, indent=1))
    for m in misses[: args.show_misses]:
        print("  miss", m)
    from digitocr.backends import StringReader

    if isinstance(model, StringReader):
        print(json.dumps(batched(model, folder, rows), indent=1))
    return 0


def batched(reader: object, folder: Path, rows: list[tuple[str, str]]) -> dict[str, object]:
    """A string reader on decoded crops in one batched call (no file I/O, no per-page loop)."""
    from digitocr.backends import StringReader
    from digitocr.io import load_pages

    assert isinstance(reader, StringReader)
    crops = [next(load_pages(str(folder / "images" / f), gray=True)).image for f, _ in rows]
    reader.read_strings(crops[:8])  # warm-up (graph tracing)
    t0 = time.perf_counter()
    got = reader.read_strings(crops)
    took = time.perf_counter() - t0
    exact = sum(t == truth for (t, _), (_, truth) in zip(got, rows, strict=True))
    return {"batched_exact_match": round(exact / len(rows), 4),
            "batched_seconds": round(took, 2),
            "batched_crops_per_s": round(len(rows) / took, 1)}


if __name__ == "__main__":
    sys.exit(main())
