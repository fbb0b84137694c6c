"""A crafted ``model.skops`` must be refused before skops runs anything it names."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from digitocr_plugins.classical import KNNClassifier

from digitocr.backends import load_model
from digitocr.errors import ModelError


def _str(value: str) -> dict[str, Any]:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True}


def _call(module: str, name: str, *args: dict[str, Any]) -> dict[str, Any]:
    """A node that skops loads by calling ``module.name(*args)``."""
    return {"__class__": name, "__module__": module, "__loader__": "ConstructorFromReduceNode",
            "content": {"__class__": "tuple", "__module__": "builtins",
                        "__loader__": "TupleNode", "content": list(args)}}


@pytest.fixture(scope="module")
def knn_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    model = KNNClassifier(components=5)
    model.fit(rng.random((40, 28, 28)).astype(np.float32), np.arange(40) % 10)
    d = tmp_path_factory.mktemp("knn")
    model.save(d)
    (d / "metadata.json").write_text(json.dumps({"backend": "knn", "config": {"components": 5}}))
    return d


def _craft(src: Path, dest: Path, node: dict[str, Any]) -> Path:
    """Copy a model directory with the pipeline's ``verbose`` replaced by ``node``."""
    dest.mkdir()
    (dest / "metadata.json").write_bytes((src / "metadata.json").read_bytes())
    with zipfile.ZipFile(src / "model.skops") as zin, \
            zipfile.ZipFile(dest / "model.skops", "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "schema.json":
                schema = json.loads(data)
                schema["content"]["content"]["verbose"] = node
                data = json.dumps(schema).encode()
            zout.writestr(item, data)
    return dest


def test_plain_model_loads(knn_dir: Path) -> None:
    assert load_model(str(knn_dir)).predict_proba(np.zeros((2, 28, 28))).shape == (2, 10)


def _tricks(marker: Path) -> dict[str, dict[str, Any]]:
    touch = f"open({str(marker)!r}, 'w').close()"
    return {
        "exec": _call("builtins", "exec", _str(touch)),
        "eval": _call("builtins", "eval", _str(touch)),
        "os.system": _call("os", "system", _str(f"touch {marker}")),
        # getattr(__import__('os'), 'system') built from nodes, then numpy.load of a pickle
        "getattr": _call("builtins", "getattr", _call("builtins", "__import__", _str("os")),
                         _str("system")),
        "numpy.load": _call("numpy", "load", _str(str(marker)), _str("allow_pickle")),
    }


@pytest.mark.parametrize("trick", ["exec", "eval", "os.system", "getattr", "numpy.load"])
def test_crafted_model_refused_and_runs_nothing(knn_dir: Path, tmp_path: Path,
                                                 trick: str) -> None:
    marker = tmp_path / "pwned"
    bad = _craft(knn_dir, tmp_path / "bad", _tricks(marker)[trick])
    with pytest.raises(ModelError, match="refusing to load unexpected types"):
        load_model(str(bad))
    assert not marker.exists()
