"""Training a whole-string reader (``digitocr train crnn``) on labelled crops of your own.

Data comes as real datasets ship it: a folder of images with a ``labels.csv`` (``file`` and
``text`` columns; ``digits`` is accepted for ``text``, as ORAND-CAR names it). Each crop is cut
as ``read`` cuts it before the string reader sees it: a cell's writing box, without the scan's
border, rules and neighbours (``digitocr.cells``), so that training and reading see the same
thing. Labels outside the reader's alphabet (``168b``, ``-``) are skipped and counted, or
learnt when the alphabet is widened (``alphabet="0123456789ab"``: the starting model's output
layer grows, keeping what it knew). The reader starts from the shipped ``crnn`` (fine-tuning)
unless ``init`` says otherwise; real crops are mixed with augmented copies and, optionally,
synthetic strings so that a small set does not make it forget. Scores are reported on the
validation set only, and named so; the review threshold (``config.min_confidence``,
``read``'s default) is fitted there too.
"""

from __future__ import annotations

import csv
import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .backends import FORMAT_VERSION, METADATA, read_metadata, resolve_model_dir, write_metadata
from .errors import DataError
from .strings import ALPHABET, alphabet_problem, exact_match
from .training import check_out, library_versions

LABELS = "labels.csv"
#: what the shipped string reader can write (its CTC outputs)
DIGITS = ALPHABET

Say = Callable[[str], None]
#: review thresholds tried when fitting ``min_confidence`` on the validation crops
REVIEW_GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998)
#: the largest share of wrong readings among the fields a fitted threshold leaves unflagged
REVIEW_TARGET = 0.02


@dataclass
class StringTrainConfig:
    """Everything that shapes one string-reader training run (stored in the metadata)."""

    backend: str = "crnn"
    data: str = ""
    out: str = "runs/crnn"
    #: a folder for validation (best epoch, reported score); else a seeded share of ``data``
    val: str | None = None
    val_split: float = 0.1
    #: the model to start from (name or directory; "" trains from scratch)
    init: str = "crnn"
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 5e-4
    seed: int = 0
    #: augmented copies of each real crop, and synthetic strings (MNIST digits) mixed in
    copies: int = 2
    synthetic: int = 0
    #: the share of crops warped afresh each time they are shown (``augment.jitter_string``);
    #: off by default: fine-tuning the shipped crnn with 0.5 did not read the real sets better
    #: (bench/READ.md, "Jitter")
    jitter: float = 0.0
    #: at most this many labelled crops (quick runs)
    limit: int | None = None
    force: bool = False
    #: the characters the reader learns to write (None: those of ``init``, else digits)
    alphabet: str | None = None


def read_labels(folder: Path) -> list[tuple[Path, str]]:
    """``(image path, text)`` rows of a folder's ``labels.csv``; errors name file and line."""
    path = folder / LABELS
    if not path.is_file():
        raise DataError(f"{folder}: no {LABELS} (columns file,text) in this folder")
    rows: list[tuple[Path, str]] = []
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields = reader.fieldnames or []
            text_col = "text" if "text" in fields else "digits" if "digits" in fields else None
            if "file" not in fields or text_col is None:
                raise DataError(f"{path}: needs columns 'file' and 'text' (has {fields})")
            for row in reader:
                line = reader.line_num
                name, text = (row.get("file") or "").strip(), (row.get(text_col) or "").strip()
                if not name:
                    raise DataError(f"{path}, line {line}: empty file name")
                if not text:
                    raise DataError(f"{path}, line {line}: empty label for {name}")
                image = folder / name
                if not image.is_file():
                    raise DataError(f"{path}, line {line}: no image {name} in {folder}")
                rows.append((image, text))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: unreadable ({exc})") from exc
    if not rows:
        raise DataError(f"{path}: no labelled images")
    return rows


def cut_crop(path: Path, data: bytes | None = None) -> np.ndarray | None:
    """The crop the string reader sees when ``read`` reads this image (or ``data``, its
    bytes) as one cell (gray), or None when no writing is found in it."""
    from .io import load_bytes, load_pages
    from .normalise import to_gray
    from .segment import SegmentOptions, segment_cell

    pages = load_pages(str(path), gray=True) if data is None else load_bytes(
        data, str(path), gray=True)
    image = next(pages).image
    gray = np.asarray(to_gray(image), np.uint8) if image.ndim == 3 else image
    (field,) = segment_cell(gray, SegmentOptions())
    if not field.segments:
        return None
    x, y, w, h = field.bbox
    return gray[y : y + h, x : x + w]


def load_set(rows: list[tuple[Path, str]], alphabet: str, say: Say
             ) -> tuple[list[np.ndarray], list[str], str]:
    """Crops and labels the reader can learn, and the SHA-256 of what was used."""
    crops, labels = [], []
    skipped_label = skipped_blank = 0
    digest = hashlib.sha256()
    for path, text in rows:
        if any(ch not in alphabet for ch in text):
            skipped_label += 1
            continue
        data = path.read_bytes()  # once: hashed and decoded
        crop = cut_crop(path, data)
        if crop is None or min(crop.shape) < 4:
            skipped_blank += 1
            continue
        digest.update(path.name.encode() + b"\0" + text.encode() + b"\0" + data)
        crops.append(crop)
        labels.append(text)
    if skipped_label:
        say(f"skipped {skipped_label} labels with characters outside {alphabet!r}")
    if skipped_blank:
        say(f"skipped {skipped_blank} images where no writing was found")
    return crops, labels, digest.hexdigest()


