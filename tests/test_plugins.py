"""The plugin host: built-ins, entry points, named modules, registries, overrides, failures,
workers, and ``digitocr plugins``."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import pickle
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from read_helpers import font_model, save_png, string_image

import digitocr
import digitocr.pipeline
from digitocr import hookimpl, plugins
from digitocr.cli import cli
from digitocr.errors import PluginError

__all__ = ["font_model"]

REPO = Path(__file__).resolve().parent.parent

GOOD = """
from digitocr import hookimpl

@hookimpl
def register_writers(register):
    register("good-writer", object)
"""


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A plugin manager loaded anew for this test (the process-wide one comes back after), with
    ``tmp_path`` importable for plugin modules and the environment's switches unset."""
    monkeypatch.setattr(plugins, "_state", None)
    monkeypatch.setattr(plugins, "_registries", {})
    monkeypatch.setattr(plugins, "_pending_modules", [])
    monkeypatch.delenv(plugins.LOAD_ENV, raising=False)
    monkeypatch.delenv(plugins.PLUGINS_ENV, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "good_plugin.py").write_text(GOOD)
    yield tmp_path
    sys.modules.pop("good_plugin", None)


def entry_points(monkeypatch: pytest.MonkeyPatch, **eps: str) -> None:
    found = [importlib.metadata.EntryPoint(name, value, plugins.GROUP)
             for name, value in eps.items()]
    monkeypatch.setattr(plugins, "_entry_points", lambda: found)


def test_builtins_are_imported_directly() -> None:
    classifiers = plugins.get_classifiers()
    assert {"cnn", "knn", "svm", "ensemble"} <= set(classifiers)
    names = [name for name, _ in plugins.get_plugin_manager().list_name_plugin()]
    assert names[: len(plugins.BUILTIN_PLUGINS)] == list(plugins.BUILTIN_PLUGINS)
    assert not [n for n in names if ":" in n]  # no built-in registered twice


