#!/usr/bin/env python
"""The IDRBT cheques' amounts and dates read by Tesseract, beside digitocr, on the same crops.

    DIGITOCR_DATA=../shared/data python bench/cheque_tesseract.py   # needs tesseract-ocr

Tesseract 5 (LSTM, ``--psm 7``: one line, digits whitelisted, as a user would ask it) reads
each truth box cut from the whole cheque; digitocr reads the whole cheque
(``digitocr read --layout cheque``, the defaults) and, for a like-for-like comparison, the
same cut boxes (``--layout string``). Exact match of the digits, and how many readings
each leaves unflagged and wrong (Tesseract flags nothing; its confidence is not a probability).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2


def tesseract(path: Path) -> str:
    out = subprocess.run(["tesseract", str(path), "-", "--psm", "7", "-c",
                          "tessedit_char_whitelist=0123456789"], capture_output=True, text=True,
                         check=False)
    return "".join(c for c in out.stdout if c.isdigit())


def main() -> int:
    from digitocr import read

    if shutil.which("tesseract") is None:
        raise SystemExit("tesseract not found: apt-get install -y tesseract-ocr")
    folder = Path(os.environ.get("DIGITOCR_DATA", "../shared/data")) / "cheques-idrbt"
    truth = json.loads((folder / "truth.json").read_text())["cheques"]
    tmp = Path(tempfile.mkdtemp())
    scores = {k: {"n": 0, "tesseract": 0, "digitocr_cut": 0, "digitocr_cut_unflagged_wrong": 0,
                  "digitocr_cheque": 0, "digitocr_cheque_unflagged_wrong": 0}
              for k in ("amount", "date")}
    whole = list(read([str(folder / c["image"]) for c in truth], layout="cheque"))
    for c, page in zip(truth, whole, strict=True):
        image = cv2.imread(str(folder / c["image"]))
        for tf in c["fields"]:
            name = tf["name"]
            if name not in scores or not tf.get("text"):
                continue
            s = scores[name]
            s["n"] += 1
            x, y, w, h = tf["bbox_xywh"]
            crop = tmp / f"{Path(c['image']).stem}-{name}.png"
            cv2.imwrite(str(crop), image[y : y + h, x : x + w])
            s["tesseract"] += tesseract(crop) == tf["text"]
            (cut,) = read(str(crop), layout="string")
            text = "".join(f.text for f in cut.fields)
            review = not cut.fields or any(f.needs_review for f in cut.fields)
            s["digitocr_cut"] += text == tf["text"]
            s["digitocr_cut_unflagged_wrong"] += text != tf["text"] and not review
            got = [f for f in page.fields if f.name == name]
            text = got[0].text if got else ""
            review = not got or got[0].needs_review
            s["digitocr_cheque"] += text == tf["text"]
            s["digitocr_cheque_unflagged_wrong"] += text != tf["text"] and not review
    shutil.rmtree(tmp, ignore_errors=True)
    for name, s in scores.items():
        print(json.dumps({"field": name, **s}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
