"""The figures of ``digitocr evaluate`` on digits (``evaluation_figures``): confusion matrix,
training curves, ROC and precision-recall curves, trust figures, samples and mistakes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .metrics import DIGITS, Stage, check_images, check_labels, check_proba, history_series
from .plotting import (
    GRID_COLS,
    GRID_ROWS,
    MISTAKE_COLS,
    MISTAKE_ROWS,
    RIGHT_COLOUR,
    WRONG_COLOUR,
    image_grid,
    message_figure,
    new_figure,
    reliability_figure,
    risk_coverage_figure,
    save_png,
    title_of,
)


def _confusion_figure(path: Path, cm: np.ndarray, model: str = "", data: str = "") -> Path:
    """Counts on a log colour scale (left) and the errors alone (right).

    At 99 % accuracy a linear scale leaves every off-diagonal cell white; the log scale shows
    one error as clearly as a thousand, and the errors-only panel ranks the confusions.
    """
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import MaxNLocator

    fig = new_figure(13, 6)
    n = int(cm.sum())
    errors = cm.copy()
    np.fill_diagonal(errors, 0)
    panels = (
        ("All counts (log colour scale)", np.ma.masked_equal(cm, 0), "Blues",
         LogNorm(vmin=1, vmax=max(int(cm.max()), 2)), "images (log scale)"),
        (f"Errors only ({int(errors.sum()):,} of {n:,} images; diagonal left out)",
         np.ma.masked_equal(errors, 0), "Reds", None, "misread images"),
    )
    for k, (label, values, cmap, norm, bar_label) in enumerate(panels):
        ax = fig.add_subplot(1, 2, k + 1)
        kw: dict[str, Any] = {"norm": norm} if norm is not None else {
            "vmin": 0, "vmax": max(int(errors.max()), 1)}
        im = ax.imshow(values, cmap=cmap, **kw)
        ax.set_facecolor("white")
        bar = fig.colorbar(im, ax=ax, label=bar_label, shrink=0.85)
        if k == 1:
            bar.locator = MaxNLocator(integer=True)
            bar.update_ticks()
        shown = cm if k == 0 else errors
        top = float(np.log(max(int(cm.max()), 2))) if k == 0 else float(max(errors.max(), 1))
        for i in range(10):
            for j in range(10):
                v = int(shown[i, j])
                if v == 0 and (k == 1 or i != j):
                    continue  # blank cells read faster than a sea of zeros
                level = np.log(max(v, 1)) if k == 0 else v
                ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                        color="white" if level > 0.6 * top else "black")
        ax.set_xticks(range(10))
        ax.set_yticks(range(10))
        ax.set_xlabel("predicted digit")
        ax.set_ylabel("true digit")
        ax.set_title(label, fontsize=10)
    fig.suptitle(title_of("Confusion matrix", model, data))
    fig.tight_layout()
    return save_png(fig, path)




def curves_figure(path: Path, stages: Sequence[Stage], model: str = "",
                  data: str = "") -> Path | None:
    """One panel per metric (accuracy and loss first); stages end to end on one epoch axis."""
    from matplotlib.ticker import MaxNLocator

    stages = [(label, history_series(h)) for label, h in stages]
    stages = [(label, h) for label, h in stages if h]
    lengths = [max(len(v) for v in h.values()) for _, h in stages]
    if sum(lengths) < 2:  # one point (a one-epoch run) is not a curve: the metrics say it all
        return None
    bases = sorted({k.removeprefix("val_") for _, h in stages for k in h},
                   key=lambda b: ({"accuracy": 0, "exact_match": 0, "loss": 1}.get(b, 2), b))
    fig = new_figure(max(6.0 * len(bases), 8.0), 5.2)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    for i, base in enumerate(bases):
        ax = fig.add_subplot(1, len(bases), i + 1)
        for key, label, colour in ((base, "training", "C0"), ("val_" + base, "validation", "C1")):
            xs: list[float] = []
            ys: list[float] = []
            for s, (_, h) in enumerate(stages):
                if key in h:
                    xs += [float(starts[s] + e + 1) for e in range(len(h[key]))]
                    ys += h[key]
                xs.append(float("nan"))  # a gap between stages: they restart the optimiser
                ys.append(float("nan"))
            if any(np.isfinite(ys)):
                ax.plot(xs, ys, marker="o", markersize=3, color=colour, label=label)
        for s, (label, _) in enumerate(stages):
            if len(stages) > 1 or "fine-tuned" in label:
                if s:
                    ax.axvline(starts[s] + 0.5, color="grey", linestyle="--", linewidth=1)
                ax.text(starts[s] + 0.6, 0.985, label.split(";")[0], fontsize=8, va="top",
                        color="dimgrey", transform=ax.get_xaxis_transform())
        ax.set_xlim(0.5, starts[-1] + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch, stages end to end" if len(stages) > 1 else "epoch")
        ax.set_ylabel(base.replace("_", " ") + (" (fraction)" if "loss" not in base else ""))
        ax.set_title(base.replace("_", " "))
        ax.grid(True, alpha=0.3)
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + 0.12 * (high - low))  # headroom for the stage labels
    # One legend for all panels, above them: inside a panel it hides a curve or a label.
    handles: dict[str, Any] = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            if not str(line.get_label()).startswith("_"):
                handles.setdefault(str(line.get_label()), line)
    names = sorted(handles)  # "training" before "validation" whichever panel came first
    fig.legend([handles[k] for k in names], names, loc="lower center", ncol=2)
    notes = [label.split("; ", 1)[1] for label, _ in stages if "; " in label]
    trained = f" (trained on {data})" if data else ""
    fig.suptitle(title_of("Training curves", model) + trained
                 + (f"\n{notes[0]}" if notes else ""), fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return save_png(fig, path)


def _roc_pr_figure(path: Path, y: np.ndarray, p: np.ndarray, model: str = "",
                   data: str = "") -> Path:
    """One-vs-rest ROC and precision-recall per digit on logit-scaled axes.

    At 99 % accuracy every curve hugs the corner of linear axes; a logit axis spaces 0.9,
    0.99 and 0.999 evenly (and 0.1, 0.5, 0.9 still read as usual), the false positive rate
    is on a log axis. Rates of exactly 0 or 1 are drawn half an image inside the axis.
    """
    from matplotlib.ticker import FuncFormatter
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_curve

    fig = new_figure(13, 5.8)
    roc_ax = fig.add_subplot(1, 2, 1)
    pr_ax = fig.add_subplot(1, 2, 2)
    drawn = 0
    lo_fpr, lo_tpr, hi_tpr, lo_p, lo_r, hi = 1.0, 0.5, 0.5, 0.5, 0.5, 0.5
    for d in DIGITS:
        pos = y == d
        if pos.all() or not pos.any():
            continue  # one-vs-rest needs both positives and negatives
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        fpr, tpr, _ = roc_curve(pos, p[:, d])
        auc = float(np.trapezoid(tpr, fpr))
        fpr = np.clip(fpr, 0.5 / n_neg, 1.0)
        tpr = np.clip(tpr, 0.5 / n_pos, 1 - 0.5 / n_pos)
        roc_ax.plot(fpr, tpr, color=f"C{d}", drawstyle="steps-post",
                    label=f"{d}: AUC {auc:.5f}")
        prec, rec, _ = precision_recall_curve(pos, p[:, d])
        ap = float(average_precision_score(pos, p[:, d]))
        n = len(y)
        prec = np.clip(prec, 0.5 / n, 1 - 0.5 / n)
        rec = np.clip(rec, 0.5 / n_pos, 1 - 0.5 / n_pos)
        pr_ax.plot(rec, prec, color=f"C{d}", drawstyle="steps-post", label=f"{d}: AP {ap:.5f}")
        lo_fpr = min(lo_fpr, 0.5 / n_neg)
        # Start the zoom at the curve's first step off the corner, not at its far tail.
        real = tpr > 0.5 / n_pos
        if real.any():
            lo_tpr = min(lo_tpr, float(tpr[real].min()))
        lo_r = min(lo_r, 0.5)
        lo_p = min(lo_p, float(prec[rec >= 0.5].min()))
        hi = max(hi, 1 - 0.5 / n_pos, 1 - 0.5 / n)
        hi_tpr = max(hi_tpr, 1 - 0.5 / n_pos)
        drawn += 1
    plain = FuncFormatter(lambda v, _: f"{v:.6g}")
    roc_ax.set_xscale("log")
    roc_ax.set_xlim(lo_fpr / 1.2, 1.0)
    roc_ax.set_xlabel("false positive rate (log scale)")
    roc_ax.set_ylabel("true positive rate = recall (logit scale)")
    roc_ax.set_title("ROC, one digit against the rest")
    pr_ax.set_xlabel("recall (logit scale, from 0.5)")
    pr_ax.set_ylabel("precision (logit scale)")
    pr_ax.set_title("Precision-recall, one digit against the rest")
    for ax in (roc_ax, pr_ax):
        ax.grid(True, which="both", alpha=0.3)
        if drawn:
            ax.set_yscale("logit")
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
            ax.legend(fontsize=8, loc="lower right", ncol=2)
        else:
            ax.text(0.5, 0.5, "no digit has both positives and negatives",
                    transform=ax.transAxes, ha="center")
    if drawn:
        roc_ax.set_ylim(min(lo_tpr, 0.5) * 0.9, hi_tpr + (1 - hi_tpr) * 0.5)
        pr_ax.set_xscale("logit")
        pr_ax.xaxis.set_major_formatter(plain)
        pr_ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        pr_ax.set_xlim(lo_r, hi + (1 - hi) * 0.5)
        pr_ax.set_ylim(min(lo_p, 0.5) * 0.9, hi + (1 - hi) * 0.5)
    fig.suptitle(title_of("ROC and precision-recall curves", model, data))
    fig.tight_layout()
    return save_png(fig, path)



# --------------------------------------------------------------------------- evaluation


def evaluation_figures(
    out_dir: Path,
    x: np.ndarray,
    y_true: np.ndarray,
    proba: np.ndarray,
    history: dict[str, list[float]] | Sequence[Stage] | None,
    *,
    model: str = "",
    data: str = "",
    training_data: str = "",
) -> list[Path]:
    """Write the evaluation PNGs into ``out_dir`` (created) and return their paths.

    In order: ``confusion_matrix.png`` (counts on a log colour scale beside the errors alone);
    ``training_curves.png`` only when ``history`` (one history dict, or the ``(label, history)``
    stages of ``training_stages``) holds at least two epochs in all; ``roc_pr_curves.png``
    (one-vs-rest per digit); ``reliability.png`` (with the ECE) and ``risk_coverage.png``, both
    on the top class's probability; ``prediction_grid.png`` (up to 5x8 samples chosen with a
    fixed seed, titled ``true/pred``, green right, red wrong) and ``confident_mistakes.png``
    (up to 24 wrong predictions, most confident first; a one-line notice when there are none).
    ``model`` and ``data`` name the model and the data in every title (``training_data`` in
    the training curves').
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    y = check_labels(y_true)
    images = check_images(x, len(y))
    p = check_proba(proba, len(y))
    pred = p.argmax(axis=1)
    conf = p[np.arange(len(y)), pred]
    written: list[Path] = []

    cm = np.zeros((10, 10), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    written.append(_confusion_figure(out_dir / "confusion_matrix.png", cm, model, data))

    if history:
        stages = [("", history)] if isinstance(history, dict) else list(history)
        curves = curves_figure(out_dir / "training_curves.png", stages, model, training_data)
        if curves is not None:
            written.append(curves)

    written.append(_roc_pr_figure(out_dir / "roc_pr_curves.png", y, p, model, data))
    # Probabilities can overshoot 1 by a rounding error; the trust figures want [0, 1].
    top = np.clip(conf, 0.0, 1.0)
    written.append(reliability_figure(out_dir / "reliability.png", top, pred == y,
                                      title=title_of("Reliability", model, data),
                                      unit="image"))
    written.append(risk_coverage_figure(out_dir / "risk_coverage.png", top, pred == y,
                                        title=title_of("Risk-coverage", model, data),
                                        unit="image"))

    rng = np.random.default_rng(0)
    k = min(len(y), GRID_ROWS * GRID_COLS)
    idx = np.sort(rng.choice(len(y), size=k, replace=False)) if k else np.arange(0)
    written.append(image_grid(
        out_dir / "prediction_grid.png", images[idx],
        [f"{y[i]}/{pred[i]}" for i in idx],
        [RIGHT_COLOUR if y[i] == pred[i] else WRONG_COLOUR for i in idx],
        GRID_COLS, title_of("Random samples, true/predicted (green right, red wrong)",
                            model, data),
    ))

    wrong = np.flatnonzero(pred != y)
    path = out_dir / "confident_mistakes.png"
    if wrong.size == 0:
        written.append(message_figure(
            path, title_of(f"No mistakes among {len(y)} images", model, data)))
    else:
        worst = wrong[np.argsort(-conf[wrong], kind="stable")][: MISTAKE_ROWS * MISTAKE_COLS]
        written.append(image_grid(
            path, images[worst],
            [f"true {y[i]} / read {pred[i]}\nconfidence {conf[i]:.3f}" for i in worst],
            [WRONG_COLOUR] * len(worst),
            MISTAKE_COLS, title_of(f"Most confident mistakes ({wrong.size} errors in {len(y)})",
                                   model, data),
        ))
    return written
