"""The runs of ``digitocr evaluate`` and ``digitocr eda``: a model scored on digit data or on a
folder of labelled strings (its warnings, figures and metrics), the strings' text report, and
a data set explored. Progress and warnings go to stderr; what is printed is the caller's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .console import echo_err


def evaluate_digits(model_name: str, data: str | None, split: str, limit: int | None,
                    figures: Path | None, no_figures: bool) -> dict[str, Any]:
    """``evaluate`` on digit data (MNIST, .npz, class folders): ``compute_metrics``'s numbers
    with the model and the data named, the warnings, and the figures written."""
    import numpy as np

    from .backends import load_model
    from .data import load_source
    from .evalfigures import evaluation_figures
    from .evaluation import digit_overlap, figures_folder
    from .metrics import compute_metrics, training_stages

    model = load_model(model_name)
    ds = load_source(data, split)
    shown = ds.source
    if limit:
        if limit < len(ds):
            shown += f" (first {limit:,})"
        ds = ds.subset(np.arange(min(limit, len(ds))))
    echo_err(f"evaluating {model_name} on {ds.source} ({len(ds)} images)")
    meta = getattr(model, "metadata", {}) or {}
    warnings = digit_overlap(meta, ds.source)
    for w in warnings:
        echo_err(f"warning: {w}")
    proba = model.predict_proba(ds.x)
    metrics = compute_metrics(ds.y, proba)
    metrics = {"model": model_name, "data": ds.source, **metrics}
    if warnings:
        metrics["warnings"] = warnings
    if not no_figures:
        folder = figures or figures_folder(model_name, ds.source)
        sources = (meta.get("training") or {}).get("sources") or []
        written = evaluation_figures(folder, ds.x, ds.y, proba, training_stages(meta),
                                     model=model_name, data=shown,
                                     training_data=", ".join(map(str, sources)))
        metrics["figures"] = [str(p) for p in written]
        echo_err(f"figures written to {folder}")
    return metrics


def evaluate_strings(model_name: str, folder: Path, limit: int | None, layout: str,
                     workers: int | None, figures: Path | None,
                     no_figures: bool) -> dict[str, Any]:
    """``evaluate`` on a folder of labelled strings (``labels.csv``), read as ``read`` reads
    them: ``string_metrics``'s numbers, the warnings, and the figures written."""
    from .backends import read_metadata, resolve_model_dir
    from .evaluation import figures_folder, overlap, read_items, string_figures, string_metrics
    from .strtrain import read_labels

    model_dir = resolve_model_dir(model_name)
    meta = read_metadata(model_dir)
    rows = read_labels(folder)
    if limit:
        rows = rows[:limit]
    echo_err(f"evaluating {model_name} on {folder} ({len(rows)} labelled images, "
             f"--layout {layout})")
    warnings = overlap(model_dir, meta, folder, [p for p, _ in rows])
    for w in warnings:
        echo_err(f"warning: {w}")
    items = read_items(rows, model_name, layout, workers)
    metrics: dict[str, Any] = {"model": model_name, "data": str(folder), "layout": layout,
                               **string_metrics(items)}
    if warnings:
        metrics["warnings"] = warnings
    if not no_figures:
        out = figures or figures_folder(model_name, str(folder))
        written = string_figures(out, items, model=model_name, data=folder.name)
        metrics["figures"] = [str(p) for p in written]
        echo_err(f"figures written to {out}")
    return metrics


def format_string_metrics(metrics: dict[str, Any]) -> str:
    """``evaluate_strings``'s metrics as ``evaluate`` prints them (percentages, 2 decimals)."""
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.2f} %"

    lines = [
        f"{metrics['n']} images, {metrics['digit_labels']} with digit labels",
        f"exact match      {pct(metrics['exact_match'])}",
        f"CER              {pct(metrics['cer'])}",
        f"flagged          {pct(metrics['flagged'])}",
        f"unflagged wrong  {pct(metrics['unflagged_wrong'])} of {metrics['unflagged']}",
        f"right or flagged {pct(metrics['right_or_flagged'])}",
    ]
    if "ece" in metrics:
        lines.append(f"ECE {pct(metrics['ece'])}, AURC {pct(metrics['aurc'])}")
    for n, v in metrics["per_length"].items():
        lines.append(f"  length {n:>2}: {v['n']:>5} images, exact {pct(v['exact'])}")
    return "\n".join(lines)


def explore(data: str | None, out: Path, split: str, limit: int | None, seed: int,
            rotation: float, shift: float, zoom: float) -> Path:
    """``eda``: the figures and ``report.md`` of a data set (a stratified subset of ``limit``
    images when given) in ``out``, with augmentation of the given strength; the report."""
    from .data import load_source
    from .eda import eda_report, oversample
    from .training import stratified_subset

    ds = load_source(data, split)
    # The subset's source reads "[:N]"; the figures say what it is: stratified, not the first N.
    name = ds.source
    if limit and limit < len(ds):
        name += f" (stratified {limit:,}, seed {seed})"
        ds = stratified_subset(ds, limit, seed)
    echo_err(f"exploring {name} ({len(ds)} images)")
    x_over, y_over = oversample(ds.x, ds.y, seed)

    def augment(batch: Any) -> Any:
        from .augment import augment_batch

        return augment_batch(batch, rotation=rotation, shift=shift, zoom=zoom, seed=seed)

    return eda_report(out, ds.x, ds.y, x_over=x_over, y_over=y_over, augment=augment,
                      seed=seed, title=f"EDA of {name}", data=name,
                      augment_label=f"rotation up to {rotation:g} degrees, shift up to "
                      f"{100 * shift:g} % of the image, zoom up to {100 * zoom:g} %")
