#!/usr/bin/env python
"""Throughput of reading on Dask against the local process pool, on the same pages, same run.

    python bench/dask_scaling.py [--pages 100] [--model cnn] [--repeats 2] [--json out.json]

The pages are the single-page samples (two A4 forms, a cheque, five amount crops) copied
round-robin into a temporary folder until there are ``--pages`` of them. Four ways to read
them, each ``--repeats`` times in turn (best time kept, since the machine may be shared):

* ``pool-2``: ``digitocr.read(..., workers=2)``, the local process pool (``read --workers 2``);
* ``dask-2``: ``digitocr.dask.read`` on a ``LocalCluster`` of 2 worker processes, 1 thread each
  (``read --scheduler local --workers 2``);
* ``dask-1``: the same on a ``LocalCluster`` of 1 worker.

Each time runs from the call to the last page. The pool's includes starting its workers
(forked: they inherit this process's imports) and loading the model in each; a cluster is
started once (``cluster_start_s``) and warmed by reading 4 pages (its spawned workers import
digitocr and load the model: ``warmup_s``), as a long-running cluster is. ``dask2_over_pool2``
compares warm throughput; ``dask2_cold_over_pool2`` adds the cluster's start and warm-up to
its time, as one ``read --scheduler local`` command of ``--pages`` pages would pay.
Targets: ``dask-2`` at least 90 % of ``pool-2``'s pages per second; ``dask-2`` / ``dask-1`` is
the scaling. Every way's records are checked equal to the pool's. Figures depend on the
machine and its load: compare the ratios, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SAMPLE_FILES = ["form-scan.jpg", "form-clean.png", "cheque.jpg", "amounts/amount-1-16bit.png",
                "amounts/amount-2-rgba.png", "amounts/amount-3-palette.png",
                "amounts/amount-4-cmyk.jpg", "amounts/amount-5.bmp"]


def make_pages(folder: Path, n: int) -> list[str]:
    out = []
    for i in range(n):
        src = REPO / "samples" / SAMPLE_FILES[i % len(SAMPLE_FILES)]
        dst = folder / f"p{i:04d}{src.suffix}"
        shutil.copyfile(src, dst)
        out.append(str(dst))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import digitocr
    from digitocr import dask as ddask
    from digitocr.writers import json_text

    def records(pages: object) -> list[str]:
        return [json_text(p.to_dict()) for p in pages]  # type: ignore[attr-defined]

    with tempfile.TemporaryDirectory() as tmp:
        files = make_pages(Path(tmp), args.pages)
        best: dict[str, float] = {}
        starts: dict[str, float] = {}
        warmup: dict[str, float] = {}
        reference: list[str] | None = None
        clusters = {}
        for n in (1, 2):
            t0 = time.perf_counter()
            ctx = ddask.connect("local", n)
            client = ctx.__enter__()
            starts[f"dask-{n}"] = time.perf_counter() - t0
            clusters[n] = (ctx, client)
        try:
            for rep in range(args.repeats):
                for way in ("pool-2", "dask-2", "dask-1"):
                    t0 = time.perf_counter()
                    if way == "pool-2":
                        got = records(digitocr.read(files, model=args.model, workers=2))
                    else:
                        client = clusters[int(way[-1])][1]
                        if rep == 0:  # warm: the workers' first chunks load the model
                            w0 = time.perf_counter()
                            records(ddask.read(files[:4], client, model=args.model,
                                               chunk_files=1))
                            warmup[way] = time.perf_counter() - w0
                        t0 = time.perf_counter()
                        got = records(ddask.read(files, client, model=args.model))
                    dt = time.perf_counter() - t0
                    best[way] = min(best.get(way, dt), dt)
                    if reference is None:
                        reference = got
                    assert got == reference, f"{way}: records differ from pool-2's"
                    print(f"repeat {rep + 1} {way}: {dt:.2f} s ({len(files) / dt:.2f} pages/s)",
                          flush=True)
        finally:
            for ctx, _ in clusters.values():
                ctx.__exit__(None, None, None)
    pps = {k: args.pages / v for k, v in best.items()}
    result = {
        "pages": args.pages, "model": args.model, "repeats": args.repeats,
        "best_s": {k: round(v, 2) for k, v in best.items()},
        "pages_per_s": {k: round(v, 2) for k, v in pps.items()},
        "cluster_start_s": {k: round(v, 2) for k, v in starts.items()},
        "dask2_over_pool2": round(pps["dask-2"] / pps["pool-2"], 3),
        "warmup_s": {k: round(v, 2) for k, v in warmup.items()},
        "dask2_cold_over_pool2": round(
            best["pool-2"] / (best["dask-2"] + starts["dask-2"] + warmup["dask-2"]), 3),
        "dask2_over_dask1": round(pps["dask-2"] / pps["dask-1"], 3),
        "identical_records": True,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
