"""Keras for the network plugins: a quiet import, and model files saved and loaded safely."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from .errors import ModelError


def import_keras() -> Any:
    """Import Keras on TensorFlow, hiding TensorFlow's C++ start-up notes."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "keras" in sys.modules:
        return sys.modules["keras"]
    # TensorFlow's C++ start-up notes (oneDNN, absl) bypass every log setting: hide just those
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras
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


def load_model_file(path: Path, what: str, classes: int) -> Any:
    """Load a ``.keras`` file in safe mode; check that it outputs ``classes`` scores."""
    if not path.is_file():
        raise ModelError(f"{path.parent}: no {path.name} in this {what} model directory")
    keras = import_keras()
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
