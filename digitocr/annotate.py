"""``--annotate``: a page drawn with its fields, their readings and each glyph's best guess.

Fields are blue (red when flagged for review), glyphs green (orange under ``min_confidence``,
separators grey) with their label below them, and a legend; small pages are enlarged so that
the labels stay readable. With ``rules`` (``read --debug``) a glyph not read whole is labelled
above with the segmentation rule that proposed its reading (``cut:2``, ``apart:near``,
``sign:/``, ...).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .io import Page
from .results import PageResult
from .segment.types import WHOLE


def annotation_path(folder: Path, file: str, page: int, root: str = "") -> Path:
    """``folder/<path below root>/<file name>-p<page>.png``: files of the same stem in other
    folders or with another suffix (``a/x.jpg``, ``b/x.png``, ``x.jpg``) never collide."""
    if file == "<stdin>":
        return folder / f"stdin-p{page}.png"
    path = os.path.abspath(file)
    rel = os.path.relpath(path, root) if root else path.lstrip(os.sep)
    if rel.startswith(os.pardir):  # not below root (cannot happen with the common folder)
        rel = path.lstrip(os.sep)
    return folder / f"{rel}-p{page}.png"


#: annotations enlarge smaller pages to this longer side, so that a 150x50 cheque amount gets
#: labels a reviewer can read without hiding its digits
ANNOTATE_MIN_SIDE = 720
#: BGR colours of the annotations (a flagged glyph is orange, apart from a flagged field's red)
FIELD_COLOUR, REVIEW_COLOUR = (200, 90, 0), (0, 0, 230)
GLYPH_COLOUR, UNSURE_COLOUR, SEPARATOR_COLOUR = (0, 150, 0), (0, 140, 255), (130, 130, 130)
#: a glyph's rule label (``rules``) is this much smaller than its digit's label
RULE_SCALE = 0.5
#: rules not labelled: a glyph read whole, a separator (grey already), a string reader's
PLAIN_RULES = ("", WHOLE, "separator")


def _label(canvas: np.ndarray, text: str, org: tuple[int, int], colour: tuple[int, int, int],
           scale: float, thick: int) -> int:
    """Put ``text`` with its baseline at ``org`` on a white box (readable over ink and scan
    backgrounds), kept inside the canvas; return its width."""
    import cv2

    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    x = min(max(0, org[0]), max(0, canvas.shape[1] - tw - 2))
    y = min(max(th + 2, org[1]), canvas.shape[0] - base - 1)
    cv2.rectangle(canvas, (x - 1, y - th - 2), (x + tw + 1, y + base), (255, 255, 255), -1)
    cv2.putText(canvas, text, (x, y), font, scale, colour, thick, cv2.LINE_AA)
    return int(tw)


def annotate(page: Page, result: PageResult, folder: Path, root: str = "",
             min_confidence: float = 0.0, rules: bool = False) -> Path:
    """Draw fields (blue, red when flagged for review) with their text, each glyph's best guess
    under its box (green; orange when below ``min_confidence``; separators grey) and a legend;
    with ``rules``, a glyph's rule above it when it was not read whole; write a PNG. Small
    pages are enlarged first and label size follows the page's size."""
    import cv2

    img = page.image
    bgr = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else cv2.cvtColor(
        img, cv2.COLOR_RGB2BGR)
    h, w = img.shape[:2]
    up = max(1, min(8, math.ceil(ANNOTATE_MIN_SIDE / max(h, w, 1))))
    if up > 1:  # nearest neighbour: the reviewer sees the pixels the reader saw
        bgr = cv2.resize(bgr, (w * up, h * up), interpolation=cv2.INTER_NEAREST)
    text_px = max(18, round(0.014 * max(bgr.shape[:2])))  # digit height of the labels
    # getTextSize's height includes room above the digits: they are about 0.8 of it.
    scale = text_px / (0.8 * cv2.getTextSize("0", cv2.FONT_HERSHEY_SIMPLEX, 1.0, 1)[0][1])
    thick = max(1, round(text_px / 12))
    line = round(text_px * 1.8)
    legend = [("field", FIELD_COLOUR), ("field to review", REVIEW_COLOUR),
              ("digit (best guess)", GLYPH_COLOUR)]
    if min_confidence > 0:
        legend.append((f"digit below {min_confidence:g} (best guess)", UNSURE_COLOUR))
    if any(g.kind != "digit" for f in result.fields for g in f.glyphs):
        legend.append(("separator", SEPARATOR_COLOUR))
    # Lay the legend out in rows first: it sets how tall the bottom band is.
    rows: list[list[tuple[str, tuple[int, int, int]]]] = [[]]
    width, x = bgr.shape[1], 0
    for entry in legend:
        need = text_px * 2 + cv2.getTextSize(entry[0], cv2.FONT_HERSHEY_SIMPLEX, scale,
                                              thick)[0][0]
        if x and x + need > width:
            rows.append([])
            x = 0
        rows[-1].append(entry)
        x += need
    # Bands above the page (labels of fields at its top) and below it (labels of glyphs at its
    # bottom, then the legend), so that no label is cut or covers another.
    glyph_row = text_px + 12
    top, bottom = text_px + 12, glyph_row + line * len(rows) + text_px // 2
    canvas = cv2.copyMakeBorder(bgr, top, bottom, 0, 0, cv2.BORDER_CONSTANT,
                                value=(255, 255, 255))

    def box(b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        return b[0] * up, b[1] * up + top, b[2] * up, b[3] * up

    for f in result.fields:
        x0, y0, fw, fh = box(f.bbox)
        colour = REVIEW_COLOUR if f.needs_review else FIELD_COLOUR
        cv2.rectangle(canvas, (x0, y0), (x0 + fw, y0 + fh), colour, max(1, thick))
        for g in f.glyphs:
            gx, gy, gw, gh = box(g.bbox)
            unsure = g.kind == "digit" and min_confidence > 0 and g.confidence < min_confidence
            gcol = SEPARATOR_COLOUR if g.kind != "digit" else (
                UNSURE_COLOUR if unsure else GLYPH_COLOUR)
            cv2.rectangle(canvas, (gx, gy), (gx + gw, gy + gh), gcol, max(1, thick // 2))
            tw = cv2.getTextSize(g.label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0]
            _label(canvas, g.label, (gx + (gw - tw) // 2, gy + gh + text_px + 6), gcol, scale,
                   thick)
            if rules and g.rule not in PLAIN_RULES:
                _label(canvas, g.rule, (gx, gy - 2), gcol, scale * RULE_SCALE, max(1, thick // 2))
        text = f"{f.key}: {f.text} ({f.confidence:.2f})" + (" REVIEW" if f.needs_review else "")
        _label(canvas, text, (x0, y0 - max(3, thick * 2)), colour, scale, thick)
    y = top + bgr.shape[0] + glyph_row + line - (line - text_px) // 2
    for row in rows:
        x = text_px // 2
        for name, colour in row:
            cv2.rectangle(canvas, (x, y - text_px), (x + text_px, y), colour, -1)
            x += round(text_px * 1.4)
            x += _label(canvas, name, (x, y), (40, 40, 40), scale, thick) + text_px
        y += line
    out = annotation_path(folder, page.file, page.page, root)
    out.parent.mkdir(parents=True, exist_ok=True)
    ok, png = cv2.imencode(".png", canvas)
    if ok:  # not cv2.imwrite: it cannot take a name that is not UTF-8
        out.write_bytes(png.tobytes())
    return out
