"""Evaluation metrics, evaluation figures and the EDA report (pure functions, no CLI).

Images everywhere are MNIST-style: float32 (N, 28, 28) in [0, 1] with ink bright; labels are
integers 0-9 and ``proba`` is (N, 10). Matplotlib, scikit-learn, imbalanced-learn and SciPy are
imported inside the functions so that importing this module (and ``digitocr --help``) stays fast.
Figures are drawn on ``matplotlib.figure.Figure`` objects directly (Agg rendering, no pyplot
global state), so these functions are safe to call from threads and in headless runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .extras import requires

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DIGITS = tuple(range(10))
GRID_ROWS, GRID_COLS = 5, 8
MISTAKE_ROWS, MISTAKE_COLS = 4, 6
CALIBRATION_BINS = 10
PCA_COMPONENTS = 8
#: 100 dpi: a 13-inch-wide figure is 1,300 pixels, a laptop screen's width at 100 % zoom
DPI = 100
RIGHT_COLOUR, WRONG_COLOUR = "tab:green", "tab:red"


# --------------------------------------------------------------------------- validation


def _labels(y: np.ndarray, name: str = "y_true") -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {y.shape}")
    if y.size and (not np.issubdtype(y.dtype, np.integer) and not np.all(y == np.round(y))):
        raise ValueError(f"{name} must hold integer digit labels")
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"{name} must hold digits 0-9, found {y.min()}..{y.max()}")
    return y


def _proba(proba: np.ndarray, n: int) -> np.ndarray:
    p = np.asarray(proba, dtype=np.float64)
    if p.shape != (n, 10):
        raise ValueError(f"proba must have shape ({n}, 10), got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("proba contains NaN or infinite values")
    return p


def _images(x: np.ndarray, n: int | None = None) -> np.ndarray:
    """Coerce to float32 (N, H, W): accepts (N, H, W, 1) and flat (N, 784)."""
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 4 and a.shape[-1] == 1:
        a = a[..., 0]
    elif a.ndim == 2 and a.shape[1] == 28 * 28:
        a = a.reshape(-1, 28, 28)
    if a.ndim != 3:
        raise ValueError(f"expected a batch of images (N, 28, 28), got shape {np.shape(x)}")
    if n is not None and len(a) != n:
        raise ValueError(f"{len(a)} images but {n} labels")
    return a


# --------------------------------------------------------------------------- metrics


def compute_metrics(y_true: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro P/R/F1, per-class scores, confusion matrix and macro OvR ROC AUC.

    Every value is a plain Python type (JSON-serialisable). ``per_class`` and
    ``confusion_matrix`` always cover all ten digits (rows = true, columns = predicted).
    The macro averages run over ``macro_labels``: the digits present in ``y_true`` or in the
    predictions (scikit-learn's default), so a digit that is neither labelled nor predicted
    does not count as a zero. ``roc_auc_ovr`` is None unless every digit occurs in ``y_true``.
    """
    with requires("the evaluation metrics", "evaluate"):
        from sklearn.metrics import (
            accuracy_score,
            confusion_matrix,
            precision_recall_fscore_support,
            roc_auc_score,
        )

    y = _labels(y_true)
    if y.size == 0:
        raise ValueError("cannot compute metrics on an empty set")
    p = _proba(proba, len(y))
    pred = p.argmax(axis=1)

    prec, rec, f1, support = precision_recall_fscore_support(
        y, pred, labels=list(DIGITS), average=None, zero_division=0
    )
    present = sorted(set(y.tolist()) | set(pred.tolist()))
    macro_p, macro_r, macro_f, _ = precision_recall_fscore_support(
        y, pred, labels=present, average="macro", zero_division=0
    )
    cm = confusion_matrix(y, pred, labels=list(DIGITS))

    roc: float | None = None
    if all(np.any(y == d) for d in DIGITS):
        # Macro one-vs-rest, computed per class so rows need not sum exactly to 1.
        roc = float(np.mean([roc_auc_score(y == d, p[:, d]) for d in DIGITS]))

    return {
        "n": len(y),
        "accuracy": float(accuracy_score(y, pred)),
        "errors": int(np.sum(pred != y)),
        "precision_macro": float(macro_p),
        "recall_macro": float(macro_r),
        "f1_macro": float(macro_f),
        "macro_labels": present,
        "roc_auc_ovr": roc,
        "per_class": [
            {
                "digit": d,
                "precision": float(prec[d]),
                "recall": float(rec[d]),
                "f1": float(f1[d]),
                "support": int(support[d]),
            }
            for d in DIGITS
        ],
        "confusion_matrix": [[int(v) for v in row] for row in cm],
    }


