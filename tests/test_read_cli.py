"""``digitocr read`` through Click's CliRunner: exact JSON/JSONL/CSV, exit codes, atomic output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from read_helpers import font_model, form_page, save_png, string_image

from digitocr.cli import cli
from digitocr.results import validate
from digitocr.writers import open_output

__all__ = ["font_model"]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["read", *args], catch_exceptions=False)


def test_csv_exact(font_model: str, files: Path) -> None:
    r = run(str(files), "--model", font_model, "--layout", "string", "--format", "csv")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == ("file,page,field,text,confidence,needs_review,x,y,w,h,error,value,valid,"
                        "style,row,col,digitocr,model,model_sha256,layout")
    rows = [ln.split(",") for ln in lines[1:]]
    assert [(Path(r[0]).name, r[1], r[2], r[3], r[5], r[6:10]) for r in rows] == [
        # the field is the writing's box with a quarter of its height of paper round it
        ("a.png", "1", "1", "407", "false", ["8", "13", "157", "70"]),
        ("b.png", "1", "1", "125", "false", ["6", "11", "184", "85"]),
    ]
    from digitocr import __version__
    from digitocr.provenance import model_sha256

    assert {tuple(r[12:]) for r in rows} == {  # valid: empty, no rules; no table: no row, col
        ("", "handwritten", "", "", __version__, font_model, model_sha256(font_model),
         "string")}


def test_jsonl_and_json_agree(font_model: str, files: Path) -> None:
    r1 = run(str(files), "--model", font_model, "--layout", "string", "--format", "jsonl")
    r2 = run(str(files), "--model", font_model, "--layout", "string")
    recs = [json.loads(ln) for ln in r1.stdout.splitlines()]
    assert recs == json.loads(r2.stdout)
    assert [(Path(p["file"]).name, p["page"], [f["text"] for f in p["fields"]]) for p in recs] == [
        ("a.png", 1, ["407"]), ("b.png", 1, ["125"])]
    for rec in recs:
        validate(rec)
    glyph = recs[1]["fields"][0]["glyphs"][2]
    assert glyph == {"bbox": glyph["bbox"], "label": ".", "kind": "separator", "confidence": 1.0,
                     "alternatives": []}


def test_failed_file_exit_1_with_error_record(font_model: str, files: Path) -> None:
    (files / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    r = run(str(files), "--model", font_model, "--layout", "string", "--format", "jsonl")
    assert r.exit_code == 1
    recs = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert [bool(p.get("error")) for p in recs] == [False, False, True]
    assert recs[2]["fields"] == [] and recs[2]["page"] == 0
    assert "error:" in r.stderr
    validate(recs[2])


def test_usage_errors_exit_2(font_model: str, files: Path) -> None:
    assert run().exit_code == 2
    assert run(str(files), "--layout", "nope").exit_code == 2
    assert run(str(files), "--format", "xml").exit_code == 2
    assert run(str(files), "--min-confidence", "2").exit_code == 2


def test_bad_model_is_one_clear_line(files: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["read", str(files), "--model", str(tmp_path / "none")])
    assert r.exit_code == 2 and "no model named" in r.output
    assert "Traceback" not in r.output


def test_output_file_atomic_and_format_from_suffix(font_model: str, files: Path,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    r = run(str(files), "--model", font_model, "--layout", "string", "-o", str(out))
    assert r.exit_code == 0 and r.stdout == ""
    assert out.read_text().splitlines()[0].startswith("file,page,field")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    out.write_text("old")
    with pytest.raises(RuntimeError), open_output(out) as fh:
        fh.write("partial")
        raise RuntimeError("boom")
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_min_confidence_option(font_model: str, tmp_path: Path) -> None:
    save_png(form_page(), tmp_path / "f.png")
    r = run(str(tmp_path / "f.png"), "--model", font_model, "--min-confidence", "1.0",
            "--format", "csv")
    rows = [ln.split(",") for ln in r.stdout.splitlines()[1:]]
    assert [(row[3].count("?") > 0, row[5]) for row in rows] == [(False, "true")] * 3


def test_stdin(font_model: str) -> None:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(string_image("58")).save(buf, format="PNG")
    r = CliRunner().invoke(cli, ["read", "-", "--model", font_model, "--layout", "string",
                                 "--format", "jsonl"], input=buf.getvalue())
    assert r.exit_code == 0
    rec = json.loads(r.stdout)
    assert rec["file"] == "<stdin>" and rec["fields"][0]["text"] == "58"


def test_workers_and_template_and_annotate(font_model: str, tmp_path: Path) -> None:
    save_png(form_page(), tmp_path / "f1.png")
    save_png(form_page(account="11111"), tmp_path / "f2.png")
    tmpl = tmp_path / "t.json"
    tmpl.write_text(json.dumps({"fields": [{"name": "acct", "bbox": [95, 95, 410, 106]}]}))
    r = run(str(tmp_path / "f1.png"), str(tmp_path / "f2.png"), "--model", font_model,
            "--workers", "2", "--template", str(tmpl), "--annotate", str(tmp_path / "ann"),
            "--format", "csv")
    assert r.exit_code == 0
    rows = [ln.split(",")[1:4] for ln in r.stdout.splitlines()[1:]]
    assert rows == [["1", "acct", "40721"], ["1", "acct", "11111"]]
    assert sorted(p.name for p in (tmp_path / "ann").iterdir()) == ["f1.png-p1.png",
                                                                   "f2.png-p1.png"]
