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

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DIGITS = tuple(range(10))
GRID_ROWS, GRID_COLS = 5, 8
MISTAKE_ROWS, MISTAKE_COLS = 4, 6
CORRELATION_SAMPLE = 2000
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
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, format="png")
    return path


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
    title_in = 0.16 * max((t.count("\n") + 1 for t in titles), default=1) + 0.08
    height = (1.2 + title_in) * rows + 0.5
    fig = _figure(1.3 * cols, height)
    # Fixed margins (in inches) rather than tight_layout, which doubles the drawing time.
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.1 / height,
                        top=1 - (0.4 + title_in) / height,
                        wspace=0.08, hspace=title_in / 1.2)
    for i in range(rows * cols):
        ax = fig.add_subplot(rows, cols, i + 1)
        if i < len(images):
            _show_image(ax, images[i])
            colour = colours[i] if colours is not None else "black"
            ax.set_title(titles[i], fontsize=8, color=colour)
        else:
            ax.axis("off")
    fig.suptitle(suptitle, y=1 - 0.1 / height, va="top")
    return _save(fig, path)


def _message_figure(path: Path, message: str) -> Path:
    fig = _figure(6, 2)
    fig.text(0.5, 0.5, message, ha="center", va="center", fontsize=12)
    return _save(fig, path)


def _confusion_figure(path: Path, cm: np.ndarray) -> Path:
    fig = _figure(7, 6)
    ax = fig.add_subplot(1, 1, 1)
    totals = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, totals, out=np.zeros(cm.shape, dtype=np.float64), where=totals > 0)
    im = ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(im, ax=ax, label="fraction of the true digit")
    for i in range(10):
        for j in range(10):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if frac[i, j] > 0.5 else "black")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title("Confusion matrix (counts; colour = row fraction)")
    fig.tight_layout()
    return _save(fig, path)


