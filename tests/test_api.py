"""The Python API that ETL jobs use: ``digitocr.read``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import digitocr
import digitocr.results
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


SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def records(pages: list[digitocr.results.PageResult], name: str = "") -> list[dict[str, object]]:
    """The pages' records, with the file name replaced (in-memory reads name their own)."""
    return [{**p.to_dict(), "file": name} for p in pages]


def test_read_takes_one_path_as_a_string() -> None:
    one = list(digitocr.read(str(SAMPLES / "forms.pdf"), model="cnn"))
    assert [p.page for p in one] == [1, 2]
    assert one == list(digitocr.read([SAMPLES / "forms.pdf"], model="cnn"))


def test_reader_reads_paths_bytes_and_arrays_alike() -> None:
    reader = digitocr.Reader(model="cnn")
    pdf = SAMPLES / "forms.pdf"
    from_path = reader.read(str(pdf))
    assert len(from_path) == 2 and all(p.fields for p in from_path)
    from_bytes = reader.read_bytes(pdf.read_bytes(), name="upload.pdf")
    assert [p.file for p in from_bytes] == ["upload.pdf"] * 2
    assert records(from_bytes) == records(from_path)
    jpg = SAMPLES / "form-scan.jpg"
    page = reader.read(jpg)[0]
    (again,) = digitocr.read(str(jpg), model="cnn")
    assert page.to_dict() == again.to_dict()
    gray = cv2.imread(str(jpg), cv2.IMREAD_GRAYSCALE)
    from_array = reader.read_image(gray, name="frame")
    assert records([from_array]) == records([page])


def test_reader_gives_error_records_not_exceptions_for_bad_input() -> None:
    reader = digitocr.Reader(model="cnn")
    assert [(p.page, p.error) for p in reader.read_bytes(b"not an image", name="x.bin")] == [
        (0, "x.bin: not an image or PDF this reader knows")]
    assert reader.read_bytes(b"")[0].error == "<bytes>: empty input (0 bytes)"
    with pytest.raises(TypeError, match="read_bytes takes bytes, not str"):
        reader.read_bytes("form.png")  # type: ignore[arg-type]
