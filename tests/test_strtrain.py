"""``digitocr train crnn``: labelled string folders, fine-tuning, a fitted review threshold."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from read_helpers import string_image

from digitocr.backends import read_metadata
from digitocr.cli import cli
from digitocr.errors import DataError
from digitocr.evaluation import ITEMS_FILE
from digitocr.strtrain import read_labels


def text_image(text: str) -> np.ndarray:
    """A crop of any Hershey-font text (digits and letters), dark on white."""
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 2.0, 5)
    img = np.full((h + base + 40, w + 40), 255, np.uint8)
    cv2.putText(img, text, (20, 20 + h), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 0, 5, cv2.LINE_AA)
    return img


def labelled(folder: Path, texts: list[str]) -> Path:
    """A folder of string crops made here (Hershey digits; letters drawn as text) and its
    labels.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "labels.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["file", "text"])
        for i, text in enumerate(texts):
            img = string_image(text) if text.isdigit() else text_image(text)
            cv2.imwrite(str(folder / f"c{i:03d}.png"), img)
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
    assert meta["config"]["jitter"] == 0.0 == meta["train_config"]["jitter"]
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


@pytest.mark.parametrize(("alphabet", "message"), [
    ("0123456789a-", "only digits and ASCII letters (not '-')"),
    ("01234567899", "a character appears twice"),
    ("0123?", "only digits and ASCII letters (not '?')"),
])
def test_train_refuses_an_alphabet_read_cannot_write(tmp_path: Path, alphabet: str,
                                                     message: str) -> None:
    data = labelled(tmp_path / "d", ["12", "345"])
    result = CliRunner().invoke(cli, ["train", "crnn", "--data", str(data), "--alphabet",
                                      alphabet, "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert result.output.endswith(f"--alphabet: alphabet {alphabet!r}: {message}\n")
    result = CliRunner().invoke(cli, ["train", "knn", "--alphabet", "0123456789ab", "--out",
                                      str(tmp_path / "k")])
    assert result.exit_code == 2
    assert "--alphabet only applies to string readers (crnn)" in result.output


def test_letters_reach_the_output_and_are_not_an_amount() -> None:
    """A reading with letters decodes with the reader's alphabet, is a valid page record, and
    never becomes an amount's value."""
    from digitocr.combined import string_amount_value
    from digitocr.results import Glyph, PageResult, validate
    from digitocr.strings import ctc_greedy, field_from_reading

    alphabet = "0123456789ab"
    path = [1, 12, 10, 10, 2, 12, 11]  # 1 a 2 b, the blank is class 12
    probs = np.full((len(path), 13), 0.01)
    probs[np.arange(len(path)), path] = 0.88
    (reading,) = ctc_greedy(probs[None], alphabet=alphabet)
    assert reading.text == "1a2b"
    assert [c.label for c in reading.chars] == ["1", "a", "2", "b"]
    with pytest.raises(ValueError, match="13 classes per step, expected 11"):
        ctc_greedy(probs[None])  # a digit alphabet cannot decode it
    field = field_from_reading(1, (0, 0, 80, 30), None, reading, 0.5)
    assert field.text == "1a2b"
    validate(PageResult("a.png", 1, 80, 30, [field]).to_dict())
    check = field.__class__(1, (0, 0, 80, 30), "1122", 0.9, False,
                            [Glyph((0, 0, 1, 1), d, 0.9, []) for d in "11.22"])
    assert string_amount_value(check, "1a22") is None
    assert string_amount_value(check, "1122") == "11.22"


@pytest.mark.slow
def test_train_crnn_learns_a_wider_alphabet(tmp_path: Path) -> None:
    """--alphabet 0123456789ab: labels with a or b are learnt (only c is skipped), the output
    layer grows from the shipped digits' (their rows and the blank's kept), and the alphabet
    travels with the model through save, ONNX and load."""
    from digitocr_plugins.crnn import CRNNReader

    from digitocr.backends import load_string_reader
    from digitocr.strtrain import load_set

    alphabet = "0123456789ab"
    texts = ["12", "3a", "45b", "6789", "ab", "1b2", "90", "a7", "58", "b4", "36", "2a0"]
    data = labelled(tmp_path / "d", [*texts, "4c"])
    said: list[str] = []
    load_set(read_labels(data), "0123456789", said.append)
    assert said == ["skipped 8 labels with characters outside '0123456789'"]
    said.clear()
    load_set(read_labels(data), alphabet, said.append)
    assert said == [f"skipped 1 labels with characters outside {alphabet!r}"]

    # the widened network starts from the digit reader: same odds among digits and blank
    shipped = CRNNReader.load_keras(Path("models/crnn"))
    wide = CRNNReader(alphabet=alphabet)
    assert wide.init_network(Path("models/crnn")) == "0123456789"
    x = np.random.default_rng(0).random((2, 32, 64, 1)).astype(np.float32)
    old, new = np.asarray(shipped(x)), np.asarray(wide.model(x))
    assert new.shape[-1] == 13 and old.shape[-1] == 11
    np.testing.assert_allclose(old[..., :10] / old[..., 10:], new[..., :10] / new[..., 12:],
                               rtol=1e-4)
    assert new[..., 10:12].max() < new[..., [*range(10), 12]].max(axis=-1).min()

    out = tmp_path / "m"
    result = CliRunner().invoke(cli, ["train", "crnn", "--data", str(data), "--alphabet",
                                      alphabet, "--epochs", "1", "--copies", "0",
                                      "--val-split", "0.25", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"skipped 1 labels with characters outside {alphabet!r}" in result.output
    assert f"output layer from '0123456789' to {alphabet!r}" in result.output
    meta = read_metadata(out)
    assert meta["config"]["alphabet"] == alphabet and meta["train_config"]["alphabet"] == alphabet
    assert meta["onnx"]["max_abs_diff"] < 1e-4
    reader = load_string_reader(str(out))
    assert isinstance(reader, CRNNReader) and reader.alphabet == alphabet
    assert reader.network is not None  # reads on ONNX Runtime, 13 classes per step
    crops = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p, _ in read_labels(data)]
    onnx = reader.read_strings(crops)
    keras = CRNNReader(**meta["config"])
    keras.model = CRNNReader.load_keras(out)
    assert [t for t, _ in keras.read_strings(crops)] == [t for t, _ in onnx]
    assert all(set(t) <= set(alphabet) for t, _ in onnx)
    # fine-tuning it again keeps its alphabet (the --init model's) unless told otherwise
    other = labelled(tmp_path / "other", ["4c", "zz"])
    again = CliRunner().invoke(cli, ["train", "crnn", "--data", str(other), "--init", str(out),
                                     "--val-split", "0.5", "--out", str(tmp_path / "m2")])
    assert again.exit_code == 2
    assert f"skipped 1 labels with characters outside {alphabet!r}" in again.output
    assert again.output.endswith(f"{other}: nothing to train on (no labels of {alphabet!r} "
                                 "with writing found)\n")
    read = CliRunner().invoke(cli, ["read", str(data / "c001.png"), "--layout", "string",
                                    "--model", str(out), "--format", "json"])
    assert read.exit_code == 0, read.output
    from digitocr.results import validate

    (page,) = json.loads(read.output)
    validate(page)
    # evaluate scores the labels the model can write: 12 of 13 (not "4c"), not only digits
    ev = CliRunner().invoke(cli, ["evaluate", "--model", str(out), "--data", str(data),
                                  "--layout", "string", "--no-figures", "--json"])
    assert ev.exit_code == 0, ev.output
    assert json.loads(ev.stdout)["digit_labels"] == 12
