#!/usr/bin/env python
"""ONNX Runtime against TensorFlow, side by side: start-up, network throughput, FLOP use.

    python bench/onnx_speed.py [--page FILE] [--threads 2]

* start: a fresh process that reads one page with ``digitocr read`` (ONNX Runtime; the shipped
  models) against the bare ``python -c "import cv2; cv2.imread(page)"`` on the same page, and
  against the same ``digitocr read`` with the models' ONNX files hidden (so Keras on TensorFlow
  runs them): median of ``--repeats`` runs, and each one's peak RSS;
* networks: images per second through each shipped network, batches of ``--batch``, on
  ``--threads`` threads, ONNX Runtime and Keras (a traced ``tf.function``, as the Keras path
  ran) in this one process, one after the other, on the same inputs;
* FLOP use: the default CNN's multiply-adds per image (counted from its ONNX graph) times its
  throughput, against a float32 matrix product's rate on the same threads (``numpy``'s BLAS,
  the practical peak of these cores).

Writes the JSON report to stdout; progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "models"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed_process(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command, measured by a wrapper process."""
    wrap = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
            "print(time.perf_counter() - t, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", wrap, *cmd], check=True, capture_output=True,
                         text=True, env=env).stdout.split()
    return float(out[-2]), int(out[-1]) / 1024


def start_up(page: str, repeats: int, model: str) -> dict[str, Any]:
    exe = shutil.which("digitocr") or str(Path(sys.executable).with_name("digitocr"))
    with tempfile.TemporaryDirectory() as tmp:
        keras_models = Path(tmp) / "models"
        shutil.copytree(MODELS, keras_models)
        for f in keras_models.rglob("model.onnx"):
            f.unlink()
        runs: dict[str, tuple[list[str], dict[str, str] | None]] = {
            "bare_cv2_imread": ([sys.executable, "-c", f"import cv2; cv2.imread({page!r})"],
                                None),
            "digitocr_onnx": ([exe, "read", page, "--model", model, "-q"], None),
            "digitocr_keras": ([exe, "read", page, "--model", model, "-q"],
                               {**os.environ, "DIGITOCR_MODELS": str(keras_models)}),
        }
        out: dict[str, Any] = {}
        for name, (cmd, env) in runs.items():
            got = [timed_process(cmd, env) for _ in range(repeats)]
            out[name] = {"median_s": round(statistics.median(t for t, _ in got), 3),
                         "peak_rss_mb": round(max(r for _, r in got), 1)}
            log(f"start {name}: {out[name]}")
    bare = out["bare_cv2_imread"]["median_s"]
    out["ratio_onnx_to_bare"] = round(out["digitocr_onnx"]["median_s"] / bare, 1)
    out["ratio_keras_to_bare"] = round(out["digitocr_keras"]["median_s"] / bare, 1)
    return out


def rate(fn: Any, x: np.ndarray, batch: int, seconds: float) -> float:
    """Images per second of ``fn`` over batches of ``x`` for at least ``seconds``."""
    fn(x[:batch])  # warm up (graph tracing, session arenas)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for i in range(0, len(x), batch):
            fn(x[i : i + batch])
            n += len(x[i : i + batch])
    return n / (time.perf_counter() - t0)


def macs_per_image(onnx_path: Path) -> int:
    """Multiply-adds per image of the Conv and MatMul/Gemm nodes of an ONNX file."""
    import onnx
    from onnx import shape_inference

    model = shape_inference.infer_shapes(onnx.load(str(onnx_path)))
    graph = model.graph
    shapes = {v.name: [d.dim_value or 1 for d in v.type.tensor_type.shape.dim]
              for v in (*graph.value_info, *graph.input, *graph.output)}
    inits = {t.name: list(t.dims) for t in graph.initializer}
    total = 0
    for node in graph.node:
        if node.op_type == "Conv":
            w = inits[node.input[1]]  # (out, in/groups, kh, kw)
            out = shapes[node.output[0]]  # (1, out, h, w)
            total += int(np.prod(out[1:])) * int(np.prod(w[1:]))
        elif node.op_type in ("MatMul", "Gemm"):
            w = inits.get(node.input[1])
            if w is not None:
                total += int(np.prod(w))
    return total