def _curves_figure(path: Path, history: dict[str, list[float]]) -> Path | None:
    """One panel per metric (accuracy and loss first), train and ``val_`` series together."""
    from matplotlib.ticker import MaxNLocator

    series: dict[str, list[float]] = {}
    for key, values in history.items():
        try:
            series[key] = [float(v) for v in values]
        except (TypeError, ValueError):  # not a per-epoch numeric series: leave it out
            continue
    series = {k: v for k, v in series.items() if v}
    bases = sorted({k.removeprefix("val_") for k in series},
                   key=lambda b: ({"accuracy": 0, "loss": 1}.get(b, 2), b))
    if not bases:
        return None
    fig = _figure(5.5 * len(bases), 4)
    for i, base in enumerate(bases):
        ax = fig.add_subplot(1, len(bases), i + 1)
        for key, label in ((base, "train"), ("val_" + base, "validation")):
            if key in series:
                epochs = range(1, len(series[key]) + 1)
                ax.plot(epochs, series[key], marker="o", markersize=3, label=label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(base)
        ax.set_title(base)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle("Training curves")
    fig.tight_layout()
    return _save(fig, path)


# --------------------------------------------------------------------------- evaluation


def evaluation_figures(
    out_dir: Path,
    x: np.ndarray,
    y_true: np.ndarray,
    proba: np.ndarray,
    history: dict[str, list[float]] | None,
) -> list[Path]:
    """Write the evaluation PNGs into ``out_dir`` (created) and return their paths.

    Always ``confusion_matrix.png``, ``prediction_grid.png`` (up to 5x8 samples chosen with a
    fixed seed, titled ``true/pred``, green right, red wrong) and ``confident_mistakes.png``
    (up to 24 wrong predictions, most confident first; a one-line notice when there are none);
    ``training_curves.png`` only when ``history`` has at least one non-empty series.
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
    written.append(_confusion_figure(out_dir / "confusion_matrix.png", cm))

    if history:
        curves = _curves_figure(out_dir / "training_curves.png", history)
        if curves is not None:
            written.append(curves)

    rng = np.random.default_rng(0)
    k = min(len(y), GRID_ROWS * GRID_COLS)
    idx = np.sort(rng.choice(len(y), size=k, replace=False)) if k else np.arange(0)
    written.append(_image_grid(
        out_dir / "prediction_grid.png", images[idx],
        [f"{y[i]}/{pred[i]}" for i in idx],
        [RIGHT_COLOUR if y[i] == pred[i] else WRONG_COLOUR for i in idx],
        GRID_COLS, "Samples: true/predicted (green right, red wrong)",
    ))

    wrong = np.flatnonzero(pred != y)
    path = out_dir / "confident_mistakes.png"
    if wrong.size == 0:
        written.append(_message_figure(path, f"No mistakes among {len(y)} images"))
    else:
        worst = wrong[np.argsort(-conf[wrong], kind="stable")][: MISTAKE_ROWS * MISTAKE_COLS]
        written.append(_image_grid(
            path, images[worst],
            [f"true {y[i]} / pred {pred[i]}\n{conf[i]:.3f}" for i in worst],
            [WRONG_COLOUR] * len(worst),
            MISTAKE_COLS, f"Most confident mistakes ({wrong.size} errors in {len(y)})",
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


def _distribution_figure(path: Path, before: np.ndarray, after: np.ndarray | None) -> Path:
    rows = [("before oversampling" if after is not None else "", before)]
    if after is not None:
        rows.append(("after oversampling", after))
    fig = _figure(12, 4.5 * len(rows))
    for r, (label, counts) in enumerate(rows):
        bar = fig.add_subplot(len(rows), 2, 2 * r + 1)
        bar.bar(DIGITS, counts, color=[f"C{d}" for d in DIGITS])
        bar.set_xticks(DIGITS)
        bar.set_xlabel("digit")
        bar.set_ylabel("images")
        bar.set_title(f"Class counts {label}".strip())
        for d, c in zip(DIGITS, counts, strict=True):
            bar.text(d, c, str(int(c)), ha="center", va="bottom", fontsize=7)
        pie = fig.add_subplot(len(rows), 2, 2 * r + 2)
        shown = [d for d in DIGITS if counts[d] > 0]
        pie.pie([counts[d] for d in shown], labels=[str(d) for d in shown],
                colors=[f"C{d}" for d in shown], autopct="%1.1f%%", textprops={"fontsize": 7})
        pie.set_title(f"Class shares {label}".strip())
    fig.tight_layout()
    return _save(fig, path)


def _correlation_figure(path: Path, images: np.ndarray, rng: np.random.Generator) -> Path:
    k = min(len(images), CORRELATION_SAMPLE)
    idx = np.sort(rng.choice(len(images), size=k, replace=False))
    flat = images[idx].reshape(k, -1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.atleast_2d(np.corrcoef(flat, rowvar=False))
    corr = np.nan_to_num(corr, nan=0.0)
    fig = _figure(7.5, 6.5)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(corr, cmap="coolwarm", vmin=-1.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="Pearson correlation")
    ax.set_xlabel("pixel index (row-major)")
    ax.set_ylabel("pixel index (row-major)")
    ax.set_title(f"Pixel intensity correlation over {k} images (constant pixels = 0)")
    fig.tight_layout()
    return _save(fig, path)


def _mean_images_figure(path: Path, images: np.ndarray, y: np.ndarray) -> Path:
    fig = _figure(13, 1.9)
    for d in DIGITS:
        ax = fig.add_subplot(1, 10, d + 1)
        members = images[y == d]
        _show_image(ax, members.mean(axis=0) if len(members) else np.zeros(images.shape[1:]))
        ax.set_title(f"{d} (n={len(members)})", fontsize=8)
    fig.suptitle("Mean image per digit")
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


def _augment_figure(path: Path, originals: np.ndarray, augmented: np.ndarray) -> Path:
    k = len(originals)
    copies = len(augmented) // max(k, 1)
    titles = ["original"] * k + [f"augmented {c + 1}" for c in range(copies) for _ in range(k)]
    return _image_grid(path, np.concatenate([originals, augmented]), titles, None, k,
                       "Augmentation: originals (top row) and augmented copies")


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
) -> Path:
    """Write the EDA figures and ``report.md`` (linking each PNG) into ``out_dir``; return it.

    PNGs: ``class_distribution.png`` (bar + pie; before and after oversampling when
    ``x_over``/``y_over`` are given), ``pixel_correlation.png`` (784x784 Pearson matrix over up
    to 2000 seeded images), ``mean_images.png``, ``sample_grid.png`` (seeded random samples) and
    ``augmented_samples.png`` (only with ``augment``: it gets one float32 (k, 28, 28) batch of
    3 copies of k originals and must return the same shape). Pixel statistics (mean, std,
    skewness, ink share) overall and per digit go into the Markdown tables.
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

    figures: list[tuple[str, Path]] = []
    figures.append(("Class distribution",
                    _distribution_figure(out_dir / "class_distribution.png", before, after)))
    figures.append(("Pixel correlation",
                    _correlation_figure(out_dir / "pixel_correlation.png", images,
                                        np.random.default_rng(seed))))
    figures.append(("Mean image per digit",
                    _mean_images_figure(out_dir / "mean_images.png", images, labels)))
    rng = np.random.default_rng(seed + 1)
    k = min(len(labels), GRID_ROWS * GRID_COLS)
    idx = np.sort(rng.choice(len(labels), size=k, replace=False))
    figures.append(("Random samples", _image_grid(
        out_dir / "sample_grid.png", images[idx], [str(labels[i]) for i in idx], None,
        GRID_COLS, f"Random samples (seed {seed})")))
    if augmented is not None:
        figures.append(("Augmented samples",
                        _augment_figure(out_dir / "augmented_samples.png", *augmented)))

    n = len(labels)
    md = [f"# {title}", "", f"{n} images of {images.shape[1]}x{images.shape[2]} pixels.", ""]
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
    for caption, path in figures:
        md += [f"### {caption}", "", f"![{caption}]({path.name})", ""]
    report = out_dir / "report.md"
    report.write_text("\n".join(md), encoding="utf-8")
    return report
