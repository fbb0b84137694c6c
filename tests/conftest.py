"""Shared fixtures: shared data location, a fake classifier plugin, tiny datasets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from read_helpers import save_png, string_image

from digitocr import hookimpl, plugins
from digitocr.backends import Classifier, FitResult, Progress, check_batch

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Built-in plugins only (``DIGITOCR_LOAD_PLUGINS=""``): third-party plugins installed
    here must not change what the tests see. Set it to a list to test with some of them."""
    os.environ.setdefault(plugins.LOAD_ENV, "")


def shared_data() -> Path | None:
    """``$DIGITOCR_DATA`` or ``<repo>/../shared/data`` when it exists."""
    env = os.environ.get("DIGITOCR_DATA")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if (cand / "mnist").is_dir():
            return cand
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = shared_data()
    if d is None:
        pytest.skip("shared data not available (set DIGITOCR_DATA)")
    return d


@pytest.fixture(scope="session")
def mnist_dir(data_dir: Path) -> Path:
    return data_dir / "mnist"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A folder of two string crops, ``a.png`` (407) and ``b.png`` (12.5), for CLI tests."""
    d = tmp_path / "in"
    d.mkdir()
    save_png(string_image("407"), d / "a.png")
    save_png(string_image("12.5"), d / "b.png")
    return d


class FakeClassifier(Classifier):
    """Predicts the digit whose mean training image is nearest (centroids), fully in numpy."""

    backend = "fake"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.centroids: np.ndarray | None = None

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        progress: Progress | None = None,
    ) -> FitResult:
        x = check_batch(x).reshape(len(x), -1)
        self.centroids = np.stack([x[y == d].mean(axis=0) for d in range(10)])
        return FitResult(history={"loss": [1.0, 0.5]}, epochs=2)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        assert self.centroids is not None
        flat = check_batch(x).reshape(len(x), -1)
        dist = ((flat[:, None, :] - self.centroids[None]) ** 2).sum(axis=2)
        logits = -dist / 10.0
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    def save(self, directory: Path) -> None:
        assert self.centroids is not None
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "centroids.npy", self.centroids)

    @classmethod
    def load(cls, directory: Path, options: dict[str, Any]) -> FakeClassifier:
        inst = cls(**options)
        inst.centroids = np.load(directory / "centroids.npy", allow_pickle=False)
        return inst


class FakePlugin:
    """A third-party plugin registered from a fixture."""

    @hookimpl
    def register_classifiers(self, register: Any) -> None:
        register("fake", FakeClassifier)


@pytest.fixture
def fake_plugin() -> Iterator[None]:
    plugins.register_plugin(FakePlugin(), name="fake-plugin")
    try:
        yield
    finally:
        plugins.unregister_plugin("fake-plugin")
