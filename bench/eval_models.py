"""Accuracy of every model directory given, on MNIST test, CVL-valid and the USPS hold-out.

    DIGITOCR_DATA=../shared/data python bench/eval_models.py models/cnn models/svm models/ensemble

The USPS hold-out is the 20% that ``train --extra`` keeps out with the default hold-out seed;
a model (or an ensemble member) that may have trained on part of it is not scored there.
Prints a Markdown table; figures quoted in the README and closing notes come from here.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from digitocr.backends import load_model, read_metadata
from digitocr.data import load_source, split_holdout
from digitocr.training import TrainConfig, saw_holdout


def members_meta(path: Path, meta: dict) -> list[dict]:
    """The metadata of a model, or of each member of an ensemble."""
    subs = sorted((path / "members").glob("*/metadata.json"))
    return [read_metadata(s.parent) for s in subs] if meta["backend"] == "ensemble" else [meta]


def main(paths: list[str]) -> None:
    data = Path(os.environ["DIGITOCR_DATA"])
    mnist = load_source(str(data / "mnist"), "test")
    cvl = load_source(str(data / "cvl" / "cvl-valid.npz"))
    usps = load_source(str(data / "usps" / "usps-train.npz"))
    _, usps_held = split_holdout(usps, 0.2, 0)
    print("| model | backend | MNIST test | CVL valid | USPS hold-out 20% | USPS all | "
          "train wall s | size MB |")
    print("|---|---|---|---|---|---|---|---|")
    for p in paths:
        meta = read_metadata(Path(p))
        probe = TrainConfig(extra=[str(data / "usps" / "usps-train.npz")], extra_holdout=0.2)
        clean = not any(saw_holdout(m, probe) for m in members_meta(Path(p), meta))
        model = load_model(p)
        accs = []
        t0 = time.perf_counter()
        for ds in (mnist, cvl, usps_held, usps):
            accs.append(float((model.predict(ds.x) == ds.y).mean()))
        held = f"{accs[2]:.4f}" if clean else "n/a (trained on part)"
        took = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in Path(p).rglob("*") if f.is_file()) / 1e6
        trained_on = [s for m in members_meta(Path(p), meta)
                      for s in m.get("training", {}).get("sources", [])]
        usps_all = f"{accs[3]:.4f}" + (" (trained on part)" if any("usps" in s for s in
                                                                  trained_on) else "")
        print(f"| {p} | {meta['backend']} | {accs[0]:.4f} | {accs[1]:.4f} | {held} | "
              f"{usps_all} | {meta.get('wall_time_s', '?')} | {size:.1f} |", flush=True)
        print(f"  ({p}: {sum(len(d) for d in (mnist, cvl, usps_held, usps))} images scored "
              f"in {took:.1f}s; trained on {trained_on})", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