def fit_review_threshold(reader: Any, crops: list[np.ndarray], labels: list[str],
                         target: float = 0.02) -> tuple[float, dict[str, float]]:
    """The lowest confidence threshold (on a grid) at which at most ``target`` of the crops
    it accepts are read wrong, on held-out crops; 1.0 (flag everything) when none is."""
    got = reader.read_strings(crops) if crops else []
    conf = np.array([c for _, c in got])
    right = np.array([t == y for (t, _), y in zip(got, labels, strict=True)])
    for t in REVIEW_GRID:
        kept = conf >= t
        if kept.any() and float((~right[kept]).mean()) <= target:
            return t, {"accepted": round(float(kept.mean()), 4),
                       "wrong_among_accepted": round(float((~right[kept]).mean()), 4)}
    return 1.0, {"accepted": 0.0, "wrong_among_accepted": 0.0}


def train_strings(config: StringTrainConfig, say: Say) -> dict[str, Any]:
    """Train (or fine-tune) a string reader; save it with metadata; return the metadata."""
    from .plugins import get_string_readers
    from .synth import augment_real

    start = time.perf_counter()
    out = Path(config.out)
    check_out(out, config.force)
    readers = get_string_readers()
    if config.backend not in readers or config.backend == "auto":
        raise DataError(f"{config.backend!r} is not a trainable string reader")
    cls = readers[config.backend]
    init_dir = resolve_model_dir(config.init) if config.init else None
    init_config = dict(read_metadata(init_dir).get("config") or {}) if init_dir else {}
    alphabet = config.alphabet or str(init_config.get("alphabet", DIGITS))
    problem = alphabet_problem(alphabet)
    if problem:
        raise DataError(f"--alphabet: {problem}")
    rows = read_labels(Path(config.data))
    rng = np.random.default_rng(config.seed)
    if config.limit:
        rows = [rows[i] for i in sorted(rng.permutation(len(rows))[: config.limit])]
    if config.val:
        val_rows = read_labels(Path(config.val))
        fit_rows = rows
    else:
        order = np.random.default_rng(config.seed).permutation(len(rows))
        cut = max(1, round(len(rows) * config.val_split))
        val_rows = [rows[i] for i in sorted(order[:cut])]
        fit_rows = [rows[i] for i in sorted(order[cut:])]
    say(f"cutting {len(fit_rows)} training and {len(val_rows)} validation crops as read does")
    real, real_y, fit_sha = load_set(fit_rows, alphabet, say)
    val, val_y, val_sha = load_set(val_rows, alphabet, say)
    if not real:
        raise DataError(f"{config.data}: nothing to train on (no labels of {alphabet!r} "
                        "with writing found)")
    crops, labels = list(real), list(real_y)
    for _ in range(config.copies):
        crops += [augment_real(c, rng) for c in real]
        labels += real_y
    if config.synthetic:
        crops_s, labels_s = _synthetic(config.synthetic, real, rng)
        crops += crops_s
        labels += labels_s
    reader = cls(epochs=config.epochs, batch_size=config.batch_size,
                 learning_rate=config.learning_rate, seed=config.seed, alphabet=alphabet,
                 jitter=config.jitter)
    before = None
    if init_dir is not None:
        start_from = cls.load(init_dir, init_config)
        before = exact_match(start_from, val, val_y)
        say(f"starting from {init_dir}: validation exact match {before:.4f}")
        if hasattr(reader, "init_network"):  # maps the output layer onto the alphabet
            known = reader.init_network(init_dir)
            if known != alphabet:
                say(f"output layer from {known!r} to {alphabet!r} (the shared characters' "
                    "and the blank's weights kept)")
        else:
            reader.model = cls.load_keras(init_dir)
    say(f"training {config.backend} on {len(crops)} crops ({len(real)} real, "
        f"{len(real) * config.copies} augmented, {config.synthetic} synthetic)")
    fit = reader.fit(crops, labels, validation=(val, val_y), progress=say)
    wall = time.perf_counter() - start
    after = exact_match(reader, val, val_y)
    threshold, fit_info = fit_review_threshold(reader, val, val_y, REVIEW_TARGET)
    reader.options["min_confidence"] = threshold
    say(f"review threshold {threshold} (on validation: {fit_info})")
    out.mkdir(parents=True, exist_ok=True)
    if (out / METADATA).exists():
        (out / METADATA).unlink()
    reader.save(out)
    from .evaluation import ITEMS_FILE, write_item_digests

    write_item_digests(out, [p for p, _ in fit_rows])  # so evaluate can warn of overlap
    metadata: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "backend": config.backend,
        "config": dict(reader.options),
        "train_config": asdict(config),
        "training": {"n_train": len(real), "n_validation": len(val), "crops": len(crops),
                     "data_sha256": fit_sha, "validation_sha256": val_sha,
                     "items": ITEMS_FILE},
        "versions": library_versions(),
        "wall_time_s": round(wall, 1),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "history": fit.history,
        "review_fit": {"set": "validation", "target_wrong_among_accepted": REVIEW_TARGET,
                       "min_confidence": threshold, **fit_info},
        "metrics": {"validation_exact_match": round(after, 4),
                    "validation_exact_match_before": None if before is None else round(before, 4),
                    "validation_items": len(val)},
    }
    if reader.export_report:
        metadata["onnx"] = reader.export_report
    write_metadata(out, metadata)
    return metadata


def _synthetic(n: int, real: list[np.ndarray], rng: np.random.Generator
               ) -> tuple[list[np.ndarray], list[str]]:
    """``n`` synthetic strings of MNIST digits on paper cut from the real crops."""
    from .data import load_source
    from .synth import StringSynth, background_bank

    mnist = load_source(None, "train")
    synth = StringSynth(mnist.x, mnist.y, background_bank(real[:200]))
    pairs = [synth.sample(rng) for _ in range(n)]
    return [p[0] for p in pairs], [p[1] for p in pairs]
