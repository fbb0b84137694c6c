"""Scan simulation: a digit re-rendered the way ``read`` sees one on a scanned page.

A 28x28 training digit is scaled up to a handwriting size, inked onto paper, blurred, given
sensor noise and JPEG artefacts, then taken back through the reader's own path: ink map,
binarisation with hysteresis, the digit's connected components, ``normalise``. Training on such
copies teaches the classifier the stroke weights and broken or merged thin strokes that
binarising a scan produces, which clean MNIST never shows it.
"""

from __future__ import annotations

import cv2
import numpy as np

from .normalise import normalise

#: a pixel brighter than this is a digit's ink (MNIST's 30 of 255)
INK = 0.12


def _ink_crop(d: np.ndarray) -> np.ndarray:
    """The digit cropped to its ink (unchanged when it has none)."""
    ys, xs = np.nonzero(d > INK)
    if len(ys) == 0:
        return d
    return d[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def scan_once(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One 28x28 digit (ink bright, [0, 1]) through a random simulated scan and back."""
    from .segment import binarise

    if not (digit > INK).any():
        return digit.astype(np.float32)
    crop = _ink_crop(digit).astype(np.float32)
    height = int(rng.integers(24, 64))  # digit height in analysis pixels (~150 dpi)
    scale = height / crop.shape[0]
    w = max(2, round(crop.shape[1] * scale))
    ink = np.clip(cv2.resize(crop, (w, height), interpolation=cv2.INTER_LINEAR), 0, 1)
    # pen weight: real pens draw thinner or bolder than MNIST's rescaled strokes
    k = int(rng.choice([0, 0, 0, 1, 2])) * height // 40
    if k:
        kern = np.ones((k + 1, k + 1), np.uint8)
        ink = cv2.erode(ink, kern) if rng.random() < 0.5 else cv2.dilate(ink, kern)
    pad = max(6, height // 3)
    paper = float(rng.uniform(200, 250))
    pen = float(rng.uniform(10, 90))
    canvas = np.full((height + 2 * pad, w + 2 * pad), paper, np.float32)
    region = canvas[pad : pad + height, pad : pad + w]
    a = ink * float(rng.uniform(0.75, 0.98))
    canvas[pad : pad + height, pad : pad + w] = region * (1 - a) + pen * a
    sigma = float(rng.uniform(0.0, 1.2))
    if sigma > 0.3:
        canvas = cv2.GaussianBlur(canvas, (0, 0), sigma)
    noise = rng.normal(0, float(rng.uniform(1, 8)), canvas.shape)
    gray: np.ndarray = np.clip(canvas + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.7:
        q = int(rng.integers(40, 95))
        ok, enc = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, q])
        decoded = cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE) if ok else None
        if decoded is not None:
            gray = decoded
    ink_map = np.clip((paper - gray.astype(np.float32)) / max(paper, 32.0), 0, 1)
    b = binarise(ink_map)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(b.mask, connectivity=8)
    if n <= 1:
        return digit.astype(np.float32)
    # the digit's own components: every one bigger than a speck
    big = stats[1:, cv2.CC_STAT_AREA] >= max(3, 0.02 * stats[1:, cv2.CC_STAT_AREA].max())
    keep = np.zeros(n, bool)
    keep[1:] = big
    mask = cv2.dilate(keep[labels].astype(np.uint8), np.ones((3, 3), np.uint8))
    return normalise(ink_map * mask, polarity="bright")


def scan_batch(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """``scan_once`` over a batch (N, 28, 28) with one seeded generator."""
    rng = np.random.default_rng(seed)
    return np.stack([scan_once(d, rng) for d in x]) if len(x) else x.astype(np.float32)


#: label of a training image that is not one digit; its target is the uniform distribution
NOT_A_DIGIT = 10


def touching_pair(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two digits written so close that they touch or overlap, normalised as one crop."""
    h = 40
    parts = []
    for d in (a, b):
        c = _ink_crop(d)
        ph = max(4, round(h * rng.uniform(0.85, 1.1)))
        pw = max(2, round(c.shape[1] * ph / c.shape[0]))
        parts.append(cv2.resize(c.astype(np.float32), (pw, ph), interpolation=cv2.INTER_LINEAR))
    gap = round(h * rng.uniform(-0.15, 0.02))
    x1 = parts[0].shape[1] + gap
    width = max(x1 + parts[1].shape[1], parts[0].shape[1])
    height = max(p.shape[0] for p in parts) + 6
    canvas = np.zeros((height, width), np.float32)
    for p, x in ((parts[0], 0), (parts[1], max(0, x1))):
        y = int(rng.integers(0, height - p.shape[0] + 1))
        region = canvas[y : y + p.shape[0], x : x + p.shape[1]]
        np.maximum(region, p[:, : region.shape[1]], out=region)
    return normalise(canvas, polarity="bright")


def touching_pairs(x: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` touching pairs of random digits from ``x`` (labelled ``NOT_A_DIGIT`` in training)."""
    rng = np.random.default_rng(seed)
    if n <= 0 or len(x) == 0:
        return np.zeros((0, *x.shape[1:]), np.float32)
    idx = rng.integers(0, len(x), size=(n, 2))
    return np.stack([touching_pair(x[i], x[j], rng) for i, j in idx])
