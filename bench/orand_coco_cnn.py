#!/usr/bin/env python
"""Fine-tune the shipped digit CNN with ``digitocr train cnn`` on ORAND-CAR's COCO digit boxes
(the fixed *train* split of ``bench/orand.py`` only), then score per-digit reading of the test
split before and after.

    DIGITOCR_DATA=/path/to/data python bench/orand_coco_cnn.py --out bench/out/orand-coco-cnn

The train split's images, their ``labels.csv`` rows and COCO boxes are linked into a temporary
folder, which ``train cnn --data`` reads as a COCO source (boxes cut from the ink map and
normalised as ``read`` does; validation split by image). Prints one JSON object: the training
command, its wall time and held-out validation accuracy, and ``bench/orand.py``'s test-split
figures for ``models/cnn`` and the fine-tuned model (``--layout string``, per-digit reading).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orand import orand_dir, split

REPO = Path(__file__).resolve().parent.parent


def train_folder(folder: Path, dest: Path) -> int:
    """``dest`` holding the train split's images, labels and boxes; returns the image count."""
    keep = dict(split(folder, "train"))
    (dest / "images").mkdir(parents=True)
    coco = json.loads((folder / "digit-boxes.coco.json").read_text())
    images = [im for im in coco["images"] if im["file_name"] in keep]
    ids = {im["id"] for im in images}
    coco["images"] = images
    coco["annotations"] = [a for a in coco["annotations"] if a["image_id"] in ids]
    (dest / "digit-boxes.coco.json").write_text(json.dumps(coco))
    lines = ["file,digits"] + [f"{name},{text}" for name, text in sorted(keep.items())]
    (dest / "labels.csv").write_text("\n".join(lines) + "\n")
    for name in keep:
        (dest / "images" / name).symlink_to(folder / "images" / name)
    return len(images)


def orand_score(model: str, data: str | None) -> dict[str, object]:
    cmd = [sys.executable, str(REPO / "bench" / "orand.py"), "--model", model, "--split", "test",
           "--show-misses", "0"]
    if data:
        cmd += ["--data", data]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out[: out.index("}") + 1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DIGITOCR_DATA"))
    ap.add_argument("--out", default="bench/out/orand-coco-cnn")
    ap.add_argument("--epochs", default="2")
    args = ap.parse_args()
    folder = orand_dir(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        n_images = train_folder(folder, Path(tmp) / "orand-train")
        cmd = ["train", "cnn", "--data", str(Path(tmp) / "orand-train"), "--init", "cnn",
               "--arch", "wide", "--epochs", args.epochs, "--lr", "0.0001", "--rotation", "5",
               "--shift", "0.05", "--zoom", "0.05", "--non-digits", "0.15",
               "--out", args.out, "--force"]
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "digitocr", *cmd], check=True)
        took = time.perf_counter() - t0
    meta = json.loads((Path(args.out) / "metadata.json").read_text())
    print(json.dumps({
        "command": "digitocr " + " ".join(cmd),
        "train_images": n_images,
        "train_seconds": round(took, 1),
        "validation_accuracy": meta["metrics"]["validation"]["accuracy"],
        "validation_what": meta["metrics"]["validation"]["what"],
        "test_before": orand_score("cnn", args.data),
        "test_after": orand_score(args.out, args.data),
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
