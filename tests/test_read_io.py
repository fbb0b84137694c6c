"""Decoding every kind of input into pages, and clear errors for the ones that cannot be."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitocr.errors import InputError
from digitocr.io import count_pages, expand_inputs, load_pages, pil_to_array

HAS_POPPLER = shutil.which("pdftoppm") is not None and shutil.which("pdfinfo") is not None


def page(h: int = 40, w: int = 60) -> np.ndarray:
    img = np.full((h, w), 230, np.uint8)
    img[10:30, 20:25] = 10
    return img


def test_gray_png(tmp_path: Path) -> None:
    Image.fromarray(page()).save(tmp_path / "a.png")
    pages = list(load_pages(tmp_path / "a.png"))
    assert [(p.page, p.width, p.height) for p in pages] == [(1, 60, 40)]
    assert pages[0].image.dtype == np.uint8 and pages[0].image[20, 22] == 10


@pytest.mark.parametrize(
    "mode,check",
    [
        ("1", lambda a: a.ndim == 2 and set(np.unique(a)) <= {0, 255}),
        ("P", lambda a: a.shape[2] == 3),
        ("RGB", lambda a: a.shape[2] == 3),
        ("CMYK", lambda a: a.shape[2] == 3),
    ],
)
def test_modes(tmp_path: Path, mode: str, check: object) -> None:
    im = Image.fromarray(page()).convert(mode)
    path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    im.save(path)
    arr = next(load_pages(path)).image
    assert arr.dtype == np.uint8 and check(arr)  # type: ignore[operator]
    gray = arr if arr.ndim == 2 else arr.mean(axis=2)
    assert gray[20, 22] < 100 and gray[2, 2] > 150


def test_16_bit_scaled_to_8(tmp_path: Path) -> None:
    Image.fromarray(page().astype(np.uint16) * 257).save(tmp_path / "a.png")
    arr = next(load_pages(tmp_path / "a.png")).image
    assert arr.dtype == np.uint8 and arr[20, 22] == 10 and arr[0, 0] == 230


def test_rgba_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((10, 10, 4), np.uint8)  # black, fully transparent
    rgba[5, 5] = (0, 0, 0, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    arr = next(load_pages(tmp_path / "a.png")).image
    assert arr[0, 0].tolist() == [255, 255, 255] and arr[5, 5].tolist() == [0, 0, 0]


def test_multipage_tiff_one_page_at_a_time(tmp_path: Path) -> None:
    ims = [Image.fromarray(page() // (i + 1)) for i in range(3)]
    ims[0].save(tmp_path / "m.tif", save_all=True, append_images=ims[1:])
    gen = load_pages(tmp_path / "m.tif")
    first = next(gen)
    assert first.page == 1
    rest = list(gen)
    assert [p.page for p in rest] == [2, 3]
    assert count_pages(str(tmp_path / "m.tif")) == 3


def test_bmp_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.BytesIO()
    Image.fromarray(page()).save(buf, format="BMP")

    class Stdin:
        buffer = io.BytesIO(buf.getvalue())

    monkeypatch.setattr(sys, "stdin", Stdin)
    pages = list(load_pages("-"))
    assert pages[0].file == "<stdin>" and pages[0].image.shape == (40, 60)


@pytest.mark.skipif(not HAS_POPPLER, reason="poppler-utils not installed")
def test_pdf_pages_rendered_at_dpi(tmp_path: Path) -> None:
    ims = [Image.fromarray(page(100, 150)) for _ in range(2)]
    ims[0].save(tmp_path / "d.pdf", save_all=True, append_images=ims[1:], resolution=100.0)
    pages = list(load_pages(tmp_path / "d.pdf", dpi=200))
    assert [p.page for p in pages] == [1, 2]
    assert pages[0].image.shape[:2] == (200, 300)


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "empty file"),
        (b"hello, not an image", "not an image or PDF"),
        (b"%PDF-1.4\n garbage", "PDF"),
    ],
)
def test_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    if content.startswith(b"%PDF") and not HAS_POPPLER:
        pytest.skip("poppler-utils not installed")
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        list(load_pages(path))


def test_truncated_png(tmp_path: Path) -> None:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200), np.uint8)).save(
        tmp_path / "a.png")
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        list(load_pages(tmp_path / "t.png"))


@pytest.mark.skipif(not HAS_POPPLER, reason="poppler-utils not installed")
def test_encrypted_pdf(tmp_path: Path) -> None:
    pytest.importorskip("pypdf")
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(100, 100)
    w.encrypt("secret")
    with open(tmp_path / "e.pdf", "wb") as fh:
        w.write(fh)
    with pytest.raises(InputError, match="encrypted"):
        list(load_pages(tmp_path / "e.pdf"))


def test_pixel_limit_and_missing(tmp_path: Path) -> None:
    Image.fromarray(page()).save(tmp_path / "a.png")
    with pytest.raises(InputError, match="over the"):
        list(load_pages(tmp_path / "a.png", max_pixels=100))
    with pytest.raises(InputError, match="no such file"):
        list(load_pages(tmp_path / "nope.png"))


def test_expand_inputs(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("b.png", "a.JPG", "sub/c.pdf", "notes.txt", "truth.json"):
        (tmp_path / name).write_bytes(b"x")
    assert expand_inputs([tmp_path, "-"]) == [
        str(tmp_path / "a.JPG"), str(tmp_path / "b.png"), str(tmp_path / "sub" / "c.pdf"), "-"]


def test_pil_to_array_float_mode() -> None:
    im = Image.fromarray(np.array([[0.0, 1.0]], np.float32))
    assert pil_to_array(im).tolist() == [[0, 255]]