def gemm_gflops(threads: int, seconds: float = 3.0) -> float:
    """float32 matrix-product rate on ``threads`` threads (numpy's BLAS)."""
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
    with threadpool_limits(threads):
        a @ a
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            a @ a
            n += 1
        took = time.perf_counter() - t0
    return 2 * 1024**3 * n / took / 1e9


def networks(threads: int, batch: int, seconds: float) -> dict[str, Any]:
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    from digitocr import onnxrun
    from digitocr.backends import load_model, load_string_reader

    onnxrun.set_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.random((2048, 28, 28), dtype=np.float32)
    report: dict[str, Any] = {"threads": threads, "batch": batch}
    with tempfile.TemporaryDirectory() as tmp:
        keras_models = Path(tmp) / "models"
        shutil.copytree(MODELS, keras_models)
        for f in keras_models.rglob("model.onnx"):
            f.unlink()
        for name in ("cnn", "ensemble"):
            ort_model = load_model(str(MODELS / name))
            tf_model = load_model(str(keras_models / name))
            if name == "ensemble":  # every member on every image: the cascade off
                ort_model.options["cascade"] = tf_model.options["cascade"] = 0.0
            o = rate(ort_model.predict_proba, x, batch, seconds)
            t = rate(tf_model.predict_proba, x, batch, seconds)
            diff = float(np.abs(ort_model.predict_proba(x[:256])
                                - tf_model.predict_proba(x[:256])).max())
            report[name] = {"onnx_img_s": round(o), "tensorflow_img_s": round(t),
                            "ratio": round(o / t, 2), "max_abs_diff": diff}
            log(f"{name}: {report[name]}")
        crops = [rng.random((40, int(w)), dtype=np.float32) for w in rng.integers(80, 300, 256)]
        ort_r = load_string_reader(str(MODELS / "crnn"))
        tf_r = load_string_reader(str(keras_models / "crnn"))
        runs = {}
        for label, reader in (("onnx", ort_r), ("tensorflow", tf_r)):
            reader.read_strings(crops[:16])
            t0 = time.perf_counter()
            got = reader.read_strings(crops)
            runs[label] = (len(crops) / (time.perf_counter() - t0), got)
        same = sum(a[0] == b[0] for a, b in zip(runs["onnx"][1], runs["tensorflow"][1],
                                                 strict=True))
        report["crnn"] = {"onnx_crops_s": round(runs["onnx"][0]),
                          "tensorflow_crops_s": round(runs["tensorflow"][0]),
                          "ratio": round(runs["onnx"][0] / runs["tensorflow"][0], 2),
                          "same_text": f"{same}/{len(crops)}"}
        log(f"crnn: {report['crnn']}")
    macs = macs_per_image(MODELS / "cnn" / "model.onnx")
    peak = gemm_gflops(threads)
    achieved = 2 * macs * report["cnn"]["onnx_img_s"] / 1e9
    report["cnn_flops"] = {"mflop_per_image": round(2 * macs / 1e6, 2),
                           "achieved_gflop_s": round(achieved, 1),
                           "sgemm_gflop_s": round(peak, 1),
                           "fraction_of_sgemm": round(achieved / peak, 3)}
    log(f"flops: {report['cnn_flops']}")
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--page", default=str(REPO / "samples" / "form-scan.jpg"),
                    help="the page for the start-up runs (default: samples/form-scan.jpg)")
    ap.add_argument("--model", default="auto", help="the model for the start-up runs")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=4.0, help="per throughput measurement")
    ap.add_argument("--skip", nargs="*", default=[], choices=["start", "networks"])
    args = ap.parse_args()
    report: dict[str, Any] = {"cores": len(os.sched_getaffinity(0))}
    if "start" not in args.skip:
        report["start"] = start_up(args.page, args.repeats, args.model)
    if "networks" not in args.skip:
        report["networks"] = networks(args.threads, args.batch, args.seconds)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
