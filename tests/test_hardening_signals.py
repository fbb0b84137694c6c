"""Issue 14: interrupting a worker pool ends the run promptly, with no workers or temp file left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from read_helpers import save_png, string_image

TESTS = Path(__file__).resolve().parent

# a slow fake model (0.3 s per batch) read by two forked workers, through the real CLI
SCRIPT = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from read_helpers import BACKEND, FontPlugin, FontTemplateClassifier
from digitocr import plugins
from digitocr.cli import cli

real = FontTemplateClassifier.predict_proba
def slow(self, x):
    time.sleep(0.3)
    return real(self, x)
FontTemplateClassifier.predict_proba = slow
plugins.register_plugin(FontPlugin(), name="test-font-classifier")
model = Path({model!r})
model.mkdir(exist_ok=True)
(model / "metadata.json").write_text(json.dumps({{"backend": BACKEND, "config": {{}}}}))
cli(["read", {inputs!r}, "--model", str(model), "--layout", "string", "--workers", "2",
     "-o", {out!r}], prog_name="digitocr")
"""


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def started(tmp_path: Path) -> tuple[subprocess.Popen[bytes], list[int], Path]:
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux /proc needed")
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(64):
        save_png(string_image(str(i)), inputs / f"{i:02d}.png")
    out = tmp_path / "out" / "r.jsonl"
    out.parent.mkdir()
    code = SCRIPT.format(tests=str(TESTS), model=str(tmp_path / "model"),
                         inputs=str(inputs), out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and proc.poll() is None:
        workers = [c for c in _children(proc.pid) if _alive(c)]
        if len(workers) >= 2 and list(out.parent.glob(".r.jsonl.*.tmp")):
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"workers did not start: {proc.communicate()}")
    time.sleep(0.5)  # let the workers take work
    return proc, workers, out


def _gone(pids: list[int], within: float = 5.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("signals,code", [([signal.SIGTERM], 143),
                                          ([signal.SIGINT, signal.SIGINT], 130)])
def test_signal_ends_run_promptly_without_workers_or_temp(
        started: tuple[subprocess.Popen[bytes], list[int], Path], signals: list[int],
        code: int) -> None:
    proc, workers, out = started
    t0 = time.monotonic()
    for sig in signals:
        proc.send_signal(sig)
        time.sleep(0.05)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("the run hung after the signal")
    assert proc.returncode == code, err.decode()
    assert time.monotonic() - t0 < 10
    assert _gone(workers)
    assert list(out.parent.iterdir()) == []  # no temp file, no half-written output
    assert b"Traceback" not in err


def test_sigkill_of_the_parent_takes_the_workers(
        started: tuple[subprocess.Popen[bytes], list[int], Path]) -> None:
    proc, workers, _ = started
    proc.kill()
    proc.wait(10)
    ok = _gone(workers)
    if not ok:
        for p in workers:
            os.kill(p, signal.SIGKILL)
    assert ok, "workers outlived a SIGKILLed parent"
