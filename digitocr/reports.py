"""Evaluation metrics, evaluation figures and the EDA report (pure functions, no CLI).

The work is in four modules, re-exported here: ``metrics`` (the numbers and their text
report), ``plotting`` (what every figure is drawn with, and the trust figures),
``evalfigures`` (``evaluate``'s figures of a digit classifier) and ``eda`` (``eda``'s
figures and report). Matplotlib, scikit-learn, imbalanced-learn and SciPy are imported inside
the functions, so that importing this module (and ``digitocr --help``) stays fast.
"""

from __future__ import annotations

from .eda import PCA_COMPONENTS, eda_report, oversample, pca, pixel_stats
from .evalfigures import curves_figure as _curves_figure
from .evalfigures import evaluation_figures
from .metrics import (
    CALIBRATION_BINS,
    DIGITS,
    Stage,
    calibration,
    compute_metrics,
    format_metrics,
    risk_coverage,
    training_stages,
)
from .plotting import (
    DPI,
    GRID_COLS,
    GRID_ROWS,
    MISTAKE_COLS,
    MISTAKE_ROWS,
    RIGHT_COLOUR,
    WRONG_COLOUR,
    reliability_figure,
    risk_coverage_figure,
)
from .plotting import image_grid as _image_grid
from .plotting import message_figure as _message_figure

__all__ = [
    "CALIBRATION_BINS",
    "DIGITS",
    "DPI",
    "GRID_COLS",
    "GRID_ROWS",
    "MISTAKE_COLS",
    "MISTAKE_ROWS",
    "PCA_COMPONENTS",
    "RIGHT_COLOUR",
    "WRONG_COLOUR",
    "Stage",
    "_curves_figure",
    "_image_grid",
    "_message_figure",
    "calibration",
    "compute_metrics",
    "eda_report",
    "evaluation_figures",
    "format_metrics",
    "oversample",
    "pca",
    "pixel_stats",
    "reliability_figure",
    "risk_coverage",
    "risk_coverage_figure",
    "training_stages",
]
