"""read(): exact texts with a fake classifier, review flags, templates, workers, error records."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from read_helpers import FontTemplateClassifier, font_model, form_page, save_png, string_image

from digitocr.errors import InputError, OutputError, TemplateError
from digitocr.pipeline import ReadOptions, load_template, read, read_image
from digitocr.results import validate
from digitocr.writers import get_writer

__all__ = ["font_model"]


def texts(pages: list) -> list[list[str]]:
    return [[f.text for f in p.fields] for p in pages]


def test_form_read_exactly(font_model: str, tmp_path: Path) -> None:
    save_png(form_page(), tmp_path / "form.png")
    (page,) = read([tmp_path / "form.png"], font_model)
    assert page.error is None and (page.width, page.height) == (900, 520)
    assert [f.text for f in page.fields] == ["40721", "386", "95"]
    f = page.fields[0]
    assert f.index == 1 and f.needs_review is False and f.confidence > 0.9
    g = f.glyphs[0]
    assert g.label == "4" and g.alternatives[0][0] == "4"
    assert len(g.alternatives) == 3
    validate(page.to_dict())


def test_one_batched_call_per_page(tmp_path: Path) -> None:
    calls: list[int] = []

    class Counting(FontTemplateClassifier):
        def predict_proba(self, x: np.ndarray) -> np.ndarray:
            calls.append(len(x))
            return super().predict_proba(x)

    read_image(form_page(), Counting())
    assert len(calls) == 1 and calls[0] == 10


def test_candidate_cut_chosen_by_confidence() -> None:
    page = read_image(string_image("68", gap=-4), FontTemplateClassifier(),
                      ReadOptions(layout="string"))
    assert [f.text for f in page.fields] == ["68"]


def test_separators_left_out_of_text() -> None:
    page = read_image(string_image("12.50"), FontTemplateClassifier(), ReadOptions(layout="string"))
    (f,) = page.fields
    assert f.text == "1250"
    assert [g.label for g in f.glyphs] == ["1", "2", ".", "5", "0"]
    assert f.glyphs[2].kind == "separator"


def test_min_confidence_marks_review() -> None:
    class Unsure(FontTemplateClassifier):
        def predict_proba(self, x: np.ndarray) -> np.ndarray:
            p = super().predict_proba(x)
            p[0] = np.full(10, 0.1, np.float32)  # first crop: no idea
            return p

    page = read_image(string_image("407"), Unsure(), ReadOptions(layout="string",
                                                                 min_confidence=0.5))
    (f,) = page.fields
    assert f.text == "007" and f.needs_review is True  # best guess kept (all tied: 0), flagged
    assert f.glyphs[0].label == "0" and f.glyphs[0].confidence == pytest.approx(0.1)


def test_errors_become_records_and_batch_goes_on(font_model: str, tmp_path: Path) -> None:
    save_png(string_image("12"), tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"")
    (tmp_path / "c.png").write_bytes(b"not an image")
    save_png(string_image("3"), tmp_path / "d.png")
    files = [tmp_path / n for n in ("a.png", "b.png", "c.png", "missing.png", "d.png")]
    pages = list(read(files, font_model, "string"))
    assert [p.error is None for p in pages] == [True, False, False, False, True]
    assert "empty file" in (pages[1].error or "")
    assert "not an image" in (pages[2].error or "")
    assert "no such file" in (pages[3].error or "")
    assert texts(pages) == [["12"], [], [], [], ["3"]]
    for p in pages:
        validate(p.to_dict())


def test_workers_keep_input_order(font_model: str, tmp_path: Path) -> None:
    names = []
    for i, s in enumerate(["1", "22", "333", "4", "55", "6"]):
        save_png(string_image(s), tmp_path / f"{i}.png")
        names.append(tmp_path / f"{i}.png")
    (tmp_path / "bad.png").write_bytes(b"x")
    names.insert(3, tmp_path / "bad.png")
    one = [p.to_dict() for p in read(names, font_model, "string")]
    two = [p.to_dict() for p in read(names, font_model, "string", workers=2)]
    assert one == two
    assert [p["fields"][0]["text"] if p["fields"] else None for p in two] == [
        "1", "22", "333", None, "4", "55", "6"]


def test_forked_workers_get_their_share_of_opencvs_threads(tmp_path: Path) -> None:
    """Run in a fresh process: with TensorFlow imported (other tests train), the pool spawns."""
    import subprocess

    for i, s in enumerate(["1", "22", "333"]):
        save_png(string_image(s), tmp_path / f"{i}.png")
    code = f"""
import json, sys, cv2
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from read_helpers import FontPlugin, BACKEND
from digitocr import plugins
from digitocr.pipeline import read
from digitocr.pool import default_workers
plugins.register_plugin(FontPlugin(), name="test-font-classifier")
d = {str(tmp_path / "m")!r}
import os, pathlib
pathlib.Path(d).mkdir()
pathlib.Path(d, "metadata.json").write_text(json.dumps({{"backend": BACKEND, "config": {{}}}}))
cv2.setNumThreads(2)
seen = []
names = [{", ".join(repr(str(tmp_path / f"{i}.png")) for i in range(3))}]
pages = list(read(names, d, "string", workers=2,
                  progress=lambda done, total, path: seen.append(cv2.getNumThreads())))
