#!/usr/bin/env python
"""Throughput of reading on Dask against the local process pool, on the same pages, same run.

    python bench/dask_scaling.py [--pages 100] [--model cnn] [--repeats 3] [--json out.json]
        [--ways dask-2,cli-pool-2,cli-dask-2] [--before CHECKOUT]

The pages are the single-page samples (two A4 forms, a cheque, five amount crops) copied
round-robin into a temporary folder until there are ``--pages`` of them. Three ways to read
them, in turn, ``--repeats`` rounds:

* ``pool-2``: ``digitocr.read(..., workers=2)``, the local process pool (``read --workers 2``);
* ``dask-2``: ``digitocr.dask.read`` on a ``LocalCluster`` of 2 worker processes, 1 thread each
  (``read --scheduler local --workers 2``);
* ``dask-1``: the same on a ``LocalCluster`` of 1 worker.

Each time runs from the call to the last page. The pool's includes starting its workers
(forked: they inherit this process's imports) and loading the model in each; a cluster is
started once (``cluster_start_s``) and warmed by reading 4 pages (its spawned workers import
digitocr and load the model: ``warmup_s``), as a long-running cluster is.

Two measures, since the machine may be shared with other work:

* wall time: the best of the rounds, and the median over rounds of each round's ratio (the
  three ways of one round ran back to back, under much the same load);
* CPU seconds per page, summed over every process that reads (this one, which holds a local
  cluster's scheduler; the pool's workers, from ``RUSAGE_CHILDREN``; each Dask worker, from
  ``getrusage`` run on it): what the page costs whatever else runs. With 2 workers busy on 2
  free cores, throughput is 2 / (CPU s per page) either way, so the CPU ratio is the ratio
  of throughputs an unloaded machine would give.

Cold runs, as a user types them (``cli-pool-2``, ``cli-dask-2``): ``digitocr read --workers 2
-q -o out.jsonl PAGES`` and the same with ``--scheduler local``, each a fresh process timed
from its start to its exit (imports, starting the pool or the cluster and its workers, loading
the model, reading, shutting down). ``cold_dask2_over_pool2`` is their ratio: the median over
rounds of the round's ratio, and the ratio of the best times. (Their CPU seconds are the
waited-for children's: for ``cli-dask-2`` that leaves out the workers, forked by a forkserver
nobody waits for, so ``cpu_s_per_page`` has no ``cli-dask-2``.)

Targets: ``dask-2`` at least 90 % of ``pool-2``'s pages per second, warm and cold; ``dask-2`` /
``dask-1`` is the scaling. Every way's records are checked equal to the pool's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SAMPLE_FILES = ["form-scan.jpg", "form-clean.png", "cheque.jpg", "amounts/amount-1-16bit.png",
                "amounts/amount-2-rgba.png", "amounts/amount-3-palette.png",
                "amounts/amount-4-cmyk.jpg", "amounts/amount-5.bmp"]
WAYS = ("pool-2", "dask-2", "dask-1", "cli-pool-2", "cli-dask-2")


def make_pages(folder: Path, n: int) -> list[str]:
    out = []
    for i in range(n):
        src = REPO / "samples" / SAMPLE_FILES[i % len(SAMPLE_FILES)]
        dst = folder / f"p{i:04d}{src.suffix}"
        shutil.copyfile(src, dst)
        out.append(str(dst))
    return out


def cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def worker_cpu() -> float:
    return cpu(resource.RUSAGE_SELF)


def cli_run(files: list[str], out: Path, dask: bool, model: str, repo: Path = REPO
            ) -> list[str]:
    """A cold ``digitocr read`` in a fresh process (digitocr from ``repo``): its records."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(repo), *filter(None, [env.get("PYTHONPATH")])])
    cmd = [sys.executable, "-m", "digitocr", "read", "--workers", "2", "-q", "--model", model,
           "-o", str(out), *(["--scheduler", "local"] if dask else []), *files]
    subprocess.run(cmd, check=True, env=env)
    return out.read_text(encoding="utf-8").splitlines()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--ways", default=",".join(WAYS),
                    help=f"comma-separated subset of {','.join(WAYS)} (pool-2 always runs)")
    ap.add_argument("--before", type=Path, default=None, metavar="CHECKOUT",
                    help="also time cli-dask-2 with digitocr from another checkout "
                    "(cli-dask-2-before), in the same rounds: a before/after under one load")
    args = ap.parse_args()
    ways = ["pool-2", *(w for w in WAYS[1:] if w in args.ways.split(","))]
    if args.before is not None:
        ways.append("cli-dask-2-before")

    import digitocr
    from digitocr import dask as ddask
    from digitocr.writers import json_text

    def records(pages: Any) -> list[str]:
        return [json_text(p.to_dict()) for p in pages]

    wall: dict[str, list[float]] = {w: [] for w in ways}
    cpus: dict[str, list[float]] = {w: [] for w in ways}
    starts: dict[str, float] = {}
    warmup: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = make_pages(Path(tmp), args.pages)
        reference: list[str] | None = None
        clusters = {}
        for n in (n for n in (1, 2) if f"dask-{n}" in ways):
            t0 = time.perf_counter()
            ctx = ddask.connect("local", n)
            clusters[n] = (ctx, ctx.__enter__())
            starts[f"dask-{n}"] = time.perf_counter() - t0
            w0 = time.perf_counter()
            records(ddask.read(files[:4], clusters[n][1], model=args.model, chunk_files=1))
            warmup[f"dask-{n}"] = time.perf_counter() - w0
        try:
            for rep in range(args.repeats):
                for way in ways:
                    c0, k0 = cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN)
                    if way.startswith("cli-"):
                        t0 = time.perf_counter()
                        got = cli_run(files, Path(tmp) / "out.jsonl", "dask" in way,
                                      args.model, args.before if "before" in way else REPO)
                        dt = time.perf_counter() - t0
                        used = cpu(resource.RUSAGE_CHILDREN) - k0
                    elif way == "pool-2":
                        t0 = time.perf_counter()
                        got = records(digitocr.read(files, model=args.model, workers=2))
                        dt = time.perf_counter() - t0
                        used = cpu(resource.RUSAGE_CHILDREN) - k0
                    else:
                        client = clusters[int(way[-1])][1]
                        before = client.run(worker_cpu)
                        t0 = time.perf_counter()
                        got = records(ddask.read(files, client, model=args.model))
                        dt = time.perf_counter() - t0
                        after = client.run(worker_cpu)
                        used = sum(after[w] - before[w] for w in after)
                    used += cpu(resource.RUSAGE_SELF) - c0
                    wall[way].append(dt)
                    cpus[way].append(used)
                    if reference is None:
                        reference = got
                    assert got == reference, f"{way}: records differ from pool-2's"
                    cpu_note = ("" if way.startswith("cli-dask")
                                else f", {used / len(files):.3f} CPU s/page")
                    print(f"round {rep + 1} {way}: {dt:.2f} s ({len(files) / dt:.2f} pages/s)"
                          f"{cpu_note}", flush=True)
        finally:
            for ctx, _ in clusters.values():
                ctx.__exit__(None, None, None)

    def median_ratio(a: str, b: str) -> float:  # pages/s of a over b, round by round
        return statistics.median(wb / wa for wa, wb in zip(wall[a], wall[b], strict=True))

    cpu_page = {w: min(cpus[w]) / args.pages for w in ways if not w.startswith("cli-dask")}
    result: dict[str, Any] = {
        "pages": args.pages, "model": args.model, "repeats": args.repeats,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "best_wall_s": {w: round(min(wall[w]), 2) for w in ways},
        "best_pages_per_s": {w: round(args.pages / min(wall[w]), 2) for w in ways},
        "cpu_s_per_page": {w: round(v, 4) for w, v in cpu_page.items()},
        "cluster_start_s": {k: round(v, 2) for k, v in starts.items()},
        "warmup_s": {k: round(v, 2) for k, v in warmup.items()},
    }
    if "dask-2" in ways:
        result["dask2_over_pool2"] = {
            "wall_best": round(min(wall["pool-2"]) / min(wall["dask-2"]), 3),
            "wall_median_of_rounds": round(median_ratio("dask-2", "pool-2"), 3),
            "cpu": round(cpu_page["pool-2"] / cpu_page["dask-2"], 3)}
    if "dask-1" in ways and "dask-2" in ways:
        result["dask2_over_dask1"] = {
            "wall_best": round(min(wall["dask-1"]) / min(wall["dask-2"]), 3),
            "wall_median_of_rounds": round(median_ratio("dask-2", "dask-1"), 3)}
    if "cli-dask-2" in ways and "cli-pool-2" in ways:
        result["cold_dask2_over_pool2"] = {
            "wall_best": round(min(wall["cli-pool-2"]) / min(wall["cli-dask-2"]), 3),
            "wall_median_of_rounds": round(median_ratio("cli-dask-2", "cli-pool-2"), 3)}
    if "cli-dask-2-before" in ways and "cli-dask-2" in ways:
        result["cold_dask2_over_before"] = {
            "wall_best": round(min(wall["cli-dask-2-before"]) / min(wall["cli-dask-2"]), 3),
            "wall_median_of_rounds": round(median_ratio("cli-dask-2", "cli-dask-2-before"),
                                           3)}
        result["cold_before_over_pool2"] = {
            "wall_best": round(min(wall["cli-pool-2"]) / min(wall["cli-dask-2-before"]), 3),
            "wall_median_of_rounds": round(median_ratio("cli-dask-2-before", "cli-pool-2"),
                                           3)}
    result["identical_records"] = True
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
