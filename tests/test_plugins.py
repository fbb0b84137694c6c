"""The plugin host: entry points, registries, overrides, and ``digitocr plugins``."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from digitocr import hookimpl, plugins
from digitocr.cli import cli


def test_builtins_load_through_entry_points() -> None:
    classifiers = plugins.get_classifiers()
    assert {"cnn", "knn", "svm", "ensemble"} <= set(classifiers)
    names = {name for name, _ in plugins.get_plugin_manager().list_name_plugin()}
    assert {"cnn", "classical", "ensemble"} <= names


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


class Segs:
    @hookimpl
    def register_segmenters(self, register: Any) -> None:
        register("test-seg", object)

    @hookimpl
    def register_writers(self, register: Any) -> None:
        register("test-writer", object)


def test_segmenter_and_writer_hooks() -> None:
    plugins.register_plugin(Segs(), name="segs")
    try:
        assert plugins.get_segmenters()["test-seg"] is object
        assert plugins.get_writers()["test-writer"] is object
    finally:
        plugins.unregister_plugin("segs")
    assert "test-seg" not in plugins.get_segmenters()
