"""``digitocr train crnn``: labelled string folders, fine-tuning, a fitted review threshold."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner
from read_helpers import string_image

from digitocr.backends import read_metadata
from digitocr.cli import cli
from digitocr.errors import DataError
from digitocr.evaluation import ITEMS_FILE
from digitocr.strtrain import read_labels


def labelled(folder: Path, texts: list[str]) -> Path:
    """A folder of string crops made here (Hershey digits) and its labels.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "labels.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["file", "text"])
        for i, text in enumerate(texts):
            cv2.imwrite(str(folder / f"c{i:03d}.png"), string_image(text))
            out.writerow([f"c{i:03d}.png", text])
    return folder


def test_labels_errors_name_the_file_and_line(tmp_path: Path) -> None:
    folder = labelled(tmp_path / "d", ["12", "345"])
    assert [(p.name, t) for p, t in read_labels(folder)] == [("c000.png", "12"),
                                                               ("c001.png", "345")]
    (folder / "labels.csv").write_text("file,text\nc000.png,12\nc001.png,\n")
    with pytest.raises(DataError, match=r"labels.csv, line 3: empty label for c001.png"):
        read_labels(folder)
    (folder / "labels.csv").write_text("file,text\nmissing.png,7\n")
    with pytest.raises(DataError, match=r"line 2: no image missing.png"):
        read_labels(folder)
    (folder / "labels.csv").write_text("name,label\nc000.png,12\n")
    with pytest.raises(DataError, match=r"needs columns 'file' and 'text'"):
        read_labels(folder)
    with pytest.raises(DataError, match=r"no labels.csv"):
        read_labels(tmp_path)


def test_train_refuses_a_model_already_there(tmp_path: Path) -> None:
    data = labelled(tmp_path / "d", ["12", "345", "6789"])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "metadata.json").write_text("{}")
    result = CliRunner().invoke(cli, ["train", "crnn", "--data", str(data), "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "not empty (use --force to overwrite the model there)" in result.output


@pytest.mark.slow
def test_train_crnn_fine_tunes_and_reads(tmp_path: Path) -> None:
    texts = ["12", "305", "4678", "90", "1234", "56", "789", "2468", "13", "5790", "8642",
             "37", "250", "6", "71", "864", "93", "1029", "47", "58"]
    data = labelled(tmp_path / "d", [*texts, "12a"])  # one label outside the alphabet
    out = tmp_path / "m"
    result = CliRunner().invoke(cli, ["train", "crnn", "--data", str(data), "--epochs", "1",
                                      "--copies", "1", "--val-split", "0.2", "--out",
                                      str(out)])
    assert result.exit_code == 0, result.output
    meta = read_metadata(out)
    assert meta["metrics"]["validation_items"] == 4
    assert result.output.endswith(
        f"{out}: validation exact match {meta['metrics']['validation_exact_match']:.4f} "
        f"(4 crops), trained in {meta['wall_time_s']}s\n")
    assert "skipped 1 labels with characters outside '0123456789'" in result.output
    assert meta["train_config"]["init"] == "crnn" and meta["onnx"]["max_abs_diff"] < 1e-4
    assert meta["config"]["min_confidence"] == meta["review_fit"]["min_confidence"]
    assert len(meta["history"]["val_exact_match"]) == 1
    read = CliRunner().invoke(cli, ["read", str(data / "c000.png"), "--layout", "string",
                                    "--model", str(out), "--format", "json"])
    assert read.exit_code == 0, read.output
    (page,) = json.loads(read.output)
    assert page["fields"] and page["fields"][0]["text"].isdigit()
    # the images it trained on are known: evaluate says so
    assert (out / ITEMS_FILE).is_file()
    ev = CliRunner().invoke(cli, ["evaluate", "--model", str(out), "--data", str(data),
                                  "--layout", "string", "--no-figures", "--json"])
    assert ev.exit_code == 0, ev.output
    warnings = json.loads(ev.stdout)["warnings"]
    assert warnings[0] == f"{data} is the folder this model trained on (--data)"
    assert warnings[1].startswith("17 of 21 images (81.0 %) are among the images")
