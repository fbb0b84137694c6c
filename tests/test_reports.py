"""Tests for digitocr.reports: exact metrics on hand-made data, text format, figures, EDA."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from digitocr.reports import (
    compute_metrics,
    eda_report,
    evaluation_figures,
    format_metrics,
    oversample,
    pixel_stats,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def hand_example() -> tuple[np.ndarray, np.ndarray]:
    """Two images per digit, scored 0.91 for the truth and 0.01 elsewhere, except:

    * image 0 (a 0) scores 0.05 for 0 and 0.87 for 1, so it is misread as a 1;
    * image 2 (a 1) scores 0.83 for 1 and 0.09 for 0, still read correctly.

    By hand: 19/20 right. Digit 0: P 1/1, R 1/2, F1 2/3. Digit 1: P 2/3, R 2/2, F1 0.8.
    ROC AUC: digit 0's positive 0.05 ranks below the negative 0.09 (35 of 36 pairs right),
    digit 1's positive 0.83 ranks below the negative 0.87 (35/36); the rest are perfect,
    so the macro OvR AUC is (8 + 2 * 35/36) / 10 = 179/180.
    """
    y = np.repeat(np.arange(10), 2).astype(np.uint8)
    p = np.full((20, 10), 0.01)
    p[np.arange(20), y] = 0.91
    p[0] = 0.01
    p[0, 0], p[0, 1] = 0.05, 0.87
    p[2] = 0.01
    p[2, 1], p[2, 0] = 0.83, 0.09
    return y, p.astype(np.float32)


def assert_png(path: Path, min_bytes: int = 5000) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    assert len(data) > min_bytes, f"{path} is only {len(data)} bytes"


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28), dtype=np.float32) ** 3
    y = rng.integers(0, 10, n).astype(np.uint8)
    return x, y


# --------------------------------------------------------------------------- compute_metrics


def test_metrics_exact_values_on_hand_example() -> None:
    y, p = hand_example()
    m = compute_metrics(y, p)
    assert m["n"] == 20
    assert m["errors"] == 1
    assert m["accuracy"] == pytest.approx(19 / 20)
    assert m["precision_macro"] == pytest.approx((1 + 2 / 3 + 8) / 10)
    assert m["recall_macro"] == pytest.approx((0.5 + 1 + 8) / 10)
    assert m["f1_macro"] == pytest.approx((2 / 3 + 0.8 + 8) / 10)
    assert m["roc_auc_ovr"] == pytest.approx(179 / 180)
    assert m["macro_labels"] == list(range(10))
    assert m["per_class"][0] == pytest.approx(
        {"digit": 0, "precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert m["per_class"][1] == pytest.approx(
        {"digit": 1, "precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})
    for c in m["per_class"][2:]:
        assert (c["precision"], c["recall"], c["f1"], c["support"]) == (1.0, 1.0, 1.0, 2)
    expected = (2 * np.eye(10, dtype=int)).tolist()
    expected[0][0], expected[0][1] = 1, 1
    assert m["confusion_matrix"] == expected
    json.dumps(m)  # plain Python types only


def test_metrics_with_absent_classes() -> None:
    y = np.array([0, 1, 1])
    p = np.eye(10)[[0, 1, 0]]  # the second 1 is read as 0
    m = compute_metrics(y, p)
    assert m["roc_auc_ovr"] is None
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["macro_labels"] == [0, 1]
    assert m["precision_macro"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["recall_macro"] == pytest.approx((1.0 + 0.5) / 2)
    assert m["f1_macro"] == pytest.approx(2 / 3)
    assert len(m["per_class"]) == 10
    assert m["per_class"][5] == {"digit": 5, "precision": 0.0, "recall": 0.0, "f1": 0.0,
                                 "support": 0}
    assert len(m["confusion_matrix"]) == 10
    assert all(len(row) == 10 for row in m["confusion_matrix"])
    json.dumps(m)


def test_metrics_macro_counts_a_predicted_but_absent_digit() -> None:
    m = compute_metrics(np.array([3, 3]), np.eye(10)[[3, 7]])
    assert m["macro_labels"] == [3, 7]
    assert m["precision_macro"] == pytest.approx((1.0 + 0.0) / 2)
    assert m["recall_macro"] == pytest.approx((0.5 + 0.0) / 2)


def test_metrics_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="shape"):
        compute_metrics(np.array([0, 1]), np.zeros((2, 9)))
    with pytest.raises(ValueError, match="0-9"):
        compute_metrics(np.array([0, 10]), np.zeros((2, 10)))
    with pytest.raises(ValueError, match="empty"):
        compute_metrics(np.array([], dtype=int), np.zeros((0, 10)))


# --------------------------------------------------------------------------- format_metrics


def test_format_metrics_exact_lines() -> None:
    y, p = hand_example()
    lines = format_metrics(compute_metrics(y, p)).splitlines()
    assert lines[:6] == [
        "samples:   20",
        "accuracy:  0.9500  (1 error)",
        "precision: 0.9667  (macro)",
        "recall:    0.9500  (macro)",
        "f1:        0.9467  (macro)",
        "ROC AUC:   0.9944  (macro one-vs-rest)",
    ]
    assert lines[6] == ""
    assert lines[7] == "digit  precision  recall      f1  support"
    assert lines[8] == "    0     1.0000  0.5000  0.6667        2"
    assert lines[9] == "    1     0.6667  1.0000  0.8000        2"
    assert lines[17] == "    9     1.0000  1.0000  1.0000        2"
    assert lines[19] == "confusion matrix (rows = true, columns = predicted)"
    assert lines[20] == "true   0   1   2   3   4   5   6   7   8   9"
    assert lines[21] == "   0   1   1   0   0   0   0   0   0   0   0"
    assert lines[22] == "   1   0   2   0   0   0   0   0   0   0   0"
    assert len(lines) == 31


def test_format_metrics_optional_fields_and_missing_auc() -> None:
    m = compute_metrics(np.array([0, 1, 1]), np.eye(10)[[0, 1, 0]])
    text = format_metrics({"model": "cnn", "data": "mnist:test", **m})
    lines = text.splitlines()
    assert lines[0] == "model:     cnn"
    assert lines[1] == "data:      mnist:test"
    assert lines[3] == "accuracy:  0.6667  (1 error)"
    assert "ROC AUC:   n/a  (digits absent from labels: 2, 3, 4, 5, 6, 7, 8, 9)" in lines


def test_format_metrics_widens_confusion_columns() -> None:
    y = np.zeros(12345, dtype=int)
    y[:10] = np.arange(10)
    m = compute_metrics(y, np.eye(10)[y])
    lines = format_metrics(m).splitlines()
    assert "true     0     1" in lines[-11]
    assert lines[-10].startswith("   0 12336     0")


# --------------------------------------------------------------------------- figures


def test_evaluation_figures(tmp_path: Path) -> None:
    x, y = synthetic(120)
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(10), len(y)).astype(np.float32)
    history = {"accuracy": [0.5, 0.7, 0.8], "val_accuracy": [0.4, 0.6, 0.7],
               "loss": [1.2, 0.8, 0.6], "val_loss": [1.3, 0.9, 0.7]}
    out = tmp_path / "figs" / "nested"
    written = evaluation_figures(out, x, y, proba, history)
    names = [p.name for p in written]
    assert names == ["confusion_matrix.png", "training_curves.png", "roc_pr_curves.png",
                     "reliability.png", "risk_coverage.png", "prediction_grid.png",
                     "confident_mistakes.png"]
    for path in written:
        assert path.parent == out
        assert_png(path)


@pytest.mark.parametrize("history", [None, {"loss": [], "note": "n/a"}])
def test_evaluation_figures_without_history_and_mistakes(
    tmp_path: Path, history: dict[str, list[float]] | None
) -> None:
    x, y = synthetic(7)
    proba = np.eye(10, dtype=np.float32)[y]  # all right: no mistakes to show
    written = evaluation_figures(tmp_path, x[..., None], y, proba, history)
    assert [p.name for p in written] == ["confusion_matrix.png", "roc_pr_curves.png",
                                         "reliability.png", "risk_coverage.png",
                                         "prediction_grid.png", "confident_mistakes.png"]
    for path in written:
        assert_png(path, min_bytes=1000)


def test_evaluation_figures_reject_mismatched_lengths(tmp_path: Path) -> None:
    x, y = synthetic(5)
    with pytest.raises(ValueError):
        evaluation_figures(tmp_path, x[:4], y, np.full((5, 10), 0.1), None)


# --------------------------------------------------------------------------- EDA


def test_oversample_balances_classes() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), np.arange(1, 11)).astype(np.uint8)
    x = rng.random((len(y), 28, 28), dtype=np.float32)
    xo, yo = oversample(x, y, seed=3)
    assert xo.shape == (100, 28, 28) and xo.dtype == np.float32
    assert yo.dtype == np.uint8
    assert np.bincount(yo).tolist() == [10] * 10
    # originals come first; every added image is a copy of an original with the same label
    np.testing.assert_array_equal(xo[: len(x)], x)
    flat = {xi.tobytes(): yi for xi, yi in zip(x, y, strict=True)}
    assert all(flat[xi.tobytes()] == yi for xi, yi in zip(xo, yo, strict=True))
    # deterministic for a seed
    xo2, yo2 = oversample(x, y, seed=3)
    np.testing.assert_array_equal(xo, xo2)
    np.testing.assert_array_equal(yo, yo2)


def test_oversample_single_class_is_a_no_op() -> None:
    x = np.zeros((3, 28, 28), dtype=np.float32)
    y = np.array([4, 4, 4])
    xo, yo = oversample(x, y, seed=0)
    assert xo.shape == x.shape and yo.tolist() == [4, 4, 4]


def test_pixel_stats_match_numpy_and_scipy() -> None:
    from scipy.stats import skew

    x, _ = synthetic(50)
    s = pixel_stats(x)
    flat = x.astype(np.float64).ravel()
    assert s["images"] == 50
    assert s["mean"] == pytest.approx(flat.mean())
    assert s["std"] == pytest.approx(flat.std())
    assert s["skewness"] == pytest.approx(float(skew(flat)))
    assert s["ink_fraction"] == pytest.approx(np.mean(flat > 0.5))


def test_eda_report_full(tmp_path: Path) -> None:
    x, y = synthetic(150)
    y[y == 3] = 4  # leave digit 3 out entirely
    xo, yo = oversample(x, y, seed=0)
    calls: list[tuple[int, ...]] = []

    def augment(batch: np.ndarray) -> np.ndarray:
        calls.append(batch.shape)
        return np.roll(batch, 2, axis=2)

    out = tmp_path / "eda"
    report = eda_report(out, x, y, x_over=xo, y_over=yo, augment=augment, seed=5,
                        title="EDA of synthetic")
    assert report == out / "report.md"
    text = report.read_text()
    assert text.startswith("# EDA of synthetic\n")
    assert calls == [(24, 28, 28)]
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["augmented_samples.png", "class_distribution.png", "mean_images.png",
                    "pca.png", "sample_grid.png"]
    for name in pngs:
        assert f"]({name})" in text, name
        assert_png(out / name)
    # class table: digit 3 stays absent (nothing to copy), the other nine are balanced
    top = np.bincount(y, minlength=10).max()
    assert "| 3 | 0 | 0.00% | 0 | 0.00% |" in text
    assert f"| 0 | {np.sum(y == 0)} | {100 * np.mean(y == 0):.2f}% | {top} | 11.11% |" in text
    assert f"| all | 150 | 100.00% | {9 * top} | 100.00% |" in text
    stats = pixel_stats(x)
    assert re.search(rf"\| all \| 150 \| {stats['mean']:.4f} \| {stats['std']:.4f} \| "
                     rf"{stats['skewness']:.4f} \|", text)
    assert "skewness" in text


def test_eda_report_minimal_and_deterministic(tmp_path: Path) -> None:
    x, y = synthetic(40)
    a = eda_report(tmp_path / "a", x, y, x_over=None, y_over=None, augment=None, seed=1)
    b = eda_report(tmp_path / "b", x, y, x_over=None, y_over=None, augment=None, seed=1)
    text = a.read_text()
    assert text == b.read_text()
    assert "after oversampling" not in text
    pngs = sorted(p.name for p in a.parent.glob("*.png"))
    assert pngs == ["class_distribution.png", "mean_images.png", "pca.png", "sample_grid.png"]
    for name in pngs:
        assert f"]({name})" in text
        assert_png(a.parent / name)
    assert (a.parent / "sample_grid.png").read_bytes() == \
        (b.parent / "sample_grid.png").read_bytes()


def test_eda_report_rejects_bad_augment(tmp_path: Path) -> None:
    x, y = synthetic(20)
    with pytest.raises(ValueError, match="augment returned shape"):
        eda_report(tmp_path / "out", x, y, x_over=None, y_over=None, augment=lambda b: b[:1])
    with pytest.raises(ValueError, match="both"):
        eda_report(tmp_path / "out", x, y, x_over=x, y_over=None, augment=None)
    assert not (tmp_path / "out").exists()