def format_metrics(metrics: dict[str, Any]) -> str:
    """Render ``compute_metrics`` output as a fixed-format text report (4 decimals)."""
    lines: list[str] = []
    for key in ("model", "data"):
        if key in metrics:
            lines.append(f"{key + ':':<11}{metrics[key]}")
    lines.append(f"{'samples:':<11}{metrics['n']}")
    errors = metrics["errors"]
    lines.append(f"{'accuracy:':<11}{metrics['accuracy']:.4f}  "
                 f"({errors} error{'' if errors == 1 else 's'})")
    lines.append(f"{'precision:':<11}{metrics['precision_macro']:.4f}  (macro)")
    lines.append(f"{'recall:':<11}{metrics['recall_macro']:.4f}  (macro)")
    lines.append(f"{'f1:':<11}{metrics['f1_macro']:.4f}  (macro)")
    roc = metrics.get("roc_auc_ovr")
    if roc is None:
        missing = [str(c["digit"]) for c in metrics["per_class"] if c["support"] == 0]
        why = f"digits absent from labels: {', '.join(missing)}" if missing else "not computed"
        lines.append(f"{'ROC AUC:':<11}n/a  ({why})")
    else:
        lines.append(f"{'ROC AUC:':<11}{roc:.4f}  (macro one-vs-rest)")

    lines += ["", "digit  precision  recall      f1  support"]
    for c in metrics["per_class"]:
        lines.append(
            f"{c['digit']:>5}  {c['precision']:>9.4f}  {c['recall']:>6.4f}  {c['f1']:>6.4f}"
            f"  {c['support']:>7}"
        )

    cm = metrics["confusion_matrix"]
    width = max(4, *(len(str(v)) + 1 for row in cm for v in row))
    lines += ["", "confusion matrix (rows = true, columns = predicted)"]
    lines.append("true" + "".join(f"{d:>{width}}" for d in DIGITS))
    for d, row in enumerate(cm):
        lines.append(f"{d:>4}" + "".join(f"{v:>{width}}" for v in row))
    return "\n".join(lines)


# --------------------------------------------------------------------------- figure helpers


def _figure(width: float, height: float) -> Figure:
    with requires("figures"):
        from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI)


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, format="png")
    return path


def _title(what: str, model: str = "", data: str = "") -> str:
    """``what: model on data`` with whichever names are known."""
    on = " on ".join(s for s in (model, data) if s)
    return f"{what}: {on}" if on else what


def _show_image(ax: Axes, image: np.ndarray) -> None:
    ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _image_grid(
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
    fig = _figure(max(1.3 * cols, 7.0), height)
    # Fixed margins (in inches) rather than tight_layout, which doubles the drawing time.
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.1 / height,
                        top=1 - (0.45 + title_in) / height,
                        wspace=0.08, hspace=title_in / 1.2)
    for i in range(rows * cols):
        ax = fig.add_subplot(rows, cols, i + 1)
        if i < len(images):
            _show_image(ax, images[i])
            colour = colours[i] if colours is not None else "black"
            ax.set_title(titles[i], fontsize=9, color=colour)
        else:
            ax.axis("off")
    fig.suptitle(suptitle, y=1 - 0.1 / height, va="top")
    return _save(fig, path)


def _message_figure(path: Path, message: str) -> Path:
    fig = _figure(7, 2)
    fig.text(0.5, 0.5, message, ha="center", va="center", fontsize=12)
    return _save(fig, path)


