#!/usr/bin/env python
"""Templates on real scans: the IDRBT cheques' date combs, through a template made from one
cheque of each series, against ``--layout auto``.

    DIGITOCR_DATA=/path/to/data python bench/templates_real.py

``cheques-idrbt`` (``$DIGITOCR_DATA``) holds 25 whole scanned Indian cheques, 300 dpi, in
three numbered series (the first three digits of the file name); the date is an 8-cell comb
``DDMMYYYY``. For each series the template is ``make_template`` of its first cheque, with the
comb found there named ``date`` and given ``type: date, order: DDMMYYYY``; the series' other
cheques are registered to it and read. Reported: pages registered, date exact match (dates
with a truth), dates flagged, wrong dates not flagged, and the same with ``--layout auto``
(the date field matched to the truth box by overlap); and each cheque registered to the
*other* series' templates (the CTS-2010 layout is shared, so these may register too), with
how many of those read their date right. Also: for how many of the 25 cheques a template
made from that cheque has a field on the amount box (overlap 0.3 or more with the truth box;
its thin dotted rules are found once their gaps are bridged), ``amount_box_found``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from score import iou


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA"))
    ap.add_argument("--model", default="auto")
    args = ap.parse_args()
    if not args.data:
        print("give --data or set DIGITOCR_DATA", file=sys.stderr)
        return 2
    from digitocr.io import load_pages
    from digitocr.pipeline import read, resolve_classifier
    from digitocr.templates import make_template, parse_template

    root = Path(args.data) / "cheques-idrbt"
    cheques = json.loads((root / "truth.json").read_text())["cheques"]
    series: dict[str, list[dict[str, Any]]] = {}
    for c in cheques:
        series.setdefault(Path(c["image"]).name[:3], []).append(c)
    model = resolve_classifier(args.model)
    out: dict[str, Any] = {"model": args.model, "series": {}}
    totals = {"template": [0, 0, 0, 0], "auto": [0, 0, 0, 0]}  # dates, exact, flagged, wrong ok
    amount_found = []
    for c in cheques:
        truth_amount = next(f for f in c["fields"] if f["name"] == "amount")["bbox_xywh"]
        made = make_template(next(load_pages(root / c["image"], gray=True)).image)
        if any(iou(list(f.bbox), truth_amount) >= 0.3 for f in made.fields):
            amount_found.append(Path(c["image"]).name)
    out["amount_box_found"] = f"{len(amount_found)}/{len(cheques)}"
    for key, group in sorted(series.items()):
        ref = next(load_pages(root / group[0]["image"], gray=True)).image
        made = make_template(ref)
        truth_date = next(f for f in group[0]["fields"] if f["name"] == "date")["bbox_xywh"]
        data = made.to_dict()
        best = max(data["fields"], key=lambda f: iou(f["bbox"], truth_date))
        if iou(best["bbox"], truth_date) < 0.3:
            out["series"][key] = "template make found no date comb"
            continue
        best.update(name="date", type="date", order="DDMMYYYY")
        data["fields"] = [best]
        tmpl = parse_template(data, key)
        rest = group[1:]
        files = [str(root / c["image"]) for c in rest]
        row: dict[str, Any] = {"cheques": len(rest), "cells": best.get("cells")}
        for way, kw in (("template", {"template": tmpl}), ("auto", {})):
            registered = 0
            for c, page in zip(rest, read(files, model, **kw), strict=True):
                registered += page.error is None
                t = next((f for f in c["fields"] if f["name"] == "date" and f.get("text")), None)
                if t is None:
                    continue
                if way == "template":
                    f = next((f for f in page.fields if f.name == "date"), None)
                else:
                    f = max(page.fields, key=lambda f: iou(list(f.bbox), t["bbox_xywh"]),
                            default=None)
                    if f is not None and iou(list(f.bbox), t["bbox_xywh"]) < 0.3:
                        f = None
                text, review = (f.text, f.needs_review) if f is not None else ("", True)
                tot = totals[way]
                tot[0] += 1
                tot[1] += text == t["text"]
                tot[2] += review
                tot[3] += text != t["text"] and not review
            if way == "template":
                row["registered"] = registered
        out["series"][key] = row
        cross = cross_exact = cross_dates = 0
        others = [c for k, g in series.items() if k != key for c in g]
        for c, page in zip(others, read([str(root / c["image"]) for c in others], model,
                                        template=tmpl), strict=True):
            cross += page.error is None
            t = next((f for f in c["fields"] if f["name"] == "date" and f.get("text")), None)
            if page.error is None and t is not None:
                cross_dates += 1
                cross_exact += page.fields[0].text == t["text"]
        row["other_series_registered"] = f"{cross}/{len(others)}"
        row["other_series_dates_exact"] = f"{cross_exact}/{cross_dates}"
    for way, (n, exact, flagged, wrong_ok) in totals.items():
        out[way] = {"dates": n, "exact": exact, "flagged": flagged, "wrong_unflagged": wrong_ok}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
