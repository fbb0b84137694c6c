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
