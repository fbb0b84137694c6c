"""``digitocr evaluate`` on labelled strings, and what a model's metadata says it trained on.

A folder with a ``labels.csv`` (``file,text``, as ``danish-rowid`` and ORAND-CAR ship) is read
image by image exactly as ``digitocr read`` reads it (the same layout, model and review rule),
and scored as an ETL job sees the output: exact match, character error rate, accuracy per
length, how many readings are flagged, and how many of those *not* flagged are wrong. Labels
that are not plain digits (``168b``, ``Sn``) cannot be read right by a digit reader: they count
as right only when flagged. The figures are the most confident mistakes, the reliability
diagram and the risk-coverage curve.

Scores on data a model trained on are not scores: ``overlap`` compares the data with what
the model's metadata (and its ``training-items.sha256``, the digests of the images it trained
on) says, and ``evaluate`` warns.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: the file (in a string model's directory) listing its training images' digests
ITEMS_FILE = "training-items.sha256.gz"
#: hex digits kept of each image's SHA-256 (64 bits: no accidental collision in a lifetime)
DIGEST_CHARS = 16
#: the most confident mistakes shown
MISTAKES_SHOWN = 24


def image_digest(path: Path) -> str:
    """The first ``DIGEST_CHARS`` hex digits of the SHA-256 of an image file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:DIGEST_CHARS]


def write_item_digests(directory: Path, paths: Iterable[Path]) -> Path:
    """Save the digests of the images a model trained on (sorted, one per line, gzip)."""
    digests = sorted({image_digest(p) for p in paths})
    out = directory / ITEMS_FILE
    # mtime=0: the same items give the same bytes
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write(("\n".join(digests) + "\n").encode())
    return out


def read_item_digests(directory: Path) -> set[str] | None:
    """The training images' digests saved with a model, or None when it has none."""
    path = directory / ITEMS_FILE
    if not path.is_file():
        return None
    with gzip.open(path, "rt") as fh:
        return {line.strip() for line in fh if line.strip()}


def _same(a: object, b: Path) -> bool:
    try:
        return isinstance(a, str) and bool(a) and Path(a).resolve() == b.resolve()
    except OSError:
        return False


def overlap(model_dir: Path, metadata: dict[str, Any], folder: Path,
            images: Sequence[Path]) -> list[str]:
    """Warnings when the evaluated folder or its images are what the model trained on."""
    warnings: list[str] = []
    tc = metadata.get("train_config") or {}
    for key, what in (("data", "trained"), ("val", "chose its review threshold")):
        if _same(tc.get(key), folder):
            warnings.append(f"{folder} is the folder this model {what} on (--{key})")
    known = read_item_digests(model_dir)
    if known is not None and images:
        seen = sum(image_digest(p) in known for p in images)
        if seen:
            warnings.append(f"{seen} of {len(images)} images ({100 * seen / len(images):.1f} %) "
                            "are among the images this model trained on")
    return warnings


def digit_overlap(metadata: dict[str, Any], source: str) -> list[str]:
    """Warnings when a digit source (``npz:usps-train.npz``, ``mnist:train``) is one the
    model trained on (its ``training.sources``; ``--extra`` files keep a hold-out out)."""
    def base(s: str) -> str:
        return s[: -len(":train")] if s.endswith(":train") else s

    training = metadata.get("training") or {}
    sources = [str(s) for s in training.get("sources") or []]
    tc = metadata.get("train_config") or {}
    out = []
    for s in sources:
        if base(s) == base(source) or (source == "mnist:train" and s == "mnist:train"):
            holdout = tc.get("extra_holdout") if s.startswith("npz:") else None
            part = (f"{100 * (1 - float(holdout)):.0f} % of it (all but its hold-out)"
                    if isinstance(holdout, (int, float)) and 0 < holdout < 1 else "it")
            out.append(f"this model trained on {part}: {source} is not held-out data")
    return out


@dataclass
class Item:
    """One labelled image as ``read`` read it."""

    path: Path
    truth: str
    text: str
    confidence: float
    needs_review: bool
    #: the characters the model writes (a string reader's ``config.alphabet``; else digits)
    alphabet: str = "0123456789"

    @property
    def readable(self) -> bool:
        """Whether the label is a string of the model's alphabet (digits, unless it was trained
        with a wider one): the only thing it can get right."""
        return bool(self.truth) and all(c in self.alphabet for c in self.truth)

    @property
    def right(self) -> bool:
        """Right as output: the digits exactly, or an unreadable label flagged."""
        return self.text == self.truth if self.readable else self.needs_review


def read_items(rows: Sequence[tuple[Path, str]], model: str, layout: str,
               workers: int | None = None) -> list[Item]:
    """Read every labelled image (first page of each) with ``read``'s defaults."""
    from .pipeline import read

    alphabet = model_alphabet(model)
    items: list[Item] = []
    it = iter(rows)
    for page in read([str(p) for p, _ in rows], model, layout, workers=workers):
        if page.page != 1:
            continue  # a multi-page file is one labelled item: its first page
        path, truth = next(it)
        fields = page.fields
        text = "".join(f.text for f in fields)
        conf = float(np.prod([f.confidence for f in fields])) if fields else 0.0
        review = page.error is not None or not fields or any(f.needs_review for f in fields)
        items.append(Item(path, truth, text, conf, bool(review), alphabet))
    return items


