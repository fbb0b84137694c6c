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
