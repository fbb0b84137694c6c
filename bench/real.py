#!/usr/bin/env python
"""Every real set with truth, read with the command line's defaults: found, exact, and trust.

    DIGITOCR_DATA=/path/to/data python bench/real.py [--limit N] [--model M] [--only SET]

Sets (each optional: a missing folder is skipped):

- ``danish``: ledger cells (``danish-rowid/validation``) read as ``digitocr read DIR`` would,
  one record per crop; the crop's fields are joined in reading order. Crops whose label is not
  plain digits (``12a``, ``Sn``, ``-``) count as right only when flagged ``needs_review``.
- ``orand``: ORAND-CAR-A amounts, the fixed test split of ``bench/orand.py``, with
  ``--layout string`` as the README shows.
- ``cheques``: whole IDRBT cheques with ``--layout cheque``; the ``amount`` and ``date`` fields
  are matched to the truth boxes by overlap (found = a field over the box); the amount's
  ``value`` is scored against its digits as ``"N.00"`` (found: a value was given).

For each set: ``found`` (a field with ink was returned), ``exact`` (text equals truth),
``flagged`` (needs review), ``unflagged_wrong`` (wrong among fields *not* flagged: what an ETL
job would load as right) and ``right_or_flagged``. Pass ``--show N`` to list misses.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from orand import split as orand_split
from score import iou

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Trust:
    """Running totals of one set: how many fields were found, exact, flagged, wrongly trusted."""

    name: str
    fields: int = 0
    found: int = 0
    exact: int = 0
    flagged: int = 0
    unflagged: int = 0
    unflagged_wrong: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, key: str, truth: str | None, text: str | None, review: bool) -> None:
        """One truth field; ``truth`` None means no digit string is right (flag it);
        ``text`` None means the reader returned no field for it."""
        self.fields += 1
        found = text is not None and text != ""
        self.found += found
        right = truth is not None and text == truth
        self.exact += right
        flagged = review or not found
        self.flagged += flagged
        if not flagged:
            self.unflagged += 1
            self.unflagged_wrong += not right
        if not right:
            self.misses.append(f"{key}: read {text!r}{' (flagged)' if flagged else ''}, "
                               f"truth {truth!r}")

    def summary(self) -> dict[str, Any]:
        n = max(self.fields, 1)
        return {
            "set": self.name, "fields": self.fields,
            "found": round(self.found / n, 4), "exact": round(self.exact / n, 4),
            "flagged": round(self.flagged / n, 4),
            "unflagged_wrong": round(self.unflagged_wrong / max(self.unflagged, 1), 4),
            "unflagged": self.unflagged,
            "right_or_flagged": round(1 - self.unflagged_wrong / n, 4),
        }


def _read(paths: list[str], args: argparse.Namespace, **kw: Any) -> Any:
    from digitocr.pipeline import read

    if args.model:
        kw["model"] = args.model
    return read(paths, workers=args.workers, **kw)


def danish(data: Path, args: argparse.Namespace) -> Trust | None:
    folder = data / "danish-rowid" / "validation"
    if not folder.is_dir():
        return None
    with open(folder / "labels.csv", newline="") as fh:
        rows = [(r["file"], r["text"]) for r in csv.DictReader(fh)]
    rows = rows[: args.limit] if args.limit else rows
    t = Trust("danish-rowid/validation (digitocr read DIR)")
    for (name, truth), page in zip(rows, _read([str(folder / f) for f, _ in rows], args),
                                   strict=True):
        fields = page.fields
        text = "".join(f.text for f in fields) if fields else None
        review = page.error is not None or any(f.needs_review for f in fields)
        t.add(name, truth if truth.isdigit() else None, text, review)
    return t


def orand(data: Path, args: argparse.Namespace) -> Trust | None:
    folder = data / "orand-car"
    if not folder.is_dir():
        return None
    rows = orand_split(folder, "test")
    rows = rows[: args.limit] if args.limit else rows
    t = Trust("orand-car test split (--layout string)")
    paths = [str(folder / "images" / f) for f, _ in rows]
    for (name, truth), page in zip(rows, _read(paths, args, layout="string"), strict=True):
        f = page.fields[0] if page.fields else None
        t.add(name, truth, f.text if f else None, bool(f is None or f.needs_review))
    return t


def cheques(data: Path, args: argparse.Namespace) -> list[Trust]:
    folder = data / "cheques-idrbt"
    if not folder.is_dir():
        return []
    truth = json.loads((folder / "truth.json").read_text())["cheques"]
    truth = truth[: args.limit] if args.limit else truth
    out = {"amount": Trust("cheques-idrbt amount (--layout cheque)"),
           "date": Trust("cheques-idrbt date (--layout cheque)")}
    # the amount's value: its digits as rupees and paise ("found" here: a value was given)
    value = Trust("cheques-idrbt amount value (--layout cheque)")
    paths = [str(folder / c["image"]) for c in truth]
    for c, page in zip(truth, _read(paths, args, layout="cheque"), strict=True):
        for tf in c["fields"]:
            if tf["name"] not in out or not tf.get("text"):
                continue
            named = [f for f in page.fields if f.name == tf["name"]]
            cands = named or [f for f in page.fields
                              if iou(list(f.bbox), tf["bbox_xywh"]) > 0.2]
            best = max(cands, key=lambda f: iou(list(f.bbox), tf["bbox_xywh"]), default=None)
            if best is not None and iou(list(best.bbox), tf["bbox_xywh"]) < 0.2:
                best = None  # named, but not where the field is
            out[tf["name"]].add(f"{c['image']}:{tf['name']}", tf["text"],
                                best.text if best else None,
                                bool(best is None or best.needs_review))
            if tf["name"] == "amount":
                value.add(f"{c['image']}:value", f"{int(tf['text'])}.00",
                          best.value if best else None,
                          bool(best is None or best.needs_review))
    return [*out.values(), value]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA",
                                                     str(REPO.parent / "shared" / "data")))
    ap.add_argument("--model", default=None, help="Default: the command line's default model.")
    ap.add_argument("--limit", type=int, default=None, help="First N items of each set.")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--only", choices=["danish", "orand", "cheques"], action="append")
    ap.add_argument("--show", type=int, default=0, help="List this many misses per set.")
    args = ap.parse_args()
    data = Path(args.data)
    sets: list[Trust] = []
    t0 = time.perf_counter()
    for name, fn in (("danish", danish), ("orand", orand), ("cheques", cheques)):
        if args.only and name not in args.only:
            continue
        got = fn(data, args)  # type: ignore[operator]
        sets.extend(got if isinstance(got, list) else [got] if got else [])
    for s in sets:
        print(json.dumps(s.summary()))
        for m in s.misses[: args.show]:
            print("   miss", m)
    print(json.dumps({"seconds": round(time.perf_counter() - t0, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
