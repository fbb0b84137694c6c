"""Every figure rendered from tiny data: a valid, non-blank PNG of the expected pixel size."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitocr.io import Page
from digitocr.pipeline import UNSURE_COLOUR, annotate
from digitocr.reports import (
    _curves_figure,
    calibration,
    eda_report,
    evaluation_figures,
    oversample,
    reliability_figure,
    risk_coverage,
    risk_coverage_figure,
    training_stages,
)
from digitocr.results import Field, Glyph, PageResult

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: pixel sizes at 100 dpi (figure inches x 100); the grids' heights follow their rows
EVALUATION_SIZES = {
    "confusion_matrix.png": (1300, 600),
    "training_curves.png": (1200, 520),
    "roc_pr_curves.png": (1300, 580),
    "reliability.png": (750, 750),
    "risk_coverage.png": (850, 560),
    "prediction_grid.png": (1040, 785),
    "confident_mistakes.png": (780, 219),  # one row: tiny() makes a few mistakes
}
EDA_SIZES = {
    "class_distribution.png": (1000, 480),
    "pca.png": (1300, 540),
    "mean_images.png": (1300, 210),
    "sample_grid.png": (1040, 785),
    "augmented_samples.png": (1040, 639),
}


def png(path: Path) -> np.ndarray:
    """Check the signature and that the image is not one flat colour; return its RGB pixels."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert rgb.shape == (height, width, 3)
    assert rgb.std() > 5, f"{path} is blank"
    return rgb


def size(path: Path) -> tuple[int, int]:
    h, w = png(path).shape[:2]
    return w, h


