#!/usr/bin/env python
"""The training and validation folders of the shipped crnn's last stage (labels.csv files that
name images by absolute path; no image is copied).

    DIGITOCR_DATA=../shared/data python bench/crnn_mix_data.py /tmp/mix
    digitocr train crnn --data /tmp/mix/train --val /tmp/mix/val --init crnn --epochs 3 \\
        --copies 1 --batch-size 32 --lr 5e-4 --seed 0 --out models/crnn --force

Training: every ``danish-rowid/train`` cell but a seeded 5 % slice, and the ORAND-CAR train
split (``bench/orand.py``) but ``bench/train_crnn.py``'s 60-crop validation slice, repeated 20
times so that the amounts are not outweighed by the ledger cells. Validation: the two held-out
slices. Never used: ``danish-rowid/validation`` and the ORAND-CAR test split, which score it.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from orand import split

ORAND_REPEATS = 20
DANISH_VALIDATION = 0.05
ORAND_VALIDATION = 60


def mix_rows(data: Path, orand_repeats: int = ORAND_REPEATS) -> dict[str, list[tuple[str, str]]]:
    """``train`` and ``val`` rows (absolute image path, label) of the stage-4 mix."""
    folder = data / "danish-rowid" / "train"
    with open(folder / "labels.csv", newline="") as fh:
        danish = [(str(folder / r["file"]), r["text"]) for r in csv.DictReader(fh)]
    order = np.random.default_rng(0).permutation(len(danish))
    cut = round(len(danish) * DANISH_VALIDATION)
    orand = [(str(data / "orand-car" / "images" / f), t)
             for f, t in split(data / "orand-car", "train")]
    perm = np.random.default_rng(0).permutation(len(orand))  # bench/train_crnn.py's slice
    sets = {
        "train": [danish[i] for i in sorted(order[cut:])]
        + [orand[i] for i in sorted(perm[ORAND_VALIDATION:])] * orand_repeats,
        "val": [danish[i] for i in sorted(order[:cut])]
        + [orand[i] for i in sorted(perm[:ORAND_VALIDATION])],
    }
    return sets


def write_sets(out: Path, sets: dict[str, list[tuple[str, str]]]) -> None:
    """One ``labels.csv`` per set, naming the images by absolute path."""
    for name, rows in sets.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        with open(out / name / "labels.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["file", "text"])
            writer.writerows(rows)
        print(f"{out / name}: {len(rows)} rows", file=sys.stderr)


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/mix")
    data = Path(os.environ.get("DIGITOCR_DATA", "../shared/data")).resolve()
    write_sets(out, mix_rows(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
