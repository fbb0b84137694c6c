"""``digitocr evaluate`` on labelled strings: scores as an ETL job sees them, and overlap."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
from click.testing import CliRunner
from read_helpers import string_image

from digitocr.cli import cli
from digitocr.evaluation import (
    ITEMS_FILE,
    Item,
    digit_overlap,
    figures_folder,
    overlap,
    read_item_digests,
    string_metrics,
    write_item_digests,
)


def item(truth: str, text: str, conf: float, review: bool) -> Item:
    return Item(Path("x.png"), truth, text, conf, review)


def test_string_metrics_count_as_an_etl_job_would() -> None:
    items = [
        item("123", "123", 0.99, False),  # right
        item("456", "458", 0.95, False),  # wrong and trusted: the worst case
        item("78", "7", 0.40, True),  # wrong but flagged
        item("12b", "12", 0.90, True),  # not a digit label: right only because flagged
        item("Sn", "5", 0.97, False),  # not a digit label, not flagged: wrong
    ]
    m = string_metrics(items)
    assert {k: m[k] for k in ("n", "digit_labels", "exact_match", "cer", "flagged",
                              "unflagged", "unflagged_wrong", "right_or_flagged",
                              "other_labels_flagged")} == {
        "n": 5, "digit_labels": 3, "exact_match": round(1 / 3, 4),
        "cer": round(2 / 8, 4),  # one substitution, one deletion over 8 characters
        "flagged": 0.4, "unflagged": 3, "unflagged_wrong": round(2 / 3, 4),
        "right_or_flagged": 0.6, "other_labels_flagged": 0.5}
    assert m["per_length"] == {"2": {"n": 1, "exact": 0.0}, "3": {"n": 2, "exact": 0.5}}
    assert 0 <= m["ece"] <= 1 and 0 <= m["aurc"] <= 1


def test_overlap_names_the_training_folder_and_counts_seen_images(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    images = []
    for i in range(4):
        p = folder / f"{i}.png"
        cv2.imwrite(str(p), np.full((10, 10 + i), 255, np.uint8))
        images.append(p)
    model = tmp_path / "model"
    model.mkdir()
    write_item_digests(model, images[:3])
    assert len(read_item_digests(model) or ()) == 3
    assert read_item_digests(tmp_path) is None
    meta = {"train_config": {"data": str(tmp_path / "other"), "val": str(folder)}}
    assert overlap(model, meta, folder, images) == [
        f"{folder} is the folder this model chose its review threshold on (--val)",
        "3 of 4 images (75.0 %) are among the images this model trained on"]
    (model / ITEMS_FILE).unlink()
    assert overlap(model, {"train_config": {}}, folder, images) == []


def test_digit_overlap_knows_the_extra_files_hold_out() -> None:
    meta = {"training": {"sources": ["mnist:train", "npz:usps-train.npz:train"]},
            "train_config": {"extra_holdout": 0.2}}
    assert digit_overlap(meta, "npz:usps-train.npz") == [
        "this model trained on 80 % of it (all but its hold-out): npz:usps-train.npz is not "
        "held-out data"]
    assert digit_overlap(meta, "mnist:train") == [
        "this model trained on it: mnist:train is not held-out data"]
    assert digit_overlap(meta, "mnist:test") == []
    assert digit_overlap({}, "mnist:test") == []


def test_figures_folder_is_named_by_model_and_data() -> None:
    assert figures_folder("runs/crnn-a", "data/danish/validation") == Path(
        "evaluation/crnn-a--validation")
    assert figures_folder("cnn", "mnist-test") == Path("evaluation/cnn--mnist-test")


def test_evaluate_a_labelled_string_folder(tmp_path: Path) -> None:
    folder = tmp_path / "amounts"
    folder.mkdir()
    rows = [("250", "250"), ("1234", "1234"), ("907", "907"), ("x", "12b")]
    with open(folder / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "text"])
        for name, text in rows:
            digits = "".join(c for c in text if c.isdigit())
            cv2.imwrite(str(folder / f"{name}.png"), string_image(digits))
            w.writerow([f"{name}.png", text])
    figures = tmp_path / "fig"
    result = CliRunner().invoke(cli, ["evaluate", "--model", "cnn", "--data", str(folder),
                                      "--layout", "string", "--figures", str(figures),
                                      "--json"])
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout)
    assert (m["n"], m["digit_labels"], m["layout"]) == (4, 3, "string")
    assert m["exact_match"] == 1.0 and m["cer"] == 0.0  # printed digits, read right
    assert m["per_length"] == {"3": {"n": 2, "exact": 1.0}, "4": {"n": 1, "exact": 1.0}}
    assert "warnings" not in m
    assert sorted(Path(p).name for p in m["figures"]) == [
        "mistakes.png", "reliability.png", "risk_coverage.png"]
    assert all(Path(p).stat().st_size > 1000 for p in m["figures"])
    text = CliRunner().invoke(cli, ["evaluate", "--model", "cnn", "--data", str(folder),
                                    "--layout", "string", "--no-figures", "--limit", "3"])
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[:3] == ["3 images, 3 with digit labels",
                                            "exact match      100.00 %",
                                            "CER              0.00 %"]
