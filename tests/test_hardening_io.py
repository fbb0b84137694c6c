"""Issue 14: walking folders, PDF page sizes, time limits: every problem is an error record."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from read_helpers import font_model, save_png, string_image

from digitocr import read
from digitocr.errors import InputError
from digitocr.io import expand_inputs, load_pages

__all__ = ["font_model"]

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


def _records(folder: Path, model: str) -> dict[str, str | None]:
    return {os.path.relpath(p.file, folder): p.error
            for p in read([folder], model, "string")}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    d = tmp_path / "scans"
    (d / "sub").mkdir(parents=True)
    save_png(string_image("1"), d / "a.png")
    save_png(string_image("2"), d / "sub" / "b.png")
    return d


def test_unlistable_folder_is_a_record(font_model: str, tree: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.scandir

    def scandir(path: str) -> object:
        if os.fspath(path).endswith("sub"):
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    recs = _records(tree, font_model)
    assert recs["a.png"] is None
    assert recs["sub"] == f"{tree / 'sub'}: cannot list folder (Permission denied)"


def test_unstattable_entries_are_records(font_model: str, tree: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder without execute permission: names listed, but stat and open fail."""
    real = os.stat

    def stat(path: object, *a: object, **kw: object) -> os.stat_result:
        if os.fspath(path).endswith(os.path.join("sub", "b.png")):  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", path)
        return real(path, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", stat)
    assert expand_inputs([tree]) == [str(tree / "a.png"), str(tree / "sub" / "b.png")]
    with pytest.raises(InputError, match=r"b.png: cannot read \(Permission denied\)$"):
        list(load_pages(tree / "sub" / "b.png"))


@pytest.mark.skipif(ROOT, reason="permission bits do not bind root")
@pytest.mark.parametrize("mode", [0o600, 0o300])
def test_real_permissions(font_model: str, tree: Path, mode: int) -> None:
    (tree / "sub").chmod(mode)
    try:
        recs = _records(tree, font_model)
    finally:
        (tree / "sub").chmod(0o700)
    assert recs["a.png"] is None
    assert next(e for k, e in recs.items() if k.startswith("sub")) is not None


def test_links_loops_and_dangling_are_records(font_model: str, tree: Path) -> None:
    (tree / "loop.png").symlink_to("loop.png")
    (tree / "gone.png").symlink_to("nowhere.png")
    (tree / "gone.txt").symlink_to("nowhere.txt")  # not a page: skipped
    (tree / "sub" / "up").symlink_to("..")
    (tree / "linked").symlink_to("sub")  # a link to a folder is walked
    recs = _records(tree, font_model)
    assert recs == {
        "a.png": None,
        "gone.png": f"{tree / 'gone.png'}: dangling symbolic link (to nowhere.png)",
        "linked/b.png": None,
        "linked/up": f"{tree / 'linked' / 'up'}: symbolic link loop (back to the enclosing "
                     f"{tree})",
        "loop.png": f"{tree / 'loop.png'}: symbolic link loop",
        "sub/b.png": None,
        "sub/up": f"{tree / 'sub' / 'up'}: symbolic link loop (back to the enclosing {tree})",
    }


def test_fifo_is_a_record_not_a_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "p.png")
    with pytest.raises(InputError, match="not a regular file"):
        list(load_pages(tmp_path / "p.png"))


HAS_POPPLER = __import__("shutil").which("pdfinfo") is not None


def _pdf(path: Path, sizes: list[tuple[float, float]]) -> Path:
    pypdf = pytest.importorskip("pypdf")
    w = pypdf.PdfWriter()
    for width, height in sizes:
        w.add_blank_page(width=width, height=height)
    with path.open("wb") as fh:
        w.write(fh)
    return path


@pytest.mark.skipif(not HAS_POPPLER, reason="needs poppler-utils")
def test_every_pdf_page_size_checked_before_rendering(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import pdf2image

    pdf = _pdf(tmp_path / "d.pdf", [(200, 200), (14400, 14400), (200, 200)])
    rendered: list[int] = []
    real = pdf2image.convert_from_path

    def convert(path: str, **kw: object) -> object:
        rendered.append(int(kw["first_page"]))  # type: ignore[call-overload]
        return real(path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pdf2image, "convert_from_path", convert)
    pages = load_pages(pdf, dpi=72, max_pixels=1_000_000)
    assert next(pages).page == 1
    with pytest.raises(InputError, match=r"page 2 at 72 dpi would be 207 Mpx, over the 1 Mpx"):
        next(pages)
    assert rendered == [1]  # page 2 never went to pdftoppm


@pytest.mark.skipif(not HAS_POPPLER, reason="needs poppler-utils")
def test_oversized_later_page_is_an_error_record(font_model: str, tmp_path: Path) -> None:
    pdf = _pdf(tmp_path / "d.pdf", [(200, 200), (14400, 14400)])
    recs = list(read([pdf], font_model, "string", dpi=72, max_pixels=1_000_000))
    assert [(r.page, r.error is None) for r in recs] == [(1, True), (2, False)]
    assert "page 2 at 72 dpi would be 207 Mpx" in str(recs[1].error)


@pytest.mark.skipif(not HAS_POPPLER, reason="needs poppler-utils")
def test_pdftoppm_timeout_is_an_error_record(font_model: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import pdf2image
    from pdf2image.exceptions import PDFPopplerTimeoutError

    seen: list[object] = []

    def convert(path: str, **kw: object) -> object:
        seen.append(kw.get("timeout"))
        raise PDFPopplerTimeoutError("Run poppler poppler timeout.")

    monkeypatch.setattr(pdf2image, "convert_from_path", convert)
    pdf = _pdf(tmp_path / "d.pdf", [(200, 200)])
    save_png(string_image("7"), tmp_path / "e.png")
    recs = list(read([pdf, tmp_path / "e.png"], font_model, "string", timeout_per_file=5))
    assert seen == [5]
    assert "page 1 timed out after 5 s (--timeout-per-file)" in str(recs[0].error)
    assert recs[1].error is None and recs[1].fields[0].text == "7"


def test_timeout_per_file_stops_a_slow_file(font_model: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from click.testing import CliRunner

    from digitocr import readpages
    from digitocr.cli import cli

    real = readpages.find_fields

    def slow(image: object, opts: readpages.ReadOptions) -> object:
        if image.shape[1] == 262:  # type: ignore[attr-defined]  # the "407" image only
            time.sleep(30)
        return real(image, opts)  # type: ignore[arg-type]

    monkeypatch.setattr(readpages, "find_fields", slow)
    save_png(string_image("407"), tmp_path / "a.png")
    save_png(string_image("58"), tmp_path / "b.png")
    t0 = time.monotonic()
    r = CliRunner().invoke(cli, ["read", str(tmp_path), "--model", font_model, "--layout",
                                 "boxes", "--timeout-per-file", "0.5", "--format", "jsonl"])
    assert time.monotonic() - t0 < 10
    assert r.exit_code == 1, r.output
    recs = [__import__("json").loads(ln) for ln in r.stdout.splitlines()]
    assert "a.png: timed out after 0.5 s (--timeout-per-file)" in recs[0]["error"]
    assert "error" not in recs[1]
