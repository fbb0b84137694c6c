#!/usr/bin/env python
"""Shrink the README's figures into docs/figures/ (palette PNGs, about 250 KB in all).

    python bench/thumbnails.py ROOT

ROOT holds what these commands write (DIGITOCR_DATA set, D=$DIGITOCR_DATA):

    digitocr evaluate --model cnn --figures ROOT/cnn
    digitocr eda --limit 5000 --out ROOT/eda
    python bench/trust_figures.py --out ROOT/real
    digitocr read --layout string --annotate ROOT/ann \\
        $D/orand-car/images/a_car_000161_png.rf.510920c10e2b488fe5db6c543653a3d3.jpg
    digitocr read --annotate ROOT/ann --layout cheque $D/cheques-idrbt/images/083660.jpg
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
PICK = {
    "cnn-confusion_matrix.png": "cnn/confusion_matrix.png",
    "cnn-roc_pr_curves.png": "cnn/roc_pr_curves.png",
    "cnn-reliability.png": "cnn/reliability.png",
    "cnn-risk_coverage.png": "cnn/risk_coverage.png",
    "cnn-training_curves.png": "cnn/training_curves.png",
    "crnn-training_curves.png": "real/crnn-training_curves.png",
    "orand-reliability.png": "real/orand-reliability.png",
    "orand-risk_coverage.png": "real/orand-risk_coverage.png",
    "danish-reliability.png": "real/danish-reliability.png",
    "danish-risk_coverage.png": "real/danish-risk_coverage.png",
    "eda-class_distribution.png": "eda/class_distribution.png",
    "eda-pca.png": "eda/pca.png",
    "annotated-orand.png": "ann/a_car_000161_png.rf.510920c10e2b488fe5db6c543653a3d3.jpg-p1.png",
    "annotated-cheque.png": "ann/083660.jpg-p1.png",
}


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("evaluation")
    out = REPO / "docs" / "figures"
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, rel in PICK.items():
        im = Image.open(root / rel).convert("RGB")
        width = 800 if im.width >= 1200 else 640  # the wide two-panel figures stay wider
        if im.width > width:
            im = im.resize((width, round(im.height * width / im.width)), Image.Resampling.LANCZOS)
        # 64 colours without dithering: flat plot colours survive, files stay a few tens of KB
        im.quantize(colors=64, method=Image.Quantize.FASTOCTREE,
                    dither=Image.Dither.NONE).save(out / name, optimize=True)
        total += (out / name).stat().st_size
        print(f"{name:28s} {im.width}x{im.height}")
    print(f"{len(PICK)} files, {total / 1024:.0f} KB in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
