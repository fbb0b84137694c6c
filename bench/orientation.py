#!/usr/bin/env python
"""How often ``digitocr.orientation`` turns an upright page, and how often it finds a turned one.

    DIGITOCR_DATA=/path/to/data python bench/orientation.py --forms 50

Pages: the committed samples (every page of every file), ``--forms`` generated A4 forms
(``samples/make_samples.py``'s ``make_form`` and ``degrade``, one seed each, at 150, 200 and
300 dpi in turn, JPEG-compressed) and, when present, the whole IDRBT cheque scans
(``$DIGITOCR_DATA/cheques-idrbt/images``). Each page is judged as given and turned 90, 180 and
270 degrees clockwise, the way ``read`` judges it (gray). For upright pages the figures are the
pages turned (wrongly) and flagged; for turned copies, the pages turned back right, flagged as
sideways, turned wrongly, and missed (read as given).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from digitocr import orientation  # noqa: E402
from digitocr.io import load_pages  # noqa: E402


def sample_pages() -> Iterator[tuple[str, np.ndarray]]:
    for p in sorted((REPO / "samples").rglob("*")):
        if p.suffix.lower() in (".png", ".jpg", ".tif", ".pdf", ".bmp"):
            for page in load_pages(str(p)):
                yield f"samples/{p.relative_to(REPO / 'samples')}#{page.page}", page.image


def form_pages(data: str, count: int, seed: int) -> Iterator[tuple[str, np.ndarray]]:
    sys.path.insert(0, str(REPO / "samples"))
    import make_samples

    digits = make_samples.load_digits(data)
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        dpi = (150, 200, 300)[i % 3]
        img, truth = make_samples.make_form(digits, rng, dpi)
        page = make_samples.degrade(img, rng, truth)
        ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(page, cv2.COLOR_RGB2GRAY),
                               [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 90))])
        assert ok
        yield f"form-{seed}-{i} ({dpi} dpi)", cv2.imdecode(jpg, cv2.IMREAD_GRAYSCALE)


def cheque_pages(data: str) -> Iterator[tuple[str, np.ndarray]]:
    folder = Path(data) / "cheques-idrbt" / "images"
    for p in sorted(folder.glob("*.jpg")) if folder.is_dir() else []:
        for page in load_pages(str(p)):
            yield f"idrbt/{p.name}", page.image


def outcome(est: orientation.Estimate, angle: int) -> str:
    if not orientation.should_turn(est):
        return "upright" if angle == 0 else "missed"
    if angle == 0:
        return "turned" if est.confident else "flagged"
    if not est.confident:
        return "sideways, flagged"
    return "right" if est.angle == angle else "wrong"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA",
                                                      str(REPO.parent / "shared" / "data")))
    ap.add_argument("--forms", type=int, default=50)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per page and turn")
    args = ap.parse_args(argv)
    sets = {"samples": sample_pages(), "forms": form_pages(args.data, args.forms, args.seed),
            "cheques": cheque_pages(args.data)}
    times: list[float] = []
    print(f"{'set':8s} {'pages':>5s}  as given            turned 90/180/270")
    for name, pages in sets.items():
        counts: dict[int, Counter[str]] = {a: Counter() for a in (0, 90, 180, 270)}
        n = 0
        for label, image in pages:
            n += 1
            for angle in (0, 90, 180, 270):
                given = np.ascontiguousarray(np.rot90(image, -(angle // 90)))
                t = time.perf_counter()
                est = orientation.estimate(given)
                times.append(time.perf_counter() - t)
                result = outcome(est, angle)
                counts[angle][result] += 1
                if args.verbose:
                    print(f"  {label:32s} {angle:3d} -> {est.angle:3d} {result:18s} "
                          f"pairs {est.pairs_x}/{est.pairs_y} tops/bottoms {est.up}/{est.down}")
        if not n:
            continue
        up = counts[0]
        turned: Counter[str] = counts[90] + counts[180] + counts[270]
        print(f"{name:8s} {n:5d}  turned {up['turned']}, flagged {up['flagged']}   "
              f"right {turned['right']}, sideways-flagged {turned['sideways, flagged']}, "
              f"wrong {turned['wrong']}, missed {turned['missed']} (of {3 * n})")
        for angle in (90, 180, 270):
            c = counts[angle]
            print(f"{'':16s}{angle:3d}: right {c['right']}, flagged {c['sideways, flagged']}, "
                  f"wrong {c['wrong']}, missed {c['missed']}")
    if times:
        print(f"estimate: median {1000 * float(np.median(times)):.0f} ms, "
              f"max {1000 * max(times):.0f} ms per page")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
