#!/usr/bin/env python
"""Templates: field exact match with a template made by ``template make`` against ``--layout
auto``, on the committed sample scan and on generated forms moved about the page.

    DIGITOCR_DATA=/path/to/data python bench/templates.py --pages 40 --seed 3

1. ``samples/form-scan.jpg`` read with a template made from ``samples/form-clean.png``
   (``digitocr.templates.make_template``, as ``digitocr template make`` does), scored against
   ``samples/truth.json``; also with ``--layout auto`` and with the old ``samples/template.json``
   (rectangles scaled by the page's size, nothing registered).
2. ``--pages`` generated A4 forms (``samples/make_samples.py``'s ``make_form``, MNIST *test*
   digits, ``--dpi``) shifted by up to ``--shift`` of the page, rotated up to ``--rotate``
   degrees and scaled by ``--scale`` (the page keeps its size), then lit unevenly, blurred,
   noised and saved as JPEG. The template is made from one clean generated form (another
   seed). Both ways read every page with the same reader (``--model``, default ``auto``);
   fields are matched to the truth by overlap (``bench/score.py``).

Also prints how the pages registered (inliers, error) and the pages per second of each way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from score import Score, score_page

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "samples"))


def move(img: np.ndarray, truth: list[dict[str, Any]], rng: np.random.Generator, shift: float,
         rotate: float, scale: tuple[float, float]) -> np.ndarray:
    """``img`` shifted, rotated and scaled about its centre (same size); ``truth`` boxes follow
    (their centres move, their sizes scale)."""
    h, w = img.shape[:2]
    angle = float(rng.uniform(-rotate, rotate))
    s = float(rng.uniform(*scale))
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, s)
    m[:, 2] += (float(rng.uniform(-shift, shift)) * w, float(rng.uniform(-shift, shift)) * h)
    out = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=(245, 245, 245))
    for f in truth:
        x, y, bw, bh = f["bbox"]
        cx, cy = x + bw / 2, y + bh / 2
        nx = m[0, 0] * cx + m[0, 1] * cy + m[0, 2]
        ny = m[1, 0] * cx + m[1, 1] * cy + m[1, 2]
        f["bbox"] = [round(nx - bw * s / 2), round(ny - bh * s / 2), round(bw * s), round(bh * s)]
    return out


def scan(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uneven light, blur and noise (``make_samples.degrade`` without its rotation)."""
    h, w = img.shape[:2]
    f = img.astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gx, gy = rng.uniform(-1, 1, 2)
    light = 1.0 - 0.25 * (0.5 + 0.5 * np.tanh((gx * (xx / w - 0.5) + gy * (yy / h - 0.5)) * 3))
    f = f * light[..., None]
    sigma = float(rng.uniform(0, 1.0)) * w / 2480 * 2
    if sigma > 0.3:
        f = cv2.GaussianBlur(f, (0, 0), sigma)
    f = f + rng.normal(0, float(rng.uniform(2, 7)), f.shape).astype(np.float32)
    return np.clip(f, 0, 255).astype(np.uint8)


def save_jpeg(img: np.ndarray, path: Path, rng: np.random.Generator) -> None:
    rgb = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(path), rgb, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 90))])


def moved_forms(folder: Path, digits: Any, pages: int, seed: int, dpi: int, shift: float,
                rotate: float, scale: tuple[float, float],
                make: Any = None) -> tuple[Path, dict[str, Any]]:
    """Write the clean reference form and ``pages`` moved scans to ``folder`` (reused when
    there); ``make(digits, rng, dpi)`` draws one form (default ``make_samples.make_form``)."""
    import make_samples

    make = make or make_samples.make_form
    folder.mkdir(parents=True, exist_ok=True)
    ref = folder / "reference.png"
    truth_file = folder / "truth.json"
    if truth_file.is_file() and ref.is_file():
        return ref, json.loads(truth_file.read_text())
    img, _ = make(digits, np.random.default_rng([seed, 999]), dpi)
    cv2.imwrite(str(ref), cv2.cvtColor(img, cv2.COLOR_RGB2GRAY))
    truth: dict[str, Any] = {}
    for i in range(pages):
        rng = np.random.default_rng([seed, i])
        img, t = make(digits, rng, dpi)
        name = f"form-{i + 1:03d}.jpg"
        save_jpeg(scan(move(img, t, rng, shift, rotate, scale), rng), folder / name, rng)
        truth[name] = t
    truth_file.write_text(json.dumps(truth, indent=1) + "\n")
    return ref, truth


