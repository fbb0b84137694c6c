#!/usr/bin/env python
"""Training data of the crnn's stage 5: the stage-4 mix, plus cheque amounts written as Indian
and other cheques write them (grouped digits ending ``/-``), so the whole-string reader learns
to leave the endings and separators out of the digits.

    DIGITOCR_DATA=../shared/data python bench/crnn_amount_data.py /tmp/amounts
    digitocr train crnn --data /tmp/amounts/train --val /tmp/amounts/val --init crnn \\
        --epochs 2 --copies 1 --batch-size 32 --lr 5e-4 --seed 0 --out models/crnn --force

Added to ``bench/crnn_mix_data.py``'s rows (ORAND-CAR repeated ``ORAND_PLAIN`` times instead of
20):

- every ORAND-CAR train crop (real handwriting) ``ENDED`` times with an ending written after
  its digits in the crop's own stroke (``digitocr.synth.append_ending``: mostly ``/-``);
- ``SYNTHETIC`` strings of MNIST and CVL training digits in ``digitocr.synth.CHEQUE_AMOUNTS``
  style (Indian ``88,00,000`` and Western grouping, endings ``/-``, ``/=``, ``/``), on paper
  cut from ORAND-CAR train crops or on synthetic security texture.

Validation gets the same treatment of its held-out slices (ORAND's 60 once ended, and
``SYNTHETIC_VAL`` synthetic amounts). No IDRBT cheque, no ``danish-rowid/validation`` crop and
no ORAND-CAR test crop is used: those score the result (``bench/real.py``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crnn_mix_data import ORAND_VALIDATION, mix_rows, write_sets

ORAND_PLAIN = 10
ENDED = 10
SYNTHETIC = 12000
SYNTHETIC_VAL = 300
#: the endings appended to real crops, drawn with these weights
ENDINGS = ("/-", "/-", "/-", "/-", "/=", "/", "/-/", "-", "=")


def write_synthetic(synth: Any, rng: np.random.Generator, stem: Path, count: int,
                    rows: list[tuple[str, str]]) -> None:
    """``count`` of ``synth``'s amounts written as ``STEM-NNNNN.png``, each a row of ``rows``."""
    for i in range(count):
        crop, text = synth.sample(rng)
        dest = stem.with_name(f"{stem.name}-{i:05d}.png")
        cv2.imwrite(str(dest), crop)
        rows.append((str(dest), text))


def main() -> int:
    from digitocr.data import load_source
    from digitocr.synth import CHEQUE_AMOUNTS, StringSynth, append_ending, background_bank

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/amounts").resolve()
    data = Path(os.environ.get("DIGITOCR_DATA", "../shared/data")).resolve()
    sets = mix_rows(data, orand_repeats=ORAND_PLAIN)
    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    orand_dir = str(data / "orand-car" / "images")
    for name, copies in (("train", ENDED), ("val", 1)):
        rows = sets[name]
        orand = sorted({r for r in rows if r[0].startswith(orand_dir)})
        if name == "val":
            assert len(orand) == ORAND_VALIDATION
        crops = []
        for path, text in orand:
            gray = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
            crops.append(gray)
            for k in range(copies):
                ended = append_ending(gray, rng, str(rng.choice(ENDINGS)))
                dest = img / f"{name}-{Path(path).stem[:20]}-{k}.png"
                cv2.imwrite(str(dest), ended)
                rows.append((str(dest), text))
        digits = [load_source(None, "train"), load_source(str(data / "cvl" / "cvl-train.npz"))]
        x = np.concatenate([d.x for d in digits])
        y = np.concatenate([d.y for d in digits])
        synth = StringSynth(x, y, background_bank(crops[:300]), config=CHEQUE_AMOUNTS)
        write_synthetic(synth, rng, img / f"{name}-synth",
                        SYNTHETIC if name == "train" else SYNTHETIC_VAL, rows)
    write_sets(out, sets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
