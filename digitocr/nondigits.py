"""Crops that are not digits, for teaching a classifier to say so (``train cnn --non-digits``).

What a page's segmenter hands the classifier besides digits: crossed-out cells (an ``X``, a
digit struck through or scribbled over), ticks, a box's corner or junction left by rule
removal, a dash or an underline's piece, a scan border's solid edge, specks and blots, and
letters (handwritten-looking and printed, from the Hershey fonts OpenCV carries and from the
TrueType fonts a Debian machine has). Trained toward a flat distribution over the ten digits
(outlier exposure, Hendrycks et al. 2019), they teach the classifier to answer them with a low
confidence, so a field holding one is flagged instead of read as a sure ``8`` or ``1``.

Shapes that *are* a digit at 28x28 are left out on purpose: a lone vertical stroke (a rule's
piece and a ``1`` look the same once normalised: the segmenter's rules tell them apart by
size and place), a lone slanted stroke, and letters written like digits (``l I O o S s Z z B
g q b G D``). Every crop goes through ``normalise``, as a glyph cut from a page does.
"""

from __future__ import annotations

import glob
from collections.abc import Callable

import cv2
import numpy as np

from .normalise import normalise

#: letters that do not look like a digit once written (``O`` ``l`` ``S`` ``Z`` ``B`` ... do)
LETTERS = "acefkmnprtuvwxyACEFHKMNPRUVWXY"
#: where TrueType fonts live on a Debian machine (none found: the Hershey fonts only)
FONT_GLOB = "/usr/share/fonts/truetype/**/*.ttf"
#: a strike through a digit reaches at least this far past each side of the digit, as a share
#: of its width (at least 0.6 of its height): a 7's or a 4's own bar stays inside it
STRIKE_REACH = 0.25
#: the kinds drawn, and how often (relative)
KINDS: dict[str, float] = {
    "cross": 3.0, "struck_digit": 3.0, "scribble": 2.0, "scribbled_digit": 2.0, "tick": 1.5,
    "corner": 2.0, "dash": 1.0, "border": 1.0, "blot": 1.0, "letter": 3.0, "printed": 2.0,
}

Pen = tuple[int, float]  # (thickness in px, darkness 0-1)


def _canvas(h: int, w: int) -> np.ndarray:
    return np.zeros((h, w), np.float32)


def _pen(rng: np.random.Generator, size: int) -> int:
    return max(1, round(size * rng.uniform(0.05, 0.13)))


def _stroke(img: np.ndarray, pts: np.ndarray, t: int) -> None:
    cv2.polylines(img, [np.round(pts).astype(np.int32)], False, 1.0, t, cv2.LINE_AA)


def _wobbly(p0: tuple[float, float], p1: tuple[float, float], rng: np.random.Generator,
            n: int = 8, wobble: float = 0.04) -> np.ndarray:
    """A hand-drawn line from ``p0`` to ``p1``: a few points off the straight line."""
    t = np.linspace(0, 1, n)[:, None]
    pts = (1 - t) * np.asarray(p0) + t * np.asarray(p1)
    length = float(np.hypot(p1[0] - p0[0], p1[1] - p0[1]))
    return pts + rng.normal(0, wobble * length, pts.shape)


def cross(rng: np.random.Generator) -> np.ndarray:
    """An ``X`` (a cell crossed out)."""
    s = int(rng.integers(30, 70))
    img = _canvas(s, s)
    t = _pen(rng, s)
    m = s * rng.uniform(0.05, 0.2)
    _stroke(img, _wobbly((m, m), (s - m, s - m), rng), t)
    _stroke(img, _wobbly((s - m, m * rng.uniform(0.5, 2)), (m * rng.uniform(0.5, 2), s - m),
                         rng), t)
    return img


