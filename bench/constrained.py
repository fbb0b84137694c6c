#!/usr/bin/env python
"""Constrained decoding: wrong fields that are not flagged, with a template's field rules
against the same template without them.

    DIGITOCR_DATA=/path/to/data python bench/constrained.py --pages 60 --seed 5

Generated A4 forms (the layout of ``samples/make_samples.py``, MNIST *test* digits) whose
fields hold what their rules say: account (comb, 10 digits, Luhn), date (comb, DDMMYYYY, a
real date), amount (box, 3-7 digits), postcode (comb, 5), phone (box, 10 digits, mod 97),
quantity (box, 1-3), reference (comb, 6 digits, mod 11). Pages are moved about as in
``bench/templates.py`` (shift 5 %, rotation 3 degrees, scale 0.9-1.1). A template is made from
one clean form (``make_template``), its fields renamed; the pages are read once with it as it
is (no rules: unconstrained) and once with the rules added. Reported per way: field exact
match, the share of fields flagged for review, and the wrong fields not flagged (per field
read, and as a share of the wrong fields).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from templates import REPO, moved_forms

#: the fields' rules, in the template's JSON terms, by field (the forms' order, top to bottom)
RULES: dict[str, dict[str, Any]] = {
    "account": {"type": "digits", "length": 10, "checksum": "luhn"},
    "date": {"type": "date", "order": "DDMMYYYY"},
    "amount": {"type": "amount", "length": [3, 7]},
    "postcode": {"length": 5},
    "phone": {"length": 10, "checksum": "mod97"},
    "quantity": {"length": [1, 3]},
    "reference": {"length": 6, "checksum": "mod11"},
}


def luhn_number(rng: np.random.Generator, n: int) -> str:
    from digitocr.constraints import luhn

    body = "".join(str(int(d)) for d in rng.integers(0, 10, n - 1))
    return next(body + str(c) for c in range(10) if luhn(body + str(c)))


def mod11_number(rng: np.random.Generator, n: int) -> str:
    while True:
        body = "".join(str(int(d)) for d in rng.integers(0, 10, n - 1))
        total = sum(int(ch) * w for w, ch in enumerate(reversed(body), start=2))
        c = (-total) % 11
        if c < 10:
            return body + str(c)


def mod97_number(rng: np.random.Generator, n: int) -> str:
    body = "".join(str(int(d)) for d in rng.integers(0, 10, n - 2))
    c = (1 - int(body) * 100) % 97
    return f"{body}{c:02d}"


def a_date(rng: np.random.Generator) -> str:
    d = datetime.date(1950, 1, 1) + datetime.timedelta(days=int(rng.integers(0, 80 * 365)))
    return d.strftime("%d%m%Y")


def strings(rng: np.random.Generator) -> dict[str, str]:
    """One form's field values, each satisfying its rule."""
    return {
        "account": luhn_number(rng, 10),
        "date": a_date(rng),
        "amount": str(int(rng.integers(100, 10 ** int(rng.integers(3, 8))))),
        "postcode": "".join(str(int(d)) for d in rng.integers(0, 10, 5)),
        "phone": mod97_number(rng, 10),
        "quantity": str(int(rng.integers(1, 10 ** int(rng.integers(1, 4))))),
        "reference": mod11_number(rng, 6),
    }


