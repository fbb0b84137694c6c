#!/usr/bin/env python
"""Train the CRNN string reader on ORAND-CAR train-split crops plus synthetic digit strings.

    DIGITOCR_DATA=/path/to/data python bench/train_crnn.py --out /tmp/crnn-1
    python bench/train_crnn.py --out /tmp/crnn-2 --init /tmp/crnn-1 --seed 1 --epochs 4 \
        --learning-rate 7e-4
    python bench/train_crnn.py --out models/crnn --init /tmp/crnn-2 --seed 2 --epochs 3 \
        --learning-rate 5e-4 --synthetic 20000 --real-copies 16

(the three stages of the shipped model; the defaults are stage 1's, about 23 minutes on two
busy cores). Each stage continues from the last one's weights with fresh synthetic strings.

Training data, all from ``bench/orand.py``'s fixed *train* split (the test split is only
scored, at the end): the real crops (minus a seeded validation slice used for picking the best
epoch), augmented copies of them (``digitocr.synth.augment_real``), and synthetic strings
(``digitocr.synth.StringSynth``) made of MNIST and CVL digits printed on paper cut from the
train crops with their ink painted out, or on synthetic security textures. Writes a model
directory (``model.keras`` + ``metadata.json`` with config, data SHA-256, library versions,
wall time, history, and exact match on the validation slice and the held-out test split).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from orand import orand_dir, split


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_crops(folder: Path, rows: list[tuple[str, str]]) -> tuple[list[np.ndarray], list[str]]:
    """Crops decoded exactly as ``digitocr read`` decodes them (``io.load_pages``, gray)."""
    from digitocr.io import load_pages

    crops, labels = [], []
    for name, digits in rows:
        page = next(load_pages(str(folder / "images" / name), gray=True))
        crops.append(page.image if page.image.ndim == 2 else
                     cv2.cvtColor(page.image, cv2.COLOR_RGB2GRAY))
        labels.append(digits)
    return crops, labels


def sha256_of(folder: Path, rows: list[tuple[str, str]]) -> str:
    h = hashlib.sha256()
    for name, digits in rows:
        h.update(name.encode() + b"\0" + digits.encode() + b"\0")
        h.update((folder / "images" / name).read_bytes())
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA"))
    ap.add_argument("--out", type=Path, default=Path("models/crnn"))
    ap.add_argument("--synthetic", type=int, default=30000, help="synthetic strings")
    ap.add_argument("--real-copies", type=int, default=10,
                    help="augmented copies of each real train crop (plus the crop itself)")
    ap.add_argument("--val", type=int, default=60, help="real train crops held out for "
                    "picking the best epoch")
    ap.add_argument("--epochs", type=int, default=7)
    ap.add_argument("--batch-size", type=int, default=48)
    ap.add_argument("--learning-rate", type=float, default=2e-3)
    ap.add_argument("--rnn-units", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", type=Path, default=None,
                    help="continue from this CRNN model directory's weights")
    args = ap.parse_args()
    t0 = time.perf_counter()

    from digitocr_plugins.crnn import CRNNReader

    from digitocr.backends import write_metadata
    from digitocr.data import load_source
    from digitocr.strings import exact_match
    from digitocr.synth import StringSynth, augment_real, background_bank

    folder = orand_dir(args.data)
    data_root = folder.parent
    train_rows = split(folder, "train")
    test_rows = split(folder, "test")
    rng = np.random.default_rng(args.seed)
    perm = np.random.default_rng(0).permutation(len(train_rows))  # same slice for every seed
    val_rows = [train_rows[i] for i in sorted(perm[: args.val])]
    fit_rows = [train_rows[i] for i in sorted(perm[args.val :])]
    real, real_y = load_crops(folder, fit_rows)
    val, val_y = load_crops(folder, val_rows)
    log(f"ORAND train {len(real)} (+{len(val)} validation), test {len(test_rows)}")

    sources = [load_source(str(data_root / "mnist"), "train")]
    for name in ("cvl/cvl-train.npz", "cvl/cvl-valid.npz"):
        if (data_root / name).is_file():
            sources.append(load_source(str(data_root / name)))
    digits = np.concatenate([s.x for s in sources])
    digit_labels = np.concatenate([s.y for s in sources])
    synth = StringSynth(digits, digit_labels, background_bank(real))
    crops: list[np.ndarray] = list(real)
    labels: list[str] = list(real_y)
    for _ in range(args.real_copies):
        for img, lab in zip(real, real_y, strict=True):
            crops.append(augment_real(img, rng))
            labels.append(lab)
    for _ in range(args.synthetic):
        img, lab = synth.sample(rng)
        crops.append(img)
        labels.append(lab)
    log(f"training crops: {len(crops)} ({len(real) * (1 + args.real_copies)} real, "
        f"{args.synthetic} synthetic), made in {time.perf_counter() - t0:.0f}s")

    config = {"epochs": args.epochs, "batch_size": args.batch_size,
              "learning_rate": args.learning_rate, "rnn_units": args.rnn_units,
              "seed": args.seed}
    reader = CRNNReader(**config)
    if args.init is not None:
        reader.model = CRNNReader.load_keras(args.init)
    fit = reader.fit(crops, labels, validation=(val, val_y), progress=log)
    train_s = time.perf_counter() - t0

    test, test_y = load_crops(folder, test_rows)
    t1 = time.perf_counter()
    test_em = exact_match(reader, test, test_y)
    per_s = len(test) / (time.perf_counter() - t1)
    val_em = exact_match(reader, val, val_y)
    log(f"exact match: validation {val_em:.4f}, test {test_em:.4f} ({per_s:.0f} crops/s)")

    reader.save(args.out)
    import keras
    import tensorflow as tf

    write_metadata(args.out, {
        "backend": "crnn",
        "format_version": 1,
        "config": reader.options,
        "init": str(args.init) if args.init else None,
        "trained_on": {
            "orand_car_train_split": len(real), "validation_slice": len(val),
            "augmented_copies": args.real_copies, "synthetic_strings": args.synthetic,
            "synthetic_digits": [s.source for s in sources],
        },
        "data_sha256": {
            "orand_car_train_split": sha256_of(folder, train_rows),
            **{s.source: s.sha256 for s in sources},
        },
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "opencv": cv2.__version__, "keras": keras.__version__,
                     "tensorflow": tf.__version__},
        "wall_time_s": round(train_s, 1),
        "epochs": fit.epochs,
        "history": fit.history,
        "metrics": {
            "validation_exact_match": round(val_em, 4),
            "orand_car_test_exact_match": round(test_em, 4),
            "orand_car_test_images": len(test),
            "crops_per_s_batched": round(per_s, 1),
        },
        "command": "python bench/train_crnn.py " + " ".join(sys.argv[1:]),
        "onnx": reader.export_report,
    })
    log(f"saved {args.out} ({sum(f.stat().st_size for f in args.out.iterdir()) / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
