"""The Python API that ETL jobs use: ``digitocr.read``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

import digitocr
from digitocr.backends import write_metadata


def test_read_api_yields_page_results(tmp_path: Path, fake_plugin: None) -> None:
    from conftest import FakeClassifier

    model = FakeClassifier()
    rng = np.random.default_rng(0)
    x = rng.random((20, 28, 28)).astype(np.float32)
    model.fit(x, np.arange(20) % 10)
    model.save(tmp_path / "m")
    write_metadata(tmp_path / "m", {"backend": "fake", "config": {}})
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 300), 255, np.uint8))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    pages = list(digitocr.read([str(blank), str(tmp_path / "broken.png")],
                               model=str(tmp_path / "m")))
    assert [(p.file, p.page, p.fields, p.error is None) for p in pages] == [
        (str(blank), 1, [], True), (str(tmp_path / "broken.png"), 0, [], False)]
    assert pages[1].error is not None and "broken.png" in pages[1].error
    assert (pages[0].width, pages[0].height) == (300, 200)
