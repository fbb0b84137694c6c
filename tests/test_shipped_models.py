"""The models in models/ load, are small, and are as accurate as their metadata says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digitocr.backends import default_models_dir, load_model, read_metadata
from digitocr.data import load_source

SHIPPED = {"cnn": 0.99, "ensemble": 0.99, "svm": 0.975}


def test_shipped_models_are_small() -> None:
    files = [f for f in default_models_dir().rglob("*") if f.is_file()]
    assert sum(f.stat().st_size for f in files) < 25e6


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_model_on_a_fixed_mnist_slice(name: str, mnist_dir: Path) -> None:
    meta = read_metadata(default_models_dir() / name)
    assert meta["backend"] == name
    test = load_source(str(mnist_dir), "test")
    x, y = test.x[:2000], test.y[:2000]
    model = load_model(name)
    proba = model.predict_proba(x)
    assert proba.shape == (2000, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-3)
    assert float((proba.argmax(axis=1) == y).mean()) >= SHIPPED[name]
    assert meta["metrics"]["mnist_test"]["n"] == 10000
