"""Ink: relative ink darkness after removing the background, and its binarisation.

One ``ink_map`` serves the segmenters (background by a grayscale closing at reduced scale:
uneven light, tints) and the whole-string reader's preprocessing (``background="line"``: a
closing the size of a stroke run, blurred, then contrast stretched to the ink's own top).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..normalise import dark_ink_gray, to_gray
from .types import RULES, SegmentRules


@dataclass
class Ink:
    """The ink map (float32, 0 = paper, 1 = darkest ink) and its binarisation."""

    ink: np.ndarray
    mask: np.ndarray  # uint8 0/1
    threshold: float


#: the whole-string reader's background (``background="line"``): a closing with a disc this
#: fraction of the crop's height (at least ``LINE_KERNEL_MIN`` px), blurred; then the ink is
#: stretched so that its ``LINE_STRETCH`` percentile is full ink (never by more than
#: 1 / ``LINE_STRETCH_FLOOR``). Fixed by the trained string models (change them only with a
#: retraining), so not segmentation rules.
LINE_KERNEL = 0.22
LINE_KERNEL_MIN = 5
LINE_STRETCH = 99.5
LINE_STRETCH_FLOOR = 0.08


def ink_map(image: np.ndarray, polarity: str = "auto", rules: SegmentRules = RULES, *,
            background: str = "page") -> np.ndarray:
    """Relative ink darkness in [0, 1] after removing the background (uneven light, tints).

    ``background="page"`` (the segmenters'): a grayscale closing at reduced scale, blurred;
    ``"line"`` (the whole-string reader's preprocessing, on a field's crop): a closing with a
    disc about a stroke run wide, which also damps printed security patterns, then the
    contrast stretched to the ink's own top.
    """
    gray = dark_ink_gray(image, polarity)
    if background == "page":
        bg = _page_background(gray, rules)
    elif background == "line":
        bg = _line_background(gray)
    else:
        raise ValueError(f"background must be 'page' or 'line', not {background!r}")
    ink = np.clip((bg - gray) / np.maximum(bg, rules.bg_floor), 0.0, 1.0)
    if background == "line":
        top = float(np.percentile(ink, LINE_STRETCH)) if ink.size else 0.0
        ink = np.clip(ink / max(top, LINE_STRETCH_FLOOR), 0.0, 1.0)
    return ink.astype(np.float32)


def _page_background(gray: np.ndarray, rules: SegmentRules) -> np.ndarray:
    h, w = gray.shape
    scale = min(1.0, rules.bg_side / max(h, w))
    small = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1 else gray
    k = (int(max(rules.bg_kernel_min, round(min(small.shape) * rules.bg_kernel))) | 1
         if scale == 1.0 else rules.bg_kernel_shrunk)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    bg = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
    bg = cv2.blur(bg, (k, k))
    bg = np.maximum(bg, cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel))
    if scale < 1:
        bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)
    return bg


def _line_background(gray: np.ndarray) -> np.ndarray:
    k = max(LINE_KERNEL_MIN, round(gray.shape[0] * LINE_KERNEL)) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    bg = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, kernel)
    return cv2.GaussianBlur(bg, (0, 0), k / 4)


def binarise(ink: np.ndarray, floor: float | None = None, rules: SegmentRules = RULES) -> Ink:
    """Otsu on the ink map (never below ``floor``, default ``rules.ink_floor``), with
    hysteresis down to ``rules.hysteresis`` of it."""
    floor = rules.ink_floor if floor is None else floor
    u8 = (ink * 255).astype(np.uint8)
    otsu, _ = cv2.threshold(u8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    thr = max(float(otsu) / 255.0, floor)
    weak = (ink > thr * rules.hysteresis).astype(np.uint8)
    n, labels = cv2.connectedComponents(weak, connectivity=8)
    mask = np.zeros_like(weak)
    if n > 1:
        # over the weak ink's pixels only (a few percent of a page), not the whole image
        xs, ys = cv2.findNonZero(weak).reshape(-1, 2).T
        lab = labels[ys, xs]
        has_strong = np.zeros(n, bool)
        has_strong[lab[ink[ys, xs] > thr]] = True
        keep = has_strong[lab]
        mask[ys[keep], xs[keep]] = 1
    return Ink(ink, mask, thr)


def gray_u8(image: np.ndarray) -> np.ndarray:
    """Fast gray conversion for uint8 RGB pages; anything else through ``to_gray``."""
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if image.dtype == np.uint8 and image.ndim == 2:
        return image
    return np.clip(to_gray(image), 0, 255).astype(np.uint8)


def percentile_u8(image: np.ndarray, q: float) -> float:
    """``np.percentile(image, q)`` (linear interpolation) of a uint8 image, from its histogram:
    the same number, without sorting a page's millions of pixels."""
    if image.dtype != np.uint8 or image.size == 0:
        return float(np.percentile(image, q))
    flat = np.ascontiguousarray(image).reshape(-1, 1)
    counts = np.cumsum(cv2.calcHist([flat], [0], None, [256], [0, 256]).ravel())
    rank = q / 100.0 * (image.size - 1)
    lo = int(np.floor(rank))
    hi = min(lo + 1, image.size - 1)
    v_lo, v_hi = (int(np.searchsorted(counts, k, side="right")) for k in (lo, hi))
    return float(v_lo + (rank - lo) * (v_hi - v_lo))
