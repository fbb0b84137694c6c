"""``onnx`` backend: any digit classifier exported to ONNX, trained with whatever you like.

The contract (README, "Plugins"): a model directory holding ``metadata.json`` with
``"backend": "onnx"`` and ``model.onnx``, a graph with one float32 input of shape ``(N, 28, 28)``
or ``(N, 28, 28, 1)`` (MNIST style: ink bright on black, values in [0, 1]) and one output of
shape ``(N, 10)``: the probability of each digit 0-9 (rows summing to 1; use a Softmax).
Metadata option ``softmax: true`` applies one when the graph ends in raw scores (logits).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from digitocr import hookimpl
from digitocr.backends import Classifier, FitResult, Progress, check_batch
from digitocr.errors import ModelError
from digitocr.onnxrun import ONNX_FILE, OnnxNetwork

#: most images per inference call (bounds memory on huge batches)
PREDICT_CHUNK = 1024


class OnnxClassifier(Classifier):
    """Runs a ``model.onnx`` on ONNX Runtime; it cannot be trained here."""

    backend = "onnx"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.network: OnnxNetwork | None = None

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        progress: Progress | None = None,
    ) -> FitResult:
        raise ModelError("the onnx backend runs a model trained elsewhere; it cannot train one")

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        if self.network is None:
            raise ModelError("no ONNX model loaded")
        x = check_batch(x)
        if len(x) == 0:
            return np.zeros((0, 10), np.float32)
        out = np.concatenate([self.network.run(x[i : i + PREDICT_CHUNK])
                              for i in range(0, len(x), PREDICT_CHUNK)])
        if self.options.get("softmax"):
            e = np.exp(out - out.max(axis=1, keepdims=True))
            out = e / e.sum(axis=1, keepdims=True)
        return out.astype(np.float32)

    def save(self, directory: Path) -> None:
        if self.network is None:
            raise ModelError("nothing to save: no ONNX model loaded")
        directory.mkdir(parents=True, exist_ok=True)
        (directory / ONNX_FILE).write_bytes(self.network.data)

    @classmethod
    def load(cls, directory: Path, options: dict[str, Any]) -> OnnxClassifier:
        path = directory / ONNX_FILE
        if not path.is_file():
            raise ModelError(f"{directory}: no {ONNX_FILE} in this onnx model directory")
        inst = cls(**options)
        inst.network = OnnxNetwork.load(path, 10)
        if inst.network.rank not in (3, 4):
            raise ModelError(f"{path}: input must be (N, 28, 28) or (N, 28, 28, 1)")
        return inst


@hookimpl
def register_classifiers(register: Any) -> None:
    register("onnx", OnnxClassifier)
