"""Data sources: MNIST IDX (gz or raw, checksums), npz, digit folders, and bad data."""

from __future__ import annotations

import gzip
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
