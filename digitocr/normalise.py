"""Crop → MNIST-style 28x28: the one function that training data and document crops share.

MNIST was made by fitting each digit into a 20x20 box (aspect ratio kept, anti-aliased) and
placing its centre of mass at the centre of a 28x28 field. We do the same, after fixing polarity
(ink bright on dark), subtracting the background level and stretching contrast, and we drop
specks that are far too small to be part of the digit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np

SIZE = 28
BOX = 20
THIN, THICK = 2.1, 4.5
INK_PERCENTILE = 99.0  # the ink level scaled to 1: robust to a few hot pixels


def to_gray(img: np.ndarray) -> np.ndarray:
    """Any 2-D/3-D image (uint8, uint16, bool or float) as float32 gray in [0, 255]."""
    a = np.asarray(img)
    if a.ndim == 3:
        if a.shape[2] == 4:
            a = a[..., :3]
        a = a.mean(axis=2) if a.shape[2] == 3 else a[..., 0]
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {a.shape}")
    if a.dtype == np.bool_:
        return a.astype(np.float32) * 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 257.0
    if np.issubdtype(a.dtype, np.floating):
        top = float(a.max()) if a.size else 0.0
        return a.astype(np.float32) * (255.0 if top <= 1.0 else 1.0)
    return a.astype(np.float32)


def dark_ink_gray(image: np.ndarray, polarity: str = "auto") -> np.ndarray:
    """Gray float image with ink darker than paper (``auto``: a dark page is turned over)."""
    gray = to_gray(image)
    # every 4th pixel each way is plenty to tell a dark page, at a 16th of a page's median
    if polarity == "bright" or (polarity == "auto" and float(np.median(gray[::4, ::4])) < 110.0):
        return 255.0 - gray
    if polarity not in ("auto", "dark", "bright"):
        raise ValueError(f"polarity must be auto, dark or bright, not {polarity!r}")
    return gray


def ink_bright(gray: np.ndarray, polarity: str = "auto") -> np.ndarray:
    """Return the image with ink bright on a zero background, contrast in [0, 1]."""
    if polarity == "dark":
        gray = 255.0 - gray
    elif polarity == "auto":
        border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
        if np.median(border) > float(gray.mean()):
            gray = 255.0 - gray
    elif polarity != "bright":
        raise ValueError(f"polarity must be auto, dark or bright, not {polarity!r}")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    x = np.clip(gray - float(np.median(border)), 0.0, None)
    top = float(np.percentile(x[x > 0], INK_PERCENTILE)) if np.any(x > 0) else 0.0
    if top < 16.0:  # no ink worth the name
        return np.zeros_like(x)
    return np.clip(x / top, 0.0, 1.0)


def _ink_mask(x: np.ndarray) -> np.ndarray:
    u8 = (x * 255).astype(np.uint8)
    thr, _ = cv2.threshold(u8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return u8 > max(thr * 0.5, 20)


def _drop_specks(x: np.ndarray, mask: np.ndarray, min_fraction: float) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(n, dtype=bool)
    keep[1:] = areas >= max(2, min_fraction * areas.max())
    return np.asarray(keep[labels])


def _thinning_table() -> np.ndarray:
    """Zhang and Suen's (1984) deletion rules over the 256 neighbourhoods of a pixel.

    Neighbourhood code bits: 1 NW, 2 N, 4 NE, 8 E, 16 SE, 32 S, 64 SW, 128 W. An entry's bit 1
    says the pixel may go in the first sub-iteration, bit 2 in the second: it has 2-6 set
    neighbours, exactly one 0 -> 1 step around them, and the sub-iteration's own condition
    (first: N*E*S = E*S*W = 0; second: N*E*W = N*S*W = 0).
    """
    table = np.zeros(256, np.uint8)
    for code in range(256):
        nw, n, ne, e, se, s, sw, w = ((code >> i) & 1 for i in range(8))
        ring = (n, ne, e, se, s, sw, w, nw)
        steps = sum(ring[i] == 0 and ring[(i + 1) % 8] == 1 for i in range(8))
        if 2 <= sum(ring) <= 6 and steps == 1:
            table[code] = (1 if n * e * s == 0 and e * s * w == 0 else 0) | (
                2 if n * e * w == 0 and n * s * w == 0 else 0)
    return table


_THINNING = _thinning_table()


#: neighbourhood code weights (see ``_thinning_table``), for one correlation per sub-iteration
_CODE_WEIGHTS = np.array([[1, 2, 4], [128, 0, 8], [64, 32, 16]], np.float32)
#: per sub-iteration, 0 where a pixel with that neighbourhood goes and 1 where it stays
_KEEP = [np.where(_THINNING & step, 0, 1).astype(np.uint8) for step in (1, 2)]


def thin(mask: np.ndarray) -> np.ndarray:
    """The one-pixel-wide skeleton of a binary image (Zhang-Suen thinning), as uint8 0/1.

    Each sub-iteration decides every pixel from the same image (the parallel algorithm), so
    the result does not depend on scan order; OpenCV does each in three calls.
    """
    sk: np.ndarray = np.ascontiguousarray(mask, dtype=np.uint8)
    count = int(cv2.countNonZero(sk))
    while True:
        for keep in _KEEP:
            code = cv2.filter2D(sk, cv2.CV_8U, _CODE_WEIGHTS, borderType=cv2.BORDER_CONSTANT)
            sk = cv2.multiply(sk, cv2.LUT(code, keep))
        now = int(cv2.countNonZero(sk))
        if now == count:  # nothing deleted in a whole iteration
            return sk
        count = now


def stroke_width(x: np.ndarray) -> float:
    """Mean stroke width in pixels: ink mass over skeleton length."""
    length = int(thin(x > 0.3).sum())
    return float(x.sum()) / length if length else 0.0


def _even_stroke(x: np.ndarray) -> np.ndarray:
    # MNIST strokes are ~2.6 px wide in the 20x20 box; thin pens and thick markers are pulled
    # toward that so that the classifier sees the stroke weight it was trained on.
    kernel = np.ones((2, 2), np.uint8)
    for _ in range(2):
        width = stroke_width(x)
        if 0 < width < THIN:
            x = cv2.dilate(x, kernel)
        elif width > THICK:
            x = cv2.erode(x, kernel)
        else:
            break
    return x


def normalise(
    img: np.ndarray,
    *,
    polarity: str = "auto",
    box: int = BOX,
    min_speck: float = 0.05,
    stroke: bool = True,
) -> np.ndarray:
    """One crop (any size, any polarity) → float32 (28, 28) in [0, 1], ink bright, centred."""
    x = ink_bright(to_gray(img), polarity)
    out = np.zeros((SIZE, SIZE), np.float32)
    if not x.any():
        return out
    mask = _drop_specks(x, _ink_mask(x), min_speck)
    if not mask.any():
        return out
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    # keep the faint anti-aliased rim around kept strokes, zero the dropped specks
    near = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    crop = (x * near)[y0:y1, x0:x1]
    h, w = crop.shape
    scale = box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(crop, (nw, nh), interpolation=interp)
    if stroke:
        small = _even_stroke(small)
    total = float(small.sum())
    if total <= 0:
        return out
    cy = float((small.sum(axis=1) * np.arange(nh)).sum() / total)
    cx = float((small.sum(axis=0) * np.arange(nw)).sum() / total)
    shift = np.array([[1, 0, (SIZE - 1) / 2 - cx], [0, 1, (SIZE - 1) / 2 - cy]], np.float32)
    moved = cv2.warpAffine(
        small, shift, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return np.clip(moved, 0.0, 1.0).astype(np.float32)


def deskew(img: np.ndarray) -> np.ndarray:
    """Shear an image so that its principal axis is vertical (moments about the centre)."""
    m = cv2.moments(img)
    if abs(m["mu02"]) < 1e-2:
        return img.copy()
    skew = m["mu11"] / m["mu02"]
    size = img.shape[0]
    warp = np.array([[1, skew, -0.5 * size * skew], [0, 1, 0]], dtype=np.float32)
    return cv2.warpAffine(
        img, warp, (size, size), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR
    )


def deskew_batch(x: np.ndarray) -> np.ndarray:
    """``deskew`` over a batch (N, 28, 28)."""
    return np.stack([deskew(i) for i in x]) if len(x) else x


def normalise_batch(
    crops: Sequence[np.ndarray] | Iterable[np.ndarray] | np.ndarray, *, polarity: str = "auto"
) -> np.ndarray:
    """Normalise many crops into one float32 (N, 28, 28) batch."""
    items = [normalise(c, polarity=polarity) for c in crops]
    if not items:
        return np.zeros((0, SIZE, SIZE), np.float32)
    return np.stack(items)
