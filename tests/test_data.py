"""Data sources: MNIST IDX (gz or raw, checksums), npz, digit folders, and bad data."""

from __future__ import annotations

import gzip
import json
import shutil
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from digitocr.cli import cli
from digitocr.data import load_source, split_holdout
from digitocr.errors import DataError


def write_idx(path: Path, arr: np.ndarray, *, gz: bool = False) -> None:
    header = struct.pack(">HBB", 0, 8, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def tiny_mnist(folder: Path, n: int = 20, *, gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}",
                  rng.integers(0, 256, (n, 28, 28)), gz=gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(n) % 10, gz=gz)
    return folder


def test_real_mnist_with_checksums(mnist_dir: Path) -> None:
    ds = load_source(str(mnist_dir), "test")
    assert ds.x.shape == (10000, 28, 28) and ds.x.dtype == np.float32
    assert ds.y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert ds.x.min() >= 0.0 and ds.x.max() == 1.0
    assert ds.source == "mnist:test"


@pytest.mark.parametrize("gz", [False, True])
def test_tiny_idx_raw_and_gz(tmp_path: Path, gz: bool) -> None:
    ds = load_source(str(tiny_mnist(tmp_path / "m", gz=gz)), "train")
    assert len(ds) == 20 and ds.y.tolist() == [i % 10 for i in range(20)]


def test_checksum_mismatch(tmp_path: Path) -> None:
    folder = tiny_mnist(tmp_path / "m")
    (folder / "SHA256SUMS").write_text("00" * 32 + "  train-images-idx3-ubyte\n")
    with pytest.raises(DataError, match="does not match SHA256SUMS"):
        load_source(str(folder), "train")


def test_wrong_magic(tmp_path: Path) -> None:
    folder = tiny_mnist(tmp_path / "m")
    (folder / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 20)
    with pytest.raises(DataError, match="wrong magic number 0x00000803"):
        load_source(str(folder), "train")


def test_truncated(tmp_path: Path) -> None:
    folder = tiny_mnist(tmp_path / "m")
    f = folder / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-5])
    with pytest.raises(DataError, match="header says 15680 bytes, file has 15675"):
        load_source(str(folder), "train")


def test_truncated_gzip(tmp_path: Path) -> None:
    folder = tiny_mnist(tmp_path / "m", gz=True)
    f = folder / "train-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[:40])
    with pytest.raises(DataError, match="corrupt or truncated gzip"):
        load_source(str(folder), "train")


def test_count_mismatch(tmp_path: Path) -> None:
    folder = tiny_mnist(tmp_path / "m")
    write_idx(folder / "train-labels-idx1-ubyte", np.zeros(19))
    with pytest.raises(DataError, match="20 images but 19 labels"):
        load_source(str(folder), "train")


def test_missing_file(tmp_path: Path) -> None:
    folder = tiny_mnist(tmp_path / "m")
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="missing MNIST file t10k-labels-idx1-ubyte"):
        load_source(str(folder), "test")


def test_bad_label_in_npz(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros((3, 16, 16), np.uint8), labels=np.array([1, 2, 12]))
    with pytest.raises(DataError, match="label 12 is not a digit 0-9"):
        load_source(str(path))


def test_npz_missing_array(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros((3, 16, 16), np.uint8))
    with pytest.raises(DataError, match="missing array\\(s\\) labels"):
        load_source(str(path))


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    path.write_bytes(b"hello")
    with pytest.raises(DataError, match=r"not a readable \.npz"):
        load_source(str(path))


def test_npz_goes_through_normaliser(tmp_path: Path) -> None:
    img = np.full((16, 16), 255, np.uint8)
    cv2.line(img, (8, 2), (8, 13), 0, 2)  # dark "1" on white, off-size
    path = tmp_path / "ones.npz"
    np.savez(path, images=np.stack([img] * 4), labels=np.ones(4, np.uint8))
    ds = load_source(str(path))
    assert ds.x.shape == (4, 28, 28)
    assert ds.x[0, 14, 14] > 0.5 and ds.x[0, 0, 0] == 0.0  # bright ink, centred


