#!/usr/bin/env python
"""Training data of the crnn's stage 6: round amounts, their zeros joined in one hurried stroke.

    DIGITOCR_DATA=../shared/data python bench/crnn_round_data.py /tmp/round [SEED]
    digitocr train crnn --data /tmp/round/train --val /tmp/round/val --init crnn \\
        --epochs 1 --copies 1 --batch-size 32 --lr 3e-4 --seed 0 --out models/crnn --force

Stage 5 (``bench/crnn_amount_data.py``) taught the reader the ``/-`` endings; on real Indian
cheques it still lost or invented digits where ``,000/-`` is written as joined small loops
(``ovo/-``) and where the dash after the slash runs on far to the right. This set is a shorter
refresher of stage 5's kinds plus amounts from ``digitocr.synth.CHEQUE_AMOUNTS``, which now end
in zeros on most draws (``p_round``), half of them joined (``p_cursive``,
``digitocr.synth.cursive_zeros``):

- ``DANISH`` of the stage-4 mix's danish-rowid train cells (so the ledger reading is kept);
- the ORAND-CAR train crops ``ORAND_PLAIN`` times as they are and ``ENDED`` times with an
  ending in their own stroke;
- ``SYNTHETIC`` amounts of MNIST and CVL training digits on ORAND paper or security texture.

Validation: the stage-4 mix's held-out slices, ORAND's 60 once ended, ``SYNTHETIC_VAL``
amounts. No IDRBT cheque, no ``danish-rowid/validation`` crop and no ORAND-CAR test crop is
used: those score the result (``bench/real.py``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crnn_amount_data import ENDINGS, write_synthetic
from crnn_mix_data import ORAND_VALIDATION, mix_rows, write_sets

DANISH = 6000
ORAND_PLAIN = 4
ENDED = 4
SYNTHETIC = 10000
SYNTHETIC_VAL = 300


def main() -> int:
    from digitocr.data import load_source
    from digitocr.synth import CHEQUE_AMOUNTS, StringSynth, append_ending, background_bank

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/round").resolve()
    data = Path(os.environ.get("DIGITOCR_DATA", "../shared/data")).resolve()
    sets = mix_rows(data, orand_repeats=1)
    orand_dir = str(data / "orand-car" / "images")
    rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 6)
    danish = [r for r in sets["train"] if not r[0].startswith(orand_dir)]
    keep = sorted(rng.choice(len(danish), size=min(DANISH, len(danish)), replace=False))
    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)
    digits = [load_source(None, "train"), load_source(str(data / "cvl" / "cvl-train.npz"))]
    x = np.concatenate([d.x for d in digits])
    y = np.concatenate([d.y for d in digits])
    for name in ("train", "val"):
        orand = sorted({r for r in sets[name] if r[0].startswith(orand_dir)})
        if name == "val":
            assert len(orand) == ORAND_VALIDATION
            rows, ended = list(sets["val"]), 1
        else:
            rows, ended = [danish[i] for i in keep] + orand * ORAND_PLAIN, ENDED
        crops = []
        for path, text in orand:
            gray = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
            crops.append(gray)
            for k in range(ended):
                dest = img / f"{name}-{Path(path).stem[:20]}-{k}.png"
                cv2.imwrite(str(dest), append_ending(gray, rng, str(rng.choice(ENDINGS))))
                rows.append((str(dest), text))
        synth = StringSynth(x, y, background_bank(crops[:300]), config=CHEQUE_AMOUNTS)
        write_synthetic(synth, rng, img / f"{name}-synth",
                        SYNTHETIC if name == "train" else SYNTHETIC_VAL, rows)
        sets[name] = rows
    write_sets(out, sets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