def score_read(names: list[str], folder: Path, truth: dict[str, Any], model: Any,
               **kw: Any) -> tuple[Score, list[dict[str, Any]], float]:
    from digitocr.pipeline import read

    score = Score()
    recs = []
    t0 = time.perf_counter()
    for name, page in zip(names, read([str(folder / n) for n in names], model, **kw),
                          strict=True):
        rec = page.to_dict()
        recs.append(rec)
        score_page(score, name, truth[name], rec)
    return score, recs, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA"))
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--dpi", type=int, default=200)
    ap.add_argument("--shift", type=float, default=0.05, help="share of the page")
    ap.add_argument("--rotate", type=float, default=3.0, help="degrees")
    ap.add_argument("--scale", type=float, nargs=2, default=(0.9, 1.1))
    ap.add_argument("--model", default="auto")
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--show-misses", type=int, default=8)
    args = ap.parse_args()

    from digitocr.io import load_pages
    from digitocr.pipeline import resolve_classifier
    from digitocr.templates import make_template

    model = resolve_classifier(args.model)
    out: dict[str, Any] = {"model": args.model}

    # 1. the committed sample scan
    samples = REPO / "samples"
    truth = json.loads((samples / "truth.json").read_text())
    clean = next(load_pages(samples / "form-clean.png", gray=True)).image
    tmpl = make_template(clean)
    sample_truth = {"form-scan.jpg": truth["form-scan.jpg"][0]["fields"]}
    old = samples / "template.json"  # rectangles scaled by the page's size, no registration
    for way, kw in (("template", {"template": tmpl}), ("auto", {}),
                    ("old_template", {"template": old})):
        s, recs, _ = score_read(["form-scan.jpg"], samples, sample_truth, model, **kw)
        out[f"sample_{way}"] = f"{s.exact}/{s.fields}"
        if way == "template":
            out["sample_registration"] = recs[0].get("registration")

    # 2. generated forms, moved about the page
    if not args.data:
        print("give --data or set DIGITOCR_DATA for the generated forms", file=sys.stderr)
        print(json.dumps(out, indent=1))
        return 0
    import make_samples

    folder = args.dir or REPO / "bench" / "out" / (
        f"moved-{args.pages}-{args.seed}-{args.dpi}-{args.shift:g}-{args.rotate:g}")
    digits = make_samples.load_digits(args.data)
    ref, truth = moved_forms(folder, digits, args.pages, args.seed, args.dpi, args.shift,
                             args.rotate, tuple(args.scale))
    tmpl = make_template(next(load_pages(ref, gray=True)).image)
    names = sorted(truth)
    for way, kw in (("template", {"template": tmpl}), ("auto", {})):
        s, recs, took = score_read(names, folder, truth, model, **kw)
        summary = s.summary()
        out[way] = {"field_exact_match": summary["field_exact_match"],
                    "digit_accuracy": summary["digit_accuracy"],
                    "boxes_found": summary["boxes_found"], "failed_pages": s.failed_pages,
                    "pages_per_s": round(len(names) / took, 2)}
        if way == "template":
            regs = [r["registration"] for r in recs if r.get("registration")]
            out["registration"] = {
                "pages": len(names), "registered": sum(1 for r in recs if not r.get("error")),
                "min_inliers": min((r["inliers"] for r in regs), default=0),
                "max_error_px": max((r["error_px"] for r in regs), default=0.0),
                "max_angle": max((abs(r["angle"]) for r in regs), default=0.0)}
        for m in s.misses[: args.show_misses]:
            print(f"  {way} miss {m}", file=sys.stderr)
    out["points_template_minus_auto"] = round(
        100 * (out["template"]["field_exact_match"] - out["auto"]["field_exact_match"]), 2)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
