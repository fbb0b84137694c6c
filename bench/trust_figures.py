#!/usr/bin/env python
"""Reliability and risk-coverage figures of the default reader on the real string sets.

    DIGITOCR_DATA=/path/to/data python bench/trust_figures.py [--out DIR] [--limit N]

``digitocr evaluate`` scores isolated 28x28 digits only; this reads whole crops as
``bench/real.py`` does (ORAND-CAR-A test split with ``--layout string``; danish-rowid
validation with the defaults) and draws, per set, ``<set>-reliability.png`` and
``<set>-risk_coverage.png`` on the field confidence (a crop's fields joined, confidence their
product; a crop with no field counts as confidence 0 and wrong; labels that are not plain
digits are never right). It also draws ``crnn-training_curves.png`` from ``models/crnn``'s
stages. Prints one JSON line per set: crops, exact, ECE, AURC and the error rate among crops
accepted at a few thresholds.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from orand import split as orand_split

REPO = Path(__file__).resolve().parent.parent


def _scores(pages: Any, truths: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per crop: the confidence of what was read and whether it equals the truth."""
    conf, right = [], []
    for page, truth in zip(pages, truths, strict=True):
        fields = [f for f in page.fields if f.text] if page.error is None else []
        text = "".join(f.text for f in fields)
        conf.append(float(np.prod([f.confidence for f in fields])) if fields else 0.0)
        right.append(bool(fields) and truth.isdigit() and text == truth)
    return np.clip(np.array(conf), 0.0, 1.0), np.array(right)


def orand(data: Path, limit: int | None, workers: int | None) -> tuple[np.ndarray, np.ndarray]:
    from digitocr.pipeline import read

    rows = orand_split(data / "orand-car", "test")[:limit]
    paths = [str(data / "orand-car" / "images" / f) for f, _ in rows]
    return _scores(read(paths, layout="string", workers=workers), [t for _, t in rows])


def danish(data: Path, limit: int | None, workers: int | None) -> tuple[np.ndarray, np.ndarray]:
    from digitocr.pipeline import read

    folder = data / "danish-rowid" / "validation"
    with open(folder / "labels.csv", newline="") as fh:
        rows = [(r["file"], r["text"]) for r in csv.DictReader(fh)][:limit]
    return _scores(read([str(folder / f) for f, _ in rows], workers=workers),
                   [t for _, t in rows])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA",
                                                     str(REPO.parent / "shared" / "data")))
    ap.add_argument("--out", type=Path, default=Path("evaluation/real"))
    ap.add_argument("--limit", type=int, default=None, help="First N crops of each set.")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    from digitocr.reports import (
        _curves_figure,
        calibration,
        reliability_figure,
        risk_coverage,
        risk_coverage_figure,
        training_stages,
    )

    data = Path(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    sets = (("orand", "ORAND-CAR-A test split (--layout string)", orand),
            ("danish", "danish-rowid validation (defaults)", danish))
    for key, name, fn in sets:
        conf, right = fn(data, args.limit, args.workers)
        title = f"default reader (--model auto) on {name}"
        reliability_figure(args.out / f"{key}-reliability.png", conf, right,
                           title=f"Reliability: {title}", unit="crop",
                           confidence_label="confidence of the crop's reading (its fields' "
                           "product)")
        risk_coverage_figure(args.out / f"{key}-risk_coverage.png", conf, right,
                             title=f"Risk-coverage: {title}", unit="crop")
        at = {f">={t:g}": {"accepted": round(float(np.mean(conf >= t)), 4),
                           "wrong": round(float(np.mean(~right[conf >= t])), 4)
                           if np.any(conf >= t) else None}
              for t in (0.5, 0.9, 0.99)}
        print(json.dumps({"set": key, "crops": int(conf.size),
                          "exact": round(float(right.mean()), 4),
                          "ece": round(calibration(conf, right)["ece"], 4),
                          "aurc": round(float(risk_coverage(conf, right)["aurc"]), 4),
                          "threshold": at}))
    meta = json.loads((REPO / "models" / "crnn" / "metadata.json").read_text())
    _curves_figure(args.out / "crnn-training_curves.png", training_stages(meta), "crnn",
                   "stages 1-3: ORAND-CAR-A train + synthetic, validation 60 ORAND crops; "
                   "stage 4: + danish-rowid train, validation + 1,135 cells")
    print(json.dumps({"figures": str(args.out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