def model_alphabet(model: str) -> str:
    """The characters a model (name or directory) writes: its metadata's ``config.alphabet``
    (a string reader trained with ``--alphabet``), else the ten digits."""
    from .backends import read_metadata, resolve_model_dir
    from .errors import DigitOCRError
    from .strings import ALPHABET

    try:
        config = read_metadata(resolve_model_dir(model)).get("config") or {}
    except DigitOCRError:
        return ALPHABET
    alphabet = config.get("alphabet", ALPHABET)
    return alphabet if isinstance(alphabet, str) and alphabet else ALPHABET


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def string_metrics(items: Sequence[Item]) -> dict[str, Any]:
    """Exact match, CER, per length, flags and trust over the items."""
    from .metrics import calibration, risk_coverage

    digits = [i for i in items if i.readable]
    unflagged = [i for i in items if not i.needs_review]
    chars = sum(len(i.truth) for i in digits)
    per_length: dict[str, dict[str, float | int]] = {}
    for n in sorted({len(i.truth) for i in digits}):
        sel = [i for i in digits if len(i.truth) == n]
        per_length[str(n)] = {"n": len(sel), "exact": round(float(np.mean(
            [i.right for i in sel])), 4)}
    out: dict[str, Any] = {
        "n": len(items),
        "digit_labels": len(digits),
        "exact_match": round(float(np.mean([i.right for i in digits])), 4) if digits else None,
        "cer": round(sum(edit_distance(i.text, i.truth) for i in digits) / chars, 4)
        if chars else None,
        "other_labels_flagged": round(float(np.mean(
            [i.needs_review for i in items if not i.readable])), 4)
        if len(digits) < len(items) else None,
        "flagged": round(float(np.mean([i.needs_review for i in items])), 4) if items else None,
        "unflagged": len(unflagged),
        "unflagged_wrong": round(float(np.mean([not i.right for i in unflagged])), 4)
        if unflagged else None,
        "right_or_flagged": round(float(np.mean([i.right or i.needs_review for i in items])), 4)
        if items else None,
        "per_length": per_length,
    }
    if digits:
        conf = np.asarray([i.confidence for i in digits])
        ok = np.asarray([i.right for i in digits])
        out["ece"] = round(float(calibration(conf, ok)["ece"]), 4)
        out["aurc"] = round(float(risk_coverage(conf, ok)["aurc"]), 4)
    return out


def _thumb(path: Path) -> np.ndarray:
    from .errors import DigitOCRError
    from .io import load_pages

    try:
        image = next(load_pages(str(path), gray=True)).image
    except (DigitOCRError, OSError, StopIteration):  # one bad image: a blank square
        return np.zeros((8, 8), np.float32)
    gray = image if image.ndim == 2 else image.mean(axis=2)
    return 1.0 - np.asarray(gray, np.float32) / 255.0  # ink bright, as the grids show digits


#: the mistakes grid shows crops this many pixels high
THUMB_HEIGHT = 48


def _same_size(thumbs: list[np.ndarray]) -> np.ndarray:
    """Crops scaled to ``THUMB_HEIGHT`` and padded (dark) to the widest: one float32 array."""
    import cv2

    scaled = [cv2.resize(t, (max(1, round(t.shape[1] * THUMB_HEIGHT / max(t.shape[0], 1))),
                             THUMB_HEIGHT), interpolation=cv2.INTER_AREA) for t in thumbs]
    width = max(t.shape[1] for t in scaled)
    out = np.zeros((len(scaled), THUMB_HEIGHT, width), np.float32)
    for k, t in enumerate(scaled):
        out[k, :, : t.shape[1]] = t
    return out


def string_figures(folder: Path, items: Sequence[Item], *, model: str, data: str) -> list[Path]:
    """The most confident mistakes, the reliability diagram and the risk-coverage curve."""
    from .plotting import image_grid, message_figure, reliability_figure, risk_coverage_figure

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    wrong = sorted((i for i in items if not i.right), key=lambda i: -i.confidence)
    shown = wrong[:MISTAKES_SHOWN]
    path = folder / "mistakes.png"
    if shown:
        titles = [f"{i.text or '-'} ({i.confidence:.2f})\ntruth {i.truth}" for i in shown]
        colours = ["grey" if i.needs_review else "red" for i in shown]
        written.append(image_grid(path, _same_size([_thumb(i.path) for i in shown]),
                                  titles, colours, 4,
                                  f"{model} on {data}: the {len(shown)} most confident of "
                                  f"{len(wrong)} mistakes\n(red: not flagged, grey: flagged)"))
    else:
        written.append(message_figure(path, f"{model} on {data}: no mistakes"))
    digits = [i for i in items if i.readable]
    if digits:
        conf = np.asarray([i.confidence for i in digits])
        ok = np.asarray([i.right for i in digits])
        title = f"{model} on {data}"
        written.append(reliability_figure(folder / "reliability.png", conf, ok, title=title,
                                          unit="string",
                                          confidence_label="field confidence"))
        written.append(risk_coverage_figure(folder / "risk_coverage.png", conf, ok,
                                            title=title, unit="string"))
    return written


def figures_folder(model: str, data: str) -> Path:
    """``evaluation/MODEL--DATA``: one folder per model and data, so runs do not overwrite
    each other (``--model runs/a --data x/validation`` gives ``evaluation/a--validation``)."""
    def name(s: str) -> str:
        p = Path(s)
        base = p.name or p.resolve().name
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in base) or "data"

    return Path("evaluation") / f"{name(model)}--{name(data)}"
