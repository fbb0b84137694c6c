#!/usr/bin/env python
"""Generated-forms benchmark: boxes found, field exact match, digit accuracy, pages/s, digits/s.

    DIGITOCR_DATA=/path/to/data python bench/forms.py --pages 200 --seed 1 --model cnn

The forms (A4, 300 dpi, 7 fields and ~45 digits a page, MNIST *test* digits) are made by
``samples/make_samples.py`` into ``--dir`` (default ``bench/out/forms-<pages>-<seed>``) on the
first run and reused after. Time is wall-clock for ``digitocr.pipeline.read`` over every file
(decode + segment + classify), model loading excluded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from score import Score, score_page

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA"))
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dpi", type=int, default=300)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--layout", default="auto")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="read only the first N pages")
    ap.add_argument("--show-misses", type=int, default=10)
    args = ap.parse_args()
    folder = args.dir or REPO / "bench" / "out" / f"forms-{args.pages}-{args.seed}-{args.dpi}"
    if not (folder / "truth.json").is_file():
        sys.path.insert(0, str(REPO / "samples"))
        import make_samples

        print(f"generating {args.pages} forms into {folder} …", file=sys.stderr)
        rc = make_samples.main(["--data", args.data or "", "--pages", str(args.pages),
                                "--seed", str(args.seed), "--dpi", str(args.dpi),
                                "--out", str(folder)])
        if rc:
            return rc
    truth = json.loads((folder / "truth.json").read_text())
    names = sorted(truth)[: args.limit or None]

    from digitocr.pipeline import read, resolve_classifier

    model = resolve_classifier(args.model) if args.workers == 1 else args.model
    score = Score()
    digits = 0
    t0 = time.perf_counter()
    results = read([str(folder / n) for n in names], model, args.layout, workers=args.workers)
    pages = 0
    for name, page in zip(names, results, strict=True):
        rec = page.to_dict()
        pages += 1
        digits += sum(len(f["text"]) for f in rec["fields"])
        score_page(score, name, truth[name][0]["fields"], rec)
    took = time.perf_counter() - t0
    out = score.summary()
    out.update(pages=pages, seconds=round(took, 2), pages_per_s=round(pages / took, 2),
               digits_per_s=round(digits / took, 1), model=args.model, workers=args.workers)
    print(json.dumps(out, indent=1))
    for m in score.misses[: args.show_misses]:
        print("  miss", m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
