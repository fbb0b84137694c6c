"""Helpers for the ``read`` tests: printed-digit pages and a template-matching fake classifier.

The fake classifier knows the ten digits as drawn by OpenCV's Hershey font, normalised exactly
as ``read`` normalises crops, and answers by nearest template: the pipeline is tested end to end
without TensorFlow, and the expected texts are exact.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from digitocr import hookimpl, plugins
from digitocr.backends import Classifier, FitResult, Progress, check_batch
from digitocr.normalise import normalise

FONT = cv2.FONT_HERSHEY_SIMPLEX
BACKEND = "fonttemplate"


def glyph(ch: str, scale: float = 2.2, thick: int = 5) -> np.ndarray:
    """One digit drawn dark on white, cropped to its ink (uint8)."""
    canvas = np.full((200, 200), 255, np.uint8)
    cv2.putText(canvas, ch, (40, 150), FONT, scale, 0, thick, cv2.LINE_AA)
    ys, xs = np.nonzero(canvas < 128)
    return canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def put(img: np.ndarray, text: str, x: int, y: int, gap: int = 14, **kw: Any) -> list[int]:
    """Write ``text`` (digits and . , -) with top-left (x, y); returns the string's bbox."""
    cursor = x
    bottom = y
    for ch in text:
        if ch in ".,":
            cv2.circle(img, (cursor + 4, y + 52), 4, 0, -1)
            cursor += 10 + gap
            continue
        if ch == "-":
            cv2.line(img, (cursor, y + 30), (cursor + 16, y + 30), 0, 4)
            cursor += 16 + gap
            continue
        g = glyph(ch, **kw)
        h, w = g.shape
        region = img[y : y + h, cursor : cursor + w]
        np.minimum(region, g, out=region)
        bottom = max(bottom, y + h)
        cursor += w + gap
    return [x, y, cursor - gap - x, bottom - y]


def form_page(account: str = "40721", amount: str = "386", code: str = "95") -> np.ndarray:
    """A white page: a 5-cell comb, a free-string box, a 2-cell comb, printed label bars."""
    img = np.full((520, 900), 250, np.uint8)
    cv2.rectangle(img, (40, 30), (300, 44), 120, -1)  # a printed title bar (no rules)
    # comb of 5 cells (80 x 96) at (100, 100)
    x0, y0, cw, ch = 100, 100, 80, 96
    cv2.rectangle(img, (x0, y0), (x0 + 5 * cw, y0 + ch), 0, 3)
    for i in range(1, 5):
        cv2.line(img, (x0 + i * cw, y0), (x0 + i * cw, y0 + ch), 0, 3)
    for i, c in enumerate(account):
        g = glyph(c)
        gy, gx = y0 + (ch - g.shape[0]) // 2, x0 + i * cw + (cw - g.shape[1]) // 2
        region = img[gy : gy + g.shape[0], gx : gx + g.shape[1]]
        np.minimum(region, g, out=region)
    # a box with a free string
    cv2.rectangle(img, (100, 260), (560, 380), 0, 3)
    put(img, amount, 130, 288)
    # a 2-cell comb on the same line as nothing else, lower down
    x1, y1 = 620, 420
    cv2.rectangle(img, (x1, y1), (x1 + 2 * cw, y1 + ch - 6), 0, 3)
    cv2.line(img, (x1 + cw, y1), (x1 + cw, y1 + ch - 6), 0, 3)
    for i, c in enumerate(code):
        g = glyph(c)
        gy, gx = y1 + (ch - 6 - g.shape[0]) // 2, x1 + i * cw + (cw - g.shape[1]) // 2
        region = img[gy : gy + g.shape[0], gx : gx + g.shape[1]]
        np.minimum(region, g, out=region)
    return img


def string_image(text: str, gap: int = 14, pad: int = 20) -> np.ndarray:
    """A crop holding one free digit string (like a cheque's courtesy amount)."""
    w = pad * 2 + sum(60 if c.isdigit() else 30 for c in text) + gap * len(text)
    img = np.full((120, w), 255, np.uint8)
    put(img, text, pad, 25, gap=gap)
    return img


class FontTemplateClassifier(Classifier):
    """Nearest normalised Hershey-font template; probabilities from a softmax of distances."""

    backend = BACKEND
    _templates: np.ndarray | None = None

    @classmethod
    def templates(cls) -> np.ndarray:
        if cls._templates is None:
            cls._templates = np.stack(
                [normalise(255 - glyph(str(d)), polarity="bright") for d in range(10)]
            ).reshape(10, -1)
        return cls._templates

    def fit(self, x: np.ndarray, y: np.ndarray, *,
            validation: tuple[np.ndarray, np.ndarray] | None = None,
            progress: Progress | None = None) -> FitResult:
        return FitResult()

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        x = check_batch(x).reshape(len(x), -1)
        if len(x) == 0:
            return np.zeros((0, 10), np.float32)
        t = self.templates()
        d = ((x[:, None, :] - t[None, :, :]) ** 2).sum(axis=2)
        logits = -d / 4.0
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)

    @classmethod
    def load(cls, directory: Path, options: dict[str, Any]) -> FontTemplateClassifier:
        return cls(**options)


class FontPlugin:
    """Registers the fake classifier through the real ``register_classifiers`` hook."""

    @hookimpl
    def register_classifiers(self, register: Any) -> None:
        register(BACKEND, FontTemplateClassifier)


@pytest.fixture
def font_model(tmp_path: Path) -> Iterator[str]:
    """A model directory whose backend is the template-matching fake; registered for the test."""
    plugins.register_plugin(FontPlugin(), name="test-font-classifier")
    d = tmp_path / "fontmodel"
    d.mkdir()
    (d / "metadata.json").write_text(json.dumps({"backend": BACKEND, "config": {}}))
    try:
        yield str(d)
    finally:
        plugins.unregister_plugin("test-font-classifier")


def save_png(img: np.ndarray, path: Path) -> Path:
    """Write a PNG with PIL (any mode PIL takes from the array)."""
    from PIL import Image

    Image.fromarray(img).save(path)
    return path