def make_ruled_form(digits: Any, rng: np.random.Generator, dpi: int
                    ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """``make_samples.make_form`` with the fields' values from ``strings``."""
    import make_samples as ms

    values = strings(rng)
    w, h = ms.mm(210, dpi), ms.mm(297, dpi)
    img = ms.paper(h, w, rng)
    rule = [(40, 40, 40), (60, 60, 160), (170, 60, 60)][int(rng.integers(0, 3))]
    lw = max(1, ms.mm(0.3, dpi))
    ms.text(img, "APPLICATION FORM 7B", ms.mm(20, dpi), ms.mm(25, dpi), 1.6, dpi)
    ms.text(img, "Please write one digit per box, in black or blue ink.", ms.mm(20, dpi),
            ms.mm(35, dpi), 0.8, dpi, (80, 80, 80))
    pen = ms.PENS[int(rng.integers(0, len(ms.PENS)))]
    truth = []
    for name, kind, xm, ym, size, _ in ms.FORM_FIELDS:
        x, y = ms.mm(xm, dpi), ms.mm(ym, dpi)
        ms.text(img, name.capitalize(), ms.mm(20, dpi), y + ms.mm(6, dpi), 0.9, dpi)
        s = values[name]
        if kind == "comb":
            cw, ch = ms.mm(ms.CELL_W, dpi), ms.mm(ms.CELL_H, dpi)
            size = max(size, len(s))
            cv2.rectangle(img, (x, y), (x + cw * size, y + ch), rule, lw)
            for i in range(1, size):
                cv2.line(img, (x + cw * i, y), (x + cw * i, y + ch), rule, lw)
            for i, c in enumerate(s):
                ink = ms.digit_ink(digits.pick(rng, int(c)), int(ch * rng.uniform(0.55, 0.72)),
                                   int(cw * 0.8))
                ox = x + cw * i + (cw - ink.shape[1]) // 2
                ox += int(rng.integers(-cw // 10, cw // 10 + 1))
                oy = y + (ch - ink.shape[0]) // 2 + int(rng.integers(-ch // 12, ch // 12 + 1))
                ms.stamp(img, ink, ox, oy, pen)
            box = [x, y, cw * size, ch]
        else:
            bw, bh = ms.mm(size, dpi), ms.mm(ms.BOX_H, dpi)
            cv2.rectangle(img, (x, y), (x + bw, y + bh), rule, lw)
            height = int(bh * rng.uniform(0.5, 0.62))
            start = x + ms.mm(2, dpi) + int(rng.integers(0, ms.mm(3, dpi)))
            ms.write_string(img, digits, rng, s, start, y + bh // 2, height, pen,
                            x + bw - height)
            box = [x, y, bw, bh]
        truth.append({"name": name, "bbox": box, "text": s})
    ms.text(img, "Signature: ______________________", ms.mm(20, dpi), ms.mm(230, dpi), 0.9, dpi)
    return img, truth


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA"))
    ap.add_argument("--pages", type=int, default=60)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--dpi", type=int, default=200)
    ap.add_argument("--model", default="auto")
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--show", type=int, default=10, help="print this many corrected fields")
    args = ap.parse_args()
    if not args.data:
        print("give --data or set DIGITOCR_DATA", file=sys.stderr)
        return 2
    import make_samples

    from digitocr.io import load_pages
    from digitocr.pipeline import read, resolve_classifier, review_threshold
    from digitocr.templates import make_template, parse_template

    folder = args.dir or REPO / "bench" / "out" / f"ruled-{args.pages}-{args.seed}-{args.dpi}"
    digits = make_samples.load_digits(args.data)
    ref, truth = moved_forms(folder, digits, args.pages, args.seed, args.dpi, 0.05, 3.0,
                             (0.9, 1.1), make=make_ruled_form)
    made = make_template(next(load_pages(ref, gray=True)).image)
    if len(made.fields) != len(RULES):
        print(f"template make found {len(made.fields)} fields, not {len(RULES)}", file=sys.stderr)
        return 1
    plain = replace(made, fields=[replace(tf, name=name)
                                  for tf, name in zip(made.fields, RULES, strict=True)])
    data = plain.to_dict()
    for f in data["fields"]:
        f.update(RULES[f["name"]])
    ruled = parse_template(data, "rules")
    model = resolve_classifier(args.model)
    names = sorted(truth)
    out: dict[str, Any] = {"model": args.model, "pages": len(names),
                           "min_confidence": review_threshold(model)}
    texts: dict[str, dict[tuple[str, str], tuple[str, bool]]] = {}
    for way, tmpl in (("unconstrained", plain), ("constrained", ruled)):
        fields = exact = flagged = wrong = unflagged_wrong = failed = 0
        got: dict[tuple[str, str], tuple[str, bool]] = {}
        for name, page in zip(names, read([str(folder / n) for n in names], model,
                                          template=tmpl), strict=True):
            failed += page.error is not None
            by_name = {f.name: f for f in page.fields}
            for t in truth[name]:
                fields += 1
                f = by_name.get(t["name"])
                text, review = (f.text, f.needs_review) if f is not None else ("", True)
                got[(name, t["name"])] = (text, review)
                exact += text == t["text"]
                flagged += review
                if text != t["text"]:
                    wrong += 1
                    unflagged_wrong += not review
        texts[way] = got
        out[way] = {"field_exact_match": round(exact / fields, 4),
                    "flagged": round(flagged / fields, 4),
                    "wrong_unflagged_per_field": round(unflagged_wrong / fields, 4),
                    "wrong_unflagged_share_of_wrong": round(unflagged_wrong / max(wrong, 1), 4),
                    "wrong": wrong, "wrong_unflagged": unflagged_wrong, "failed_pages": failed}
    u, c = out["unconstrained"], out["constrained"]
    out["unflagged_wrong_ratio"] = round(c["wrong_unflagged"] / max(u["wrong_unflagged"], 1), 3)
    print(json.dumps(out, indent=1))
    shown = 0
    for key, (text, review) in texts["constrained"].items():
        before = texts["unconstrained"][key]
        if before[0] != text and shown < args.show:
            t = next(x["text"] for x in truth[key[0]] if x["name"] == key[1])
            print(f"  {key[0]}:{key[1]}: {before[0]} -> {text} (truth {t}, review {review})",
                  file=sys.stderr)
            shown += 1
    for key, (text, review) in texts["constrained"].items():
        t = next(x["text"] for x in truth[key[0]] if x["name"] == key[1])
        if text != t and not review:
            print(f"  wrong, not flagged: {key[0]}:{key[1]}: {text} (truth {t})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
