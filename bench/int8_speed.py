#!/usr/bin/env python
"""int8 (static, QDQ, per-channel) ONNX Runtime quantisation of a shipped network: speed and MNIST.

    DIGITOCR_DATA=../shared/data python bench/int8_speed.py models/cnn \
        [models/ensemble/members/00-cnn ...]

For each model directory: its ``model.onnx`` quantised with ``onnxruntime.quantization``
(calibration: 1,000 MNIST training images), then MNIST test accuracy of both (digits given as
MNIST stores them: a member trained with ``deskew`` reads lower here than through ``read``),
how often they agree, the largest output difference, and images per second of each (batches of
256, 2 threads, spinning off as ``read`` runs them; two rounds each). Nothing is written into
the model directories (the quantised file goes to a temporary folder).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from digitocr.data import load_source

    train, test = load_source(None, "train"), load_source(None, "test")
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 2, 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    for folder in sys.argv[1:]:
        path = Path(folder) / "model.onnx"
        fp32 = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        name = fp32.get_inputs()[0].name
        shape = fp32.get_inputs()[0].shape

        def prep(x: np.ndarray, shape: list = shape) -> np.ndarray:
            x = x.astype(np.float32) / (255.0 if x.dtype == np.uint8 else 1.0)
            return x.reshape((len(x), *(d if isinstance(d, int) else 28 for d in shape[1:])))

        class Calibration(CalibrationDataReader):
            def __init__(self, name: str = name) -> None:
                idx = np.random.default_rng(0).choice(len(train.x), 1000, replace=False)
                self.batches = iter([{name: prep(train.x[idx[i : i + 100]])}
                                     for i in range(0, 1000, 100)])

            def get_next(self) -> dict | None:
                return next(self.batches, None)

        with tempfile.TemporaryDirectory() as tmp:
            pre, q8 = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
            quant_pre_process(str(path), str(pre), skip_symbolic_shape=True)
            quantize_static(str(pre), str(q8), Calibration(), quant_format=QuantFormat.QDQ,
                            per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8)
            int8 = ort.InferenceSession(str(q8), so, providers=["CPUExecutionProvider"])
        x = prep(test.x)

        def run(sess: ort.InferenceSession, x: np.ndarray = x, name: str = name) -> np.ndarray:
            return np.concatenate([sess.run(None, {name: x[i : i + 256]})[0]
                                   for i in range(0, len(x), 256)])

        pa, pq = run(fp32), run(int8)
        report = {"model": folder,
                  "mnist_fp32": round(float((pa[:, :10].argmax(1) == test.y).mean()), 4),
                  "mnist_int8": round(float((pq[:, :10].argmax(1) == test.y).mean()), 4),
                  "agree": round(float((pa.argmax(1) == pq.argmax(1)).mean()), 4),
                  "max_abs_diff": round(float(np.abs(pa - pq).max()), 4)}
        for kind, sess in (("fp32", fp32), ("int8", int8)) * 2:
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < 3:
                sess.run(None, {name: x[:256]})
                n += 256
            report.setdefault(f"{kind}_img_s", []).append(round(n / (time.perf_counter() - t0)))
        print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
