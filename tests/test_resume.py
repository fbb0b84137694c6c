"""``read --resume``: each file's records appended as a unit and journalled; after a kill at any
moment a rerun gives exactly one complete record set per input file."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from batch_helpers import PLUGIN, TESTS, crops, slow_model
from click.testing import CliRunner, Result

import digitocr
from digitocr import plugins
from digitocr.cli import cli
from digitocr.writers import journal_path, json_text

REPO = TESTS.parent


@pytest.fixture
def slow(tmp_path: Path) -> tuple[Path, list[Path]]:
    """The slow fake model (registered in this process, no delay here) and 12 crops."""
    model = slow_model(tmp_path / "plug")
    module = importlib.import_module(PLUGIN)
    module.DELAY = 0.0  # type: ignore[attr-defined]
    plugins.register_plugin(module, name=PLUGIN)
    try:
        yield model, crops(tmp_path / "in", 12)
    finally:
        plugins.unregister_plugin(PLUGIN)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["read", *args], catch_exceptions=False)


def expected_lines(files: list[Path], model: Path) -> dict[str, list[str]]:
    """Each file's JSONL lines, as a plain in-process read gives them."""
    out: dict[str, list[str]] = {}
    for page in digitocr.read([str(f) for f in files], model=str(model), layout="string"):
        out.setdefault(page.file, []).append(json_text(page.to_dict()))
    return out


def sets_by_file(text: str) -> dict[str, list[str]]:
    """The output's lines by file, checking that each file's lines are contiguous."""
    out: dict[str, list[str]] = {}
    last = None
    for line in text.splitlines():
        name = json.loads(line)["file"]
        assert name == last or name not in out, f"{name}: records split or repeated"
        out.setdefault(name, []).append(line)
        last = name
    return out


def test_resume_from_nothing_is_a_plain_run(slow: tuple[Path, list[Path]], tmp_path: Path
                                            ) -> None:
    model, files = slow
    folder = str(files[0].parent)
    for fmt in ("jsonl", "csv"):
        plain, resumed = tmp_path / f"plain.{fmt}", tmp_path / f"resumed.{fmt}"
        assert run(folder, "--model", str(model), "--layout", "string", "-o", str(plain)
                   ).exit_code == 0
        assert run(folder, "--model", str(model), "--layout", "string", "-o", str(resumed),
                   "--resume").exit_code == 0
        assert resumed.read_bytes() == plain.read_bytes()
        journal = [json.loads(ln) for ln in journal_path(resumed).read_text().splitlines()]
        assert [j["file"] for j in journal] == [str(f) for f in files]
        assert journal[-1]["end"] == resumed.stat().st_size
        # nothing left to read: the output stays as it is
        r = run(folder, "--model", str(model), "--layout", "string", "-o", str(resumed),
                "--resume")
        assert r.exit_code == 0 and resumed.read_bytes() == plain.read_bytes()


def test_resume_cuts_what_a_kill_left_and_reads_the_rest(slow: tuple[Path, list[Path]],
                                                         tmp_path: Path) -> None:
    model, files = slow
    out = tmp_path / "out.jsonl"
    first = [str(f) for f in files[:5]]
    assert run(*first, "--model", str(model), "--layout", "string", "-o", str(out),
               "--resume").exit_code == 0
    # what a kill in the middle of the next file's records and journal line leaves
    with open(out, "ab") as fh:
        fh.write(b'{"file": "half a record')
    with open(journal_path(out), "ab") as fh:
        fh.write(b'{"file": "x", "pa')
    r = run(*[str(f) for f in files], "--model", str(model), "--layout", "string", "-o",
            str(out), "--resume")
    assert r.exit_code == 0, r.output
    assert sets_by_file(out.read_text()) == expected_lines(files, model)


def test_resume_cannot_append_where_it_cannot_tell(slow: tuple[Path, list[Path]],
                                                  tmp_path: Path) -> None:
    model, files = slow
    args = [str(files[0]), "--model", str(model), "--layout", "string", "--resume"]
    assert "give -o FILE" in run(*args).output
    assert "cannot append to --format json" in run(*args, "-o", str(tmp_path / "o.json")
                                                    ).output
    assert "wide with --template" in run(*args, "--per-page", "-o", str(tmp_path / "o.csv")
                                         ).output
    plain = tmp_path / "plain.jsonl"
    assert run(*args[:-1], "-o", str(plain)).exit_code == 0
    r = run(*args, "-o", str(plain))
    assert r.exit_code == 3 and "has no resume journal" in r.output
    # a plain run replaces the output, and with it a journal that no longer fits it
    resumed = tmp_path / "resumed.jsonl"
    assert run(*args, "-o", str(resumed)).exit_code == 0
    assert journal_path(resumed).exists()
    assert run(*args[:-1], "-o", str(resumed)).exit_code == 0
    assert not journal_path(resumed).exists()


def test_sigkill_mid_batch_then_resume(slow: tuple[Path, list[Path]], tmp_path: Path) -> None:
    """A real ``kill -9`` of the CLI while it writes, then ``--resume``: one set per file."""
    model, _ = slow
    files = crops(tmp_path / "many", 40)
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), str(TESTS), str(model.parent)]), "SLOWFONT_DELAY": "0.01"}
    cmd = [sys.executable, "-m", "digitocr", "--plugins", PLUGIN, "read", str(files[0].parent),
           "--model", str(model), "--layout", "string", "-o", str(out), "--resume",
           "--workers", "1", "-q"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    journal = journal_path(out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_bytes().count(b"\n") >= 3:
            break
        time.sleep(0.002)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = journal.read_bytes().count(b"\n")
    assert 3 <= done_before < len(files)
    again = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
    assert again.returncode == 0, again.stderr.decode()
    got = sets_by_file(out.read_text())
    assert got == expected_lines(files, model)
    assert Counter(json.loads(ln)["file"] for ln in journal.read_text().splitlines()) == Counter(
        str(f) for f in files)


def test_resume_removes_what_a_killed_plain_run_left(slow: tuple[Path, list[Path]],
                                                     tmp_path: Path) -> None:
    model, files = slow
    out = tmp_path / "out.jsonl"
    stale = tmp_path / ".out.jsonl.999999999.abc.tmp"  # a dead process's temp output
    stale.write_text("partial")
    assert run(str(files[0]), "--model", str(model), "--layout", "string", "-o", str(out),
               "--resume").exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []
