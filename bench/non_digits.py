#!/usr/bin/env python
"""How sure a digit classifier is of crops that are not digits, and what it costs on digits.

    DIGITOCR_DATA=../shared/data python bench/non_digits.py models/cnn runs/cnn-nd [--n 3000]

For each model directory: on ``--n`` held-out generated non-digit crops (``digitocr.nondigits``,
a seed no training run uses), the share the classifier reads as a digit with confidence at
least 0.5 and 0.9, per kind; on isolated digits (MNIST test, CVL valid), the accuracy and the
share of right answers kept at confidence 0.9. Real pages are scored by ``bench/real.py`` and
``bench/forms.py``; this one says whether the not-a-digit training took.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

#: a seed far from the ones ``train --non-digits`` uses (seed + 15485863)
SEED = 999_331


def main() -> int:
    from digitocr.backends import load_model
    from digitocr.data import load_source
    from digitocr.nondigits import draw_non_digits

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--n", type=int, default=3000)
    args = ap.parse_args()
    data = Path(os.environ.get("DIGITOCR_DATA", "../shared/data"))
    mnist = load_source(str(data / "mnist"), "test")
    cvl = load_source(str(data / "cvl" / "cvl-valid.npz"))
    junk, kinds = draw_non_digits(args.n, mnist.x[:2000], seed=SEED)
    for path in args.models:
        model = load_model(path)
        conf = model.predict_proba(junk)[:, :10].max(axis=1)
        row: dict[str, object] = {"model": path,
                                  "non_digits_read_at_0.5": round(float(np.mean(conf >= 0.5)), 4),
                                  "non_digits_read_at_0.9": round(float(np.mean(conf >= 0.9)), 4)}
        by_kind = {}
        for k in sorted(set(kinds)):
            sel = np.asarray([kk == k for kk in kinds])
            by_kind[k] = round(float(np.mean(conf[sel] >= 0.9)), 3)
        row["read_at_0.9_by_kind"] = by_kind
        for name, ds in (("mnist_test", mnist), ("cvl_valid", cvl)):
            p = model.predict_proba(ds.x)[:, :10]
            right = p.argmax(axis=1) == ds.y
            row[f"{name}_accuracy"] = round(float(np.mean(right)), 4)
            row[f"{name}_right_at_0.9"] = round(float(np.mean(right & (p.max(axis=1) >= 0.9))), 4)
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
