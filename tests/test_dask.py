"""Reading on Dask (``read --scheduler``, ``digitocr.dask``): a real ``LocalCluster`` of 2 worker
processes gives the records of a local run to the byte, survives a worker killed mid-batch,
and a file that kills every worker trying it is an error record."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batch_helpers import PLUGIN, TESTS, crops, slow_model
from click.testing import CliRunner

import digitocr
from digitocr import plugins
from digitocr.cli import cli
from digitocr.writers import json_text

distributed = pytest.importorskip("distributed")
from digitocr import dask as ddask  # noqa: E402  (after the skip: needs distributed)
from digitocr import daskworker  # noqa: E402  (where tune_malloc sets _malloc_tuned)

REPO = TESTS.parent
SAMPLES = REPO / "samples"


def lines(pages: Iterator[digitocr.results.PageResult]) -> list[str]:
    return [json_text(p.to_dict()) for p in pages]


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[Path]]]:
    """The slow fake model (a plugin module the workers import by name) and 24 crops."""
    base = tmp_path_factory.mktemp("dask")
    model = slow_model(base / "plug")
    module = importlib.import_module(PLUGIN)
    plugins.register_plugin(module, name=PLUGIN)
    try:
        yield model, crops(base / "in", 24)
    finally:
        plugins.unregister_plugin(PLUGIN)


@pytest.fixture(scope="module")
def client(slow: tuple[Path, list[Path]]) -> Iterator[Any]:
    """A LocalCluster of 2 worker processes (started after the plugin is on ``sys.path``)."""
    os.environ["SLOWFONT_DELAY"] = "0.02"
    try:
        with ddask.connect("local", 2) as c:
            yield c
    finally:
        os.environ.pop("SLOWFONT_DELAY", None)


def test_cluster_writes_what_a_local_run_writes(client: Any) -> None:
    """``read --scheduler tcp://...`` (this module's LocalCluster) on samples/, real model."""
    local = lines(digitocr.read(str(SAMPLES), model="cnn"))
    address = client.scheduler.address
    on_dask = CliRunner().invoke(cli, ["read", str(SAMPLES), "--model", "cnn", "--format",
                                       "jsonl", "-q", "--scheduler", address],
                                 catch_exceptions=False)
    assert on_dask.exit_code == 0, on_dask.output
    assert on_dask.stdout.splitlines() == local
    assert len(local) >= 10  # every sample page, in input order
    # the nanny fixed MALLOC_TRIM_THRESHOLD_; the workers put glibc's dynamic thresholds back
    assert set(client.run(_malloc_state).values()) == {("65536", True)}


def _malloc_state() -> tuple[str | None, bool]:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), daskworker._malloc_tuned


def _spare_models() -> list[str]:
    return [model for model, _ in ddask._spare]


def test_local_workers_fork_from_a_server_that_imported_digitocr(client: Any) -> None:
    """``--scheduler local``'s workers are forked (not spawned) from a process that imported
    the reading code once, and still get what this process set in its environment."""
    if not ddask.prestart():  # pragma: no cover  (no forkserver: Windows)
        pytest.skip("no forkserver here")
    parents = set(client.run(os.getppid).values())
    assert os.getpid() not in parents and len(parents) == 1  # the forkserver, not us
    assert set(client.run(lambda: "digitocr.pipeline" in sys.modules).values()) == {True}
    assert set(client.run(os.environ.get, "SLOWFONT_DELAY").values()) == {"0.02"}


def test_the_model_is_preloaded_on_every_worker_and_taken_once(
        slow: tuple[Path, list[Path]], client: Any) -> None:
    model, files = slow
    from digitocr.plugins import worker_plugins

    plugin_list = worker_plugins(picklable=True)
    client.register_plugin(ddask._preload_plugin(str(model), 1, plugin_list), name="test-pre")
    deadline = time.monotonic() + 60
    while set(map(tuple, client.run(_spare_models).values())) != {(str(model),)}:
        assert time.monotonic() < deadline, client.run(_spare_models)
        time.sleep(0.05)
    names = [str(f) for f in files[:8]]  # one a task: both workers get some
    got = lines(ddask.read(names, client, str(model), "string", chunk_files=1))
    assert got == lines(digitocr.read(names, model=str(model), layout="string"))
    # each worker's thread took its preloaded model (read's own preload found it loaded)
    assert set(map(tuple, client.run(_spare_models).values())) == {()}
    client.unregister_worker_plugin("test-pre")


def test_cli_starts_a_local_cluster(slow: tuple[Path, list[Path]], tmp_path: Path) -> None:
    model, files = slow
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    names = [str(files[0]), str(broken), *map(str, files[1:3])]
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(cli, ["read", *names, "--model", str(model), "--layout", "string",
                                 "-o", str(out), "--scheduler", "local", "--workers", "2"],
                           catch_exceptions=False)
    assert r.exit_code == 1, r.output  # the broken file: an error record, the rest read
    got = out.read_text().splitlines()
    assert got == lines(digitocr.read(names, model=str(model), layout="string"))
    assert '"error": "' in got[1] and got[1].startswith(f'{{"file": "{broken}", "page": 0')


