"""Scan simulation, touching pairs and non-digits as training data (``--scan``, ``--pairs``,
``--non-digits``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from digitocr.backends import read_metadata
from digitocr.cli import cli
from digitocr.data import load_source
from digitocr.degrade import NOT_A_DIGIT, scan_batch, touching_pairs
from digitocr.nondigits import (
    KINDS,
    STRIKE_REACH,
    draw_non_digits,
    non_digits,
    struck_digit,
)


@pytest.fixture(scope="module")
def digits(mnist_dir: Path) -> np.ndarray:
    return load_source(str(mnist_dir), "test").x[:40]


def _ink_box(img: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(img > 0.2)
    return int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)


def test_scan_keeps_the_digit_in_mnist_form(digits: np.ndarray) -> None:
    scanned = scan_batch(digits, seed=3)
    assert scanned.shape == digits.shape and scanned.dtype == np.float32
    assert scanned.min() >= 0.0 and scanned.max() <= 1.0
    assert not np.allclose(scanned, digits)  # it did change them
    np.testing.assert_array_equal(scanned, scan_batch(digits, seed=3))  # seeded
    for img in scanned:
        h, w = _ink_box(img)
        assert max(h, w) in range(17, 23)  # scaled into MNIST's 20x20 box
        ys, xs = np.nonzero(img)
        cy = float((img[ys, xs] * ys).sum() / img[ys, xs].sum())
        cx = float((img[ys, xs] * xs).sum() / img[ys, xs].sum())
        assert abs(cy - 13.5) < 1.0 and abs(cx - 13.5) < 1.0  # centre of mass in the middle
    # still the same digit: pixels correlate with the clean original
    corr = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(digits, scanned, strict=True)]
    assert np.median(corr) > 0.6


def test_touching_pairs_are_wide(digits: np.ndarray) -> None:
    pairs = touching_pairs(digits, 12, seed=0)
    assert pairs.shape == (12, 28, 28)
    boxes = [_ink_box(p) for p in pairs]
    assert sum(w > h for h, w in boxes) >= 10  # two digits side by side: wider than tall
    assert touching_pairs(digits, 0).shape == (0, 28, 28)


def test_train_with_scans_and_pairs(tmp_path: Path, mnist_dir: Path, fake_plugin: None) -> None:
    out = tmp_path / "m"
    result = CliRunner().invoke(cli, ["train", "fake", "--data", str(mnist_dir), "--limit", "300",
                                      "--scan", "0.5", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    meta = read_metadata(out)
    n = meta["training"]["n_train"]
    assert n == 10 * max(meta["training"]["class_counts_before_oversampling"])
    assert f"simulating scans of {n // 2} training images" in result.stderr
    assert meta["train_config"]["scan"] == 0.5
    result = CliRunner().invoke(cli, ["train", "fake", "--data", str(mnist_dir), "--limit", "300",
                                      "--pairs", "0.1", "--out", str(out)])
    assert result.exit_code == 2 and "--pairs only applies to networks (cnn)" in result.stderr


@pytest.mark.slow
def test_cnn_learns_pairs_as_not_a_digit(tmp_path: Path, mnist_dir: Path) -> None:
    from digitocr_plugins.cnn import _onehot

    targets = _onehot(np.array([3, NOT_A_DIGIT]))
    np.testing.assert_allclose(targets, [np.eye(10)[3], np.full(10, 0.1)])
    out = tmp_path / "cnn"
    result = CliRunner().invoke(cli, ["train", "cnn", "--data", str(mnist_dir), "--limit", "300",
                                      "--epochs", "1", "--pairs", "0.2", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    meta = read_metadata(out)
    assert meta["train_config"]["pairs"] == 0.2
    base = 10 * max(meta["training"]["class_counts_before_oversampling"])
    assert meta["training"]["n_train"] == base + round(0.2 * base)
    assert f"adding {round(0.2 * base)} touching digit pairs" in result.stderr


@pytest.mark.slow
def test_cnn_trains_with_non_digits(tmp_path: Path, mnist_dir: Path) -> None:
    out = tmp_path / "cnn"
    result = CliRunner().invoke(cli, ["train", "cnn", "--data", str(mnist_dir), "--limit", "300",
                                      "--epochs", "1", "--non-digits", "0.25", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    meta = read_metadata(out)
    assert meta["train_config"]["non_digits"] == 0.25
    base = 10 * max(meta["training"]["class_counts_before_oversampling"])
    assert meta["training"]["n_train"] == base + round(0.25 * base)
    assert f"adding {round(0.25 * base)} crops that are not digits" in result.stderr


def test_non_digits_are_every_kind_normalised_and_seeded(digits: np.ndarray) -> None:
    x, kinds = draw_non_digits(300, digits, seed=1)
    assert x.shape == (300, 28, 28) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert set(kinds) == set(KINDS)  # every kind drawn at 300
    assert all(img.max() > 0.5 for img in x)  # none blank
    for img in x:
        h, w = _ink_box(img)
        assert max(h, w) in range(14, 23)  # in MNIST's 20x20 box (blurred ones a bit less)
    np.testing.assert_array_equal(x, non_digits(300, digits, seed=1))
    assert not np.array_equal(x, non_digits(300, digits, seed=2))
    assert non_digits(0, digits).shape == (0, 28, 28)


def test_a_strike_reaches_past_the_digit() -> None:
    one = np.zeros((28, 28), np.float32)
    one[4:24, 13:15] = 1.0  # a 1
    rng = np.random.default_rng(0)
    img = struck_digit(rng, one)
    cols = np.flatnonzero(img.max(axis=0) > 0.3)
    rows = np.flatnonzero(img.max(axis=1) > 0.3)
    # the 1 alone is a tenth as wide as tall; struck (``STRIKE_REACH`` of 0.6 of its height
    # past each side), its ink is more than half as wide as tall, however the strike tilts
    assert STRIKE_REACH > 0
    assert cols[-1] - cols[0] + 1 > 0.5 * (rows[-1] - rows[0] + 1)


def test_train_with_non_digits_adds_them(tmp_path: Path, mnist_dir: Path,
                                         fake_plugin: None) -> None:
    out = tmp_path / "m"
    result = CliRunner().invoke(cli, ["train", "fake", "--data", str(mnist_dir), "--limit", "300",
                                      "--non-digits", "0.1", "--out", str(out)])
    assert result.exit_code == 2
    assert "--non-digits only applies to networks (cnn)" in result.stderr
