"""The read hooks: a plugin's segmenter and writer are used by ``digitocr read``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pytest
from click.testing import CliRunner
from read_helpers import font_model, save_png, string_image

from digitocr import hookimpl, plugins
from digitocr.cli import cli
from digitocr.results import PageResult
from digitocr.segment import FieldCrops, SegmentOptions, segment_string

__all__ = ["font_model"]


def left_half(image: np.ndarray, opts: SegmentOptions) -> list[FieldCrops]:
    """A plugin layout: only the left half of the image is a string."""
    return segment_string(image[:, : image.shape[1] // 2], opts)


class TextWriter:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, page: PageResult) -> None:
        self.stream.write(" ".join(f.text for f in page.fields) + "\n")

    def close(self) -> None:
        self.stream.write("END\n")


class ReadPlugin:
    @hookimpl
    def register_segmenters(self, register: Any) -> None:
        register("lefthalf", left_half)

    @hookimpl
    def register_writers(self, register: Any) -> None:
        register("text", TextWriter)


@pytest.fixture
def read_plugin() -> Iterator[None]:
    plugins.register_plugin(ReadPlugin(), name="test-read-plugin")
    yield
    plugins.unregister_plugin("test-read-plugin")


def test_builtin_layouts_and_formats_registered() -> None:
    assert {"auto", "boxes", "string", "digit", "cheque"} <= set(plugins.get_segmenters())
    assert {"json", "jsonl", "csv"} <= set(plugins.get_writers())


def test_plugin_segmenter_and_writer(read_plugin: None, font_model: str, tmp_path: Path) -> None:
    save_png(string_image("12345678"), tmp_path / "a.png")
    r = CliRunner().invoke(cli, ["read", str(tmp_path / "a.png"), "--model", font_model,
                                 "--layout", "lefthalf", "--format", "text"])
    assert r.exit_code == 0, r.output
    assert r.stdout == "123456\nEND\n"
    described = {p["name"]: p for p in plugins.describe()}["test-read-plugin"]
    assert described["segmenters"] == ["lefthalf"] and described["writers"] == ["text"]


def test_plugin_overrides_builtin_writer(font_model: str, tmp_path: Path) -> None:
    class Override:
        @hookimpl
        def register_writers(self, register: Any) -> None:
            register("csv", TextWriter)

    plugins.register_plugin(Override(), name="test-override")
    try:
        save_png(string_image("9"), tmp_path / "a.png")
        r = CliRunner().invoke(cli, ["read", str(tmp_path / "a.png"), "--model", font_model,
                                     "--layout", "string", "--format", "csv"])
        assert r.stdout == "9\nEND\n"
    finally:
        plugins.unregister_plugin("test-override")
