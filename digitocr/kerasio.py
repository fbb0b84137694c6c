"""Keras for the network plugins: a quiet import, model files saved and loaded safely, and the
ONNX export that reading runs (``digitocr.onnxrun``). Only training imports this module's Keras."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .errors import MissingDependency, ModelError


def import_keras() -> Any:
    """Import Keras on TensorFlow, hiding TensorFlow's C++ start-up notes."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if sys.modules.get("keras") is not None:
        return sys.modules["keras"]
    # TensorFlow's C++ start-up notes (oneDNN, absl) bypass every log setting: hide just those
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras
    except ImportError as exc:
        raise MissingDependency(
            "training needs Keras and TensorFlow, which this install lacks: "
            "pip install 'digitocr[train]'") from exc
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return keras


def save_model(model: Any, path: Path) -> None:
    """Save a network without its optimizer state (a fresh copy carries only the weights)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = type(model).from_config(model.get_config())
    clean.set_weights(model.get_weights())
    clean.save(path)


#: largest difference between Keras's and ONNX Runtime's outputs that an export may show
EXPORT_TOLERANCE = 1e-4
#: layers that act only in training: left out of the exported inference graph
TRAINING_ONLY = ("RandomRotation", "RandomTranslation", "RandomZoom", "RandomFlip",
                 "RandomContrast", "RandomBrightness")


def inference_graph(model: Any) -> Any:
    """The network without its augmentation layers (a ``Sequential`` rebuilt on the same
    layers, so on the same weights); other models as they are."""
    keras = import_keras()
    if not isinstance(model, keras.Sequential):
        return model
    keep = [layer for layer in model.layers if type(layer).__name__ not in TRAINING_ONLY]
    return keras.Sequential([keras.Input(model.input_shape[1:]), *keep], name=model.name)


def export_onnx(model: Any, path: Path, sample: np.ndarray) -> dict[str, Any]:
    """Write ``model`` as an ONNX file (input ``image``, output ``probs``, batch size free) and
    check it on ``sample`` against Keras; return what the metadata records of it."""
    import onnx
    import onnxruntime as ort

    graph = inference_graph(model)
    expected = np.asarray(graph(sample, training=False))  # also builds a rebuilt graph
    tmp = path.with_name(path.name + ".tmp")
    try:
        with warnings.catch_warnings():  # tf2onnx probes np.object, which numpy 2 warns about
            warnings.simplefilter("ignore", FutureWarning)
            graph.export(str(tmp), format="onnx", verbose=False)
        proto = onnx.load(str(tmp))
        _rename(proto.graph, proto.graph.input[0].name, "image")
        _rename(proto.graph, proto.graph.output[0].name, "probs")
        onnx.save(proto, str(tmp))
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        got = session.run(None, {"image": sample.astype(np.float32)})[0]
        diff = float(np.abs(got - expected).max())
        if not diff <= EXPORT_TOLERANCE:
            raise ModelError(f"{path}: the ONNX export differs from Keras by {diff:.2g} "
                             f"(more than {EXPORT_TOLERANCE:g})")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    opset = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
                default=0)
    return {"file": path.name, "opset": int(opset), "checked_on": len(sample),
            "max_abs_diff": diff, "onnxruntime": str(ort.__version__)}


def export_sample(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A fixed float32 batch of ``shape`` to check an export on: a blank item, a full one, and
    random ones."""
    x = np.random.default_rng(seed).random(shape, dtype=np.float32)
    x[0], x[1] = 0.0, 1.0
    return x


def _rename(graph: Any, old: str, new: str) -> None:
    """Rename one tensor of an ONNX graph everywhere it appears."""
    for value in (*graph.input, *graph.output):
        if value.name == old:
            value.name = new
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]


def load_model_file(path: Path, what: str, classes: int) -> Any:
    """Load a ``.keras`` file in safe mode; check that it outputs ``classes`` scores."""
    if not path.is_file():
        raise ModelError(f"{path.parent}: no model.onnx or {path.name} in this {what} "
                         "model directory")
    try:
        keras = import_keras()
    except MissingDependency as exc:
        raise MissingDependency(
            f"{path.parent}: this {what} model has no model.onnx, and running {path.name} "
            "needs Keras: pip install 'digitocr[train]', then 'digitocr export "
            f"{path.parent}' writes the ONNX file") from exc
    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        first = lines[0] if lines else type(exc).__name__
        raise ModelError(f"{path}: cannot load Keras model ({first})") from exc
    shape = tuple(model.output_shape)
    if shape[-1] != classes:
        raise ModelError(f"{path}: model outputs {shape}, expected {classes} classes")
    return model


def epoch_line(epoch: int, epochs: int, seconds: float, logs: dict[str, Any] | None) -> str:
    """One progress line for a finished epoch: ``epoch 3/20 (31s) loss=0.0512 ...``."""
    parts = "".join(f" {k}={v:.4f}" for k, v in (logs or {}).items() if isinstance(v, float))
    return f"epoch {epoch + 1}/{epochs} ({seconds:.0f}s){parts}"
