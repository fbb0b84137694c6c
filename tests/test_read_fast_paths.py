"""The fast paths of ``read``: statistics of connected components, gray decoding, compiled CNN
inference, batches across files, workers' default. Each must give what the plain path gives."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from read_helpers import font_model, save_png, string_image

from digitocr import pipeline, pool, readpages
from digitocr.cli import cli
from digitocr.io import load_pages
from digitocr.pipeline import read
from digitocr.segment import cc_stats
from digitocr.segment.ink import binarise
from digitocr.segment.types import RULES

__all__ = ["font_model"]


@pytest.mark.parametrize("density, connectivity", [(0.02, 8), (0.2, 4), (0.6, 8), (0.97, 4)])
@pytest.mark.parametrize("shape", [(40, 60), (700, 500)])
def test_cc_stats_matches_opencv(density: float, connectivity: int,
                                 shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(3)
    mask = (rng.random(shape) < density).astype(np.uint8)
    mask = cv2.dilate(mask, np.ones((2, 2), np.uint8)) if density < 0.5 else mask
    n, labels, stats, cents = cv2.connectedComponentsWithStats(mask, connectivity=connectivity)
    m, ours, ostats, ocents = cc_stats(mask, connectivity)
    assert m == n
    assert (ours == labels).all()
    assert (ostats[1:] == stats[1:]).all()
    assert (ocents[1:] == cents[1:]).all()  # the same sums divided the same way


def test_cc_stats_empty_and_full() -> None:
    for mask in (np.zeros((400, 300), np.uint8), np.ones((400, 300), np.uint8)):
        n, _, stats, _ = cc_stats(mask)
        assert n == cv2.connectedComponents(mask)[0]
        assert stats[0, 2:4].tolist() == [300, 400]


def test_binarise_is_hysteresis() -> None:
    """Weak ink is kept exactly where its component holds strong ink (the plain definition)."""
    rng = np.random.default_rng(5)
    ink = np.zeros((600, 400), np.float32)  # blobs of every darkness, faint ones round strong
    ys, xs = rng.integers(0, 600, 400), rng.integers(0, 400, 400)
    ink[ys, xs] = rng.uniform(0.05, 1.0, 400)
    ink = np.clip(cv2.GaussianBlur(ink, (0, 0), 2.0) * 40, 0, 1).astype(np.float32)
    b = binarise(ink)
    weak = (ink > b.threshold * RULES.hysteresis).astype(np.uint8)
    n, labels = cv2.connectedComponents(weak, connectivity=8)
    strong_labels = np.unique(labels[ink > b.threshold])
    expected = np.isin(labels, strong_labels[strong_labels > 0]).astype(np.uint8)
    assert n > 50 and 0 < expected.sum() < weak.sum()  # a real test: some weak ink goes
    assert b.mask.dtype == np.uint8 and (b.mask == expected).all()


def test_gray_decoding_of_jpeg(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rgb = np.clip(rng.normal(180, 40, (120, 160, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.jpg", quality=90)
    colour = next(load_pages(tmp_path / "a.jpg")).image
    gray = next(load_pages(tmp_path / "a.jpg", gray=True)).image
    assert colour.shape == (120, 160, 3) and gray.shape == (120, 160)
    diff = np.abs(cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY).astype(int) - gray)
    assert diff.mean() < 0.5 and diff.max() <= 8  # chroma rounding only


COMPILED_CHECK = """
import numpy as np
from digitocr_plugins.cnn import CNNClassifier, build_network

