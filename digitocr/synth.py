"""Synthetic digit strings for training string readers, and augmentation of real crops.

A synthetic string is made of isolated handwritten digits (MNIST-style 28x28, ink bright, e.g.
from ``digitocr.data.load_source``) placed left to right with random size, spacing (gaps,
touching and overlapping), vertical jitter, slant and stroke weight, with marks that are
**not** in the label: separators (``.`` ``,`` ``-``), cheque endings (``.-``, ``=``, ``--``)
and currency signs (``$``, ``U$S``). It is printed as dark ink onto a paper background: a cut
from a real crop with its ink painted out (``background_bank``) or a synthetic security-paper
texture. The result is a gray uint8 crop, the same kind of input ``read`` hands a string reader.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .strings import ink_image


@dataclass
class SynthConfig:
    """Ranges of the generator (all sampled uniformly)."""

    min_len: int = 2
    max_len: int = 7
    height: tuple[int, int] = (24, 48)  # digit height in pixels
    gap: tuple[float, float] = (-0.28, 0.45)  # spacing as a fraction of the digit height
    slant: tuple[float, float] = (-0.35, 0.25)  # horizontal shear
    p_separator: float = 0.55  # a thousands/decimal separator inside the string
    p_ending: float = 0.35  # a cheque ending after the digits: ".-", "-", "=", ".", "--"
    p_texture: float = 0.3  # synthetic texture instead of a real background
    p_currency: float = 0.08  # a currency sign before the digits ("$", "U$S", "#")
    #: the endings drawn after the digits (``p_ending``): ``/`` is a slash leaning right that
    #: may touch the last digit, ``-`` a dash, ``=`` two
    endings: tuple[str, ...] = (".-", "-", "=", ".", "-.-", ".=", "--")
    #: the digits grouped by commas or dots instead of one separator: Indian (``88,00,000``)
    #: or Western (``8,800,000``) grouping, for strings of at least four digits
    p_grouping: float = 0.0
    #: the amount ends in a run of 2-6 zeros (``7,300,000``), as most cheque amounts do
    p_round: float = 0.0
    #: that run (after its last separator) written as one joined stroke of small loops, the
    #: way ``,000/-`` is written in a hurry (``ovo/-``): narrow, often open or pointed
    p_cursive: float = 0.0


#: amounts as Indian and other cheques write them: grouped digits ending ``/-`` (the
#: endings' ``/`` and ``-`` are not in the label, so a reader trained on them learns to
#: leave them out of the digits)
CHEQUE_AMOUNTS = SynthConfig(
    min_len=3, max_len=9, p_separator=0.2, p_ending=0.85, p_grouping=0.6, p_currency=0.0,
    endings=("/-", "/-", "/-", "/-", "/=", "/", "-", "/-/", ".-", "="), p_round=0.7,
    p_cursive=0.5,
)


def _tight(img: np.ndarray, thr: float = 0.15) -> np.ndarray:
    ys, xs = np.nonzero(img > thr)
    if len(ys) == 0:
        return img
    return img[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


class StringSynth:
    """Draws (gray uint8 crop, digit string) pairs from isolated digits and backgrounds."""

    def __init__(self, digits: np.ndarray, labels: np.ndarray,
                 backgrounds: list[np.ndarray] | None = None,
                 config: SynthConfig | None = None) -> None:
        if len(digits) == 0 or len(digits) != len(labels):
            raise ValueError("need isolated digits and one label each")
        self.digits = np.asarray(digits, np.float32)
        self.labels = np.asarray(labels).astype(np.int64)
        self.backgrounds = backgrounds or []
        self.config = config or SynthConfig()
        self.zeros = np.flatnonzero(self.labels == 0)

    def sample(self, rng: np.random.Generator, length: int | None = None
               ) -> tuple[np.ndarray, str]:
        """One synthetic crop (gray uint8, ink dark) and its label (digits only)."""
        ink, label = self.ink_string(rng, length)
        return self.print_on_paper(ink, rng), label

    def ink_string(self, rng: np.random.Generator, length: int | None = None
                   ) -> tuple[np.ndarray, str]:
        """The string's ink map (float32 [0, 1], ink bright) with margins, and its label."""
        c = self.config
        n = int(length if length is not None else rng.integers(c.min_len, c.max_len + 1))
        base = float(rng.uniform(*c.height))
        stroke = rng.uniform(0.07, 0.13) * base  # separator thickness ~ handwriting stroke
        pieces: list[tuple[np.ndarray, float, float]] = []  # (ink, x, y top)
        label = ""
        sep_at = int(rng.integers(1, n)) if n > 1 and rng.random() < c.p_separator else -1
        if sep_at > 0 and n > 3 and rng.random() < 0.6:
            sep_at = n - 3  # thousands, as on cheques
        groups: set[int] = set()
        if n >= 4 and rng.random() < c.p_grouping:
            sep_at = -1
            step = 2 if rng.random() < 0.7 else 3  # Indian lakhs and crores, or thousands
            groups = {n - 3 - step * k for k in range((n - 4) // step + 1)}
            group_mark = str(rng.choice([",", ",", ",", "."]))
        x = 0.0
        if rng.random() < c.p_currency:
            x = self._currency(pieces, rng, base)
        # a round amount: the last digits zeros, those after the run's last mark maybe joined
        zeros_from, joined_from = n, n
        if c.p_round and n >= 3 and rng.random() < c.p_round:
            zeros_from = n - int(rng.integers(2, min(n - 1, 6) + 1))
            if rng.random() < c.p_cursive:
                marks = [g for g in [*groups, sep_at] if g >= zeros_from]
                joined_from = max([zeros_from, *marks])
                if n - joined_from < 2:
                    joined_from = n
        for i in range(n):
            if i == sep_at:
                x = draw_marks(pieces, rng, x, base, stroke,
                                    str(rng.choice([".", ".", ",", ",", "-", "'"])))
            elif i in groups:
                x = draw_marks(pieces, rng, x, base, stroke, group_mark)
            if i == joined_from:
                img, y = cursive_zeros(n - i, base, stroke, rng)
                x += base * rng.uniform(*c.gap) if pieces else 0.0
                if pieces:
                    x = max(x, pieces[-1][1] + 0.25 * pieces[-1][0].shape[1])
                pieces.append((img, x, y))
                x += img.shape[1]
                label += "0" * (n - i)
                break
            if i >= zeros_from:
                k = int(rng.choice(self.zeros)) if len(self.zeros) else 0
            else:
                k = int(rng.integers(len(self.digits)))
            d = _tight(self.digits[k])
            h = base * rng.uniform(0.85, 1.1)
            w = max(2.0, d.shape[1] * h / d.shape[0] * rng.uniform(0.8, 1.25))
            img = cv2.resize(d, (max(1, round(w)), max(1, round(h))),
                             interpolation=cv2.INTER_LINEAR)
            y = base * rng.uniform(-0.1, 0.1) + (base - h) / 2
            if i > 0:
                x += base * rng.uniform(*c.gap)
                x = max(x, pieces[-1][1] + 0.25 * pieces[-1][0].shape[1])
            pieces.append((img, x, y))
            x += img.shape[1]
            label += str(int(self.labels[k]))
        if rng.random() < c.p_ending:
            x = draw_marks(pieces, rng, x, base, stroke, str(rng.choice(c.endings)))
        return self._compose(pieces, rng, base), label

    def _currency(self, pieces: list[tuple[np.ndarray, float, float]],
                  rng: np.random.Generator, base: float) -> float:
        text = str(rng.choice(["$", "$", "U$S", "#", "$U"]))
        font = int(rng.choice([cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SIMPLEX,
                               cv2.FONT_HERSHEY_COMPLEX_SMALL]))
        scale = base / 22.0 * rng.uniform(0.7, 1.1)
        thick = max(1, round(base * rng.uniform(0.06, 0.12)))
        (tw, th), bl = cv2.getTextSize(text, font, scale, thick)
        img = np.zeros((th + bl + 2 * thick + 2, tw + 2 * thick + 2), np.uint8)
        cv2.putText(img, text, (thick + 1, th + thick + 1), font, scale, 255, thick, cv2.LINE_AA)
        pieces.append((img.astype(np.float32) / 255.0, 0.0, base - th))
        return img.shape[1] + base * rng.uniform(0.1, 0.4)

    def _compose(self, pieces: list[tuple[np.ndarray, float, float]],
                 rng: np.random.Generator, base: float) -> np.ndarray:
        top = min(y for _, _, y in pieces)
        bottom = max(y + im.shape[0] for im, _, y in pieces)
        right = max(x + im.shape[1] for im, x, _ in pieces)
        slant = float(rng.uniform(*self.config.slant))
        pad_x = int(abs(slant) * (bottom - top)) + 2
        ml, mr = int(rng.integers(1, 12)) + pad_x, int(rng.integers(1, 12)) + pad_x
        vmax = max(2, round(base * 0.35))
        mt, mb = int(rng.integers(1, vmax)), int(rng.integers(1, vmax))
        H = int(bottom - top) + mt + mb + 1
        W = int(right) + ml + mr + 1
        canvas: np.ndarray = np.zeros((H, W), np.float32)
        for im, x, y in pieces:
            x0, y0 = round(x) + ml, round(y - top) + mt
            h, w = im.shape
            region = canvas[y0 : y0 + h, x0 : x0 + w]
            np.maximum(region, im[: region.shape[0], : region.shape[1]], out=region)
        if slant:
            m = np.array([[1, slant, -slant * H / 2], [0, 1, 0]], np.float32)
            canvas = cv2.warpAffine(canvas, m, (W, H), flags=cv2.INTER_LINEAR)
        r = rng.random()
        if r < 0.2:
            canvas = cv2.dilate(canvas, np.ones((2, 2), np.uint8))
        elif r < 0.3 and base > 30:
            canvas = cv2.erode(canvas, np.ones((2, 2), np.uint8))
        return np.clip(canvas, 0.0, 1.0)

    def print_on_paper(self, ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Dark ink on a background of the same size, blurred, noisy, JPEG-compressed."""
        h, w = ink.shape
        if self.backgrounds and rng.random() >= self.config.p_texture:
            paper = random_cut(self.backgrounds[int(rng.integers(len(self.backgrounds)))], h, w,
                               rng)
        else:
            paper = texture(h, w, rng)
        darkness = rng.uniform(0.45, 0.92)
        gray = paper * (1.0 - darkness * ink)
        return finish(gray, rng)


def cursive_zeros(k: int, base: float, stroke: float, rng: np.random.Generator
                  ) -> tuple[np.ndarray, float]:
    """``k`` zeros written as one joined stroke (ink bright, float32) and the y of its top,
    for digits ``base`` high: small loops, each begun at its top and joined to the next at
    the top, open, round or pointed at the foot (``v``-like) as hurried hands write them."""
    t = max(1, round(stroke * rng.uniform(0.6, 1.0)))  # a quick hand presses lightly
    hz = base * rng.uniform(0.55, 1.0)
    wz = hz * rng.uniform(0.4, 0.85)
    step = wz * rng.uniform(0.95, 1.45)
    pointy = rng.uniform(0.0, 0.8)
    pad = 2 * t + 2
    W, H = int(step * (k - 1) + wz) + 2 * pad, int(hz * 1.15) + 2 * pad
    pts: list[tuple[float, float]] = []
    for j in range(k):
        cx = pad + wz / 2 + j * step + rng.normal(0, 0.05) * wz
        cy = pad + hz * 0.15 + hz / 2 + rng.normal(0, 0.04) * hz
        a, b = wz / 2 * rng.uniform(0.85, 1.1), hz / 2 * rng.uniform(0.85, 1.05)
        start = np.deg2rad(rng.uniform(40, 100))
        gap = np.deg2rad(rng.uniform(0, 60))
        for ang in np.linspace(start, start + 2 * np.pi - gap, 28):
            c, s = np.cos(ang), np.sin(ang)
            pts.append((cx + a * c * (1 - pointy * max(0.0, -s)), cy - b * s))
        if j < k - 1:  # the joining stroke rises a little between the loops
            pts.append((cx + step / 2, cy - b * rng.uniform(0.9, 1.25)))
    img = np.zeros((H, W), np.uint8)
    poly = np.round(np.array(pts) * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(img, [poly], False, 255, t, cv2.LINE_AA, shift=4)
    y = base - hz * 1.15 - pad + base * rng.uniform(-0.05, 0.1)
    return img.astype(np.float32) / 255.0, y


def draw_marks(pieces: list[tuple[np.ndarray, float, float]], rng: np.random.Generator,
               x: float, base: float, stroke: float, kind: str) -> float:
    """Append the marks of ``kind`` (``.`` ``,`` ``'`` ``-`` ``=`` ``/``, in order) to
    ``pieces`` from ``x``, sized by the digit height ``base``; the x after them."""
    t = max(1, round(stroke))
    x += base * rng.uniform(0.0, 0.2)
    prev = ""
    for ch in kind:
        if ch in ".,'":
            r = max(1.0, stroke * rng.uniform(0.6, 1.1))
            tail = base * 0.25 if ch in ",'" else 0.0
            size = int(2 * r + tail + 4)
            img = np.zeros((size, size), np.float32)
            cx, cy = round(r) + 2, round(r) + 2
            cv2.circle(img, (cx, cy), max(1, round(r)), 1.0, -1, cv2.LINE_AA)
            if tail:
                cv2.line(img, (cx, cy), (max(0, cx - round(tail * 0.4)), cy + round(tail)),
                         1.0, t, cv2.LINE_AA)
            y = base * (rng.uniform(0.8, 1.0) if ch != "'" else rng.uniform(-0.1, 0.1))
        elif ch == "/":
            # a slash as tall as the digits or taller, leaning right, often begun inside
            # the last digit (``000/-`` written in one movement)
            h = base * rng.uniform(0.8, 1.35)
            lean = h * rng.uniform(0.3, 0.8)
            img = np.zeros((int(h) + 2 * t + 2, int(lean) + 2 * t + 2), np.float32)
            cv2.line(img, (t + 1, int(h) + t), (int(lean) + t, t + 1), 1.0, t, cv2.LINE_AA)
            if pieces and rng.random() < 0.5:
                x -= base * rng.uniform(0.05, 0.35)
            y = base - h + base * rng.uniform(-0.05, 0.2)
        else:
            after_slash = prev == "/"
            longest = 0.6 if ch == "-" and not pieces else 1.3 if after_slash else 0.9
            if after_slash and rng.random() < 0.35:
                longest = 2.8  # the dash drawn on far to the right, through the slash
            length = base * rng.uniform(0.25, longest)
            img = np.zeros((int(base * 0.6) + 2 * t + 2, int(length) + 2 * t + 2),
                           np.float32)
            y0 = t + 1
            for j in range(2 if ch == "=" else 1):
                yy = y0 + j * max(3, round(base * rng.uniform(0.12, 0.3)))
                tilt = round(rng.uniform(-0.15, 0.15) * length)
                cv2.line(img, (t + 1, yy + max(0, tilt)),
                         (int(length) + t, yy + max(0, -tilt)), 1.0, t, cv2.LINE_AA)
            y = base * rng.uniform(0.35, 0.6)
        if prev == "/" and rng.random() < 0.6:
            x -= base * rng.uniform(0.1, 0.4)  # the dash drawn from the slash's foot
        pieces.append((img, x, y))
        x += img.shape[1] + base * rng.uniform(0.0, 0.15)
        prev = ch
    return x


def finish(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera/scanner look: blur, noise, contrast, JPEG; float [0, 255] → uint8."""
    if rng.random() < 0.5:
        gray = cv2.GaussianBlur(gray, (0, 0), rng.uniform(0.3, 1.0))
    gray = gray + rng.normal(0, rng.uniform(0, 6), gray.shape)
    lo = rng.uniform(0, 40)
    gray = lo + gray * (255 - lo) / 255 * rng.uniform(0.8, 1.0)
    u8: np.ndarray = np.clip(gray, 0, 255).astype(np.uint8)
    if rng.random() < 0.6:
        ok, enc = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 95))])
        dec = cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE) if ok else None
        if dec is not None:
            u8 = dec
    return u8


