"""Whole-string reading: crop preprocessing, greedy CTC decoding, and fields for ``read``.

A string reader (``backends.StringReader``) sees a whole field at once, so joined, looping
handwriting never has to be cut into digits. Everything here is numpy/OpenCV only; the network
itself lives in a plugin (``plugins/crnn.py``).

Preprocessing (shared by training and ``read``): gray, polarity, background estimate by a
grayscale closing (removes the strokes, keeps paper and printed security patterns), relative
ink darkness, contrast stretched to the ink's own 99th percentile, then height ``HEIGHT`` with
the aspect ratio kept (width capped at ``MAX_WIDTH``). Output: float32 ink-bright [0, 1].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from .results import CharSpan, Field, Glyph, StringReading, review_reasons
from .segment.ink import ink_map

if TYPE_CHECKING:
    from .backends import StringReader
    from .fields import ReadOptions
    from .segment import FieldCrops

HEIGHT = 32
MAX_WIDTH = 256
MIN_WIDTH = 16
#: the characters a string reader writes by default (a reader's own are in its metadata,
#: ``config.alphabet``); the CTC blank is the class after them
ALPHABET = "0123456789"
BLANK = len(ALPHABET)


def alphabet_problem(alphabet: object) -> str | None:
    """Why ``alphabet`` cannot be a string reader's, or None: it must be distinct digits and
    ASCII letters ('?' marks unsure characters in read's output, and punctuation would reach
    CSV cells and amount values)."""
    if not isinstance(alphabet, str) or not alphabet:
        return f"alphabet {alphabet!r}: expected a non-empty string of characters"
    bad = sorted({c for c in alphabet if not (c.isascii() and c.isalnum())})
    if bad:
        return f"alphabet {alphabet!r}: only digits and ASCII letters (not {''.join(bad)!r})"
    if len(set(alphabet)) != len(alphabet):
        return f"alphabet {alphabet!r}: a character appears twice"
    return None


# ------------------------------------------------------------------ preprocessing


def ink_image(image: np.ndarray, polarity: str = "auto") -> np.ndarray:
    """Relative ink darkness in [0, 1] at native size, background and printed patterns damped
    (``segment.ink_map``'s ``line`` background)."""
    return ink_map(image, polarity, background="line")


def prepare(image: np.ndarray, polarity: str = "auto", height: int = HEIGHT,
            max_width: int = MAX_WIDTH) -> np.ndarray:
    """One crop → float32 (height, width) ink-bright, aspect ratio kept (width capped)."""
    ink = ink_image(image, polarity)
    h, w = ink.shape
    if h == 0 or w == 0:
        return np.zeros((height, MIN_WIDTH), np.float32)
    width = int(min(max_width, max(MIN_WIDTH, round(w * height / h))))
    return cv2.resize(ink, (width, height), interpolation=cv2.INTER_AREA)


def pad_batch(images: list[np.ndarray], width: int | None = None) -> np.ndarray:
    """Left-aligned, zero (no ink) padded float32 batch (N, H, W)."""
    if not images:
        return np.zeros((0, HEIGHT, width or MIN_WIDTH), np.float32)
    w = width or max(im.shape[1] for im in images)
    out = np.zeros((len(images), images[0].shape[0], w), np.float32)
    for i, im in enumerate(images):
        n = min(w, im.shape[1])
        out[i, :, :n] = im[:, :n]
    return out


# ------------------------------------------------------------------ decoding


def ctc_greedy(probs: np.ndarray, lengths: np.ndarray | None = None,
               blank: int | None = None, alphabet: str = ALPHABET) -> list[StringReading]:
    """Greedy CTC decoding of (N, T, C) per-step probabilities; class ``j`` is
    ``alphabet[j]`` and the blank is ``blank`` (default: the class after the alphabet).

    Best class per step, repeats collapsed, blanks dropped. Each character's span is the run of
    steps it won, as fractions of the valid length; its confidence is its best step's
    probability and its alternatives are the top three non-blank classes at that step,
    renormalised without the blank. The string's confidence approximates the probability of the
    decoded *string* (not of one path): the product of the characters' confidences and, for each
    step the blank won, the probability of whatever there leaves the string unchanged (the
    blank, or a neighbouring run's character). A digit that nearly fired between two others
    (a possible missed digit) lowers it; blank/digit hesitation at a character's edge does not.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 3:
        raise ValueError(f"expected (N, T, C) probabilities, got shape {probs.shape}")
    n, t, c = probs.shape
    blank = len(alphabet) if blank is None else blank
    if c != len(alphabet) + 1:
        raise ValueError(f"{c} classes per step, expected {len(alphabet) + 1} for alphabet "
                         f"{alphabet!r} and the blank")
    lens = np.full(n, t, np.int64) if lengths is None else np.asarray(lengths, np.int64)
    out: list[StringReading] = []
    for i in range(n):
        p = probs[i, : max(0, min(t, int(lens[i])))]
        steps = len(p)
        if steps == 0:
            out.append(StringReading("", 0.0))
            continue
        best = p.argmax(axis=1)
        runs: list[tuple[int, int, int]] = []  # (class, first step, last step)
        s = 0
        while s < steps:
            e = s
            while e + 1 < steps and best[e + 1] == best[s]:
                e += 1
            runs.append((int(best[s]), s, e))
            s = e + 1
        chars: list[CharSpan] = []
        log_conf = 0.0
        for r, (k, s, e) in enumerate(runs):
            if k != blank:
                peak = s + int(p[s : e + 1, k].argmax())
                row = np.delete(p[peak], blank)
                order = np.argsort(-row, kind="stable")[:3]
                total = float(row.sum()) or 1.0
                alts = [(alphabet[j], float(row[j] / total)) for j in order]
                c = float(p[peak, k])
                chars.append(CharSpan(s / steps, (e + 1) / steps, alphabet[k], c, alts))
                log_conf += np.log(max(c, 1e-12))
                continue
            before = runs[r - 1][0] if r > 0 else blank
            after = runs[r + 1][0] if r + 1 < len(runs) else blank
            for step in range(s, e + 1):
                q = p[step, blank]
                if step == s and before != blank:
                    q += p[step, before]
                if step == e and after != blank and (after != before or step != s):
                    q += p[step, after]
                log_conf += np.log(max(min(float(q), 1.0), 1e-12))
        out.append(StringReading("".join(c.label for c in chars), float(np.exp(log_conf)),
                                 chars))
    return out


# ------------------------------------------------------------------ fields for read


def read_fields(image: np.ndarray, reader: StringReader, opts: ReadOptions,
                found: list[FieldCrops] | None = None) -> list[Field]:
    """The fields of one page read by a string reader, in one batched call (``found``: the
    page's fields when they are segmented already).

    ``--layout string`` (no template): the whole image is one field. Otherwise the layout's
    segmenter (or the template) finds the fields; each is read from the box round the ink its
    segmenter found (so a field's printed frame is left out), or its whole box when it found none.
    """
    from .fields import find_fields

    h, w = image.shape[:2]
    boxes: list[tuple[tuple[int, int, int, int], str | None]] = []
    crops: list[np.ndarray | None] = []
    if opts.template is None and opts.layout == "string":
        boxes.append(((0, 0, w, h), None))
        crops.append(image)
    else:
        for f in find_fields(image, opts) if found is None else found:
            boxes.append((f.bbox, f.name))
            glyphs = [g.bbox for seg in f.segments if seg.options for g in seg.options[0]]
            x, y, bw, bh = f.bbox
            if glyphs:
                x = min(g[0] for g in glyphs)
                y = min(g[1] for g in glyphs)
                bw = max(g[0] + g[2] for g in glyphs) - x
                bh = max(g[1] + g[3] for g in glyphs) - y
            pad = max(2, round(0.12 * bh))
            x0, y0 = max(0, x - pad), max(0, y - pad)
            x1, y1 = min(w, x + bw + pad), min(h, y + bh + pad)
            crops.append(image[y0:y1, x0:x1] if x1 - x0 >= 4 and y1 - y0 >= 4 else None)
    todo = [c for c in crops if c is not None]
    readings = iter(reader.read_detailed(todo, polarity=opts.polarity) if todo else [])
    out: list[Field] = []
    for n, ((box, name), crop) in enumerate(zip(boxes, crops, strict=True), start=1):
        r = next(readings) if crop is not None else StringReading("", 0.0)
        out.append(field_from_reading(n, box, name, r, opts.min_confidence))
    return out


def field_from_reading(n: int, box: tuple[int, int, int, int], name: str | None,
                       r: StringReading, min_conf: float,
                       glyph_box: tuple[int, int, int, int] | None = None) -> Field:
    """A Field from a string reading; its characters' spans laid over ``glyph_box`` (the crop
    the reader saw; default the field's box)."""
    x, y, w, h = (int(v) for v in box)
    gx0, gy0, gw0, gh0 = (int(v) for v in (glyph_box or box))
    glyphs = []
    for c in r.chars:
        gx = gx0 + round(c.start * gw0)
        gw = max(1, round((c.end - c.start) * gw0))
        label = c.label  # the best guess stays; the field's review flag says "unsure"
        glyphs.append(Glyph((gx, gy0, gw, gh0), label, c.confidence, list(c.alternatives)))
    text = "".join(g.label for g in glyphs) if glyphs else r.text
    review = review_reasons(r.confidence, text, min_conf)  # a crop was given: ink=True
    return Field(n, (x, y, w, h), text, float(r.confidence), bool(review), glyphs, name)


def exact_match(reader: StringReader, crops: list[np.ndarray], labels: list[str]) -> float:
    """Share of crops a string reader reads exactly (0 for none)."""
    if not crops:
        return 0.0
    got = reader.read_strings(crops)
    return float(np.mean([text == y for (text, _), y in zip(got, labels, strict=True)]))
