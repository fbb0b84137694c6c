"""Reading on ONNX Runtime: no TensorFlow on the reading path, the same readings as Keras, the
``export`` command, the ``onnx`` backend's contract, and sessions across forked workers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import digitocr
from digitocr.backends import default_models_dir, load_model, load_reader, read_metadata
from digitocr.cli import cli
from digitocr.errors import MissingDependency, ModelError
from digitocr.onnxrun import ONNX_FILE, OnnxNetwork

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
#: the shipped models that run networks, and so must carry their ONNX files
NETWORKS = ["cnn", "crnn", "ensemble/members/00-cnn", "ensemble/members/01-cnn",
            "ensemble/members/02-cnn", "ensemble/members/03-cnn"]


def keras_only_copy(tmp_path: Path) -> Path:
    """The shipped models without their ONNX files (so they load through Keras)."""
    copy = tmp_path / "models"
    shutil.copytree(default_models_dir(), copy)
    for f in copy.rglob(ONNX_FILE):
        f.unlink()
    return copy


def readings(model: str, paths: list[Path]) -> list[dict[str, object]]:
    """The records, less their provenance: a model's copy without its ONNX files has other
    files, so another checksum, by design."""
    return [{k: v for k, v in p.to_dict().items() if k != "provenance"}
            for p in digitocr.read([str(p) for p in paths], model=model, workers=1)]


def strip_confidence(pages: list[dict[str, object]]) -> tuple[str, list[float]]:
    """The records as JSON without confidences, and the confidences apart."""
    confs: list[float] = []

    def walk(obj: object) -> object:
        if isinstance(obj, dict):
            if "confidence" in obj:
                confs.append(float(obj["confidence"]))
            return {k: walk(v) for k, v in obj.items() if k != "confidence"}
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        return obj

    return json.dumps(walk(pages), sort_keys=True), confs


@pytest.mark.parametrize("name", NETWORKS)
def test_shipped_networks_carry_a_checked_onnx_file(name: str) -> None:
    directory = default_models_dir() / name
    assert (directory / ONNX_FILE).is_file()
    report = read_metadata(directory)["onnx"]
    assert report["file"] == ONNX_FILE and 0 <= report["max_abs_diff"] < 1e-4


def test_reading_imports_neither_tensorflow_nor_keras() -> None:
    code = (
        "import sys, digitocr\n"
        f"pages = list(digitocr.read([{str(SAMPLES / 'form-scan.jpg')!r}]))\n"
        "assert pages[0].fields and not pages[0].error\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'tensorflow', 'keras', 'tf2onnx', 'onnx', 'onnxruntime'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "['onnxruntime']"


@pytest.mark.slow
@pytest.mark.parametrize("model", ["auto", "ensemble"])
def test_onnx_reads_samples_as_keras_does(model: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    paths = sorted(p for p in SAMPLES.rglob("*") if p.suffix in {".png", ".jpg", ".tif", ".pdf"})
    onnx_pages = readings(model, paths)
    monkeypatch.setenv("DIGITOCR_MODELS", str(keras_only_copy(tmp_path)))
    keras_pages = readings(model, paths)
    onnx_text, onnx_conf = strip_confidence(onnx_pages)
    keras_text, keras_conf = strip_confidence(keras_pages)
    assert onnx_text == keras_text  # every text, box, flag and glyph
    assert len(onnx_conf) > 50
    np.testing.assert_allclose(onnx_conf, keras_conf, atol=2e-4)  # 4-decimal rounding


@pytest.mark.slow
def test_export_command_writes_the_onnx_file(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    models = keras_only_copy(tmp_path)
    result = CliRunner().invoke(cli, ["export", str(models / "cnn")])
    assert result.exit_code == 0, result.output
    report = read_metadata(models / "cnn")["onnx"]
    assert result.output == (f"{models / 'cnn'}: wrote model.onnx (opset {report['opset']}, "
                             f"largest difference from Keras {report['max_abs_diff']:.1e})\n")
    x = np.random.default_rng(0).random((20, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(load_model(str(models / "cnn")).predict_proba(x),
                               load_model("cnn").predict_proba(x), atol=1e-5)
    result = CliRunner().invoke(cli, ["export", "svm"])
    assert result.output == "svm: this backend runs no network; nothing to export\n"


def test_a_keras_only_model_without_keras_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = keras_only_copy(tmp_path)
    monkeypatch.setitem(sys.modules, "keras", None)  # as if Keras were not installed
    with pytest.raises(MissingDependency, match=r"pip install 'digitocr\[train\]'"):
        load_model(str(models / "cnn"))


def tiny_onnx(path: Path, weights: np.ndarray, rank: int = 3, outputs: int = 10) -> None:
    """An ONNX classifier (N, 28, 28[, 1]) -> Softmax(flatten(x) @ W), made with onnx.helper."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    shape = ["N", 28, 28] + ([1] if rank == 4 else [])
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["flat"], axis=1),
         helper.make_node("MatMul", ["flat", "W"], ["scores"]),
         helper.make_node("Softmax", ["scores"], ["probs"], axis=1)],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", outputs])],
        initializer=[numpy_helper.from_array(weights[:, :outputs].astype(np.float32), "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    (path.parent / "metadata.json").write_text(json.dumps({"backend": "onnx"}))


@pytest.mark.parametrize("rank", [3, 4])
def test_onnx_backend_runs_any_conforming_model(rank: int, tmp_path: Path) -> None:
    weights = np.random.default_rng(1).normal(size=(784, 10))
    tiny_onnx(tmp_path / "tiny" / ONNX_FILE, weights, rank)
    clf = load_model(str(tmp_path / "tiny"))
    assert clf.backend == "onnx"
    x = np.random.default_rng(2).random((7, 28, 28), dtype=np.float32)
    scores = x.reshape(7, -1) @ weights
    expected = np.exp(scores - scores.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(x), expected, atol=1e-4)
    result = CliRunner().invoke(cli, ["read", str(SAMPLES / "form-clean.png"), "--model",
                                      str(tmp_path / "tiny"), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("file,page,field,text,confidence,needs_review")


def test_onnx_backend_refuses_a_model_off_the_contract(tmp_path: Path) -> None:
    tiny_onnx(tmp_path / "seven" / ONNX_FILE, np.ones((784, 10)), outputs=7)
    result = CliRunner().invoke(cli, ["read", str(SAMPLES / "form-clean.png"), "--model",
                                      str(tmp_path / "seven")])
    assert result.exit_code == 2
    assert result.output.endswith("model.onnx: model outputs 7 scores per item, expected 10\n")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / ONNX_FILE).write_bytes(b"not a protobuf")
    (tmp_path / "junk" / "metadata.json").write_text('{"backend": "onnx"}')
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        load_model(str(tmp_path / "junk"))


def test_a_network_pickles_and_runs_after_a_fork() -> None:
    """A session made in the parent is not used in a forked worker: it makes its own."""
    reader = load_reader("cnn")
    x = np.random.default_rng(3).random((5, 28, 28), dtype=np.float32)
    want = reader.predict_proba(x)  # type: ignore[union-attr]
    net = reader.network  # type: ignore[union-attr]
    assert isinstance(net, OnnxNetwork)
    import pickle

    clone = pickle.loads(pickle.dumps(net))
    np.testing.assert_allclose(clone.run(x[..., None]), want, atol=1e-6)
    files = [str(SAMPLES / "form-clean.png"), str(SAMPLES / "form-scan.jpg")] * 2
    alone = [p.to_dict() for p in digitocr.read(files, model=reader, workers=1)]
    pooled = [p.to_dict() for p in digitocr.read(files, model=reader, workers=2)]
    assert pooled == alone
