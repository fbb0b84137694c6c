#!/usr/bin/env python
"""``kill -9`` at random moments, then ``--resume``: does every input file end with exactly one
complete record set, every time?

    python bench/kill_resume.py [--runs 10] [--files 24] [--workers 2] [--seed 0]
                                [--scheduler local] [--json out.json]

The inputs are the single-page samples copied round-robin into a temporary folder. A first
run without ``--resume`` gives the reference: each file's JSON Lines records, and how long a
whole run takes (T); a whole ``--resume`` run from nothing is timed next to it (its cost:
an fsync per file) and checked to write the same bytes. Then, ``--runs`` times: a fresh
``digitocr read DIR -o out.jsonl --resume`` is SIGKILLed after a delay drawn uniformly from
[0, T] (T the shorter of the two whole runs; seeded: start-up, mid-batch, while writing; on a
busy machine a run may still end first, which the report counts), and rerun with
``--resume`` to the end. The run passes when the output holds each file's reference records
exactly once, each file's records together, the journal names each file once, and no
temporary file is left beside the output.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE_FILES = ["form-scan.jpg", "form-clean.png", "cheque.jpg", "amounts/amount-1-16bit.png",
                "amounts/amount-2-rgba.png", "amounts/amount-3-palette.png",
                "amounts/amount-4-cmyk.jpg", "amounts/amount-5.bmp"]


def by_file(text: str) -> dict[str, list[str]] | str:
    """Each file's lines; a string saying what is wrong when a file's lines are split."""
    out: dict[str, list[str]] = {}
    last = None
    for line in text.splitlines():
        try:
            name = json.loads(line)["file"]
        except (ValueError, KeyError):
            return f"not a record: {line[:60]!r}"
        if name != last and name in out:
            return f"{name}: records split or repeated"
        out.setdefault(name, []).append(line)
        last = name
    return out


def _differ(got: dict[str, list[str]], ref: dict[str, list[str]], leftovers: list[str],
            journal: object) -> str:
    missing = sorted(set(ref) - set(got))
    extra = sorted(set(got) - set(ref))
    changed = sorted(f for f in set(got) & set(ref) if got[f] != ref[f])
    return (f"missing {missing[:3]}, extra {extra[:3]}, changed {changed[:3]}, "
            f"leftovers {leftovers}, journal {journal}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--files", type=int, default=24)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scheduler", default=None, help="read on Dask (e.g. local)")
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "in"
        inputs.mkdir()
        for i in range(args.files):
            src = REPO / "samples" / SAMPLE_FILES[i % len(SAMPLE_FILES)]
            shutil.copyfile(src, inputs / f"p{i:04d}{src.suffix}")
        base = [sys.executable, "-m", "digitocr", "read", str(inputs), "--model", args.model,
                "--workers", str(args.workers), "-q"]
        if args.scheduler:
            base += ["--scheduler", args.scheduler]
        ref_out = Path(tmp) / "reference.jsonl"
        t0 = time.perf_counter()
        subprocess.run([*base, "-o", str(ref_out)], env=env, check=True)
        whole = time.perf_counter() - t0
        reference = by_file(ref_out.read_text())
        assert isinstance(reference, dict) and len(reference) == args.files
        t0 = time.perf_counter()  # the cost of --resume itself: a whole run of it, unkilled
        subprocess.run([*base, "-o", str(Path(tmp) / "whole.jsonl"), "--resume"], env=env,
                       check=True)
        whole_resume = time.perf_counter() - t0
        assert (Path(tmp) / "whole.jsonl").read_bytes() == ref_out.read_bytes()
        print(f"reference run: {whole:.1f} s, {args.files} files; with --resume "
              f"{whole_resume:.1f} s, same bytes", flush=True)
        runs = []
        for run in range(args.runs):
            folder = Path(tmp) / f"run{run}"
            folder.mkdir()
            out = folder / "out.jsonl"
            cmd = [*base, "-o", str(out), "--resume"]
            delay = rng.uniform(0, min(whole, whole_resume))
            proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
            try:
                proc.wait(timeout=delay)
                killed = False
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                killed = True
            journal = folder / "out.jsonl.journal"
            done = journal.read_bytes().count(b"\n") if journal.exists() else 0
            again = subprocess.run(cmd, env=env, stderr=subprocess.PIPE, text=True)
            got = by_file(out.read_text())
            entries = Counter(json.loads(ln)["file"] for ln in journal.read_text().splitlines())
            leftovers = sorted(p.name for p in folder.iterdir()
                               if p.name not in ("out.jsonl", "out.jsonl.journal"))
            ok = (again.returncode == 0 and got == reference and not leftovers
                  and entries == Counter(list(reference)))
            why = "" if ok else (again.stderr.strip()[-200:] or (
                got if isinstance(got, str) else _differ(got, reference, leftovers, entries)))
            runs.append({"delay_s": round(delay, 2), "killed": killed,
                         "files_done_at_kill": done, "ok": ok, **({"why": why} if why else {})})
            print(f"run {run + 1}: kill after {delay:.1f} s ({'killed' if killed else 'ended'}"
                  f", {done}/{args.files} files complete) -> {'ok' if ok else 'FAIL ' + why}",
                  flush=True)
    result = {"runs": args.runs, "files": args.files, "workers": args.workers,
              "scheduler": args.scheduler, "seed": args.seed, "whole_run_s": round(whole, 1),
              "whole_run_with_resume_s": round(whole_resume, 1),
              "killed": sum(r["killed"] for r in runs), "ok": sum(r["ok"] for r in runs),
              "detail": runs}
    print(json.dumps({k: v for k, v in result.items() if k != "detail"}))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    sys.exit(0 if result["ok"] == args.runs else 1)


if __name__ == "__main__":
    main()
