"""Issue 14: exit statuses, output safety, file names, CSV hardening, through the CLI."""

from __future__ import annotations

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


@pytest.fixture
def files(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    save_png(string_image("407"), d / "a.png")
    save_png(string_image("12.5"), d / "b.png")
    return d


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
