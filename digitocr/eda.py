"""``digitocr eda``: exploratory analysis of a digit data set (class balance and oversampling,
pixel statistics, PCA, mean images, samples, augmentation), written as figures and a
``report.md``; and ``oversample``, which training balances its classes with."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .extras import requires
from .metrics import DIGITS, check_images, check_labels
from .plotting import GRID_COLS, GRID_ROWS, image_grid, new_figure, save_png, show_image, title_of

PCA_COMPONENTS = 8


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
    return np.bincount(check_labels(y, "y"), minlength=10)[:10]


def _distribution_figure(path: Path, before: np.ndarray, after: np.ndarray | None,
                         data: str = "") -> Path:
    """Images per digit as bars, before and after oversampling side by side."""
    fig = new_figure(10, 4.8)
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
    fig.suptitle(title_of("Images per digit", data=data))
    fig.tight_layout()
    return save_png(fig, path)


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
    fig = new_figure(13, 5.4)
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
    fig.suptitle(title_of("Principal components of the pixels", data=data))
    return save_png(fig, path)


def _mean_images_figure(path: Path, images: np.ndarray, y: np.ndarray, data: str = "") -> Path:
    fig = new_figure(13, 2.1)
    for d in DIGITS:
        ax = fig.add_subplot(1, 10, d + 1)
        members = images[y == d]
        show_image(ax, members.mean(axis=0) if len(members) else np.zeros(images.shape[1:]))
        ax.set_title(f"{d} (n={len(members):,})", fontsize=9)
    fig.suptitle(title_of("Mean image per digit", data=data))
    fig.tight_layout()
    return save_png(fig, path)


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
    return image_grid(path, np.concatenate([originals, augmented]), titles, None, k,
                      title_of("Augmentation" + (f" ({how})" if how else "")
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
    labels = check_labels(y, "y")
    images = check_images(x, len(labels))
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
    figures.append(("Random samples", image_grid(
        out_dir / "sample_grid.png", images[idx], [str(labels[i]) for i in idx], None,
        GRID_COLS, title_of(f"Random samples with their labels (seed {seed})", data=data)),
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
