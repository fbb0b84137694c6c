"""Helpers for batch tests (resume, Dask, ETL output): a folder of small string crops and a
slow fake model, as a plugin module that other processes (a CLI subprocess, Dask workers)
import by name.

The model is ``read_helpers``'s Hershey-font classifier, sleeping ``DELAY`` seconds per crop,
so that a batch takes long enough to be killed in the middle of it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from read_helpers import save_png, string_image

PLUGIN = "slowfont_plugin"
BACKEND = "slowfont"
TESTS = Path(__file__).resolve().parent

SOURCE = '''
import os
import time

from digitocr import hookimpl
from read_helpers import FontTemplateClassifier

DELAY = float(os.environ.get("SLOWFONT_DELAY", "0.02"))


class SlowFont(FontTemplateClassifier):
    backend = "slowfont"

    def predict_proba(self, x):
        time.sleep(DELAY * len(x))
        return super().predict_proba(x)


@hookimpl
def register_classifiers(register):
    register("slowfont", SlowFont)
'''


def slow_model(folder: Path) -> Path:
    """Write the plugin module into ``folder`` (put on ``sys.path``) and a model directory
    of its backend; returns the model directory."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{PLUGIN}.py").write_text(SOURCE)
    for p in (str(folder), str(TESTS)):
        if p not in sys.path:
            sys.path.insert(0, p)
    model = folder / "slowmodel"
    model.mkdir(exist_ok=True)
    (model / "metadata.json").write_text(json.dumps({"backend": BACKEND, "config": {}}))
    return model


def crops(folder: Path, n: int) -> list[Path]:
    """``n`` string crops ``c000.png`` ... holding 3-digit numbers, a blank page among them
    (``c001``), in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        path = folder / f"c{i:03d}.png"
        img = string_image(f"{(i * 37) % 1000:03d}")
        if i == 1:
            img[:] = 255
        out.append(save_png(img, path))
    return out
