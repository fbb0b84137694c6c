"""Evaluation numbers: accuracy and the other metrics of a digit classifier and their text
report, calibration and risk-coverage of confidences, and the training stages a model records.

Images are MNIST-style: float32 (N, 28, 28) in [0, 1] with ink bright; labels are integers
0-9 and ``proba`` is (N, 10). scikit-learn is imported inside the functions, so that importing
this module stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .extras import requires

DIGITS = tuple(range(10))
CALIBRATION_BINS = 10


# --------------------------------------------------------------------------- validation


def check_labels(y: np.ndarray, name: str = "y_true") -> np.ndarray:
    """``y`` as int64 digit labels 0-9; a ``ValueError`` saying what is wrong otherwise."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {y.shape}")
    if y.size and (not np.issubdtype(y.dtype, np.integer) and not np.all(y == np.round(y))):
        raise ValueError(f"{name} must hold integer digit labels")
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"{name} must hold digits 0-9, found {y.min()}..{y.max()}")
    return y


def check_proba(proba: np.ndarray, n: int) -> np.ndarray:
    """``proba`` as float64 (n, 10), finite; a ``ValueError`` otherwise."""
    p = np.asarray(proba, dtype=np.float64)
    if p.shape != (n, 10):
        raise ValueError(f"proba must have shape ({n}, 10), got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("proba contains NaN or infinite values")
    return p


def check_images(x: np.ndarray, n: int | None = None) -> np.ndarray:
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

    y = check_labels(y_true)
    if y.size == 0:
        raise ValueError("cannot compute metrics on an empty set")
    p = check_proba(proba, len(y))
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



# --------------------------------------------------------------------------- training stages


Stage = tuple[str, dict[str, list[float]]]


def history_series(history: dict[str, Any]) -> dict[str, list[float]]:
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
                hist = history_series(st.get("history") or {})
                if hist:
                    stages.append((_stage_label(i, st.get("config") or {}), hist))
        return stages
    training = metadata.get("training") or {}
    for i, st in enumerate(training.get("init_stages") or [], start=1):
        if isinstance(st, dict) and history_series(st.get("history") or {}):
            stages.append((_stage_label(i, st.get("config") or {}), history_series(st["history"])))
    own = history_series(metadata.get("history") or {})
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



# --------------------------------------------------------------------------- trust


def trust_inputs(confidence: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Confidences in [0, 1] and their correctness flags, flat and of one length."""
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
    c, ok = trust_inputs(confidence, correct)
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
    c, ok = trust_inputs(confidence, correct)
    order = np.argsort(-c, kind="stable")
    errs = np.cumsum(~ok[order])
    k = np.arange(1, c.size + 1)
    # Ties accept or refuse together: keep the last index of each run of equal confidence.
    last = np.r_[np.flatnonzero(np.diff(c[order]) != 0), c.size - 1]
    coverage, risk = k[last] / c.size, errs[last] / k[last]
    return {"coverage": coverage, "risk": risk, "threshold": c[order][last],
            "aurc": float(np.mean(errs / k))}
