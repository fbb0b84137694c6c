"""Output an ETL job loads as is: a CSV row for every page (blank and failed ones too), a row
per page (``wide``), parquet, provenance on every record, and the JSON Schema of each."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from read_helpers import font_model, form_page, save_png, string_image

from digitocr import __version__
from digitocr.cli import cli
from digitocr.provenance import model_sha256
from digitocr.results import schema, validate
from digitocr.writers import CSV_COLUMNS, WIDE_PAGE_COLUMNS, field_rows, wide_columns

__all__ = ["font_model"]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["read", *args], catch_exceptions=False)


@pytest.fixture
def batch(tmp_path: Path) -> list[str]:
    """A form (three fields), a string crop, a blank page and a broken file."""
    d = tmp_path / "in"
    d.mkdir()
    save_png(form_page(), d / "a-form.png")
    save_png(string_image("407"), d / "b-crop.png")
    save_png(np.full((120, 300), 255, np.uint8), d / "c-blank.png")
    (d / "d-broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return [str(d / n) for n in ("a-form.png", "b-crop.png", "c-blank.png", "d-broken.png")]


def records(batch: list[str], model: str, *extra: str) -> list[dict[str, object]]:
    r = run(*batch, "--model", model, "--format", "jsonl", "-q", *extra)
    assert r.exit_code == 1  # the broken file
    return [json.loads(ln) for ln in r.stdout.splitlines()]


def test_every_record_carries_provenance(batch: list[str], font_model: str) -> None:
    recs = records(batch, font_model)
    assert [Path(str(r["file"])).name for r in recs] == [Path(f).name for f in batch]
    prov = {"digitocr": __version__, "model": font_model,
            "model_sha256": model_sha256(font_model), "layout": "auto"}
    assert all(r["provenance"] == prov for r in recs)
    for r in recs:
        validate(r)


def test_checksum_follows_the_model_files(font_model: str, tmp_path: Path) -> None:
    before = model_sha256(font_model)
    (Path(font_model) / "weights.bin").write_bytes(b"\x00" * 10)
    after = model_sha256(font_model)
    assert len(before) == len(after) == 64 and before != after
    assert model_sha256("auto") not in (model_sha256("cnn"), model_sha256("crnn"))


def test_csv_has_a_row_for_every_page(batch: list[str], font_model: str) -> None:
    r = run(*batch, "--model", font_model, "--format", "csv", "-q")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    recs = records(batch, font_model)
    want = []
    for rec in recs:
        fields = rec["fields"] or [None]
        for f in fields:  # type: ignore[union-attr]
            want.append((rec["file"], str(rec["page"]), f and str(f["index"]),
                         f and f["text"], rec.get("error", "")))
    assert [(r["file"], r["page"], r["field"] or None, r["text"] or None, r["error"])
            for r in rows] == want
    blank, broken = rows[-2], rows[-1]
    assert blank["field"] == "" and blank["needs_review"] == "false" and blank["error"] == ""
    assert broken["needs_review"] == "true" and "d-broken.png: " in broken["error"]
    assert {(r["digitocr"], r["model"], r["layout"]) for r in rows} == {
        (__version__, font_model, "auto")}
    assert list(rows[0]) == list(CSV_COLUMNS)


def test_wide_rows_are_pages_with_a_column_per_field(batch: list[str], font_model: str
                                                      ) -> None:
    r = run(*batch, "--model", font_model, "--per-page", "-q")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    recs = records(batch, font_model)
    most = max(len(rec["fields"]) for rec in recs)  # type: ignore[arg-type]
    assert most == 3
    assert list(rows[0]) == wide_columns([f"field_{i}" for i in range(1, most + 1)])
    assert len(rows) == len(recs)  # one row per page, blank and failed pages too
    for row, rec in zip(rows, recs, strict=True):
        fields = rec["fields"]
        assert row["file"] == rec["file"] and row["page"] == str(rec["page"])
        for i in range(1, most + 1):
            f = fields[i - 1] if i <= len(fields) else None  # type: ignore[arg-type]
            assert row[f"field_{i}"] == (f["text"] if f else "")
            assert row[f"field_{i}_needs_review"] == (
                ("true" if f["needs_review"] else "false") if f else "")
        review = "error" in rec or any(f["needs_review"] for f in fields)  # type: ignore
        assert row["needs_review"] == ("true" if review else "false")
    assert rows[-1]["error"].startswith(batch[-1])


def test_wide_with_a_template_names_its_columns_and_resumes(font_model: str, tmp_path: Path
                                                            ) -> None:
    save_png(form_page(), tmp_path / "f1.png")
    save_png(form_page(account="11111"), tmp_path / "f2.png")
    tmpl = tmp_path / "t.json"
    tmpl.write_text(json.dumps({"fields": [{"name": "acct", "bbox": [95, 95, 410, 106]},
                                           {"name": "empty", "bbox": [600, 200, 100, 50]}]}))
    out = tmp_path / "o.csv"
    args = ["--model", font_model, "--template", str(tmpl), "--per-page", "-o", str(out),
            "--resume"]
    assert run(str(tmp_path / "f1.png"), *args).exit_code == 0
    assert run(str(tmp_path / "f1.png"), str(tmp_path / "f2.png"), *args).exit_code == 0
    rows = list(csv.DictReader(out.open(newline="")))
    assert list(rows[0]) == wide_columns(["acct", "empty"])
    assert [(Path(r["file"]).name, r["acct"], r["empty"]) for r in rows] == [
        ("f1.png", "40721", ""), ("f2.png", "11111", "")]


def test_parquet_holds_the_csv_rows_typed(batch: list[str], font_model: str,
                                          tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "o.parquet"
    r = run(*batch, "--model", font_model, "-o", str(out), "-q")
    assert r.exit_code == 1
    table = pq.read_table(out)
    assert table.column_names == list(CSV_COLUMNS)
    rows = table.to_pylist()
    csv_rows = list(csv.DictReader(io.StringIO(run(*batch, "--model", font_model, "--format",
                                                   "csv", "-q").stdout)))

    def as_csv(v: object) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    assert [{k: as_csv(v) for k, v in row.items()} for row in rows] == csv_rows
    row_schema = {**schema()["$defs"]["csv_row"], "$defs": schema()["$defs"]}
    import jsonschema

    for row in rows:
        jsonschema.validate(row, row_schema)


def test_schema_covers_every_format() -> None:
    defs = schema()["$defs"]
    assert defs["csv_row"]["required"] == list(CSV_COLUMNS)
    assert set(defs["csv_row"]["properties"]) == set(CSV_COLUMNS)
    wide = defs["wide_row"]
    assert set(wide["required"]) == set(wide_columns([]))
    assert set(WIDE_PAGE_COLUMNS) <= set(wide["properties"])
    assert "provenance" in schema()["properties"]
    assert set(defs["provenance"]["required"]) == set(CSV_COLUMNS[-4:])
    from digitocr.results import PageResult

    (row,) = field_rows(PageResult("x.png", 1))
    assert set(row) == set(CSV_COLUMNS)


def test_valid_is_in_every_format(font_model: str, tmp_path: Path) -> None:
    """A field with rules carries ``valid`` in csv, wide and parquet as in JSON; a field
    without rules has it empty (null)."""
    save_png(form_page(), tmp_path / "f.png")
    box = [95, 95, 410, 106]
    tmpl = tmp_path / "t.json"
    tmpl.write_text(json.dumps({"fields": [
        {"name": "acct", "bbox": box, "type": "digits", "length": 5},
        {"name": "short", "bbox": box, "type": "digits", "length": 3},
        {"name": "plain", "bbox": box}]}))
    args = [str(tmp_path / "f.png"), "--model", font_model, "--template", str(tmpl), "-q"]
    (rec,) = [json.loads(ln) for ln in run(*args, "--format", "jsonl").stdout.splitlines()]
    assert [(f["name"], f.get("valid")) for f in rec["fields"]] == [
        ("acct", True), ("short", False), ("plain", None)]
    rows = list(csv.DictReader(io.StringIO(run(*args, "--format", "csv").stdout)))
    assert [(r["field"], r["valid"]) for r in rows] == [
        ("acct", "true"), ("short", "false"), ("plain", "")]
    (wide,) = csv.DictReader(io.StringIO(run(*args, "--per-page").stdout))
    assert [wide[f"{k}_valid"] for k in ("acct", "short", "plain")] == ["true", "false", ""]
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "o.parquet"
    assert run(*args, "-o", str(out)).exit_code == 0
    assert pq.read_table(out).column("valid").to_pylist() == [True, False, None]
