#!/usr/bin/env python
"""Start-up of ``digitocr read`` on one page in CPU seconds as well as wall seconds, against a
bare ``import cv2; cv2.imread(page)``, and where the time goes (imports, model, page).

    PYTHONPATH=CHECKOUT python bench/start_cpu.py [--page samples/form-scan.jpg] [--repeats 9]

On a machine shared with other jobs, wall time mostly measures the queue for the cores; the
CPU time a process uses (user + system, from ``getrusage`` of its children) moves far less, so
both are reported, median and minimum of ``--repeats`` fresh processes, the commands taken in
turn so that a change in load hits all alike. Steps, each a fresh process doing more:

* ``bare``: ``import cv2; cv2.imread(page)`` (``bench/onnx_speed.py``'s baseline);
* ``imports``: ``import digitocr.cli, digitocr.pipeline`` and the plugin manager loaded;
* ``model``: the same, and the default model loaded (ONNX sessions made);
* ``read``: ``python -m digitocr read PAGE -q`` (the whole command).

Modules run from ``.pyc`` files (compiled first), as an installed wheel runs. Prints JSON.
"""

from __future__ import annotations

import argparse
import compileall
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def measure(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--page", default=str(REPO / "samples" / "form-scan.jpg"))
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    import digitocr

    code_dir = Path(digitocr.__file__).resolve().parent
    compileall.compile_dir(str(code_dir), quiet=1)
    py, page = sys.executable, args.page
    steps = {
        "bare": [py, "-c", f"import cv2; cv2.imread({page!r})"],
        "imports": [py, "-c", "import digitocr.cli, digitocr.pipeline; "
                    "from digitocr.plugins import get_classifiers; get_classifiers()"],
        "model": [py, "-c", "import digitocr.cli; from digitocr.pipeline import "
                  "resolve_classifier, DEFAULT_MODEL; resolve_classifier(DEFAULT_MODEL)"],
        "read": [py, "-m", "digitocr", "read", page, "-q"],
    }
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in steps}
    for _ in range(args.repeats):
        for name, cmd in steps.items():
            runs[name].append(measure(cmd))
    out: dict[str, object] = {"code": str(code_dir), "page": page, "repeats": args.repeats}
    for name, got in runs.items():
        walls, cpus = [w for w, _ in got], [c for _, c in got]
        out[name] = {"wall_median_s": round(statistics.median(walls), 3),
                     "wall_min_s": round(min(walls), 3),
                     "cpu_median_s": round(statistics.median(cpus), 3),
                     "cpu_min_s": round(min(cpus), 3)}
    bare, read = out["bare"], out["read"]
    assert isinstance(bare, dict) and isinstance(read, dict)
    out["ratio_read_to_bare"] = {
        k: round(read[k] / bare[k], 2) for k in ("wall_median_s", "wall_min_s", "cpu_median_s",
                                                  "cpu_min_s")}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
