"""Random warps with OpenCV: rotation, shift and zoom of digits (EDA figures, non-Keras
backends), and a string reader's per-epoch jitter of its prepared crops."""

from __future__ import annotations

import cv2
import numpy as np


def augment_batch(
    x: np.ndarray, *, rotation: float, shift: float, zoom: float, seed: int = 0
) -> np.ndarray:
    """Apply one random affine warp per image: ±rotation degrees, ±shift·size, 1±zoom."""
    rng = np.random.default_rng(seed)
    out = np.empty_like(x)
    for i, img in enumerate(x):
        h, w = img.shape[:2]
        angle = rng.uniform(-rotation, rotation)
        scale = rng.uniform(1 - zoom, 1 + zoom)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
        m[:, 2] += rng.uniform(-shift, shift, size=2) * (w, h)
        out[i] = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out


#: ``jitter_string``'s ranges: width factor, shear (x per y), height kept, columns of margin
#: added at each end, and the chance of a thicker or thinner stroke
JITTER_WIDTH = (0.8, 1.25)
JITTER_SHEAR = 0.25
JITTER_HEIGHT = (0.8, 1.0)
JITTER_MARGIN = 8
JITTER_STROKE = 0.2


def jitter_string(img: np.ndarray, rng: np.random.Generator, min_width: int = 0) -> np.ndarray:
    """A prepared string crop (uint8, ink bright, fixed height) warped afresh: squeezed or
    stretched, sheared, shrunk and moved up or down, given a margin at each end, its strokes
    thickened or thinned, its ink lighter or darker. The result is at least ``min_width``
    columns wide (so that it still has CTC steps for its label) and keeps the height.

    Why: a crop's frame, slant and stroke differ from one scan to the next, and the same real
    crops are shown many times; a fixed augmented copy teaches one more frame, this teaches
    them all.
    """
    h, w = img.shape
    sx = rng.uniform(*JITTER_WIDTH)
    if w * sx < min_width:
        sx = min_width / max(w, 1)
    sy = rng.uniform(*JITTER_HEIGHT)
    shear = rng.uniform(-JITTER_SHEAR, JITTER_SHEAR)
    top = rng.uniform(0, h * (1 - sy))
    # x' = sx*x + shear*(y - h/2), y' = sy*y + top; the canvas widened to hold the shear
    slack = abs(shear) * h / 2
    left, right = (int(v) for v in rng.integers(0, JITTER_MARGIN + 1, 2))
    width = round(w * sx + 2 * slack) + left + right
    m = np.array([[sx, shear, left + slack - shear * h / 2], [0, sy, top]], np.float32)
    out = cv2.warpAffine(img, m, (max(width, min_width, 1), h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    roll = rng.random()
    kernel = np.ones((2, 2), np.uint8)
    if roll < JITTER_STROKE:
        out = cv2.dilate(out, kernel)
    elif roll < 2 * JITTER_STROKE:
        out = cv2.erode(out, kernel)
    gain = rng.uniform(0.75, 1.25)
    return np.clip(out.astype(np.float32) * gain, 0, 255).astype(np.uint8)
