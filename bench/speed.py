#!/usr/bin/env python
"""Speed of ``digitocr read`` against Tesseract on the same inputs, in the same run; peak RSS.

    DIGITOCR_DATA=/path/to/data python bench/speed.py --model cnn

Three measurements, each ours and Tesseract's on identical files, one after the other:

* forms: ``--pages`` generated A4 forms at 300 dpi (JPEG in, JSON out; ``bench/forms.py``'s set,
  made on first use), read with ``--layout auto``;
* crops: ``--crops`` ORAND-CAR courtesy-amount crops, read with ``--layout string``;
* cheques: ``--cheques`` whole IDRBT cheques (the 25 repeated), read with ``--layout cheque``
  (the amount and date found and read); Tesseract reads each whole cheque with ``--psm 11``
  (sparse text: it has no cheque layout to find the two fields by);
* memory: ``--rss-pages`` pages (the forms repeated) through the ``digitocr read`` command; the
  peak resident set of the largest process (main or worker) from ``getrusage``, next to the same
  figure for a run of one tenth the pages: memory is flat when the two agree.

Ours runs the ``digitocr read`` command as a subprocess (default workers: one per core), timed
end to end, start-up included (``total``), and per page from the first result to the last
(``steady``, from ``read()`` in this process with the same workers). Tesseract runs as
``tesseract IMG - --psm 6 -c tessedit_char_whitelist=0123456789`` (``--psm 7`` for the one-line
crops) with ``OMP_THREAD_LIMIT=1`` and one process per core, so both use every core.
Ratios are ours / Tesseract's throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def forms(data: str | None, pages: int, seed: int) -> list[str]:
    folder = REPO / "bench" / "out" / f"forms-200-{seed}-300"
    if not (folder / "truth.json").is_file():
        sys.path.insert(0, str(REPO / "samples"))
        import make_samples

        make_samples.main(["--data", data or "", "--pages", "200", "--seed", str(seed),
                           "--dpi", "300", "--out", str(folder)])
    names = sorted(json.loads((folder / "truth.json").read_text()))
    return [str(folder / n) for n in (names * (pages // len(names) + 1))[:pages]]


def crops(data: str | None, count: int) -> list[str]:
    from orand import orand_dir

    folder = orand_dir(data) / "images"
    return [str(p) for p in sorted(folder.iterdir())[:count]]


def ours_cli(files: list[str], layout: str, model: str, workers: int | None) -> dict[str, float]:
    """``digitocr read`` as a subprocess: wall time and the children's peak RSS."""
    exe = shutil.which("digitocr") or str(Path(sys.executable).with_name("digitocr"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        # the files go in as a folder of links, so the command line stays short
        links = Path(tmp) / "in"
        links.mkdir()
        for i, f in enumerate(files):
            (links / f"{i:06d}{Path(f).suffix}").symlink_to(Path(f).resolve())
        cmd = [exe, "read", str(links), "--model", model, "--layout", layout, "-o", str(out),
               "-q"]
        if workers:
            cmd += ["--workers", str(workers)]
        # a wrapper process, so that getrusage sees this command's processes and nothing else
        wrap = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-c", wrap, *cmd], check=False,
                             capture_output=True, text=True)
        took = time.perf_counter() - t0
        if res.returncode:
            errors = [r.get("error") for r in json.loads(out.read_text()) if r.get("error")]
            raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr[-2000:]}"
                             f" {errors[:5]}")
        rss = int(res.stdout.split()[-1])
        pages = len(json.loads(out.read_text()))
    return {"items": pages, "seconds": round(took, 2), "per_s": round(pages / took, 2),
            "peak_rss_mb": round(rss / 1024, 1)}


def ours_steady(files: list[str], layout: str, model: str, workers: int | None) -> dict[str, float]:
    """``read()`` in this process: throughput from the first result to the last."""
    from digitocr.pipeline import read

    first = None
    digits = n = 0
    for page in read(files, model, layout, workers=workers):
        if first is None:
            first = time.perf_counter()
        else:
            n += 1
            digits += sum(len(f.text) for f in page.fields)
    took = time.perf_counter() - (first or time.perf_counter())
    return {"items": n, "seconds": round(took, 2), "per_s": round(n / took, 2),
            "digits_per_s": round(digits / took, 1)}


def tesseract(files: list[str], psm: int) -> dict[str, float]:
    exe = shutil.which("tesseract")
    if exe is None:
        raise SystemExit("tesseract not found: apt-get install -y tesseract-ocr")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def one(f: str) -> str:
        return subprocess.run(
            [exe, f, "-", "--psm", str(psm), "-c", "tessedit_char_whitelist=0123456789"],
            capture_output=True, text=True, env=env, check=False).stdout

    t0 = time.perf_counter()
    with ThreadPoolExecutor(cores()) as pool:
        texts = list(pool.map(one, files))
    took = time.perf_counter() - t0
    digits = sum(sum(ch.isdigit() for ch in t) for t in texts)
    return {"items": len(files), "seconds": round(took, 2), "per_s": round(len(files) / took, 2),
            "digits_per_s": round(digits / took, 1)}


def cheques(data: str | None, count: int) -> list[str]:
    folder = Path(data or REPO.parent / "shared" / "data") / "cheques-idrbt" / "images"
    names = sorted(str(p) for p in folder.glob("*.jpg"))
    return (names * (count // max(1, len(names)) + 1))[:count]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA"))
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--crops", type=int, default=400)
    ap.add_argument("--cheques", type=int, default=100)
    ap.add_argument("--rss-pages", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=None, help="default: one per core")
    ap.add_argument("--skip", nargs="*", default=[], choices=["forms", "crops", "cheques", "rss"])
    args = ap.parse_args()
    report: dict[str, object] = {"cores": cores(), "model": args.model,
                                 "workers": args.workers or cores()}
    def compare(files: list[str], layout: str, psm: int) -> dict[str, object]:
        o_cli = ours_cli(files, layout, args.model, args.workers)
        o = ours_steady(files, layout, args.model, args.workers)
        t = tesseract(files, psm)
        result = {"ours_total": o_cli, "ours_steady": o, "tesseract": t,
                  "ratio_total": round(o_cli["per_s"] / t["per_s"], 1),
                  "ratio_steady": round(o["per_s"] / t["per_s"], 1)}
        print(json.dumps(result), file=sys.stderr)
        return result

    if "forms" not in args.skip:
        report["forms"] = compare(forms(args.data, args.pages, args.seed), "auto", 6)
    if "crops" not in args.skip:
        report["crops"] = compare(crops(args.data, args.crops), "string", 7)
    if "cheques" not in args.skip:
        report["cheques"] = compare(cheques(args.data, args.cheques), "cheque", 11)
    if "rss" not in args.skip:
        small = ours_cli(forms(args.data, max(1, args.rss_pages // 10), args.seed), "auto",
                         args.model, args.workers)
        big = ours_cli(forms(args.data, args.rss_pages, args.seed), "auto", args.model,
                       args.workers)
        report["memory"] = {f"pages_{small['items']}": small, f"pages_{big['items']}": big}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
