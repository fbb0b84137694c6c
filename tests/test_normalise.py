"""The normaliser: polarity, crop, 20x20 box, centre of mass, stroke weight."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digitocr.normalise import (
    deskew_batch,
    normalise,
    normalise_batch,
    stroke_width,
    thin,
    to_gray,
)


def drawn(digit: str, *, dark_on_light: bool, size: tuple[int, int] = (90, 60),
          thickness: int = 6) -> np.ndarray:
    h, w = size
    img = np.zeros((h, w), np.uint8)
    cv2.putText(img, digit, (5, h - 15), cv2.FONT_HERSHEY_SIMPLEX, 2.4, 255, thickness)
    return 255 - img if dark_on_light else img


def com(x: np.ndarray) -> tuple[float, float]:
    ys, xs = np.mgrid[0:28, 0:28]
    return float((ys * x).sum() / x.sum()), float((xs * x).sum() / x.sum())


@pytest.mark.parametrize("dark", [True, False])
def test_polarity_and_shape(dark: bool) -> None:
    out = normalise(drawn("7", dark_on_light=dark))
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.max() == pytest.approx(1.0, abs=0.05)
    assert out[0].max() == 0 and out[:, 0].max() == 0  # background is zero, ink bright


def test_same_result_for_either_polarity() -> None:
    a = normalise(drawn("4", dark_on_light=True))
    b = normalise(drawn("4", dark_on_light=False))
    assert np.abs(a - b).max() < 1e-5


def test_fits_20_box_and_centres_mass() -> None:
    out = normalise(drawn("5", dark_on_light=True, size=(200, 120), thickness=14))
    ys, xs = np.nonzero(out > 0.05)
    assert max(ys.max() - ys.min(), xs.max() - xs.min()) <= 21
    cy, cx = com(out)
    assert abs(cy - 13.5) < 0.6 and abs(cx - 13.5) < 0.6


def test_specks_are_dropped() -> None:
    img = drawn("1", dark_on_light=False)
    img[2:4, 2:4] = 255  # a speck in the corner
    clean = normalise(drawn("1", dark_on_light=False))
    assert np.abs(normalise(img) - clean).max() < 1e-5


def test_blank_and_uniform_crops_give_zeros() -> None:
    assert not normalise(np.full((30, 30), 200, np.uint8)).any()
    assert not normalise(np.zeros((5, 5), np.uint8)).any()


def test_thin_strokes_are_thickened() -> None:
    ring = np.zeros((120, 100), np.uint8)
    cv2.ellipse(ring, (50, 60), (30, 50), 0, 0, 360, 255, 3)  # a thin-pen zero
    thin = normalise(ring, stroke=False)
    even = normalise(ring)
    assert stroke_width(thin) < 2.1 < stroke_width(even)


def test_gray_conversion_of_scanner_formats() -> None:
    assert to_gray(np.full((4, 4), 65535, np.uint16)).max() == pytest.approx(255.0)
    assert to_gray(np.ones((4, 4), bool)).max() == 255.0
    assert to_gray(np.zeros((4, 4, 4), np.uint8)).shape == (4, 4)
    assert to_gray(np.ones((4, 4), np.float32)).max() == 255.0


def test_batch() -> None:
    crops = [drawn(d, dark_on_light=True) for d in "0123"]
    assert normalise_batch(crops).shape == (4, 28, 28)
    assert normalise_batch([]).shape == (0, 28, 28)


def test_deskew_stands_a_slanted_stroke_upright() -> None:
    img = np.zeros((28, 28), np.float32)
    cv2.line(img, (9, 24), (19, 4), 1.0, 3)  # leaning right, about 27 degrees
    straight = deskew_batch(img[None])[0]

    def spread(x: np.ndarray) -> int:
        cols = np.flatnonzero(x.sum(axis=0) > 0.5)
        return int(cols.max() - cols.min())

    assert (spread(img), spread(straight)) == (14, 6)  # the stroke's own width is left
    m = cv2.moments(straight)
    assert abs(m["mu11"] / m["mu02"]) < 0.02
    assert deskew_batch(np.zeros((0, 28, 28), np.float32)).shape == (0, 28, 28)


def test_thinning_leaves_a_connected_one_pixel_skeleton() -> None:
    bar = np.zeros((9, 16), np.uint8)
    bar[3:6, 2:14] = 1  # a bar 3 pixels thick: its skeleton is a run along the middle row
    skel = thin(bar)
    assert skel.sum() == skel[4].sum() >= 8 and skel[4, 4:11].all()
    rng = np.random.default_rng(0)
    for _ in range(200):  # random pen strokes, 2-5 pixels thick
        blob = np.zeros((40, 40), np.uint8)
        pts = rng.integers(4, 36, (int(rng.integers(2, 5)), 2)).reshape(-1, 1, 2)
        cv2.polylines(blob, [pts.astype(np.int32)], False, 1, int(rng.integers(2, 6)))
        skel = thin(blob)
        assert not (skel & (1 - blob)).any()  # inside the shape
        # still one connected piece (Zhang-Suen, as published, erases only what thins down
        # to a 2x2 square, such as a round dot: strokes keep their skeleton)
        assert cv2.connectedComponents(skel, connectivity=8)[0] == 2
        # one pixel wide: no 2x2 square of skeleton pixels
        assert not (skel[:-1, :-1] & skel[1:, :-1] & skel[:-1, 1:] & skel[1:, 1:]).any()
    assert stroke_width(bar.astype(np.float32)) == pytest.approx(36 / thin(bar).sum())
