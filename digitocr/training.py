"""The paper's training pipeline: load, split, oversample, fit, evaluate, save with metadata."""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .backends import (
    FORMAT_VERSION,
    Classifier,
    Progress,
    load_model,
    read_metadata,
    write_metadata,
)
from .data import Dataset, concat, load_source, split_holdout
from .errors import DataError, ModelError

#: backends that train with scikit-learn alone (the ``classical`` extra, no Keras)
CLASSICAL_BACKENDS = ("knn", "svm")


@dataclass
class TrainConfig:
    """Everything ``digitocr train`` needs; stored verbatim in the model's metadata."""

    backend: str = "cnn"
    out: str = "models/cnn"
    data: str | None = None
    extra: list[str] = field(default_factory=list)
    extra_holdout: float = 0.2
    holdout_seed: int = 0
    seed: int = 0
    val_split: float = 0.1
    oversample: bool = True
    scan: float = 0.0
    pairs: float = 0.0
    non_digits: float = 0.0
    limit: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    members: list[str] = field(default_factory=list)
    #: overwrite a model already in ``out`` (else a non-empty ``out`` is refused)
    force: bool = False


def check_out(out: Path, force: bool) -> None:
    """Refuse to train into a non-empty model directory unless ``force`` (before any work, so
    that a long run never ends by overwriting a model someone still wanted)."""
    if out.is_file():
        raise DataError(f"{out}: is a file, not a model directory")
    if out.exists() and any(out.iterdir()) and not force:
        raise DataError(f"{out}: not empty (use --force to overwrite the model there)")


