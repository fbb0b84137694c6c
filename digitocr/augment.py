"""Random rotation, shift and zoom with OpenCV (for EDA figures and non-Keras backends)."""

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