def test_killed_worker_mid_batch_loses_and_repeats_nothing(slow: tuple[Path, list[Path]],
                                                           client: Any) -> None:
    model, files = slow
    names = [str(f) for f in files]
    expected = lines(digitocr.read(names, model=str(model), layout="string"))
    pages = ddask.read(names, client, str(model), "string", chunk_files=1)
    got = lines(iter([next(pages)]))
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    os.kill(victim, signal.SIGKILL)  # while both workers hold chunks of the batch
    got += lines(pages)
    assert got == expected
    assert Counter(p.split('"page"')[0] for p in got) == Counter(
        p.split('"page"')[0] for p in expected)
    assert victim not in client.run(os.getpid).values()  # it really died (and was replaced)


class _Future:
    def __init__(self, fn: Any, args: tuple[Any, ...], poison: str) -> None:
        self.fn, self.args, self.poison = fn, args, poison

    def result(self) -> Any:
        if self.poison in self.args[0]:
            raise distributed.KilledWorker("task", "worker", 3)
        return self.fn(*self.args)


class _Client:
    """What ``ddask.read`` uses of a client; a chunk holding ``poison`` kills its worker."""

    def __init__(self, poison: str) -> None:
        self.poison = poison
        self.submitted: list[list[str]] = []

    def nthreads(self) -> dict[str, int]:
        return {"w1": 1, "w2": 1}

    def submit(self, fn: Any, *args: Any, pure: bool = True) -> _Future:
        self.submitted.append(list(args[0]))
        return _Future(fn, args, self.poison)

    def cancel(self, futures: list[Any], force: bool = False) -> None:
        pass


def test_a_file_that_kills_every_worker_is_an_error_record(
        slow: tuple[Path, list[Path]]) -> None:
    model, files = slow
    names = [str(f) for f in files[:6]]
    fake = _Client(poison=names[2])
    got = list(ddask.read(names, fake, str(model), "string", chunk_files=3))
    expected = list(digitocr.read(names[:2] + names[3:], model=str(model), layout="string"))
    assert [p.file for p in got] == names
    assert got[2].error == (f"{names[2]}: the Dask worker reading it died every time it was "
                            "tried (out of memory, or a crash while decoding it)")
    assert lines(iter(got[:2] + got[3:])) == lines(iter(expected))
    # the chunk that failed is tried again file by file; the other chunk once
    assert fake.submitted == [names[:3], names[3:], [names[0]], [names[1]], [names[2]]]


def test_import_digitocr_does_not_import_dask() -> None:
    code = ("import sys, digitocr, digitocr.cli, digitocr.pipeline, digitocr.writers;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, env={
        **os.environ, "PYTHONPATH": str(REPO)})


def test_without_dask_reading_works_and_scheduler_says_what_is_missing() -> None:
    # None in sys.modules makes ``import distributed`` fail, as when it is not installed
    code = ("import sys; sys.modules['distributed'] = None;"
            "from digitocr.cli import cli; cli(['read', sys.argv[1], '--model', 'cnn', '-q',"
            "*sys.argv[2:]])")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ok = subprocess.run([sys.executable, "-c", code, str(SAMPLES / "cheque.jpg")],
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and '"provenance"' in ok.stdout
    no = subprocess.run([sys.executable, "-c", code, str(SAMPLES / "cheque.jpg"),
                         "--scheduler", "local"], capture_output=True, text=True, env=env)
    assert no.returncode == 2
    assert no.stderr.strip() == ("Error: reading on Dask needs dask[distributed] "
                                 "(pip install 'digitocr[dask]')")


def test_fields_frame_has_the_csv_rows(slow: tuple[Path, list[Path]], client: Any) -> None:
    model, files = slow
    names = [str(f) for f in files[:5]]
    frame = ddask.fields_frame(names, str(model), "string", chunk_files=2)
    assert frame.npartitions == 3
    got = frame.compute()
    out = CliRunner().invoke(cli, ["read", *names, "--model", str(model), "--layout", "string",
                                   "--format", "csv"], catch_exceptions=False).stdout
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(got.columns) == list(rows[0])
    assert len(got) == len(rows) == 5  # one field per crop; the blank crop's row has none
    assert list(got["text"].fillna("")) == [r["text"] for r in rows]
    assert list(got["file"]) == [r["file"] for r in rows]
    assert [f"{c:.4f}" if c == c else "" for c in got["confidence"]] == [
        r["confidence"] for r in rows]
    assert list(got["needs_review"]) == [r["needs_review"] == "true" for r in rows]