def _digit_canvas(digit: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
    """A 28x28 ink-bright digit scaled up on a larger canvas, and its ink's width and height."""
    s = int(rng.integers(40, 70))
    big = cv2.resize(digit.astype(np.float32), (s, s), interpolation=cv2.INTER_LINEAR)
    pad = s // 2
    img = cv2.copyMakeBorder(big, pad // 2, pad // 2, pad, pad, cv2.BORDER_CONSTANT, value=0)
    return img, s, pad


def struck_digit(rng: np.random.Generator, digit: np.ndarray) -> np.ndarray:
    """A digit struck through: one to three strokes reaching past both of its sides."""
    img, s, _ = _digit_canvas(digit, rng)
    cols = np.flatnonzero(img.max(axis=0) > 0.3)
    rows = np.flatnonzero(img.max(axis=1) > 0.3)
    if cols.size == 0:
        return img
    x0, x1 = float(cols[0]), float(cols[-1])
    # a narrow digit (a 1) is struck as wide as a broad one would be
    span = max(x1 - x0, 0.6 * float(rows[-1] - rows[0]))
    reach = span * rng.uniform(STRIKE_REACH, 0.6) + 4
    t = _pen(rng, s)
    cy = img.shape[0] / 2
    for _ in range(int(rng.integers(1, 4))):
        y0 = cy + rng.uniform(-0.3, 0.3) * s
        tilt = rng.uniform(-0.45, 0.45) * s
        _stroke(img, _wobbly((x0 - reach, y0 - tilt / 2), (x1 + reach, y0 + tilt / 2), rng,
                             wobble=0.02), t)
    return np.clip(img, 0, 1)


def _scribble_points(rng: np.random.Generator, w: float, h: float, x0: float = 0.0,
                     y0: float = 0.0) -> np.ndarray:
    n = int(rng.integers(12, 30))
    xs = x0 + np.cumsum(rng.uniform(-0.35, 0.35, n)) * w % w
    ys = y0 + rng.uniform(0.1, 0.9, n) * h
    return np.stack([np.clip(xs, x0, x0 + w), ys], axis=1)


def scribble(rng: np.random.Generator) -> np.ndarray:
    """A dense back-and-forth scribble (a blot of ink written over)."""
    h, w = int(rng.integers(30, 60)), int(rng.integers(30, 90))
    img = _canvas(h, w)
    _stroke(img, _scribble_points(rng, w, h), _pen(rng, h))
    return img


def scribbled_digit(rng: np.random.Generator, digit: np.ndarray) -> np.ndarray:
    """A digit scribbled over."""
    img, s, pad = _digit_canvas(digit, rng)
    h, w = img.shape
    _stroke(img, _scribble_points(rng, w - pad, 0.8 * h, pad / 2, 0.1 * h), _pen(rng, s))
    return np.clip(img, 0, 1)


def tick(rng: np.random.Generator) -> np.ndarray:
    """A tick mark: a short stroke down, a long one up to the right."""
    s = int(rng.integers(30, 70))
    img = _canvas(s, s)
    a = (s * rng.uniform(0.05, 0.2), s * rng.uniform(0.45, 0.65))
    b = (s * rng.uniform(0.3, 0.45), s * rng.uniform(0.85, 0.95))
    c = (s * rng.uniform(0.85, 0.95), s * rng.uniform(0.05, 0.2))
    _stroke(img, np.vstack([_wobbly(a, b, rng, 4), _wobbly(b, c, rng, 6)]), _pen(rng, s))
    return img


def corner(rng: np.random.Generator) -> np.ndarray:
    """What rule removal can leave of a box: a corner, a T or a + junction of straight rules."""
    s = int(rng.integers(30, 70))
    img = _canvas(s, s)
    t = max(1, round(s * rng.uniform(0.04, 0.1)))
    cx, cy = round(s * rng.uniform(0.2, 0.8)), round(s * rng.uniform(0.2, 0.8))
    arms = [(0, cy, cx, cy), (cx, cy, s, cy), (cx, 0, cx, cy), (cx, cy, cx, s)]
    kind = rng.integers(3)
    if kind == 0:  # a corner, but not one shaped like a 7 (a bar, then down at its right end)
        pairs = [(0, 2), (1, 2), (1, 3)]
        a, b = pairs[int(rng.integers(len(pairs)))]
        chosen = [arms[a], arms[b]]
    elif kind == 1:  # a T, but not one shaped like a 4 without its diagonal
        drop = (0, 2, 3)[int(rng.integers(3))]
        chosen = [a for i, a in enumerate(arms) if i != drop]
    else:
        chosen = arms
    for x0, y0, x1, y1 in chosen:
        cv2.line(img, (x0, y0), (x1, y1), 1.0, t)
    return img


def dash(rng: np.random.Generator) -> np.ndarray:
    """A horizontal dash, bar or underline piece (no digit is a lone flat bar)."""
    w = int(rng.integers(30, 80))
    h = max(4, round(w * rng.uniform(0.05, 0.25)))
    img = _canvas(h + 8, w)
    _stroke(img, _wobbly((2, 4 + h / 2), (w - 2, 4 + h / 2 + rng.uniform(-0.1, 0.1) * w), rng,
                         wobble=0.01), h)
    return img


def border(rng: np.random.Generator) -> np.ndarray:
    """The solid, ragged edge of a scan's black border."""
    h = int(rng.integers(30, 70))
    w = round(h * rng.uniform(1.0, 1.6))
    img = _canvas(h, w)
    # at least as wide as tall once cut: a narrower solid block is a bold 1
    edge = np.cumsum(rng.normal(0, 1.0, h)) + w * rng.uniform(0.7, 0.95)
    for y in range(h):
        img[y, : int(np.clip(edge[y], 2, w))] = 1.0
    return img if rng.random() < 0.5 else img[:, ::-1].copy()


def blot(rng: np.random.Generator) -> np.ndarray:
    """A blot or a big speck: a filled irregular blob."""
    s = int(rng.integers(20, 50))
    img = _canvas(s, s)
    n = int(rng.integers(5, 10))
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = s * rng.uniform(0.25, 0.45, n)
    pts = np.stack([s / 2 + r * np.cos(ang), s / 2 + r * np.sin(ang)], axis=1)
    cv2.fillPoly(img, [np.round(pts).astype(np.int32)], 1.0, cv2.LINE_AA)
    return img


_HERSHEY = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
            cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
            cv2.FONT_HERSHEY_SCRIPT_COMPLEX, cv2.FONT_ITALIC | cv2.FONT_HERSHEY_SIMPLEX)


def letter(rng: np.random.Generator) -> np.ndarray:
    """A letter in one of OpenCV's Hershey fonts (script ones look handwritten)."""
    ch = LETTERS[int(rng.integers(len(LETTERS)))]
    font = _HERSHEY[int(rng.integers(len(_HERSHEY)))]
    scale = rng.uniform(1.2, 2.2)
    t = int(rng.integers(1, 5))
    img = np.zeros((100, 100), np.uint8)
    cv2.putText(img, ch, (20, 70), font, scale, 255, t, cv2.LINE_AA)
    return img.astype(np.float32) / 255.0


def _fonts() -> list[str]:
    return sorted(glob.glob(FONT_GLOB, recursive=True))


def printed(rng: np.random.Generator, fonts: list[str]) -> np.ndarray:
    """A printed letter from a TrueType font (a form's caption cut into a cell)."""
    if not fonts:
        return letter(rng)
    from PIL import Image, ImageDraw, ImageFont

    ch = LETTERS[int(rng.integers(len(LETTERS)))]
    size = int(rng.integers(24, 60))
    font = ImageFont.truetype(fonts[int(rng.integers(len(fonts)))], size)
    im = Image.new("L", (2 * size, 2 * size), 0)
    ImageDraw.Draw(im).text((size // 3, size // 4), ch, fill=255, font=font)
    return np.asarray(im, np.float32) / 255.0


def non_digits(n: int, digits: np.ndarray, seed: int = 0) -> np.ndarray:
    """``n`` normalised (28x28, ink bright) crops that are not digits; ``digits`` (N, 28, 28)
    are struck through and scribbled over for the crossed-out kinds."""
    return draw_non_digits(n, digits, seed)[0]


def draw_non_digits(n: int, digits: np.ndarray, seed: int = 0
                    ) -> tuple[np.ndarray, list[str]]:
    """``non_digits`` and the kind of each crop (a key of ``KINDS``)."""
    rng = np.random.default_rng(seed)
    if n <= 0:
        return np.zeros((0, 28, 28), np.float32), []
    fonts = _fonts()
    names = list(KINDS)
    weights = np.asarray([KINDS[k] for k in names])
    plain: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
        "cross": cross, "scribble": scribble, "tick": tick, "corner": corner, "dash": dash,
        "border": border, "blot": blot, "letter": letter}
    out = np.zeros((n, 28, 28), np.float32)
    kinds = [names[int(k)] for k in rng.choice(len(names), size=n, p=weights / weights.sum())]
    for i, kind in enumerate(kinds):
        if kind in plain:
            img = plain[kind](rng)
        elif kind == "printed":
            img = printed(rng, fonts)
        else:
            d = digits[int(rng.integers(len(digits)))] if len(digits) else np.zeros((28, 28))
            img = struck_digit(rng, d) if kind == "struck_digit" else scribbled_digit(rng, d)
        if rng.random() < 0.3:  # a scan's blur
            img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.2))
        crop = normalise(img, polarity="bright")
        while not crop.any():  # a letter the font lacks, drawn as nothing: draw another
            crop = normalise(letter(rng), polarity="bright")
        out[i] = crop
    return out, kinds