def test_digit_folders(tmp_path: Path) -> None:
    for d in (3, 7):
        (tmp_path / "crops" / str(d)).mkdir(parents=True)
        img = np.zeros((40, 30), np.uint8)
        cv2.putText(img, str(d), (3, 35), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 255, 3)
        cv2.imwrite(str(tmp_path / "crops" / str(d) / "a.png"), img)
    (tmp_path / "crops" / "7" / "notes.txt").write_text("ignored")
    ds = load_source(str(tmp_path / "crops"))
    assert ds.y.tolist() == [3, 7] and ds.x.shape == (2, 28, 28)


def test_unreadable_image_in_folder(tmp_path: Path) -> None:
    (tmp_path / "crops" / "1").mkdir(parents=True)
    (tmp_path / "crops" / "1" / "x.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"x\.png: not a readable image"):
        load_source(str(tmp_path / "crops"))


def test_env_var(tmp_path: Path, mnist_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITOCR_DATA", str(mnist_dir.parent))
    assert len(load_source(None, "test")) == 10000
    monkeypatch.setenv("DIGITOCR_DATA", str(tmp_path))
    with pytest.raises(DataError, match="no MNIST IDX files there"):
        load_source(None, "test")


def test_holdout_is_stratified_and_seeded(tmp_path: Path) -> None:
    folder = tiny_mnist(tmp_path / "m", n=100)
    ds = load_source(str(folder), "train")
    tr, held = split_holdout(ds, 0.2, seed=1)
    assert len(tr) == 80 and len(held) == 20
    assert np.bincount(held.y).tolist() == [2] * 10
    again = split_holdout(ds, 0.2, seed=1)[1]
    assert np.array_equal(held.x, again.x)


def test_cli_reports_bad_data_without_traceback(tmp_path: Path) -> None:
    folder = tiny_mnist(tmp_path / "m")
    shutil.copy(folder / "t10k-labels-idx1-ubyte", folder / "t10k-images-idx3-ubyte")
    result = CliRunner().invoke(cli, ["eda", "--data", str(folder), "--split", "test",
                                      "--out", str(tmp_path / "eda")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.strip().endswith(
        "wrong magic number 0x00000801 (expected 0x00000803, unsigned bytes with 3 dims)"
    )


def digit_boxes(img: np.ndarray) -> list[list[int]]:
    """Per-digit boxes [x, y, w, h] of a ``string_image``: its ink's column runs, left to right."""
    ink = img < 128
    cols = ink.any(axis=0)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], cols.astype(int), [0]])))
    boxes = []
    for x0, x1 in zip(edges[::2], edges[1::2], strict=True):
        rows = np.flatnonzero(ink[:, x0:x1].any(axis=1))
        boxes.append([int(x0), int(rows[0]), int(x1 - x0), int(rows[-1] + 1 - rows[0])])
    return boxes


def coco_folder(folder: Path, texts: list[str], images_dir: str = "images") -> Path:
    """String images drawn here, their labels.csv, and a COCO file of their digits' boxes."""
    from read_helpers import string_image

    (folder / images_dir).mkdir(parents=True, exist_ok=True)
    coco: dict = {"categories": [{"id": d + 1, "name": str(d)} for d in range(10)],
                  "images": [], "annotations": []}
    lines = ["file,digits"]
    for i, text in enumerate(texts):
        img = string_image(text)
        name = f"s{i:02d}.png"
        cv2.imwrite(str(folder / images_dir / name), img)
        lines.append(f"{name},{text}")
        coco["images"].append({"id": 100 + i, "file_name": name, "width": img.shape[1],
                               "height": img.shape[0]})
        boxes = digit_boxes(img)
        assert len(boxes) == len(text)
        for ch, box in zip(text, boxes, strict=True):
            coco["annotations"].append({"id": len(coco["annotations"]), "image_id": 100 + i,
                                        "category_id": int(ch) + 1, "bbox": box})
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    (folder / "digit-boxes.coco.json").write_text(json.dumps(coco, indent=1))
    return folder


