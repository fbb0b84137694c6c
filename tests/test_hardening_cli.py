"""Issue 14: exit statuses, output safety, file names, CSV hardening, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from read_helpers import font_model, save_png, string_image

from digitocr.cli import cli
from digitocr.errors import (
    DataError,
    ExitCode,
    InputError,
    Interrupted,
    ModelError,
    OutputError,
    PluginError,
    TemplateError,
    Terminated,
)

__all__ = ["font_model"]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["read", *args])


def test_exit_codes_one_per_cause() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 130, 143]
    for cls in (DataError, ModelError, PluginError, TemplateError):
        assert cls.exit_code is ExitCode.USAGE
    assert InputError.exit_code is ExitCode.FILES_FAILED
    assert OutputError.exit_code is ExitCode.OUTPUT
    assert (Interrupted.exit_code, Terminated.exit_code) == (130, 143)


def test_exit_codes_in_help() -> None:
    for args in ([], ["read"]):
        out = " ".join(CliRunner().invoke(cli, [*args, "--help"]).output.split())
        assert "3 the output could not be written" in out and "130/143" in out


def test_bad_model_and_template_exit_2(files: Path, tmp_path: Path) -> None:
    r = run(str(files), "--model", str(tmp_path / "none"))
    assert r.exit_code == 2 and "no model named" in r.stderr
    bad = tmp_path / "t.json"
    bad.write_text("{")
    r = run(str(files), "--template", str(bad))
    assert r.exit_code == 2 and "not valid JSON" in r.stderr and r.exception is not None
    assert "Traceback" not in r.output


def test_output_naming_an_input_refused_before_reading(files: Path, tmp_path: Path) -> None:
    before = (files / "a.png").read_bytes()
    (tmp_path / "alias.png").symlink_to(files / "a.png")
    for out in (files / "a.png", tmp_path / "alias.png", files / ".." / "in" / "a.png"):
        # a missing model shows that nothing was read: the -o check comes first
        r = run(str(files), "--model", str(tmp_path / "none"), "-o", str(out))
        assert r.exit_code == 2 and "is one of the inputs" in r.stderr, r.output
    assert (files / "a.png").read_bytes() == before


def test_output_directory_refused_before_reading(files: Path, tmp_path: Path) -> None:
    r = run(str(files), "--model", str(tmp_path / "none"), "-o", str(tmp_path))
    assert r.exit_code == 3 and "is a directory" in r.stderr
    assert "Traceback" not in r.output and len(r.stderr.splitlines()) == 1


def test_immutable_output_refused_before_reading(files: Path, tmp_path: Path) -> None:
    import subprocess

    out = tmp_path / "r.json"
    out.write_text("old")
    if subprocess.run(["chattr", "+i", str(out)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i not available here")
    try:
        r = run(str(files), "--model", str(tmp_path / "none"), "-o", str(out))
        assert r.exit_code == 3 and "not writable" in r.stderr
    finally:
        subprocess.run(["chattr", "-i", str(out)], check=True)
    assert out.read_text() == "old"


def test_disk_full_mid_run_is_one_line_exit_3(font_model: str, files: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from digitocr import writers

    calls = []
    real = writers.JsonlWriter.write

    def write(self: writers.JsonlWriter, page: object) -> None:
        calls.append(page)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, page)  # type: ignore[arg-type]

    monkeypatch.setattr(writers.JsonlWriter, "write", write)
    out = tmp_path / "r.jsonl"
    out.write_text("old\n")
    r = run(str(files), "--model", font_model, "--layout", "string", "-o", str(out))
    assert r.exit_code == 3, r.output
    assert r.stderr.splitlines() == [f"Error: {out}: cannot write (No space left on device)"]
    assert out.read_text() == "old\n"  # the previous output kept whole, no half-written file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fontmodel", "in", "r.jsonl"]


def test_output_mode_honours_umask_and_keeps_existing(font_model: str, files: Path,
                                                     tmp_path: Path) -> None:
    import os
    import stat

    new = tmp_path / "new.json"
    old_mask = os.umask(0o027)
    try:
        assert run(str(files), "--model", font_model, "--layout", "string",
                   "-o", str(new)).exit_code == 0
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o640
    kept = tmp_path / "kept.json"
    kept.write_text("old")
    kept.chmod(0o604)
    assert run(str(files), "--model", font_model, "--layout", "string",
               "-o", str(kept)).exit_code == 0
    assert stat.S_IMODE(kept.stat().st_mode) == 0o604 and kept.read_text() != "old"


def test_stale_temp_of_a_killed_run_removed(font_model: str, files: Path,
                                            tmp_path: Path) -> None:
    stale = tmp_path / ".r.json.999999999.abc.tmp"
    stale.write_text("partial")
    assert run(str(files), "--model", font_model, "--layout", "string",
               "-o", str(tmp_path / "r.json")).exit_code == 0
    assert not stale.exists()


@pytest.fixture
def odd_names(tmp_path: Path) -> Path:
    """A folder with a file name that is not UTF-8 and one with a newline and an escape."""
    import os

    d = tmp_path / "odd"
    d.mkdir()
    save_png(string_image("407"), Path(os.fsdecode(bytes(d) + b"/\xff\xfe.png")))
    save_png(string_image("58"), d / "=cmd\n\x1b[31m.png")
    (d / "@broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return d


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_non_utf8_name_kept_losslessly_in_json(font_model: str, odd_names: Path,
                                               tmp_path: Path, fmt: str) -> None:
    import os

    out = tmp_path / f"r.{fmt}"
    r = run(str(odd_names), "--model", font_model, "--layout", "string", "-o", str(out))
    assert r.exit_code == 1, r.output  # the broken file only
    text = out.read_text(encoding="utf-8")  # valid UTF-8
    recs = json.loads(text) if fmt == "json" else [json.loads(ln) for ln in text.splitlines()]
    names = sorted(os.fsencode(rec["file"]).rsplit(b"/", 1)[1] for rec in recs)
    assert names == [b"=cmd\n\x1b[31m.png", b"@broken.png", b"\xff\xfe.png"]
    r = run(str(odd_names), "--model", font_model, "--layout", "string", "--format", fmt)
    assert "\\udcff\\udcfe.png" in r.stdout  # stdout too: escapes, not invalid UTF-8


def test_csv_escapes_error_column_and_formulas(font_model: str, odd_names: Path,
                                               tmp_path: Path) -> None:
    import csv

    out = tmp_path / "r.csv"
    r = run(str(odd_names), "--model", font_model, "--layout", "string", "-o", str(out))
    assert r.exit_code == 1
    rows = list(csv.reader(out.open(encoding="utf-8", newline="")))
    from digitocr.writers import CSV_COLUMNS

    assert rows[0] == list(CSV_COLUMNS) and rows[0][10:12] == ["error", "value"]
    assert all(len(row) == len(CSV_COLUMNS) for row in rows)
    by_name = {Path(row[0]).name: row for row in rows[1:]}
    assert by_name["\\xff\\xfe.png"][3] == "407"
    broken = by_name["@broken.png"]
    assert broken[5] == "true" and "broken.png: " in broken[10]
    assert all(not row[10] for name, row in by_name.items() if name != "@broken.png")
    from digitocr.writers import csv_text

    assert [csv_text(v) for v in ("=1+1", "+1", "-2", "@SUM(A1)", "x=1", "\\t")] == [
        "'=1+1", "'+1", "'-2", "'@SUM(A1)", "x=1", "\\t"]


def test_stderr_escapes_control_characters(font_model: str, tmp_path: Path) -> None:
    bad = tmp_path / "a\n\x1b[2Jb.png"
    bad.write_bytes(b"not an image")
    r = run(str(bad), "--model", font_model, "--layout", "string")
    assert r.exit_code == 1
    assert len(r.stderr.splitlines()) == 1 and "\x1b" not in r.stderr
    assert "a\\x0a\\x1b[2Jb.png" in r.stderr


def test_quiet_silences_libtiff_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes

    from digitocr.io import _loaded_libtiffs, quiet_decoders

    monkeypatch.setattr("warnings.filters", list(__import__("warnings").filters))
    quiet_decoders()
    libs = _loaded_libtiffs()
    if not libs:
        pytest.skip("no libtiff mapped in this process")
    tiff = ctypes.CDLL(libs[0])
    tiff.TIFFSetWarningHandler.restype = ctypes.c_void_p
    tiff.TIFFSetWarningHandler.argtypes = [ctypes.c_void_p]
    assert tiff.TIFFSetWarningHandler(None) is None  # quiet_decoders left no handler


def test_csv_neutralises_formula_file_names(font_model: str, odd_names: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import csv
    import io

    monkeypatch.chdir(odd_names)
    r = run(".", "--model", font_model, "--layout", "string", "--format", "csv")
    names = sorted(row[0] for row in list(csv.reader(io.StringIO(r.stdout)))[1:])
    assert names == ["'=cmd\n\x1b[31m.png", "'@broken.png", "\\xff\\xfe.png"]


def test_annotate_names_keep_relative_paths(font_model: str, tmp_path: Path) -> None:
    root = tmp_path / "scans"
    for rel in ("a/x.png", "b/x.png", "x.png", "x.jpg"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        save_png(string_image("12"), root / rel)  # PIL picks the format from the suffix
    ann = tmp_path / "ann"
    r = run(str(root), "--model", font_model, "--layout", "string", "--annotate", str(ann))
    assert r.exit_code == 0, r.output
    assert sorted(str(p.relative_to(ann)) for p in ann.rglob("*.png")) == [
        "a/x.png-p1.png", "b/x.png-p1.png", "x.jpg-p1.png", "x.png-p1.png"]


def test_workers_capped_at_files_and_warned_above_cores(
        font_model: str, files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import ProcessPoolExecutor

    from digitocr import pipeline, pool

    started: list[int] = []

    class Pool(ProcessPoolExecutor):
        def __init__(self, max_workers: int, **kw: object) -> None:
            started.append(max_workers)
            super().__init__(max_workers, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pool, "ProcessPoolExecutor", Pool)
    # the CLI's warning asks pipeline, the pool's threads per worker ask pool
    monkeypatch.setattr(pipeline, "default_workers", lambda: 2)
    monkeypatch.setattr(pool, "default_workers", lambda: 2)
    r = run(str(files), "--model", font_model, "--layout", "string", "--workers", "64")
    assert r.exit_code == 0, r.output
    assert started == [2]  # two files: two workers, not 64
    assert "warning: --workers 64 is more than the 2 cores" in r.stderr


@pytest.mark.parametrize("meta", [
    {"backend": "cnn", "config": [1, 2]},
    {"backend": 7},
    {"backend": ["cnn"]},
    {"backend": "cnn", "format_version": "1"},
    {"backend": "cnn", "format_version": True},
    "[" * 100_000 + "]" * 100_000,
])
def test_malformed_metadata_is_a_clear_error(files: Path, tmp_path: Path,
                                             meta: object) -> None:
    d = tmp_path / "model"
    d.mkdir()
    (d / "metadata.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    r = run(str(files), "--model", str(d))
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith(f"Error: {d}/metadata.json: ") and r.exception is not None
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.output


@pytest.mark.parametrize("template", [
    '{"fields": [{"bbox": [0, 0, NaN, 10]}]}',
    '{"fields": [{"bbox": [0, 0, Infinity, 10]}]}',
    '{"fields": [{"bbox": [0, 0, -Infinity, 10]}]}',
    '{"fields": [{"bbox": [0, 0, "10", 10]}]}',
    '{"fields": [{"bbox": [0, 0, true, 10]}]}',
    '{"fields": [{"bbox": [0, 0, 1e400, 10]}]}',
    '{"width": NaN, "fields": [{"bbox": [0, 0, 10, 10]}]}',
    '{"width": "wide", "fields": [{"bbox": [0, 0, 10, 10]}]}',
    '{"height": 0.2, "fields": [{"bbox": [0, 0, 10, 10]}]}',
    '{"fields": [{"bbox": [0, 0, 10, 10], "layout": ["boxes"]}]}',
    "[" * 100_000 + "]" * 100_000,
    '{"fields": ' + "[" * 100_000 + "]" * 100_000 + "}",
])
def test_malformed_template_is_a_clear_error(font_model: str, files: Path, tmp_path: Path,
                                             template: str) -> None:
    t = tmp_path / "t.json"
    t.write_text(template)
    r = run(str(files), "--model", font_model, "--template", str(t))
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith(f"Error: {t}: ") and len(r.stderr.splitlines()) == 1
