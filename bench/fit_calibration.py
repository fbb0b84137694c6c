#!/usr/bin/env python
"""Fit the auto reader's calibration of cut cells on held-out crops.

    DIGITOCR_DATA=../shared/data python bench/crnn_amount_data.py /tmp/amounts
    python bench/fit_calibration.py /tmp/amounts/val [--write]

The folder is the shipped crnn's validation set (held out of its training: a seeded slice of
``danish-rowid/train``, ORAND-CAR's 60 validation crops, plain and with an ending written
after them; its synthetic crops are left out here, calibration is for real writing). Each
crop is read with ``--model auto`` uncalibrated and review off; the string reader's own
confidence and whether the digit classifier agreed are kept. For each of the two groups a
Platt scaling (``sigmoid(a * logit(p) + b)``, two parameters by logistic regression) maps the
confidence to how often such readings are right. The review threshold stays the model's policy
(``min_confidence`` 0.9: flag what is less than 90 % likely right, which calibrated
confidences now mean); what it accepts on this set, and how many of those are wrong, is
reported. A reading the classifier does not confirm is flagged, unless its calibrated
confidence reaches ``accept_disagree``: the lowest value on ``ACCEPT_GRID`` from which none of
the disagreements on this set is wrong (none found: every disagreement stays flagged).
``--write`` stores the parameters in ``models/auto/metadata.json``. Scored
elsewhere, on sets never used here: ``bench/real.py`` and ``bench/trust_figures.py``
(danish-rowid validation, ORAND test).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
#: calibrated confidences tried as ``accept_disagree``, lowest first, and the fewest
#: disagreements a value must accept on the set to be chosen
ACCEPT_GRID = [round(0.9 + 0.005 * i, 3) for i in range(20)]
ACCEPT_MIN = 30


def logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def fit_platt(p: np.ndarray, right: np.ndarray, steps: int = 50) -> tuple[float, float]:
    """(a, b) maximising the likelihood of ``right`` under sigmoid(a * logit(p) + b)
    (Newton's method, a tiny ridge so that separable data stays finite)."""
    x = np.stack([logit(p), np.ones_like(p)], axis=1)
    w = np.array([1.0, 0.0])
    for _ in range(steps):
        z = x @ w
        q = 1 / (1 + np.exp(-z))
        grad = x.T @ (q - right) + 1e-3 * w
        hess = (x * (q * (1 - q))[:, None]).T @ x + 1e-3 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return float(w[0]), float(w[1])


def ece(conf: np.ndarray, right: np.ndarray, bins: int = 10) -> float:
    from digitocr.reports import calibration

    return float(calibration(conf, right, bins)["ece"])


def main() -> int:
    from digitocr.backends import read_metadata
    from digitocr.combined import DISAGREE, AutoReader, platt
    from digitocr.pipeline import read

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--write", action="store_true", help="Store the fit in models/auto.")
    args = ap.parse_args()
    with open(args.folder / "labels.csv", newline="") as fh:
        rows = [(r["file"], r["text"]) for r in csv.DictReader(fh)
                if "-synth-" not in r["file"] and r["text"].isdigit()]
    auto_dir = REPO / "models" / "auto"
    meta = read_metadata(auto_dir)
    options = {k: v for k, v in meta["config"].items()
               if k not in ("calibration", "accept_disagree")}
    reader = AutoReader.load(auto_dir, options)
    conf, agree, right = [], [], []
    pages = read([p for p, _ in rows], reader, min_confidence=0.0, workers=None)
    for (_, truth), page in zip(rows, pages, strict=True):
        f = page.fields[0] if page.fields else None
        if f is None or not f.text:
            continue
        ok = not f.needs_review
        conf.append(f.confidence if ok else f.confidence / DISAGREE)
        agree.append(ok)
        right.append(f.text == truth)
    c, a, r = np.array(conf), np.array(agree), np.array(right, dtype=float)
    params = {}
    for name, sel in (("agree", a), ("disagree", ~a)):
        params[name] = list(fit_platt(c[sel], r[sel]))
    before = np.where(a, c, c * DISAGREE)
    reader_cal = AutoReader(**{**options, "calibration": params})
    after = np.array([reader_cal.calibrated(float(p), bool(g)) for p, g in zip(c, a,
                                                                              strict=True)])
    # the lowest confidence on the grid from which no disagreement this set holds is wrong
    # (at least ACCEPT_MIN of them): there a disagreement alone is no reason for review
    accept = next((t for t in ACCEPT_GRID
                   if (sel := ~a & (after >= t)).sum() >= ACCEPT_MIN and r[sel].all()), None)
    taken = ~a & (after >= accept) if accept is not None else np.zeros_like(a)
    threshold = float(options.get("min_confidence", 0.9))
    keep = (a & (after >= threshold)) | taken
    report = {
        "set": str(args.folder), "crops": len(c), "agree": int(a.sum()),
        "right_when_agree": round(float(r[a].mean()), 4),
        "right_when_disagree": round(float(r[~a].mean()), 4),
        "calibration": {k: [round(v, 4) for v in ab] for k, ab in params.items()},
        "ece_before": round(ece(before, r.astype(bool)), 4),
        "ece_after": round(ece(after, r.astype(bool)), 4),
        "accept_disagree": accept,
        "disagreements_accepted": int(taken.sum()),
        "min_confidence": threshold, "accepted": round(float(keep.mean()), 4),
        "wrong_among_accepted": round(float(np.mean(r[keep] == 0)), 4) if keep.any() else None,
    }
    print(json.dumps(report))
    assert math.isclose(platt(0.5, (1.0, 0.0)), 0.5)
    if args.write:
        meta["config"] = {**options, "calibration": report["calibration"]}
        if accept is not None:
            meta["config"]["accept_disagree"] = accept
        meta["calibration_fit"] = {k: v for k, v in report.items() if k != "calibration"}
        meta["calibration_fit"]["command"] = ("python bench/fit_calibration.py "
                                              f"{args.folder} --write")
        (auto_dir / "metadata.json").write_text(json.dumps(meta, indent=1) + "\n")
        print(f"wrote {auto_dir / 'metadata.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
