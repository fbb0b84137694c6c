#!/usr/bin/env python
"""Pages per second of ``digitocr.read`` in this process on the generated 300 dpi forms.

    python bench/read_rate.py [--pages 60] [--workers 2] [--model auto]
    PYTHONPATH=/tmp/old:/tmp/old-pp python bench/read_rate.py   # another tree, to interleave

The forms are ``bench/speed.py``'s (``bench/out/forms-200-1-300``, made by it on first use).
A warm-up read of 4 pages first (workers started, models loaded), then the timed read. On a
noisy machine run two trees in turn several times and compare the medians.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    import digitocr
    from digitocr.pipeline import read

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", default="auto")
    args = ap.parse_args()
    folder = REPO / "bench" / "out" / "forms-200-1-300"
    files = sorted(str(p) for p in folder.glob("*.jpg"))[: args.pages]
    if not files:
        print(f"no forms in {folder}: run bench/speed.py once", file=sys.stderr)
        return 1
    list(read(files[:4], args.model, workers=args.workers))
    t = time.perf_counter()
    pages = list(read(files, args.model, workers=args.workers))
    took = time.perf_counter() - t
    print(json.dumps({"tree": str(Path(digitocr.__file__).parent.parent), "pages": len(pages),
                      "pages_per_s": round(len(pages) / took, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