def test_a_broken_third_party_plugin_is_reported_and_skipped(
        fresh: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    entry_points(monkeypatch, broken="no_such_plugin_module", good="good_plugin")
    with caplog.at_level(logging.WARNING, logger="digitocr.plugins"):
        assert "good-writer" in plugins.get_writers()
    assert "plugin 'broken' (no_such_plugin_module) failed to load and is skipped" in caplog.text
    (err,) = plugins.load_errors()
    assert err.name == "broken" and err.error.startswith("ModuleNotFoundError")
    r = CliRunner().invoke(cli, ["plugins"])
    assert r.exit_code == 0, r.output
    assert ("broken [no_such_plugin_module] error: failed to load, skipped (ModuleNotFoundError: "
            "No module named 'no_such_plugin_module')") in r.output.splitlines()
    assert "good [good_plugin] writers: good-writer" in r.output.splitlines()
    info = {p["name"]: p for p in json.loads(CliRunner().invoke(cli, ["plugins", "--json"]).output)}
    assert info["broken"]["error"].startswith("ModuleNotFoundError")
    assert "error" not in info["good"] and "error" not in info["cnn"]


def test_read_goes_on_past_a_broken_plugin(
        fresh: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        files: Path) -> None:
    entry_points(monkeypatch, broken="no_such_plugin_module")
    from read_helpers import BACKEND, FontPlugin

    plugins.register_plugin(FontPlugin(), name="font")
    model = fresh / "fontmodel"
    model.mkdir()
    (model / "metadata.json").write_text(json.dumps({"backend": BACKEND}))
    with caplog.at_level(logging.WARNING, logger="digitocr.plugins"):
        r = CliRunner().invoke(cli, ["read", str(files / "a.png"), "--model", str(model),
                                     "--layout", "string", "--format", "csv"])
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[1].split(",")[3] == "407"
    assert "failed to load and is skipped" in caplog.text


@pytest.mark.parametrize(("switch", "loaded"), [("", set()), ("good", {"good"}),
                                                 ("good_plugin", {"good"}), (None, {"good"})])
def test_load_plugins_switch(fresh: Path, monkeypatch: pytest.MonkeyPatch, switch: str | None,
                             loaded: set[str]) -> None:
    entry_points(monkeypatch, good="good_plugin", broken="no_such_plugin_module")
    if switch is not None:
        monkeypatch.setenv(plugins.LOAD_ENV, switch)
    names = {name for name, _ in plugins.get_plugin_manager().list_name_plugin()}
    assert names - set(plugins.BUILTIN_PLUGINS) == loaded
    assert bool(plugins.load_errors()) == (switch is None)


def test_plugins_env_and_option_name_modules(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (fresh / "other_plugin.py").write_text(GOOD.replace("good-writer", "other-writer"))
    monkeypatch.setenv(plugins.PLUGINS_ENV, "good_plugin, no_such_plugin_module")
    r = CliRunner().invoke(cli, ["--plugins", "other_plugin", "plugins", "--json"])
    assert r.exit_code == 0, r.output
    info = {p["name"]: p for p in json.loads(r.output)}
    assert info["good_plugin"]["writers"] == ["good-writer"]
    assert info["other_plugin"]["writers"] == ["other-writer"]
    assert info["no_such_plugin_module"]["error"].startswith("ModuleNotFoundError")
    # what a new (spawned) process would not load by itself: the --plugins module
    assert plugins.worker_plugins() == [("other_plugin", "other_plugin")]
    sys.modules.pop("other_plugin", None)


def test_worker_plugins_travel_and_overrides_hold(fresh: Path) -> None:
    plugins.register_plugin(Override(), name="override")
    items = pickle.loads(pickle.dumps(plugins.worker_plugins(picklable=True)))
    assert [name for name, _ in items] == ["override"]
    # a new process: its own plugin manager, then the list
    plugins._state = None
    plugins._registries.clear()
    plugins.restore_plugins(items)
    assert plugins.get_classifiers()["knn"] is Override
    plugins.restore_plugins(items)  # a forked worker has them already: no second registration


def test_an_unpicklable_plugin_is_named(fresh: Path) -> None:
    class Local:
        @hookimpl
        def register_writers(self, register: Any) -> None:
            register("local", object)

    plugins.register_plugin(Local(), name="local-plugin")
    assert [name for name, _ in plugins.worker_plugins()] == ["local-plugin"]
    with pytest.raises(PluginError, match=r"plugin 'local-plugin' .* cannot be pickled"):
        plugins.worker_plugins(picklable=True)


def test_spawned_workers_get_plugins_registered_in_process(
        font_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``read`` spawns instead of forking once TensorFlow is loaded (a stand-in module here):
    the font classifier, registered only in this process, must reach the workers."""
    paths = [str(save_png(string_image(t), tmp_path / f"{t}.png")) for t in ("407", "12", "58")]
    alone = [p.fields[0].text for p in digitocr.read(paths, model=font_model, layout="string")]
    monkeypatch.setitem(sys.modules, "tensorflow", types.ModuleType("tensorflow"))
    pages = list(digitocr.read(paths, model=font_model, layout="string", workers=2))
    assert [p.error for p in pages] == [None] * 3
    assert [p.fields[0].text for p in pages] == alone == ["407", "12", "58"]


def test_python_m_digitocr_from_a_checkout(tmp_path: Path) -> None:
    """No install: ``-S`` drops the editable install's finder; site-packages only on the path
    (for the dependencies), so ``digitocr_plugins`` comes from the checkout's ``plugins/``."""
    import numpy

    # where the dependencies are (not sysconfig's purelib: under -S that is the base Python's)
    path = os.pathsep.join([str(REPO), str(Path(numpy.__file__).resolve().parent.parent)])
    env = {**os.environ, "PYTHONPATH": path}
    probe = subprocess.run([sys.executable, "-S", "-c", "import digitocr_plugins"], env=env,
                           cwd=tmp_path, capture_output=True, text=True)
    assert "No module named 'digitocr_plugins'" in probe.stderr
    r = subprocess.run([sys.executable, "-S", "-m", "digitocr", "plugins"], env=env,
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "cnn [digitocr_plugins.cnn] classifiers: cnn" in r.stdout.splitlines()
    assert "layouts [digitocr_plugins.layouts] segmenters: auto, boxes, cheque, digit, string" in (
        r.stdout.splitlines())


def test_plugins_command_lists_what_each_registers() -> None:
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "cnn [digitocr_plugins.cnn] classifiers: cnn" in lines
    assert "classical [digitocr_plugins.classical] classifiers: knn, svm" in lines
    assert "ensemble [digitocr_plugins.ensemble] classifiers: ensemble" in lines


def test_plugins_json(fake_plugin: None) -> None:
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0
    info = {p["name"]: p for p in json.loads(result.output)}
    assert info["fake-plugin"]["classifiers"] == ["fake"]
    assert info["cnn"]["classifiers"] == ["cnn"]


class Override:
    """A third-party plugin that replaces the built-in ``knn``."""

    @hookimpl
    def register_classifiers(self, register: Any) -> None:
        register("knn", Override)


def test_third_party_plugin_overrides_builtin() -> None:
    plugins.register_plugin(Override(), name="override")
    try:
        assert plugins.get_classifiers()["knn"] is Override
        info = {p["name"]: p for p in plugins.describe()}
        assert info["override"]["classifiers"] == ["knn"]
        assert info["classical"]["overridden"] == ["classifiers:knn"]
    finally:
        plugins.unregister_plugin("override")
    assert plugins.get_classifiers()["knn"].__name__ == "KNNClassifier"


# ------------------------------------------------------------------ one test per hook
# Each registers the example of its section in docs/plugins.md (so the examples stay true) and
# checks the effect through ``read``; tests/test_docs.py checks that every hook has one.


def docs_example(hook: str) -> types.ModuleType:
    """The Python example of ``hook``'s section in docs/plugins.md, run as a module."""
    text = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {hook}(", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    module = types.ModuleType(f"docs_example_{hook}")
    exec(compile(code, f"docs/plugins.md:{hook}", "exec"), module.__dict__)
    return module


@pytest.fixture
def hook_plugin(request: pytest.FixtureRequest) -> Iterator[types.ModuleType]:
    """The docs example of the hook named by the test (``test_hook_<name>``), registered."""
    hook = request.node.name.removeprefix("test_hook_")
    module = docs_example(hook)
    plugins.register_plugin(module, name=f"docs-{hook}")
    try:
        yield module
    finally:
        plugins.unregister_plugin(f"docs-{hook}")


def model_dir(tmp_path: Path, backend: str) -> str:
    d = tmp_path / backend
    d.mkdir()
    (d / "metadata.json").write_text(json.dumps({"backend": backend, "config": {}}))
    return str(d)


def test_hook_register_classifiers(hook_plugin: types.ModuleType, tmp_path: Path) -> None:
    assert plugins.get_classifiers()["uniform"] is hook_plugin.Uniform
    image = save_png(string_image("407"), tmp_path / "a.png")
    (page,) = digitocr.read(image, model=model_dir(tmp_path, "uniform"), layout="string")
    # every digit equally likely: the first class wins, each at 0.1
    assert page.fields[0].text == "000" and page.fields[0].confidence == pytest.approx(1e-3)


def test_hook_register_string_readers(hook_plugin: types.ModuleType, tmp_path: Path) -> None:
    assert plugins.get_string_readers()["sevens"] is hook_plugin.Sevens
    image = save_png(string_image("407"), tmp_path / "a.png")
    (page,) = digitocr.read(image, model=model_dir(tmp_path, "sevens"), layout="string")
    assert set(page.fields[0].text) == {"7"} and page.fields[0].confidence == 0.5


def test_hook_register_segmenters(hook_plugin: types.ModuleType, font_model: str,
                                  tmp_path: Path) -> None:
    assert plugins.get_segmenters()["lefthalf"] is hook_plugin.left_half
    image = save_png(string_image("12345678"), tmp_path / "a.png")
    (page,) = digitocr.read(image, model=font_model, layout="lefthalf")
    assert [f.text for f in page.fields] == ["123456"]
    assert "lefthalf" in digitocr.pipeline.layouts()


def test_hook_register_writers(hook_plugin: types.ModuleType, font_model: str,
                               tmp_path: Path) -> None:
    assert plugins.get_writers()["text"] is hook_plugin.TextWriter
    save_png(string_image("407"), tmp_path / "a.png")
    save_png(string_image("58"), tmp_path / "b.png")
    r = CliRunner().invoke(cli, ["read", str(tmp_path / "a.png"), str(tmp_path / "b.png"),
                                 "--model", font_model, "--layout", "string", "--format", "text"])
    assert r.exit_code == 0, r.output
    assert r.stdout == "407\n58\n"
    plugins.unregister_plugin("docs-register_writers")
    assert "text" not in plugins.get_writers()
    plugins.register_plugin(hook_plugin, name="docs-register_writers")  # for the fixture


def test_hook_register_training_options(hook_plugin: types.ModuleType, tmp_path: Path,
                                        mnist_dir: Path) -> None:
    from digitocr.backends import read_metadata

    plugins.register_plugin(docs_example("register_classifiers"), name="docs-uniform")
    try:
        help_text = CliRunner().invoke(cli, ["train", "--help"]).stdout
        assert help_text.index("--scan") < help_text.index("--smoothing") < help_text.index(
            "--rotation")
        r = CliRunner().invoke(cli, ["train", "knn", "--smoothing", "0.2", "--out",
                                     str(tmp_path / "k")])
        assert r.exit_code == 2
        assert "Error: --smoothing only applies to the uniform backend" in r.stderr
        out = tmp_path / "u"
        r = CliRunner().invoke(cli, ["train", "uniform", "--data", str(mnist_dir), "--limit",
                                     "300", "--smoothing", "0.2", "--set", "k=1", "--out",
                                     str(out)])
        assert r.exit_code == 0, r.output
        config = read_metadata(out)["config"]
        assert (config["smoothing"], config["k"]) == (0.2, 1)
    finally:
        plugins.unregister_plugin("docs-uniform")
    # the plugin unregistered, its option is gone from train
    plugins.unregister_plugin("docs-register_training_options")
    try:
        assert "--smoothing" not in CliRunner().invoke(cli, ["train", "--help"]).stdout
    finally:
        plugins.register_plugin(hook_plugin, name="docs-register_training_options")
