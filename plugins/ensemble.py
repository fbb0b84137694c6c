"""Soft-voting ensemble: the weighted mean of its members' probabilities.

Members are full model directories of their own (any backend) under ``members/``, so an
ensemble can mix CNNs with classical models and each member stays loadable on its own.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import click
import numpy as np

from digitocr import hookimpl
from digitocr.backends import (
    Classifier,
    FitResult,
    Progress,
    check_batch,
    export_model,
    load_model,
    read_metadata,
    write_metadata,
)
from digitocr.errors import ModelError
from digitocr.trainopts import TrainingOptions, TrainRequest, settings_only

MEMBERS = "members"


class EnsembleClassifier(Classifier):
    """Averages member probabilities; ``members`` lists backend configs to train.

    Option ``cascade`` (a probability, off by default): an image that the first member reads
    with at least this confidence keeps the first member's probabilities; only the rest go to
    the vote of every member, which saves most of the other members' work.
    """

    backend = "ensemble"

    def __init__(self, **options: Any) -> None:
        options.setdefault("members", [])
        super().__init__(**options)
        self.members: list[Classifier] = []
        self.member_meta: list[dict[str, Any]] = []

    @classmethod
    def from_models(cls, models: list[Classifier], **options: Any) -> EnsembleClassifier:
        """An ensemble of already-trained models."""
        if not models:
            raise ModelError("an ensemble needs at least one member")
        inst = cls(**options)
        inst.members = list(models)
        inst.member_meta = [dict(getattr(m, "metadata", {}) or {}) for m in models]
        inst.options["members"] = [
            {"backend": m.backend, "options": dict(m.options)} for m in models
        ]
        return inst

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        progress: Progress | None = None,
    ) -> FitResult:
        from digitocr.plugins import get_classifiers

        specs = self.options["members"]
        if not specs:
            raise ModelError("an ensemble needs at least one member to train")
        backends = get_classifiers()
        self.members, self.member_meta = [], []
        history: dict[str, list[float]] = {}
        for i, spec in enumerate(specs):
            name = spec["backend"]
            if name not in backends or name == self.backend:
                raise ModelError(f"ensemble member {i}: unknown backend {name!r}")
            if progress:
                progress(f"ensemble: member {i + 1}/{len(specs)} ({name})")
            member = backends[name](**spec.get("options", {}))
            result = member.fit(x, y, validation=validation, progress=progress)
            self.members.append(member)
            self.member_meta.append({"backend": name, "config": member.options,
                                     "history": result.history})
            for key, vals in result.history.items():
                history[f"member{i}_{key}"] = vals
        return FitResult(history=history, epochs=max((len(v) for v in history.values()), default=0))

    def weights(self) -> np.ndarray:
        w = self.options.get("weights")
        arr = np.ones(len(self.members)) if not w else np.asarray(w, dtype=np.float64)
        if arr.shape != (len(self.members),) or (arr < 0).any() or arr.sum() <= 0:
            raise ModelError(f"ensemble weights {w} do not fit {len(self.members)} members")
        return arr / arr.sum()

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        if not self.members:
            raise ModelError("the ensemble has no members")
        x = check_batch(x)
        weights = self.weights()
        first = self.members[0].predict_proba(x).astype(np.float64)
        cascade = float(self.options.get("cascade") or 0.0)
        if not 0.0 <= cascade <= 1.0:
            raise ModelError(f"ensemble cascade {cascade} is not a probability")
        # a cascade asks the other members only where the first one is unsure
        rows = np.flatnonzero(first.max(axis=1) < cascade) if cascade else np.arange(len(x))
        out = first.copy()
        if len(rows):
            vote = weights[0] * first[rows]
            for weight, member in zip(weights[1:], self.members[1:], strict=True):
                vote += weight * member.predict_proba(x[rows])
            out[rows] = vote
        return out.astype(np.float32)

    def save(self, directory: Path) -> None:
        if not self.members:
            raise ModelError("nothing to save: the ensemble has no members")
        root = directory / MEMBERS
        if root.exists():
            shutil.rmtree(root)
        for i, (member, meta) in enumerate(zip(self.members, self.member_meta, strict=True)):
            sub = root / f"{i:02d}-{member.backend}"
            member.save(sub)
            extra = {"onnx": member.export_report} if member.export_report else {}
            write_metadata(sub, {**meta, "backend": member.backend,
                                 "config": dict(member.options), **extra})

    @classmethod
    def export(cls, directory: Path) -> dict[str, Any] | None:
        reports = {f"{MEMBERS}/{sub.name}": export_model(str(sub))
                   for sub in _member_dirs(directory)}
        return {"members": reports} if any(reports.values()) else None

    @classmethod
    def load(cls, directory: Path, options: dict[str, Any]) -> EnsembleClassifier:
        subs = _member_dirs(directory)
        inst = cls(**options)
        inst.members = [load_model(str(sub)) for sub in subs]
        inst.member_meta = [read_metadata(sub) for sub in subs]
        inst.weights()
        return inst


def _member_dirs(directory: Path) -> list[Path]:
    root = directory / MEMBERS
    subs = sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []
    if not subs:
        raise ModelError(f"{directory}: ensemble has no member directories under {MEMBERS}/")
    return subs


@hookimpl
def register_classifiers(register: Any) -> None:
    register("ensemble", EnsembleClassifier)


#: the backend and the number of the members ``train ensemble`` trains when given no --member
MEMBER_BACKEND, MEMBERS_DEFAULT = "cnn", 3
#: ``train ensemble``'s own options, shown after ``--init``
TRAIN_PARAMS: dict[str, list[click.Parameter]] = {"init_model": [
    click.Option(["--members", "n_members"], type=click.IntRange(1), default=None,
                 help="Ensemble: train this many CNNs with different seeds [default: 3]."),
    # "members": the TrainConfig field that takes the list
    click.Option(["--member", "members"], multiple=True, type=str,
                 help="Ensemble: use an already-trained model (name or directory); "
                 "repeatable."),
]}


def training_options(request: TrainRequest) -> dict[str, Any]:
    """``EnsembleClassifier``'s options from ``train ensemble``: members to train (CNNs with
    the network options given, seeds counting up from --seed), unless --member named trained
    ones, which take no network options; then ``--set``'s pairs."""
    if request.values.get("members"):
        return settings_only(request)
    seed = int(request.values.get("seed") or 0)
    members = [{"backend": MEMBER_BACKEND, "options": {**request.network, "seed": seed + i}}
               for i in range(request.values.get("n_members") or MEMBERS_DEFAULT)]
    return {"members": members, **request.settings}


@hookimpl
def register_training_options(register: Any) -> None:
    register("ensemble", TrainingOptions(params=TRAIN_PARAMS, build=training_options))