def _confusion_figure(path: Path, cm: np.ndarray, model: str = "", data: str = "") -> Path:
    """Counts on a log colour scale (left) and the errors alone (right).

    At 99 % accuracy a linear scale leaves every off-diagonal cell white; the log scale shows
    one error as clearly as a thousand, and the errors-only panel ranks the confusions.
    """
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import MaxNLocator

    fig = _figure(13, 6)
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
    fig.suptitle(_title("Confusion matrix", model, data))
    fig.tight_layout()
    return _save(fig, path)


Stage = tuple[str, dict[str, list[float]]]


def _series(history: dict[str, Any]) -> dict[str, list[float]]:
    """The per-epoch numeric series of a history (anything else is left out)."""
    out: dict[str, list[float]] = {}
    for key, values in history.items():
        try:
            series = [float(v) for v in values]
        except (TypeError, ValueError):  # not a per-epoch numeric series
            continue
        if series:
            out[key] = series
    return out


def training_stages(metadata: dict[str, Any]) -> list[Stage]:
    """Every recorded training stage of a model, oldest first, as ``(label, history)``.

    ``stages`` (a list of runs, each with its ``history``: ``models/crnn``) is used when present;
    else ``training.init_stages`` (the runs a fine-tuning started from) followed by the model's
    own ``history``. A fine-tuned model whose starting run's history was not kept gets one
    stage whose label says so. Models without epochs (SVM, kNN) give an empty list.
    """
    stages: list[Stage] = []
    recorded = metadata.get("stages")
    if isinstance(recorded, list) and recorded:
        for i, st in enumerate(recorded, start=1):
            if isinstance(st, dict):
                hist = _series(st.get("history") or {})
                if hist:
                    stages.append((_stage_label(i, st.get("config") or {}), hist))
        return stages
    training = metadata.get("training") or {}
    for i, st in enumerate(training.get("init_stages") or [], start=1):
        if isinstance(st, dict) and _series(st.get("history") or {}):
            stages.append((_stage_label(i, st.get("config") or {}), _series(st["history"])))
    own = _series(metadata.get("history") or {})
    if own:
        config = metadata.get("config") or {}
        label = _stage_label(len(stages) + 1, config)
        if config.get("init") and not stages:
            label = label.replace("stage 1", "fine-tuning") + (
                f"; fine-tuned from {Path(str(config['init'])).name}, whose epochs are not "
                "in the metadata")
        stages.append((label, own))
    return stages


def _stage_label(i: int, config: dict[str, Any]) -> str:
    lr = config.get("learning_rate", config.get("lr"))
    return f"stage {i}" + (f" (lr {lr:g})" if isinstance(lr, int | float) else "")


