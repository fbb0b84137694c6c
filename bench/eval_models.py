"""Accuracy of every model directory given, on MNIST test, CVL-valid and the USPS hold-out.

    DIGITOCR_DATA=../shared/data python bench/eval_models.py models/cnn models/svm models/ensemble

The USPS hold-out is the seeded 20% that ``train --extra`` kept out (seed from the model's own
training config), so models trained on the other 80% are scored on digits they never saw.
Prints a Markdown table; figures quoted in the README and closing notes come from here.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from digitocr.backends import load_model, read_metadata
from digitocr.data import load_source, split_holdout


def main(paths: list[str]) -> None:
    data = Path(os.environ["DIGITOCR_DATA"])
    mnist = load_source(str(data / "mnist"), "test")
    cvl = load_source(str(data / "cvl" / "cvl-valid.npz"))
    usps = load_source(str(data / "usps" / "usps-train.npz"))
    print("| model | backend | MNIST test | CVL valid | USPS hold-out 20% | USPS all | "
          "train wall s | size MB |")
    print("|---|---|---|---|---|---|---|---|")
    for p in paths:
        meta = read_metadata(Path(p))
        seed = int(meta.get("train_config", {}).get("seed", 0))
        frac = float(meta.get("train_config", {}).get("extra_holdout", 0.2))
        _, usps_held = split_holdout(usps, frac, seed)
        model = load_model(p)
        accs = []
        t0 = time.perf_counter()
        for ds in (mnist, cvl, usps_held, usps):
            accs.append(float((model.predict(ds.x) == ds.y).mean()))
        took = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in Path(p).rglob("*") if f.is_file()) / 1e6
        trained_on = meta.get("training", {}).get("sources", [])
        usps_all = f"{accs[3]:.4f}" + (" (trained on 80%)" if any("usps" in s for s in
                                                                  trained_on) else "")
        print(f"| {p} | {meta['backend']} | {accs[0]:.4f} | {accs[1]:.4f} | {accs[2]:.4f} | "
              f"{usps_all} | {meta.get('wall_time_s', '?')} | {size:.1f} |", flush=True)
        print(f"  ({p}: {sum(len(d) for d in (mnist, cvl, usps_held, usps))} images scored "
              f"in {took:.1f}s; trained on {trained_on})", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