def tiny(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images, labels (every digit) and probabilities that are right about 80 % of the time."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28), dtype=np.float32) ** 3
    y = np.arange(n) % 10
    logits = rng.normal(size=(n, 10))
    logits[np.arange(n), y] += 3.0
    p = np.exp(logits)
    return x, y, (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def test_evaluation_figures_sizes(tmp_path: Path) -> None:
    x, y, p = tiny()
    stages = [("stage 1 (lr 0.001)", {"loss": [1.0, 0.6], "val_accuracy": [0.7, 0.8]}),
              ("stage 2 (lr 0.0001)", {"loss": [0.5, 0.4, 0.35], "val_accuracy": [0.8, 0.85,
                                                                                 0.86]})]
    written = evaluation_figures(tmp_path, x, y, p, stages, model="m", data="tiny")
    assert [f.name for f in written] == list(EVALUATION_SIZES)
    for f in written:
        assert size(f) == EVALUATION_SIZES[f.name], f.name


def test_no_training_curve_without_epochs(tmp_path: Path) -> None:
    x, y, p = tiny(20)
    names = [f.name for f in evaluation_figures(tmp_path, x, y, p, {"val_accuracy": [0.98]})]
    assert "training_curves.png" not in names  # one epoch (an SVM's score) is not a curve
    assert "roc_pr_curves.png" in names and "risk_coverage.png" in names
    for stages in ([("stage 1", {"loss": [0.3]})], [("a", {}), ("b", {"loss": ["x"]})], []):
        assert _curves_figure(tmp_path / "c.png", stages) is None
    assert not (tmp_path / "c.png").exists()


def test_training_stages_from_metadata() -> None:
    crnn = {"history": {"loss": [0.3]},  # the last stage's history again: not drawn twice
            "stages": [{"config": {"learning_rate": 0.002}, "history": {"loss": [2.0, 1.0]}},
                       {"config": {"learning_rate": 7e-4}, "history": {"loss": [0.5]}}]}
    assert training_stages(crnn) == [("stage 1 (lr 0.002)", {"loss": [2.0, 1.0]}),
                                     ("stage 2 (lr 0.0007)", {"loss": [0.5]})]
    cnn = {"config": {"lr": 1e-4, "init": "runs/e12-s0"}, "history": {"accuracy": [0.9, 0.95]}}
    [(label, hist)] = training_stages(cnn)
    assert label.startswith("fine-tuning (lr 0.0001); fine-tuned from e12-s0")
    assert hist == {"accuracy": [0.9, 0.95]}
    chained = {"config": {"lr": 1e-4, "init": "a"}, "history": {"loss": [0.2]},
               "training": {"init_stages": [{"config": {"lr": 1e-3},
                                             "history": {"loss": [1.0, 0.5]}}]}}
    assert training_stages(chained) == [("stage 1 (lr 0.001)", {"loss": [1.0, 0.5]}),
                                        ("stage 2 (lr 0.0001)", {"loss": [0.2]})]
    assert training_stages({"history": {}}) == []
    assert training_stages({"history": {"note": "n/a"}}) == []


def test_calibration_and_risk_coverage_by_hand() -> None:
    conf = np.array([0.95, 0.95, 0.65, 0.55, 0.15])
    right = np.array([True, False, True, True, False])
    cal = calibration(conf, right, bins=10)
    assert cal["count"].tolist() == [0, 1, 0, 0, 0, 1, 1, 0, 0, 2]
    # bins: 0.15 wrong (gap 0.15), 0.55 right (0.45), 0.65 right (0.35), 0.95 half right (0.45)
    assert cal["ece"] == pytest.approx((0.15 + 0.45 + 0.35 + 2 * 0.45) / 5)
    rc = risk_coverage(conf, right)
    # the two 0.95 are accepted together: 1 wrong of 2; then 1 of 3, 1 of 4, 2 of 5
    assert rc["coverage"].tolist() == pytest.approx([0.4, 0.6, 0.8, 1.0])
    assert rc["risk"].tolist() == pytest.approx([0.5, 1 / 3, 0.25, 0.4])
    assert rc["aurc"] == pytest.approx(np.mean([0.0, 0.5, 1 / 3, 0.25, 0.4]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        calibration(np.array([1.5]), np.array([True]))


def test_trust_figures_for_string_readers(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    conf = rng.random(200)
    right = rng.random(200) < conf
    a = reliability_figure(tmp_path / "r.png", conf, right, title="Reliability: x on y",
                           unit="field")
    b = risk_coverage_figure(tmp_path / "c.png", conf, right, title="Risk-coverage: x on y",
                             unit="field")
    assert size(a) == EVALUATION_SIZES["reliability.png"]
    assert size(b) == EVALUATION_SIZES["risk_coverage.png"]


def test_eda_figure_sizes(tmp_path: Path) -> None:
    x, y, _ = tiny(120)
    xo, yo = oversample(x, y[: len(x)], seed=0)
    report = eda_report(tmp_path, x, y, x_over=xo, y_over=yo, augment=lambda b: b[:, ::-1],
                        data="tiny (stratified 120)")
    text = report.read_text()
    for name, expected in EDA_SIZES.items():
        assert size(tmp_path / name) == expected, name
        assert f"]({name})" in text
    assert "Uses all 120 images" in text and "Uses 40 images drawn at random" in text


def _page(h: int, w: int) -> tuple[Page, PageResult]:
    img = np.full((h, w), 200, np.uint8)
    img[h // 4: 3 * h // 4, w // 8: w // 4] = 20  # some ink
    gw = max(2, w // 8)
    glyphs = [Glyph((w // 8, h // 8, gw, 3 * h // 4), "7", 0.99),
              Glyph((w // 2, h // 8, gw, 3 * h // 4), "1", 0.40),  # below the threshold
              Glyph((3 * w // 4, h // 2, 2, 2), ".", 1.0, kind="separator")]
    field = Field(1, (0, 0, w, h), "71", 0.4, True, glyphs)
    return Page("amount.jpg", 1, img), PageResult("amount.jpg", 1, w, h, [field])


def test_annotate_enlarges_small_crops_and_marks_unsure_glyphs(tmp_path: Path) -> None:
    page, result = _page(44, 108)  # an ORAND-CAR cheque amount's size
    out = annotate(page, result, tmp_path, min_confidence=0.9)
    rgb = png(out)
    assert rgb.shape[1] == 108 * 7  # enlarged 7 times to reach 720 pixels or more
    assert rgb.shape[0] > 44 * 7 + 2 * 18  # bands above and below for labels and the legend
    unsure = np.all(rgb == UNSURE_COLOUR[::-1], axis=2)
    assert unsure.sum() > 50  # the low-confidence glyph's box, label and legend swatch


def test_annotate_keeps_large_pages_at_their_size(tmp_path: Path) -> None:
    page, result = _page(1000, 2000)
    rgb = png(annotate(page, result, tmp_path))
    assert rgb.shape[1] == 2000
    # without a threshold nothing is "unsure": no orange, and no orange legend entry
    assert not np.all(rgb == UNSURE_COLOUR[::-1], axis=2).any()
