"""What every figure is drawn with: a Matplotlib ``Figure`` at a fixed DPI, titles, image
grids, a notice in place of a figure; and the two trust figures (reliability, risk-coverage)
that digit and string evaluation both draw.

Figures are drawn on ``matplotlib.figure.Figure`` objects directly (Agg rendering, no pyplot
global state), so these functions are safe to call from threads and in headless runs;
Matplotlib is imported inside them, so that importing this module stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .extras import requires
from .metrics import CALIBRATION_BINS, calibration, risk_coverage, trust_inputs

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

GRID_ROWS, GRID_COLS = 5, 8
MISTAKE_ROWS, MISTAKE_COLS = 4, 6
#: 100 dpi: a 13-inch-wide figure is 1,300 pixels, a laptop screen's width at 100 % zoom
DPI = 100
RIGHT_COLOUR, WRONG_COLOUR = "tab:green", "tab:red"


# --------------------------------------------------------------------------- figure helpers


def new_figure(width: float, height: float) -> Figure:
    """A Matplotlib figure of ``width`` x ``height`` inches at ``DPI`` (no pyplot)."""
    with requires("figures"):
        from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI)


def save_png(fig: Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` as PNG; ``path``."""
    fig.savefig(path, format="png")
    return path


def title_of(what: str, model: str = "", data: str = "") -> str:
    """``what: model on data`` with whichever names are known."""
    on = " on ".join(s for s in (model, data) if s)
    return f"{what}: {on}" if on else what


def show_image(ax: Axes, image: np.ndarray) -> None:
    """Draw a [0, 1] gray image on ``ax``, without ticks."""
    ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def image_grid(
    path: Path,
    images: np.ndarray,
    titles: Sequence[str],
    colours: Sequence[str] | None,
    cols: int,
    suptitle: str,
) -> Path:
    """Write a grid of images with one small title each."""
    rows = max(1, -(-len(images) // cols))
    title_in = 0.18 * max((t.count("\n") + 1 for t in titles), default=1) + 0.08
    height = (1.2 + title_in) * rows + 0.55
    fig = new_figure(max(1.3 * cols, 7.0), height)
    # Fixed margins (in inches) rather than tight_layout, which doubles the drawing time.
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.1 / height,
                        top=1 - (0.45 + title_in) / height,
                        wspace=0.08, hspace=title_in / 1.2)
    for i in range(rows * cols):
        ax = fig.add_subplot(rows, cols, i + 1)
        if i < len(images):
            show_image(ax, images[i])
            colour = colours[i] if colours is not None else "black"
            ax.set_title(titles[i], fontsize=9, color=colour)
        else:
            ax.axis("off")
    fig.suptitle(suptitle, y=1 - 0.1 / height, va="top")
    return save_png(fig, path)


def message_figure(path: Path, message: str) -> Path:
    """A figure holding one line of text, where there is nothing to draw."""
    fig = new_figure(7, 2)
    fig.text(0.5, 0.5, message, ha="center", va="center", fontsize=12)
    return save_png(fig, path)



# --------------------------------------------------------------------------- trust


def reliability_figure(path: Path, confidence: np.ndarray, correct: np.ndarray, *,
                       title: str, bins: int = CALIBRATION_BINS,
                       unit: str = "prediction",
                       confidence_label: str = "confidence (top class probability)") -> Path:
    """Reliability diagram (accuracy against confidence per bin, with the ECE) over a histogram
    of how many predictions fall in each bin (log scale)."""
    cal = calibration(confidence, correct, bins)
    edges, count = cal["edges"], cal["count"]
    centres, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    fig = new_figure(7.5, 7.5)
    grid = fig.add_gridspec(2, 1, height_ratios=(3, 1.3))
    ax = fig.add_subplot(grid[0])
    has = count > 0
    ax.bar(centres[has], cal["accuracy"][has], width=width * 0.95, color="tab:blue",
           edgecolor="navy", label="accuracy in the bin")
    gap_low = np.minimum(cal["accuracy"], cal["confidence"])[has]
    ax.bar(centres[has], np.abs(cal["accuracy"] - cal["confidence"])[has], bottom=gap_low,
           width=width * 0.95, color="tab:red", alpha=0.35, hatch="//", edgecolor="tab:red",
           label="gap to the mean confidence")
    ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(f"fraction of {unit}s right")
    ax.set_title(f"ECE {100 * cal['ece']:.2f} % over {int(count.sum()):,} {unit}s "
                 f"({bins} bins)", fontsize=10)
    ax.legend(loc="upper left", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.tick_params(labelbottom=False)
    hist = fig.add_subplot(grid[1], sharex=ax)
    hist.bar(centres[has], count[has], width=width * 0.95, color="grey")
    hist.set_yscale("log")
    hist.set_ylim(0.7, max(int(count.max()), 1) * 2.5)
    hist.set_xlabel(confidence_label)
    hist.set_ylabel(f"{unit}s (log)")
    hist.grid(True, alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return save_png(fig, path)


def risk_coverage_figure(path: Path, confidence: np.ndarray, correct: np.ndarray, *,
                         title: str, thresholds: Sequence[float] = (0.5, 0.9, 0.99, 0.999),
                         unit: str = "prediction") -> Path:
    """Error rate among the accepted against the fraction accepted when only predictions at or
    above a confidence threshold are kept; a few thresholds are marked."""
    rc = risk_coverage(confidence, correct)
    c, ok = trust_inputs(confidence, correct)
    cov = np.r_[0.0, np.asarray(rc["coverage"])]
    risk = np.asarray(rc["risk"])
    risk = np.r_[risk[0], risk]  # flat from 0 to the first point (accept nothing: no risk known)
    fig = new_figure(8.5, 5.6)
    ax = fig.add_subplot(1, 1, 1)
    ax.step(100 * cov, 100 * risk, where="post", color="tab:blue",
            label=f"accept the most confident first (AURC {100 * float(rc['aurc']):.3f} %)")
    overall = 100 * float(np.mean(~ok))
    ax.axhline(overall, color="grey", linestyle=":", linewidth=1,
               label=f"accept all: {overall:.2f} % wrong")
    for t, marker in zip(thresholds, "osD^v", strict=False):
        keep = c >= t
        if not keep.any():
            continue
        x, yv = 100 * keep.mean(), 100 * float(np.mean(~ok[keep]))
        ax.plot(x, yv, marker=marker, color="tab:red", linestyle="none",
                label=f"confidence >= {t:g}: {x:.1f} % accepted, {yv:.2f} % wrong")
    # Start the axis a little before the first error: left of it the risk is 0 and says nothing.
    first = np.asarray(rc["coverage"])[np.asarray(rc["risk"]) > 0]
    x_lo = max(0.0, 10 * np.floor((100 * float(first[0]) - 5) / 10)) if first.size else 0.0
    ax.set_xlim(x_lo, 100.5)
    ax.set_ylim(0, max(overall, 100 * float(risk.max()) if risk.size else 0.0) * 1.1 + 1e-3)
    ax.set_xlabel(f"coverage: {unit}s accepted (%)" + (f", from {x_lo:.0f} %" if x_lo else ""))
    ax.set_ylabel("risk: wrong among the accepted (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    return save_png(fig, path)