def texture(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Security-paper-like texture: tinted paper, guilloche waves, fine lines, noise (float)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    paper = np.full((h, w), rng.uniform(170, 245), np.float32)
    for _ in range(int(rng.integers(0, 4))):
        f1, f2 = rng.uniform(0.05, 0.6), rng.uniform(0.02, 0.3)
        phase = rng.uniform(0, 2 * np.pi)
        wave = np.sin(f1 * xx + 3 * np.sin(f2 * yy + phase))
        paper -= rng.uniform(5, 35) * (wave > rng.uniform(0.6, 0.95))
    if rng.random() < 0.4:
        ang = rng.uniform(0, np.pi)
        period = rng.uniform(3, 9)
        stripes = np.sin((np.cos(ang) * xx + np.sin(ang) * yy) * 2 * np.pi / period)
        paper -= rng.uniform(5, 25) * (stripes > 0.7)
    paper += rng.normal(0, rng.uniform(1, 8), (h, w))
    return paper


def random_cut(bg: np.ndarray, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A random region of a background image, flipped and resized to (h, w), as float."""
    bh, bw = bg.shape
    scale = rng.uniform(0.6, 1.4)
    ch, cw = min(bh, max(4, round(h / scale))), min(bw, max(4, round(w / scale)))
    y0, x0 = int(rng.integers(0, bh - ch + 1)), int(rng.integers(0, bw - cw + 1))
    cut = bg[y0 : y0 + ch, x0 : x0 + cw]
    if rng.random() < 0.5:
        cut = cut[:, ::-1]
    if rng.random() < 0.5:
        cut = cut[::-1]
    out = cv2.resize(np.ascontiguousarray(cut), (w, h), interpolation=cv2.INTER_LINEAR)
    return out.astype(np.float32) * rng.uniform(0.9, 1.1)


def background_bank(crops: list[np.ndarray], ink_threshold: float = 0.25) -> list[np.ndarray]:
    """Real paper from real crops: ink (and a margin round it) painted out by inpainting."""
    out = []
    for img in crops:
        gray = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        ink = ink_image(gray, polarity="dark")
        k = max(3, round(gray.shape[0] * 0.08)) | 1
        mask = cv2.dilate((ink > ink_threshold).astype(np.uint8), np.ones((k, k), np.uint8))
        out.append(cv2.inpaint(gray, mask, 3, cv2.INPAINT_TELEA))
    return out


def augment_real(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A real crop, randomly re-framed, sheared, rotated, squeezed and re-compressed."""
    h, w = gray.shape
    sx = rng.uniform(0.8, 1.2)
    shear = rng.uniform(-0.2, 0.2)
    ang = np.deg2rad(rng.uniform(-4, 4))
    a = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]]) @ np.array(
        [[sx, shear], [0, 1.0]])
    # keep the centre in place, grow the canvas so nothing is cut off
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float64) - [w / 2, h / 2]
    moved = corners @ a.T
    nw, nh = (moved.max(0) - moved.min(0)).astype(int) + 1
    t = np.array([nw / 2, nh / 2]) - a @ np.array([w / 2, h / 2])
    m = np.hstack([a, t[:, None]]).astype(np.float32)
    border = float(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))
    out: np.ndarray = cv2.warpAffine(gray, m, (int(nw), int(nh)), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE if rng.random() < 0.7
                         else cv2.BORDER_CONSTANT, borderValue=border)
    # random crop/pad of the frame (never into the ink by much)
    H, W = out.shape
    t0, b0 = int(rng.integers(0, max(1, H // 10))), int(rng.integers(0, max(1, H // 10)))
    l0, r0 = int(rng.integers(0, max(1, W // 25))), int(rng.integers(0, max(1, W // 25)))
    out = out[t0 : H - b0, l0 : W - r0]
    return finish(out.astype(np.float32), rng)


def append_ending(gray: np.ndarray, rng: np.random.Generator, ending: str = "/-") -> np.ndarray:
    """A real crop (gray uint8, ink dark) with a cheque ending written after its digits.

    The ending's size, stroke and darkness follow the crop's own writing; the paper is
    extended with the crop's right-hand columns, so the added part does not stand out.
    """
    ink = ink_image(gray)
    mask = ink > 0.35
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) < 4 or len(cols) < 4:
        return gray
    top, bottom, right = int(rows[0]), int(rows[-1]), int(cols[-1])
    base = float(bottom - top + 1)
    # a band t wide has a mean distance to its edge of about t / 4
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    stroke = float(np.clip(3.5 * dist[mask].mean(), 1.0, 0.15 * base))
    pieces: list[tuple[np.ndarray, float, float]] = []
    end = draw_marks(pieces, rng, 0.0, base, stroke, ending)
    h, w = gray.shape
    x0 = right + 1
    width = max(w, x0 + int(end) + int(0.2 * base) + 2)
    canvas = np.zeros((h, width), np.float32)
    for im, x, y in pieces:
        xa, ya = max(0, round(x) + x0), max(0, round(y) + top)
        region = canvas[ya : ya + im.shape[0], xa : xa + im.shape[1]]
        np.maximum(region, im[: region.shape[0], : region.shape[1]], out=region)
    paper = gray.astype(np.float32)
    if width > w:  # each row's paper level, with the crop's own grain
        level = np.median(paper[:, max(0, w - 8):], axis=1, keepdims=True)
        grain = float(np.std(paper[~mask])) if (~mask).any() else 2.0
        extra = level + rng.normal(0, min(grain, 8.0), (h, width - w))
        paper = np.hstack([paper, extra.astype(np.float32)])
    dark = float(np.median(gray[mask])) if mask.any() else 60.0
    out = paper * (1 - canvas) + dark * canvas
    return np.clip(out, 0, 255).astype(np.uint8)