def library_versions() -> dict[str, str]:
    """Versions of the libraries a model depends on."""
    import importlib.metadata as md

    out = {"digitocr": __version__, "python": platform.python_version()}
    for dist in ("numpy", "keras", "tensorflow-cpu", "tensorflow", "scikit-learn",
                 "imbalanced-learn", "opencv-python-headless", "onnxruntime", "skops"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            continue
    return out


def stratified_subset(ds: Dataset, n: int, seed: int) -> Dataset:
    """A seeded, class-balanced subset of at most ``n`` items."""
    if n >= len(ds):
        return ds
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(
        np.arange(len(ds)), train_size=n, stratify=ds.y, random_state=seed
    )
    return ds.subset(np.sort(idx), f"[:{n}]")


def validation_split(ds: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Seeded stratified train/validation split (validation empty when fraction is 0); by
    whole images when the items were cut from string images (``Dataset.groups``)."""
    if fraction <= 0:
        return ds, ds.subset(np.arange(0))
    if not fraction < 1:
        raise DataError(f"validation split must be below 1, got {fraction}")
    if ds.groups is not None:
        from .data import group_split

        tr_idx, va_idx = group_split(ds.groups, fraction, seed)
        return ds.subset(tr_idx), ds.subset(va_idx)
    from sklearn.model_selection import train_test_split

    tr, va = train_test_split(
        np.arange(len(ds)), test_size=fraction, stratify=ds.y, random_state=seed
    )
    return ds.subset(np.sort(tr)), ds.subset(np.sort(va))


def with_scans(x: np.ndarray, fraction: float, seed: int, say: Progress) -> np.ndarray:
    """A copy of ``x`` with a seeded ``fraction`` of its images put through a simulated scan."""
    from .degrade import scan_batch

    rng = np.random.default_rng(seed + 7919)
    idx = np.sort(rng.choice(len(x), size=round(fraction * len(x)), replace=False))
    say(f"simulating scans of {len(idx)} training images")
    out = np.array(x, dtype=np.float32, copy=True)
    out[idx] = scan_batch(out[idx], seed=seed)
    return out


def with_pairs(x: np.ndarray, y: np.ndarray, fraction: float, seed: int,
               say: Progress) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` plus ``fraction`` as many touching digit pairs, labelled not-a-digit."""
    from .degrade import NOT_A_DIGIT, touching_pairs

    n = round(fraction * len(x))
    say(f"adding {n} touching digit pairs as not-a-digit examples")
    pairs = touching_pairs(x, n, seed=seed + 104729)
    return (np.concatenate([x, pairs]).astype(np.float32),
            np.concatenate([y, np.full(n, NOT_A_DIGIT, dtype=y.dtype)]))


def with_non_digits(x: np.ndarray, y: np.ndarray, fraction: float, seed: int,
                    say: Progress) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` plus ``fraction`` as many crops that are not digits (``digitocr.nondigits``:
    crosses, struck and scribbled digits, ticks, box corners, letters...), labelled not-a-digit."""
    from .degrade import NOT_A_DIGIT
    from .nondigits import non_digits

    n = round(fraction * len(x))
    say(f"adding {n} crops that are not digits (crosses, strike-throughs, letters, ...)")
    extra = non_digits(n, x[y < NOT_A_DIGIT], seed=seed + 15485863)
    return (np.concatenate([x, extra]).astype(np.float32),
            np.concatenate([y, np.full(n, NOT_A_DIGIT, dtype=y.dtype)]))


def evaluate_on(model: Classifier, ds: Dataset) -> dict[str, Any]:
    """Metrics of ``model`` on a dataset (see ``reports.compute_metrics``)."""
    from .metrics import compute_metrics

    return compute_metrics(ds.y, model.predict_proba(ds.x))


def _short(metrics: dict[str, Any]) -> dict[str, Any]:
    keys = ("n", "accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc_ovr")
    return {k: metrics[k] for k in keys if k in metrics}


def saw_holdout(metadata: dict[str, Any], config: TrainConfig) -> bool:
    """Whether a trained model may have trained on part of ``config``'s ``--extra`` hold-out."""
    tc = metadata.get("train_config")
    if not isinstance(tc, dict) or tc.get("members"):
        return True  # unknown, or an ensemble: assume the worst
    init_tc = (metadata.get("training") or {}).get("init_train_config")
    if init_tc is not None and saw_holdout({"train_config": init_tc}, config):
        return True  # fine-tuned from a model that trained on part of it
    shared = {Path(e).name for e in tc.get("extra", [])} & {Path(e).name for e in config.extra}
    seed = tc.get("holdout_seed", tc.get("seed", 0))  # older runs split with their --seed
    return bool(shared) and (tc.get("extra_holdout"), seed) != (
        config.extra_holdout, config.holdout_seed)


def train(config: TrainConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Train (or, for an ensemble of ``members``, assemble) a model; save it; return metadata."""
    from .extras import check
    from .plugins import get_classifiers

    say = progress or (lambda _msg: None)
    backends = get_classifiers()
    if config.backend not in backends:
        raise ModelError(
            f"unknown backend {config.backend!r} (registered: {', '.join(sorted(backends))})"
        )
    # the split and the metrics are scikit-learn's: fail before loading data, not after fitting
    check("training", "classical" if config.backend in CLASSICAL_BACKENDS else "train",
          "sklearn", *(("imblearn",) if config.oversample else ()))
    out = Path(config.out)
    check_out(out, config.force)
    start = time.perf_counter()
    say(f"loading data ({config.data or 'MNIST'})")
    test = load_source(config.data, "test")
    holdouts: dict[str, Dataset] = {}
    history: dict[str, list[float]] = {}
    training_info: dict[str, Any] = {}

    val_ds: Dataset | None = None
    if config.members:
        if config.backend != "ensemble":
            raise ModelError("--member only makes sense with the ensemble backend")
        from digitocr_plugins.ensemble import EnsembleClassifier

        models = [load_model(m) for m in config.members]
        model: Classifier = EnsembleClassifier.from_models(models, **config.options)
        wall = sum(float(getattr(m, "metadata", {}).get("wall_time_s", 0.0)) for m in models)
        training_info = {"members_from": list(config.members)}
        mismatch = [m for m, model in zip(config.members, models, strict=True)
                    if saw_holdout(getattr(model, "metadata", {}), config)]
        if config.extra and mismatch:
            # a member may have trained on part of this hold-out: scoring it would flatter
            training_info["holdout_skipped"] = (
                f"members {', '.join(mismatch)} were trained with other --extra hold-outs"
            )
        else:
            for extra in config.extra:
                _, held = split_holdout(
                    load_source(extra), config.extra_holdout, config.holdout_seed
                )
                holdouts[Path(extra).name] = held
    else:
        train_ds = load_source(config.data, "train")
        if config.limit:
            train_ds = stratified_subset(train_ds, config.limit, config.seed)
        parts = [train_ds]
        for extra in config.extra:
            ds = load_source(extra)
            tr, held = split_holdout(ds, config.extra_holdout, config.holdout_seed)
            parts.append(tr)
            if len(held):
                holdouts[Path(extra).name] = held
        full = concat(parts)
        fit_ds, val_ds = validation_split(full, config.val_split, config.seed)
        x, y = fit_ds.x, fit_ds.y
        if config.oversample:
            from .eda import oversample

            x, y = oversample(x, y, config.seed)
        if config.scan > 0:
            x = with_scans(x, config.scan, config.seed, say)
        if config.pairs > 0:
            x, y = with_pairs(x, y, config.pairs, config.seed, say)
        if config.non_digits > 0:
            x, y = with_non_digits(x, y, config.non_digits, config.seed, say)
        training_info = {
            "sources": [p.source for p in parts],
            "sha256": full.sha256,
            "n_train": len(y),
            "n_validation": len(val_ds),
            "class_counts_before_oversampling": np.bincount(fit_ds.y, minlength=10).tolist(),
        }
        options = {"seed": config.seed, **config.options}
        model = backends[config.backend](**options)
        say(f"training {config.backend} on {len(y)} images ({len(val_ds)} for validation)")
        t0 = time.perf_counter()
        result = model.fit(
            x, y, validation=(val_ds.x, val_ds.y) if len(val_ds) else None, progress=say
        )
        wall = time.perf_counter() - t0
        history = result.history
        if model.options.get("init"):  # fine-tuning: count the run it started from as well
            init_meta = read_metadata(Path(model.options["init"]))
            training_info["init_wall_time_s"] = init_meta.get("wall_time_s")
            training_info["init_train_config"] = init_meta.get("train_config")
            # the whole chain of runs, oldest first, so that curves can show every stage
            earlier = (init_meta.get("training") or {}).get("init_stages") or []
            training_info["init_stages"] = [*earlier, {"config": init_meta.get("config", {}),
                                                       "history": init_meta.get("history", {})}]
        say(f"trained in {wall:.0f}s")

    key, what, held_out = score_set(config, test, val_ds if not config.members else None)
    metrics: dict[str, Any] = {}
    if held_out is not None and len(held_out):
        say(f"evaluating on {what}")
        metrics[key] = {**evaluate_on(model, held_out), "what": what}
    else:
        say(f"no held-out score: {what}")
    for name, held in holdouts.items():
        metrics[f"holdout:{name}"] = _short(evaluate_on(model, held))
    model.save(out)
    metadata = {
        "format_version": FORMAT_VERSION,
        "backend": config.backend,
        "config": dict(model.options),
        "train_config": asdict(config),
        "training": training_info,
        "versions": library_versions(),
        "wall_time_s": round(wall, 1),
        "total_time_s": round(time.perf_counter() - start, 1),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "history": history,
        "metrics": metrics,
    }
    if model.export_report:
        metadata["onnx"] = model.export_report
    write_metadata(out, metadata)
    say(f"saved {out} ({headline(metadata)})")
    return metadata


def score_set(config: TrainConfig, test: Dataset, validation: Dataset | None
              ) -> tuple[str, str, Dataset | None]:
    """What ``train`` scores a model on, and what to call it: MNIST's own test split when the
    data is MNIST; else the validation split held out of the data (a file or class folder has
    no test split of its own: its "test" would be the training data again)."""
    if test.source.startswith("mnist:"):
        return "mnist_test", "the MNIST test set", test
    if validation is not None and len(validation):
        share = f"{100 * config.val_split:g} %"
        return "validation", f"the validation split ({share} held out of {config.data})", \
            validation
    return "validation", (f"{config.data} has no test split and --val-split is 0"
                          if validation is not None else
                          f"{config.data} has no test split the members did not train on"), None


def headline(metadata: dict[str, Any]) -> str:
    """One line saying the held-out score of a trained model, and what it was scored on."""
    metrics = metadata.get("metrics") or {}
    for key in ("mnist_test", "validation"):
        m = metrics.get(key)
        if isinstance(m, dict) and "accuracy" in m:
            return f"accuracy {m['accuracy']:.4f} on {m.get('what', key)}"
    return "no held-out score"