TEXTS = ["0123", "4567", "89", "1357", "2468", "90", "314", "2718"]


def test_coco_boxes_are_cut_and_normalised_as_read_does(tmp_path: Path) -> None:
    from read_helpers import FontTemplateClassifier

    folder = coco_folder(tmp_path / "car", TEXTS)
    ds = load_source(str(folder))
    assert ds.source == "coco:car" and len(ds) == sum(map(len, TEXTS)) == 27
    assert ds.x.shape == (27, 28, 28) and ds.x.dtype == np.float32
    assert "".join(map(str, ds.y)) == "".join(TEXTS)
    assert ds.groups is not None
    assert ds.groups.tolist() == [i for i, t in enumerate(TEXTS) for _ in t]
    # the crops look like read's: the font-template reader knows every one of them
    assert FontTemplateClassifier().predict(ds.x).tolist() == ds.y.tolist()
    assert load_source(str(folder)).sha256 == ds.sha256
    # images beside the COCO file work too
    flat = coco_folder(tmp_path / "flat", TEXTS[:2], images_dir=".")
    assert len(load_source(str(flat))) == 8


def test_digit_splits_keep_a_string_on_one_side(tmp_path: Path) -> None:
    from digitocr.training import validation_split

    ds = load_source(str(coco_folder(tmp_path / "car", TEXTS)))
    assert ds.groups is not None
    for seed in range(5):
        for fit, val in (validation_split(ds, 0.3, seed), split_holdout(ds, 0.3, seed)):
            assert fit.groups is not None and val.groups is not None
            assert len(fit) + len(val) == len(ds) and len(val) >= 0.3 * len(ds)
            assert not set(fit.groups.tolist()) & set(val.groups.tolist())
    a = validation_split(ds, 0.3, 1)[1]
    assert np.array_equal(a.x, validation_split(ds, 0.3, 1)[1].x)  # seeded


def test_coco_errors_name_the_file(tmp_path: Path) -> None:
    folder = coco_folder(tmp_path / "car", TEXTS[:2])
    path = folder / "digit-boxes.coco.json"
    good = json.loads(path.read_text())

    def fails(coco: object, match: str) -> None:
        path.write_text(coco if isinstance(coco, str) else json.dumps(coco, indent=1))
        with pytest.raises(DataError, match=match):
            load_source(str(folder))

    fails('{"images": [\n  1,\n', rf"{path}, line 3: not valid JSON")
    fails({"images": []}, rf"{path}: not a COCO file")
    bad = json.loads(json.dumps(good))
    bad["annotations"][1]["bbox"] = [300, 0, 60, 40]
    fails(bad, rf"{path}: annotation 1: box \[300, 0, 60, 40\] is outside s00.png "
               r"\(336x120\)")
    bad = json.loads(json.dumps(good))
    bad["annotations"][2]["category_id"] = 42
    fails(bad, rf"{path}: annotation 2 on s00.png: category 42 is not a digit 0-9")
    bad = json.loads(json.dumps(good))
    bad["images"][1]["file_name"] = "gone.png"
    fails(bad, rf"{path}: image gone.png not found in {folder} or its images/")
    (folder / "digit-boxes.coco.json").unlink()
    with pytest.raises(DataError, match=r"labels.csv but no per-digit boxes \(\*.coco.json\)"):
        load_source(str(folder))


def test_train_on_coco_digits_scores_held_out_images(tmp_path: Path, fake_plugin: None) -> None:
    folder = coco_folder(tmp_path / "car", TEXTS)
    out = tmp_path / "m"
    result = CliRunner().invoke(cli, ["train", "fake", "--data", str(folder), "--val-split",
                                      "0.25", "--out", str(out)])
    assert result.exit_code == 0, result.output
    from digitocr.backends import read_metadata

    meta = read_metadata(out)
    assert meta["training"]["sources"] == ["coco:car"]
    val = meta["metrics"]["validation"]
    assert val["what"] == f"the validation split (25 % held out of {folder})"
    assert val["n"] + sum(meta["training"]["class_counts_before_oversampling"]) == 27