print(json.dumps({{"texts": [p.fields[0].text for p in pages], "seen": seen,
                  "after": cv2.getNumThreads(), "share": max(1, default_workers() // 2),
                  "tf": "tensorflow" in sys.modules}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.splitlines()[-1])
    assert got["texts"] == ["1", "22", "333"] and not got["tf"]
    assert got["seen"] == [got["share"]] * 3  # the parent's count while the workers are forked
    assert got["after"] == 2  # given back once the pool is done


def test_a_read_left_unfinished_ends_quietly(tmp_path: Path) -> None:
    """An ETL loop that stops early (``zip`` with a shorter list) leaves ``read``'s generator
    suspended; the interpreter closes it at exit, the pool with it, without a traceback."""
    import subprocess

    for i, s in enumerate(["1", "22", "333", "4"]):
        save_png(string_image(s), tmp_path / f"{i}.png")
    code = f"""
import json, sys, pathlib
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from read_helpers import FontPlugin, BACKEND
from digitocr import plugins
from digitocr.pipeline import read
plugins.register_plugin(FontPlugin(), name="test-font-classifier")
d = pathlib.Path({str(tmp_path / "m")!r})
d.mkdir()
(d / "metadata.json").write_text(json.dumps({{"backend": BACKEND, "config": {{}}}}))
names = [{", ".join(repr(str(tmp_path / f"{i}.png")) for i in range(4))}]
pages = read(names, str(d), "string", workers=2)
print([p.fields[0].text for _, p in zip(range(2), pages)])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines()[-1] == "['1', '22']"
    assert "Traceback" not in out.stderr and "Exception ignored" not in out.stderr, out.stderr


def test_template_fields_are_named(font_model: str, tmp_path: Path) -> None:
    tmpl = tmp_path / "t.json"
    tmpl.write_text(json.dumps({"width": 900, "height": 520, "fields": [
        {"name": "account", "bbox": [95, 95, 410, 106]},
        {"name": "amount", "bbox": [95, 255, 470, 130], "layout": "boxes"},
        {"name": "empty", "bbox": [600, 200, 100, 50]},
    ]}))
    save_png(form_page(), tmp_path / "f.png")
    (page,) = read([tmp_path / "f.png"], font_model, template=tmpl)
    assert [(f.name, f.text) for f in page.fields] == [
        ("account", "40721"), ("amount", "386"), ("empty", "")]
    assert page.fields[0].bbox == (95, 95, 410, 106)
    validate(page.to_dict())


@pytest.mark.parametrize("content,message", [
    ("nope", "not valid JSON"), ('{"fields": []}', "non-empty"),
    ('{"fields": [{"name": "a", "bbox": [1, 2, 0, 4]}]}', "w, h > 0"),
])
def test_bad_templates(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "t.json").write_text(content)
    with pytest.raises(TemplateError, match=message):
        load_template(tmp_path / "t.json")


def test_annotate_writes_png(font_model: str, tmp_path: Path) -> None:
    save_png(form_page(), tmp_path / "f.png")
    list(read([tmp_path / "f.png"], font_model, annotate=tmp_path / "ann"))
    assert (tmp_path / "ann" / "f.png-p1.png").is_file()


def test_unknown_layout_and_format(font_model: str) -> None:
    layouts = r"^unknown layout 'nope' \(known: auto, boxes, cheque, digit, string\)$"
    with pytest.raises(InputError, match=layouts):
        list(read([], font_model, "nope"))
    formats = r"^unknown output format 'xml' \(known: csv, json, jsonl, parquet, wide\)$"
    with pytest.raises(OutputError, match=formats):
        get_writer("xml")


def test_progress_callback(font_model: str, tmp_path: Path) -> None:
    save_png(string_image("1"), tmp_path / "a.png")
    seen: list[tuple[int, int]] = []
    list(read([tmp_path / "a.png", tmp_path / "a.png"], font_model, "string",
              progress=lambda d, t, p: seen.append((d, t))))
    assert seen == [(1, 2), (2, 2)]


def test_a_field_of_separators_only_is_flagged_not_a_sure_blank() -> None:
    from digitocr.fields import _field
    from digitocr.results import Glyph
    from digitocr.segment import FieldCrops

    dash = Glyph((10, 10, 8, 2), "-", 1.0, kind="separator")
    assert _field(1, FieldCrops((0, 0, 40, 20), []), [dash], 0.9).needs_review
    assert not _field(1, FieldCrops((0, 0, 40, 20), []), [], 0.9).needs_review  # nothing there
    assert not _field(1, FieldCrops((0, 0, 40, 20), []), [dash], 0.0).needs_review  # review off


def test_review_reasons_are_one_rule_for_every_reader() -> None:
    from digitocr.results import (
        AMOUNT_UNREAD,
        EMPTY_CELL,
        LOW_CONFIDENCE,
        NO_DIGIT,
        PRINTED_LINES,
        READERS_DISAGREE,
        UNSURE_CHARACTER,
        review_reasons,
    )

    assert review_reasons(0.95, "12", 0.9) == ()
    assert review_reasons(0.5, "1?", 0.9) == (LOW_CONFIDENCE, UNSURE_CHARACTER)
    assert review_reasons(1.0, "", 0.9) == (NO_DIGIT,)  # a string crop read empty
    assert review_reasons(1.0, "", 0.9, ink=False) == ()  # a blank field
    assert review_reasons(1.0, "12", 0.9, amount=True, value=None) == (AMOUNT_UNREAD,)
    assert review_reasons(1.0, "12", 0.9, amount=True, value="12.00") == ()
    assert review_reasons(1.0, "121", 0.9, lines=True) == (PRINTED_LINES,)
    assert review_reasons(1.0, "", 0.9, ink=False, lines=True) == ()  # nothing read off them
    # without a threshold only a disagreement and an empty cut cell flag a field
    assert review_reasons(0.1, "?", 0.0, amount=True) == ()
    assert review_reasons(0.1, "", 0.0, agree=False, cell=True) == (READERS_DISAGREE, EMPTY_CELL)