clf = CNNClassifier(arch="paper")
clf.model = build_network("paper", 10.0, 0.1, 0.1, seed=0)
rng = np.random.default_rng(1)
for n in (1, 7, 300):
    x = rng.random((n, 28, 28)).astype(np.float32)
    clf.compiled = True
    fast = clf.predict_proba(x)
    clf.compiled = False
    slow = clf.predict_proba(x)
    assert fast.shape == (n, 10) and fast.dtype == np.float32
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-6)
clf.compiled = True
assert clf.predict_proba(np.zeros((0, 28, 28), np.float32)).shape == (0, 10)
# the traced function follows a new network (fit/load replace the model)
clf.model = build_network("paper", 0.0, 0.0, 0.0, seed=5)
clf.compiled = False
x = rng.random((3, 28, 28)).astype(np.float32)
slow = clf.predict_proba(x)
clf.compiled = True
np.testing.assert_allclose(clf.predict_proba(x), slow, rtol=1e-5, atol=1e-6)
print("ok")
"""


def test_compiled_cnn_gives_the_eager_probabilities() -> None:
    # in a child process: importing TensorFlow here would switch later tests' pools to spawn
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras not installed")
    res = subprocess.run([sys.executable, "-c", COMPILED_CHECK], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stderr[-2000:]


def _files(tmp_path: Path, texts: list[str]) -> list[Path]:
    out = []
    for i, s in enumerate(texts):
        out.append(save_png(string_image(s), tmp_path / f"{i:02d}.png"))
    return out


def test_batches_across_files_give_the_same_pages(font_model: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["1", "22", "333", "4", "55", "6", "78", "90"]
    names: list[Any] = _files(tmp_path, texts)
    (tmp_path / "bad.png").write_bytes(b"x")
    names.insert(3, tmp_path / "bad.png")
    clf = pipeline.resolve_classifier(font_model)
    calls: list[int] = []
    original = clf.predict_proba

    def counting(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        return original(x)

    monkeypatch.setattr(clf, "predict_proba", counting)
    monkeypatch.setattr(readpages, "BATCH_PAGES", 3)
    done: list[str] = []
    batched = [p.to_dict() for p in read(names, clf, "string",
                                          progress=lambda i, n, path: done.append(path))]
    assert len(calls) == 3  # 8 pages in batches of 3, not 8 calls
    assert done == [str(n) for n in names]
    calls.clear()
    monkeypatch.setattr(readpages, "BATCH_PAGES", 1)
    single = [p.to_dict() for p in read(names, clf, "string")]
    assert len(calls) == 8
    assert batched == single
    assert [p["fields"][0]["text"] if p["fields"] else None for p in batched] == [
        "1", "22", "333", None, "4", "55", "6", "78", "90"]


def test_default_workers_is_the_core_count() -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert pipeline.default_workers() == cores
    option = next(p for p in cli.commands["read"].params if p.name == "workers")
    assert option.default is None
    assert "number of cores" in (option.help or "")


def test_default_workers_read_small_batches_in_process(font_model: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a pool was started for a small batch")

    monkeypatch.setattr(pool, "ProcessPoolExecutor", no_pool)
    names = _files(tmp_path, ["12", "3"])
    pages = list(read(names, font_model, "string", workers=None))
    assert [p.fields[0].text for p in pages] == ["12", "3"]
    result = CliRunner().invoke(cli, ["read", str(tmp_path), "--model", font_model,
                                      "--layout", "string", "--format", "csv", "-q"])
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 3


def test_limit_threads_sets_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    threads = cv2.getNumThreads()
    try:
        pipeline.limit_threads(1)
        assert os.environ["TF_NUM_INTRAOP_THREADS"] == "1"
        assert os.environ["OMP_NUM_THREADS"] == "1"
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(threads)


def _with_signs() -> np.ndarray:
    """Digits 12, a hand-drawn '/' leaning right, 05; a tall '$' before them."""
    from read_helpers import put

    img = np.full((160, 760), 255, np.uint8)
    cv2.putText(img, "$", (20, 115), cv2.FONT_HERSHEY_SIMPLEX, 3.2, 0, 6, cv2.LINE_AA)
    put(img, "12", 120, 40)
    cv2.line(img, (262, 98), (322, 46), 0, 6, cv2.LINE_AA)  # ~49 degrees from vertical
    put(img, "05", 340, 40)
    return img


def test_slash_and_dollar_are_separators() -> None:
    from digitocr.segment import SegmentOptions, segment_string

    fields = segment_string(_with_signs(), SegmentOptions())
    segs = fields[0].segments
    labels = [[g.label if g.kind == "separator" else "d" for g in opt] for s in segs
              for opt in s.options[:1]]
    assert ["/"] in labels
    dollar = [s for s in segs if any(o[0].label == "$" for o in s.options)]
    assert len(dollar) == 1 and dollar[0].options[0][0].kind == "digit"  # an alternative
    assert dollar[0].penalties[1] == 0.5  # cheaper than mid-string (1.0): it leads the string


def test_a_leading_slash_may_be_a_one() -> None:
    from digitocr.segment import SegmentOptions, segment_string

    img = _with_signs()[:, 250:]  # the same stroke, now before any digit: '/05'
    (f,) = segment_string(img, SegmentOptions())
    first = f.segments[0]
    assert [[g.kind for g in o] for o in first.options] == [["digit"], ["separator"]]
    assert first.options[1][0].label == "/" and first.penalties == [0.0, 0.7]


def test_slash_left_out_of_text(font_model: str, tmp_path: Path) -> None:
    img = _with_signs()
    img[:, :110] = 255  # no dollar
    path = save_png(img, tmp_path / "date.png")
    page = next(read([path], font_model, "string"))
    f = page.fields[0]
    assert f.text == "1205"
    assert [g.label for g in f.glyphs if g.kind == "separator"] == ["/"]


def test_reduction_keeps_the_shorter_side_at_least_the_read_side() -> None:
    from digitocr.pages import reduction

    assert reduction(2480, 3508, 1240) == 2  # 300 dpi A4: read at 150 dpi
    assert reduction(2479, 3508, 1240) == 1 and reduction(1240, 1754, 1240) == 1
    assert reduction(4960, 7016, 1240) == 4 and reduction(3720, 5262, 1240) == 3
    assert reduction(4960, 7016, None) == 1


SAMPLE_FORM = Path(__file__).resolve().parent.parent / "samples" / "form-clean.png"


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_large_page_is_read_reduced_with_boxes_in_its_own_pixels(suffix: str,
                                                                   tmp_path: Path) -> None:
    """The 150 dpi sample form blown up to 300 dpi (each pixel four): read reduced, it is the
    sample again (PNG: area averaging undoes it exactly; JPEG: decoded at half size)."""
    small = next(load_pages(SAMPLE_FORM, gray=True)).image
    big = cv2.resize(small, (small.shape[1] * 2, small.shape[0] * 2),
                     interpolation=cv2.INTER_NEAREST)
    path = tmp_path / f"big{suffix}"
    cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 95])
    page = next(load_pages(path, gray=True, reduce_side=1240))
    assert (page.width, page.height) == (2480, 3508)
    assert page.image.shape == ((1754, 1240) if suffix == ".jpg" else (3508, 2480))
    (want,) = read([SAMPLE_FORM])
    (got,) = read([path])
    (full,) = read([path], full_resolution=True)
    assert (got.width, got.height) == (full.width, full.height) == (2480, 3508)
    assert [f.text for f in got.fields] == [f.text for f in want.fields]
    if suffix == ".png":  # the very pixels of the sample: the same boxes, twice as large
        assert [f.bbox for f in got.fields] == [tuple(2 * v for v in f.bbox)
                                                for f in want.fields]
        assert [f.confidence for f in got.fields] == [f.confidence for f in want.fields]
    for a, b in zip(got.fields, full.fields, strict=True):  # boxes near the full read's
        assert max(abs(u - v) for u, v in zip(a.bbox, b.bbox, strict=True)) <= 12


def test_a_large_page_read_per_digit_in_batches_is_reduced_too(tmp_path: Path) -> None:
    small = next(load_pages(SAMPLE_FORM, gray=True)).image
    big = cv2.resize(small, (small.shape[1] * 2, small.shape[0] * 2),
                     interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(tmp_path / "big.png"), big)
    (want,) = read([SAMPLE_FORM], "cnn")
    (got,) = read([tmp_path / "big.png"], "cnn")  # readpages._segment_page and _flush
    assert (got.width, got.height) == (2480, 3508) and got.fields
    assert [(f.text, f.confidence) for f in got.fields] == [
        (f.text, f.confidence) for f in want.fields]
    assert [[g.bbox for g in f.glyphs] for f in got.fields] == [
        [tuple(2 * v for v in g.bbox) for g in f.glyphs] for f in want.fields]


def test_cli_full_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = next(load_pages(SAMPLE_FORM, gray=True)).image
    cv2.imwrite(str(tmp_path / "big.png"), cv2.resize(
        small, (small.shape[1] * 2, small.shape[0] * 2), interpolation=cv2.INTER_NEAREST))
    sides: list[int | None] = []
    real = readpages.reduced

    def spy(page: Any, side: int | None) -> Any:
        sides.append(side)
        return real(page, side)

    monkeypatch.setattr(readpages, "reduced", spy)
    runner = CliRunner()
    widths = []
    for flag in ([], ["--full-resolution"]):
        res = runner.invoke(cli, ["read", str(tmp_path / "big.png"), "--format", "json", *flag],
                            catch_exceptions=False)
        assert res.exit_code == 0, res.output
        (page,) = json.loads(res.output)
        widths.append((page["width"], page["height"]))
    assert sides == [1240, None] and widths == [(2480, 3508)] * 2


def test_a_large_page_turned_is_read_reduced_and_boxed_in_its_own_pixels(tmp_path: Path) -> None:
    from digitocr import orientation

    small = next(load_pages(SAMPLE_FORM, gray=True)).image
    big = cv2.resize(small, (small.shape[1] * 2, small.shape[0] * 2),
                     interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(tmp_path / "up.png"), big)
    cv2.imwrite(str(tmp_path / "down.png"), cv2.rotate(big, cv2.ROTATE_180))
    up, down = read([tmp_path / "up.png", tmp_path / "down.png"])
    assert up.orientation == 0 and down.orientation == 180
    assert (down.width, down.height) == (2480, 3508)
    assert [f.text for f in down.fields] == [f.text for f in up.fields]
    for a, b in zip(up.fields, down.fields, strict=True):  # turned back, then scaled up
        want = orientation.box_back(a.bbox, 180, 2480, 3508)
        assert max(abs(u - v) for u, v in zip(b.bbox, want, strict=True)) <= 4


def test_boxes_of_an_odd_sized_page_read_reduced_stay_on_it(tmp_path: Path) -> None:
    from digitocr.results import Field, Glyph, PageResult

    small = next(load_pages(SAMPLE_FORM, gray=True)).image
    big = cv2.resize(small, (2481, 3509), interpolation=cv2.INTER_LINEAR)
    cv2.imwrite(str(tmp_path / "odd.jpg"), big, [cv2.IMWRITE_JPEG_QUALITY, 95])
    page = next(load_pages(tmp_path / "odd.jpg", gray=True, reduce_side=1240))
    assert page.scale == 2 and page.image.shape == (1755, 1241)  # rounded up by the decoder
    (got,) = read([tmp_path / "odd.jpg"])
    assert (got.width, got.height) == (2481, 3509) and got.fields
    # a field up to the reduced image's last column and row: scaled, it would overhang
    edge = PageResult("odd.jpg", 1, 1241, 1755, [Field(1, (1200, 1700, 41, 55), "1", 0.9, False,
                                                       [Glyph((1230, 1710, 11, 45), "1", 0.9)])])
    readpages._at_page_size(edge, 2, (2481, 3509))
    assert edge.fields[0].bbox == (2400, 3400, 81, 109)
    assert edge.fields[0].glyphs[0].bbox == (2460, 3420, 21, 89)
    assert (edge.width, edge.height) == (2481, 3509)