def _curves_figure(path: Path, stages: Sequence[Stage], model: str = "",
                   data: str = "") -> Path | None:
    """One panel per metric (accuracy and loss first); stages end to end on one epoch axis."""
    from matplotlib.ticker import MaxNLocator

    stages = [(label, _series(h)) for label, h in stages]
    stages = [(label, h) for label, h in stages if h]
    lengths = [max(len(v) for v in h.values()) for _, h in stages]
    if sum(lengths) < 2:  # one point (a one-epoch run) is not a curve: the metrics say it all
        return None
    bases = sorted({k.removeprefix("val_") for _, h in stages for k in h},
                   key=lambda b: ({"accuracy": 0, "exact_match": 0, "loss": 1}.get(b, 2), b))
    fig = _figure(max(6.0 * len(bases), 8.0), 5.2)
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
    fig.suptitle(_title("Training curves", model) + trained
                 + (f"\n{notes[0]}" if notes else ""), fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return _save(fig, path)


def _roc_pr_figure(path: Path, y: np.ndarray, p: np.ndarray, model: str = "",
                   data: str = "") -> Path:
    """One-vs-rest ROC and precision-recall per digit on logit-scaled axes.

    At 99 % accuracy every curve hugs the corner of linear axes; a logit axis spaces 0.9,
    0.99 and 0.999 evenly (and 0.1, 0.5, 0.9 still read as usual), the false positive rate
    is on a log axis. Rates of exactly 0 or 1 are drawn half an image inside the axis.
    """
    from matplotlib.ticker import FuncFormatter
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_curve

    fig = _figure(13, 5.8)
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
    fig.suptitle(_title("ROC and precision-recall curves", model, data))
    fig.tight_layout()
    return _save(fig, path)


# --------------------------------------------------------------------------- trust


def _trust_inputs(confidence: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(confidence, dtype=np.float64).ravel()
    ok = np.asarray(correct, dtype=bool).ravel()
    if c.shape != ok.shape:
        raise ValueError(f"{c.size} confidences but {ok.size} correctness flags")
    if c.size == 0:
        raise ValueError("no predictions to draw")
    if not np.all(np.isfinite(c)) or c.min() < 0 or c.max() > 1:
        raise ValueError("confidences must lie in [0, 1]")
    return c, ok


def calibration(confidence: np.ndarray, correct: np.ndarray,
                bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """Equal-width confidence bins: per bin count, mean confidence and accuracy; and the ECE.

    ECE (expected calibration error) = sum over bins of (share of predictions) x |accuracy -
    mean confidence|; 0 for a perfectly calibrated reader. Empty bins have NaN means.
    """
    c, ok = _trust_inputs(confidence, correct)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(c, edges[1:-1], right=True), 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(which, weights=c, minlength=bins) / count
        acc = np.bincount(which, weights=ok.astype(np.float64), minlength=bins) / count
    gaps = np.where(count > 0, np.abs(np.nan_to_num(acc) - np.nan_to_num(conf)), 0.0)
    return {"edges": edges, "count": count, "confidence": conf, "accuracy": acc,
            "ece": float(np.sum(count * gaps) / c.size)}


def risk_coverage(confidence: np.ndarray, correct: np.ndarray) -> dict[str, np.ndarray | float]:
    """Accepting the most confident first: coverage (fraction accepted), risk (error rate among
    the accepted) and the threshold, one point per distinct confidence; and the area under the
    curve (AURC, the mean risk over coverage; lower is better)."""
    c, ok = _trust_inputs(confidence, correct)
    order = np.argsort(-c, kind="stable")
    errs = np.cumsum(~ok[order])
    k = np.arange(1, c.size + 1)
    # Ties accept or refuse together: keep the last index of each run of equal confidence.
    last = np.r_[np.flatnonzero(np.diff(c[order]) != 0), c.size - 1]
    coverage, risk = k[last] / c.size, errs[last] / k[last]
    return {"coverage": coverage, "risk": risk, "threshold": c[order][last],
            "aurc": float(np.mean(errs / k))}


def reliability_figure(path: Path, confidence: np.ndarray, correct: np.ndarray, *,
                       title: str, bins: int = CALIBRATION_BINS,
                       unit: str = "prediction",
                       confidence_label: str = "confidence (top class probability)") -> Path:
    """Reliability diagram (accuracy against confidence per bin, with the ECE) over a histogram
    of how many predictions fall in each bin (log scale)."""
    cal = calibration(confidence, correct, bins)
    edges, count = cal["edges"], cal["count"]
    centres, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    fig = _figure(7.5, 7.5)
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
    return _save(fig, path)


def risk_coverage_figure(path: Path, confidence: np.ndarray, correct: np.ndarray, *,
                         title: str, thresholds: Sequence[float] = (0.5, 0.9, 0.99, 0.999),
                         unit: str = "prediction") -> Path:
    """Error rate among the accepted against the fraction accepted when only predictions at or
    above a confidence threshold are kept; a few thresholds are marked."""
    rc = risk_coverage(confidence, correct)
    c, ok = _trust_inputs(confidence, correct)
    cov = np.r_[0.0, np.asarray(rc["coverage"])]
    risk = np.asarray(rc["risk"])
    risk = np.r_[risk[0], risk]  # flat from 0 to the first point (accept nothing: no risk known)
    fig = _figure(8.5, 5.6)
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
    return _save(fig, path)


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
    y = _labels(y_true)
    images = _images(x, len(y))
    p = _proba(proba, len(y))
    pred = p.argmax(axis=1)
    conf = p[np.arange(len(y)), pred]
    written: list[Path] = []

    cm = np.zeros((10, 10), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    written.append(_confusion_figure(out_dir / "confusion_matrix.png", cm, model, data))

    if history:
        stages = [("", history)] if isinstance(history, dict) else list(history)
        curves = _curves_figure(out_dir / "training_curves.png", stages, model, training_data)
        if curves is not None:
            written.append(curves)

    written.append(_roc_pr_figure(out_dir / "roc_pr_curves.png", y, p, model, data))
    # Probabilities can overshoot 1 by a rounding error; the trust figures want [0, 1].
    top = np.clip(conf, 0.0, 1.0)
    written.append(reliability_figure(out_dir / "reliability.png", top, pred == y,
                                      title=_title("Reliability", model, data),
                                      unit="image"))
    written.append(risk_coverage_figure(out_dir / "risk_coverage.png", top, pred == y,
                                        title=_title("Risk-coverage", model, data),
                                        unit="image"))

    rng = np.random.default_rng(0)
    k = min(len(y), GRID_ROWS * GRID_COLS)
    idx = np.sort(rng.choice(len(y), size=k, replace=False)) if k else np.arange(0)
    written.append(_image_grid(
        out_dir / "prediction_grid.png", images[idx],
        [f"{y[i]}/{pred[i]}" for i in idx],
        [RIGHT_COLOUR if y[i] == pred[i] else WRONG_COLOUR for i in idx],
        GRID_COLS, _title("Random samples, true/predicted (green right, red wrong)",
                          model, data),
    ))

    wrong = np.flatnonzero(pred != y)
    path = out_dir / "confident_mistakes.png"
    if wrong.size == 0:
        written.append(_message_figure(
            path, _title(f"No mistakes among {len(y)} images", model, data)))
    else:
        worst = wrong[np.argsort(-conf[wrong], kind="stable")][: MISTAKE_ROWS * MISTAKE_COLS]
        written.append(_image_grid(
            path, images[worst],
            [f"true {y[i]} / read {pred[i]}\nconfidence {conf[i]:.3f}" for i in worst],
            [WRONG_COLOUR] * len(worst),
            MISTAKE_COLS, _title(f"Most confident mistakes ({wrong.size} errors in {len(y)})",
                                 model, data),
        ))
    return written


# --------------------------------------------------------------------------- EDA


def oversample(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Balance classes with imbalanced-learn's RandomOverSampler (duplicates minority images).

    The originals come first, then the added duplicates (shuffle before training); dtypes and
    the image shape are kept. With fewer than two classes the inputs are returned unchanged.
    """
    xa, ya = np.asarray(x), np.asarray(y)
    if len(xa) != len(ya):
        raise ValueError(f"{len(xa)} images but {len(ya)} labels")
    if len(np.unique(ya)) < 2:
        return xa.copy(), ya.copy()
    with requires("oversampling"):
        from imblearn.over_sampling import RandomOverSampler

    sampler = RandomOverSampler(random_state=seed)
    flat, y_res = sampler.fit_resample(xa.reshape(len(xa), -1), ya)
    return (np.asarray(flat, dtype=xa.dtype).reshape(-1, *xa.shape[1:]),
            np.asarray(y_res, dtype=ya.dtype))


def pixel_stats(x: np.ndarray) -> dict[str, float]:
    """Count, mean, std, skewness (biased, as ``scipy.stats.skew``) and ink share (> 0.5).

    Computed over every pixel of every image, in float64 chunks to bound memory.
    """
    flat = np.asarray(x).reshape(len(x), -1) if len(x) else np.zeros((0, 1))
    n = flat.size
    if n == 0:
        return {"images": 0, "mean": float("nan"), "std": float("nan"),
                "skewness": float("nan"), "ink_fraction": float("nan")}
    s1 = s2 = ink = 0.0
    chunk = max(1, 1_000_000 // flat.shape[1])
    for i in range(0, len(flat), chunk):
        c = flat[i: i + chunk].astype(np.float64)
        s1 += float(c.sum())
        s2 += float(np.square(c).sum())
        ink += float(np.count_nonzero(c > 0.5))
    mean = s1 / n
    var = max(s2 / n - mean * mean, 0.0)
    m3 = 0.0
    for i in range(0, len(flat), chunk):
        c = flat[i: i + chunk].astype(np.float64) - mean
        m3 += float(np.sum(c * c * c))
    m3 /= n
    std = var ** 0.5
    skew = m3 / std**3 if std > 0 else float("nan")
    return {"images": len(flat), "mean": mean, "std": std, "skewness": skew,
            "ink_fraction": ink / n}


def _counts(y: np.ndarray) -> np.ndarray:
    return np.bincount(_labels(y, "y"), minlength=10)[:10]


def _distribution_figure(path: Path, before: np.ndarray, after: np.ndarray | None,
                         data: str = "") -> Path:
    """Images per digit as bars, before and after oversampling side by side."""
    fig = _figure(10, 4.8)
    ax = fig.add_subplot(1, 1, 1)
    digits = np.arange(10)
    groups = [("as loaded", before, "tab:blue")]
    if after is not None:
        groups.append(("after oversampling", after, "tab:orange"))
    width = 0.8 / len(groups)
    for g, (label, counts, colour) in enumerate(groups):
        xs = digits + (g - (len(groups) - 1) / 2) * width
        ax.bar(xs, counts, width=width, color=colour,
               label=f"{label} ({int(counts.sum()):,} images)")
        for xv, c in zip(xs, counts, strict=True):
            ax.text(xv, c, f"{int(c):,}", ha="center", va="bottom", fontsize=7, rotation=90)
    ax.set_xticks(DIGITS)
    ax.set_xlabel("digit")
    ax.set_ylabel("images")
    ax.set_ylim(0, max(int(before.max()), int(after.max()) if after is not None else 0) * 1.3)
    ax.legend(loc="upper center", ncol=2)
    ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(_title("Images per digit", data=data))
    fig.tight_layout()
    return _save(fig, path)


def pca(images: np.ndarray, components: int = PCA_COMPONENTS) -> tuple[np.ndarray, np.ndarray]:
    """Explained-variance ratio of every principal component and the first ``components``
    components as images (k, H, W), from the pixel covariance over all ``images``.

    The covariance (pixels x pixels) is summed in chunks, so 60,000 images cost one pass.
    """
    flat = images.reshape(len(images), -1)
    mean = flat.mean(axis=0, dtype=np.float64)
    cov = np.zeros((flat.shape[1], flat.shape[1]))
    for i in range(0, len(flat), 8192):
        c = flat[i: i + 8192].astype(np.float64) - mean
        cov += c.T @ c
    cov /= max(len(flat) - 1, 1)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    values = np.clip(values[order], 0.0, None)
    total = values.sum()
    ratio = values / total if total > 0 else np.zeros_like(values)
    first = vectors[:, order[:components]].T.reshape(-1, *images.shape[1:])
    return ratio, first


def _pca_figure(path: Path, images: np.ndarray, data: str = "") -> Path:
    """Cumulative explained variance (left) and the first components as images (right)."""
    ratio, comps = pca(images)
    cum = np.cumsum(ratio)
    levels = (0.5, 0.8, 0.9, 0.95)
    needed = [int(np.searchsorted(cum, lv - 1e-12) + 1) for lv in levels]
    shown = min(len(ratio), max(50, int(1.25 * needed[-1])))
    fig = _figure(13, 5.4)
    subs: Any = fig.subfigures(1, 2, width_ratios=(1, 1.15))
    left, right = subs
    ax = left.add_subplot(1, 1, 1)
    ax.plot(np.arange(1, shown + 1), 100 * cum[:shown], color="tab:blue")
    for level, k in zip(levels, needed, strict=True):
        if k <= shown:
            ax.plot(k, 100 * cum[k - 1], "o", color="tab:red")
            ax.annotate(f"{100 * level:.0f} % with {k}", (k, 100 * cum[k - 1]),
                        textcoords="offset points", xytext=(6, -14), fontsize=9)
    ax.set_xlim(0, shown + 1)
    ax.set_ylim(0, 101)
    ax.set_xlabel(f"principal components (of {images.shape[1] * images.shape[2]} pixels)")
    ax.set_ylabel("variance explained, cumulative (%)")
    ax.grid(True, alpha=0.3)
    ax.set_title(f"Explained variance over {len(images):,} images", fontsize=10)
    left.subplots_adjust(left=0.13, right=0.95, bottom=0.12, top=0.86)
    for k in range(min(len(comps), 8)):
        cax = right.add_subplot(2, 4, k + 1)
        lim = float(np.abs(comps[k]).max()) or 1.0
        cax.imshow(comps[k], cmap="coolwarm", vmin=-lim, vmax=lim, interpolation="nearest")
        cax.set_xticks([])
        cax.set_yticks([])
        cax.set_title(f"PC{k + 1}: {100 * ratio[k]:.1f} % of variance", fontsize=9)
    right.subplots_adjust(left=0.02, right=0.98, bottom=0.1, top=0.86, wspace=0.1, hspace=0.3)
    right.text(0.5, 0.02, "first components: red and blue pixels vary in opposite directions "
               "(the sign is arbitrary)", ha="center", fontsize=9)
    fig.suptitle(_title("Principal components of the pixels", data=data))
    return _save(fig, path)


def _mean_images_figure(path: Path, images: np.ndarray, y: np.ndarray, data: str = "") -> Path:
    fig = _figure(13, 2.1)
    for d in DIGITS:
        ax = fig.add_subplot(1, 10, d + 1)
        members = images[y == d]
        _show_image(ax, members.mean(axis=0) if len(members) else np.zeros(images.shape[1:]))
        ax.set_title(f"{d} (n={len(members):,})", fontsize=9)
    fig.suptitle(_title("Mean image per digit", data=data))
    fig.tight_layout()
    return _save(fig, path)


def _augment_samples(
    images: np.ndarray,
    augment: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
    copies: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick up to 8 originals and augment ``copies`` copies of them in one batch."""
    k = min(len(images), GRID_COLS)
    originals = images[np.sort(rng.choice(len(images), size=k, replace=False))]
    batch = np.concatenate([originals] * copies).astype(np.float32)
    out = np.asarray(augment(batch), dtype=np.float32)
    if out.ndim == 4 and out.shape[-1] == 1:
        out = out[..., 0]
    if out.shape != batch.shape:
        raise ValueError(f"augment returned shape {out.shape} for a batch of {batch.shape}")
    return originals, out


def _augment_figure(path: Path, originals: np.ndarray, augmented: np.ndarray,
                    data: str = "", how: str = "") -> Path:
    k = len(originals)
    copies = len(augmented) // max(k, 1)
    titles = ["original"] * k + [f"augmented {c + 1}" for c in range(copies) for _ in range(k)]
    return _image_grid(path, np.concatenate([originals, augmented]), titles, None, k,
                       _title("Augmentation" + (f" ({how})" if how else "")
                              + ": originals (top row), augmented copies below", data=data))


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def _stats_row(name: str, s: dict[str, float]) -> list[object]:
    return [name, s["images"], f"{s['mean']:.4f}", f"{s['std']:.4f}", f"{s['skewness']:.4f}",
            f"{s['ink_fraction']:.4f}"]


def eda_report(
    out_dir: Path,
    x: np.ndarray,
    y: np.ndarray,
    *,
    x_over: np.ndarray | None = None,
    y_over: np.ndarray | None = None,
    augment: Callable[[np.ndarray], np.ndarray] | None = None,
    seed: int = 0,
    title: str = "Dataset report",
    data: str = "",
    augment_label: str = "",
) -> Path:
    """Write the EDA figures and ``report.md`` (linking each PNG) into ``out_dir``; return it.

    PNGs: ``class_distribution.png`` (one bar chart: images per digit, before and after
    oversampling when ``x_over``/``y_over`` are given), ``pca.png`` (cumulative explained
    variance and the first eight principal components as images, over all images),
    ``mean_images.png``, ``sample_grid.png`` (seeded random samples) and
    ``augmented_samples.png`` (only with ``augment``: it gets one float32 (k, 28, 28) batch of
    3 copies of k originals and must return the same shape). Pixel statistics (mean, std,
    skewness, ink share) overall and per digit go into the Markdown tables; each figure's
    section says how many images it used. ``data`` names the data in the figures' titles,
    ``augment_label`` the augmentation's settings.
    """
    out_dir = Path(out_dir)
    labels = _labels(y, "y")
    images = _images(x, len(labels))
    if len(labels) == 0:
        raise ValueError("cannot explore an empty data set")
    if (x_over is None) != (y_over is None):
        raise ValueError("give both x_over and y_over, or neither")
    after: np.ndarray | None = None
    if x_over is not None and y_over is not None:
        after = _counts(y_over)
        if len(x_over) != len(y_over):
            raise ValueError(f"{len(x_over)} oversampled images but {len(y_over)} labels")
    augmented = None  # run augment first: a bad callback fails before any file is written
    if augment is not None:
        augmented = _augment_samples(images, augment, np.random.default_rng(seed + 2))
    out_dir.mkdir(parents=True, exist_ok=True)
    before = _counts(labels)
    n = len(labels)

    figures: list[tuple[str, Path, str]] = []
    used = f"all {n:,} images" + (
        f", and the {int(after.sum()):,} after oversampling" if after is not None else "")
    figures.append(("Class distribution", _distribution_figure(
        out_dir / "class_distribution.png", before, after, data), used))
    figures.append(("Principal components", _pca_figure(out_dir / "pca.png", images, data),
                    f"all {n:,} images (pixel covariance); the curve shows how many "
                    "components hold most of the variance, the images what the first ones "
                    "vary"))
    figures.append(("Mean image per digit",
                    _mean_images_figure(out_dir / "mean_images.png", images, labels, data),
                    f"all {n:,} images (the count of each digit is in its title)"))
    rng = np.random.default_rng(seed + 1)
    k = min(n, GRID_ROWS * GRID_COLS)
    idx = np.sort(rng.choice(n, size=k, replace=False))
    figures.append(("Random samples", _image_grid(
        out_dir / "sample_grid.png", images[idx], [str(labels[i]) for i in idx], None,
        GRID_COLS, _title(f"Random samples with their labels (seed {seed})", data=data)),
        f"{k} images drawn at random (seed {seed})"))
    if augmented is not None:
        figures.append(("Augmented samples", _augment_figure(
            out_dir / "augmented_samples.png", *augmented, data=data, how=augment_label),
            f"{len(augmented[0])} images drawn at random (seed {seed + 2}), "
            f"{len(augmented[1]) // max(len(augmented[0]), 1)} augmented copies of each"))

    md = [f"# {title}", "", f"{n:,} images of {images.shape[1]}x{images.shape[2]} pixels.", ""]
    md += ["## Class distribution", ""]
    header = ["digit", "images", "share"]
    if after is not None:
        header += ["after oversampling", "share after"]
    rows: list[list[object]] = []
    for d in DIGITS:
        row: list[object] = [d, int(before[d]), f"{100 * before[d] / n:.2f}%"]
        if after is not None:
            total = max(int(after.sum()), 1)
            row += [int(after[d]), f"{100 * after[d] / total:.2f}%"]
        rows.append(row)
    total_row: list[object] = ["all", n, "100.00%"]
    if after is not None:
        total_row += [int(after.sum()), "100.00%"]
    rows.append(total_row)
    md += _table(header, rows)
    present = before[before > 0]
    md += ["", f"Imbalance ratio (largest / smallest present class): "
               f"{present.max() / present.min():.3f}.", ""]

    md += ["## Pixel intensity statistics", "",
           "Over every pixel of the images (skewness is the biased estimator, as "
           "`scipy.stats.skew`; ink share = pixels above 0.5).", ""]
    stats_rows = [_stats_row("all", pixel_stats(images))]
    stats_rows += [_stats_row(str(d), pixel_stats(images[labels == d]))
                   for d in DIGITS if before[d] > 0]
    md += _table(["digit", "images", "mean", "std", "skewness", "ink share"], stats_rows)
    md += [""]

    md += ["## Figures", ""]
    for caption, path, note in figures:
        md += [f"### {caption}", "", f"Uses {note}.", "", f"![{caption}]({path.name})", ""]
    report = out_dir / "report.md"
    report.write_text("\n".join(md), encoding="utf-8")
    return report
