"""train / evaluate / eda end to end on small subsets, model directories, startup cost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from digitocr_plugins.cnn import CNNClassifier

from digitocr.backends import Classifier, FitResult, load_model, read_metadata, write_metadata
from digitocr.cli import cli
from digitocr.errors import ModelError


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_version_and_help_do_not_import_tensorflow() -> None:
    code = (
        "import sys; from digitocr.cli import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules, 'sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False False"
    code, stdout, _ = run("--version")
    assert (code, stdout) == (0, "digitocr, version 0.1.0\n")


def test_train_and_evaluate_with_a_fake_plugin(
    tmp_path: Path, mnist_dir: Path, fake_plugin: None
) -> None:
    out = tmp_path / "fake"
    code, stdout, stderr = run("train", "fake", "--data", str(mnist_dir), "--limit", "1000",
                               "--out", str(out))
    assert code == 0, stderr
    assert stdout.startswith(f"{out}: accuracy 0.")
    assert " on the MNIST test set, trained in " in stdout
    meta = read_metadata(out)
    assert meta["backend"] == "fake"
    assert meta["training"]["sources"] == ["mnist:train[:1000]"]
    counts = meta["training"]["class_counts_before_oversampling"]
    assert sum(counts) == 900 and meta["training"]["n_validation"] == 100
    assert meta["training"]["n_train"] == 10 * max(counts)  # RandomOverSampler balanced them
    assert len(meta["training"]["sha256"]) == 64
    assert meta["history"] == {"loss": [1.0, 0.5]}
    assert {"numpy", "python", "digitocr"} <= set(meta["versions"])
    assert meta["metrics"]["mnist_test"]["n"] == 10000
    assert meta["metrics"]["mnist_test"]["accuracy"] > 0.6  # nearest-centroid on pixels

    code, stdout, stderr = run("evaluate", "--model", str(out), "--data", str(mnist_dir),
                               "--limit", "200", "--json", "--figures", str(tmp_path / "figs"))
    assert code == 0, stderr
    metrics = json.loads(stdout)
    assert metrics["n"] == 200 and metrics["data"] == "mnist:test"
    model = load_model(str(out))
    expected = float((model.predict(load_test(mnist_dir)[:200]) == load_labels(mnist_dir)[:200])
                     .mean())
    assert metrics["accuracy"] == pytest.approx(expected)
    names = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert names == ["confident_mistakes.png", "confusion_matrix.png", "prediction_grid.png",
                     "reliability.png", "risk_coverage.png", "roc_pr_curves.png",
                     "training_curves.png"]


def load_test(mnist_dir: Path) -> np.ndarray:
    from digitocr.data import load_source

    return load_source(str(mnist_dir), "test").x


def load_labels(mnist_dir: Path) -> np.ndarray:
    from digitocr.data import load_source

    return load_source(str(mnist_dir), "test").y


def test_knn_with_extra_data_and_holdout(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "knn"
    code, _, stderr = run("train", "knn", "--data", str(data_dir / "mnist"), "--limit", "2000",
                          "--extra", str(data_dir / "usps" / "usps-train.npz"),
                          "--extra-holdout", "0.5", "--out", str(out))
    assert code == 0, stderr
    meta = read_metadata(out)
    assert meta["training"]["sources"] == ["mnist:train[:2000]", "npz:usps-train.npz:train"]
    held = meta["metrics"]["holdout:usps-train.npz"]
    assert held["n"] == 3645 and held["accuracy"] > 0.8
    assert meta["metrics"]["mnist_test"]["accuracy"] > 0.85
    assert (out / "model.skops").is_file()


def test_network_options_rejected_for_classical(mnist_dir: Path, tmp_path: Path) -> None:
    code, _, stderr = run("train", "knn", "--data", str(mnist_dir), "--epochs", "3",
                               "--out", str(tmp_path / "x"))
    assert code == 2
    assert "Error: epochs only apply to networks, not knn" in stderr


@pytest.mark.parametrize("backend", ["fake", "knn", "cnn", "ensemble"])
def test_train_refuses_a_model_already_there_unless_forced(
    tmp_path: Path, mnist_dir: Path, fake_plugin: None, backend: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "metadata.json").write_text("{}")
    code, stdout, stderr = run("train", backend, "--data", str(mnist_dir), "--out", str(out))
    assert (code, stdout) == (2, "")
    assert stderr == f"Error: {out}: not empty (use --force to overwrite the model there)\n"
    assert (out / "metadata.json").read_text() == "{}"  # refused before any work
    if backend == "fake":
        code, stdout, stderr = run("train", backend, "--data", str(mnist_dir), "--limit", "300",
                                   "--out", str(out), "--force")
        assert code == 0, stderr
        assert read_metadata(out)["backend"] == "fake"
        assert read_metadata(out)["train_config"]["force"] is True


def test_unknown_backend(tmp_path: Path) -> None:
    code, _, stderr = run("train", "nope", "--out", str(tmp_path / "x"))
    assert code == 2
    assert "unknown backend 'nope'" in stderr


@pytest.mark.slow
def test_cnn_tiny_run_is_seeded_and_reloadable(tmp_path: Path, mnist_dir: Path) -> None:
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        code, _, stderr = run("train", "cnn", "--data", str(mnist_dir), "--limit", "300",
                              "--epochs", "2", "--seed", "7", "--out", str(out))
        assert code == 0, stderr
        assert "epoch 2/2" in stderr
        outs.append(out)
    a, b = (load_model(str(o)) for o in outs)
    x = load_test(mnist_dir)[:50]
    np.testing.assert_allclose(a.predict_proba(x), b.predict_proba(x), atol=1e-5)
    meta = read_metadata(outs[0])
    assert meta["config"]["arch"] == "paper" and meta["config"]["seed"] == 7
    assert len(meta["history"]["val_loss"]) == 2
    # reading runs the ONNX export, checked at export and equal to the Keras network here
    assert meta["onnx"]["file"] == "model.onnx" and meta["onnx"]["max_abs_diff"] < 1e-4
    assert a.network is not None and a.model is None  # type: ignore[attr-defined]
    keras_net = CNNClassifier.load_keras(outs[0])
    np.testing.assert_allclose(a.predict_proba(x), keras_net.predict(x[..., None], verbose=0),
                               atol=1e-5)
    layers = [type(layer).__name__ for layer in keras_net.layers]
    assert layers == ["RandomRotation", "RandomTranslation", "RandomZoom",
                      "Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D",
                      "Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D",
                      "Flatten", "Dense", "Dropout", "Dense"]


def test_ensemble_of_trained_members_averages(
    tmp_path: Path, mnist_dir: Path, fake_plugin: None
) -> None:
    for seed, limit in (("1", "500"), ("2", "800")):
        code, _, stderr = run("train", "fake", "--data", str(mnist_dir), "--limit", limit,
                              "--seed", seed, "--out", str(tmp_path / f"m{seed}"))
        assert code == 0, stderr
    code, _, stderr = run("train", "ensemble", "--data", str(mnist_dir),
                          "--member", str(tmp_path / "m1"), "--member", str(tmp_path / "m2"),
                          "--out", str(tmp_path / "ens"))
    assert code == 0, stderr
    ens = load_model(str(tmp_path / "ens"))
    m1, m2 = load_model(str(tmp_path / "m1")), load_model(str(tmp_path / "m2"))
    x = load_test(mnist_dir)[:20]
    expected = (m1.predict_proba(x) + m2.predict_proba(x)) / 2
    np.testing.assert_allclose(ens.predict_proba(x), expected, rtol=1e-5)
    members = sorted(p.name for p in (tmp_path / "ens" / "members").iterdir())
    assert members == ["00-fake", "01-fake"]


class Table(Classifier):
    """Fixed probabilities, one row per image (the image's first pixel is its row number)."""

    backend = "table"

    def __init__(self, probs: list[list[float]]) -> None:
        super().__init__()
        self.probs = np.asarray(probs, np.float32)
        self.asked: list[int] = []

    def fit(self, x: np.ndarray, y: np.ndarray, **_: Any) -> FitResult:
        raise NotImplementedError

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        rows = [int(i[0, 0]) for i in x]
        self.asked += rows
        return self.probs[rows]

    def save(self, directory: Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, directory: Path, options: dict[str, Any]) -> Table:
        raise NotImplementedError


def test_ensemble_cascade_asks_the_other_members_only_where_the_first_is_unsure() -> None:
    from digitocr_plugins.ensemble import EnsembleClassifier

    def onehot(d: int, p: float) -> list[float]:
        return [p if k == d else (1 - p) / 9 for k in range(10)]

    first = Table([onehot(3, 0.995), onehot(3, 0.6), onehot(7, 0.98)])
    second = Table([onehot(5, 0.9), onehot(5, 0.9), onehot(1, 0.99)])
    x = np.zeros((3, 28, 28), np.float32)
    x[:, 0, 0] = [0, 1, 2]
    ens = EnsembleClassifier.from_models([first, second], cascade=0.99)
    probs = ens.predict_proba(x)
    assert (first.asked, second.asked) == ([0, 1, 2], [1, 2])
    np.testing.assert_allclose(probs[0], onehot(3, 0.995), rtol=1e-6)
    np.testing.assert_allclose(probs[1:], (first.probs[1:] + second.probs[1:]) / 2, rtol=1e-6)
    assert probs.argmax(axis=1).tolist() == [3, 5, 1]
    full = EnsembleClassifier.from_models([first, second]).predict_proba(x)
    assert full.argmax(axis=1).tolist() == [3, 5, 1]  # without the cascade, all rows are voted
    assert second.asked == [1, 2, 0, 1, 2]
    with pytest.raises(ModelError, match=r"cascade 1\.5 is not a probability"):
        EnsembleClassifier.from_models([first], cascade=1.5).predict_proba(x)


def test_corrupt_and_incompatible_models(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    write_metadata(bad, {"backend": "cnn", "config": {}})
    (bad / "model.keras").write_bytes(b"garbage")
    code, _, stderr = run("evaluate", "--model", str(bad), "--no-figures")
    assert code == 2  # a bad model: ExitCode.USAGE
    assert stderr.startswith(f"Error: {bad / 'model.keras'}: cannot load Keras model")
    assert "Traceback" not in stderr

    write_metadata(bad, {"backend": "cnn", "format_version": 99})
    with pytest.raises(ModelError, match="format version 99 is newer"):
        load_model(str(bad))
    write_metadata(bad, {"backend": "martian"})
    with pytest.raises(ModelError, match="backend 'martian' is not registered"):
        load_model(str(bad))
    (bad / "metadata.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable metadata"):
        load_model(str(bad))
    with pytest.raises(ModelError, match="no model named 'missing'"):
        load_model("missing", models_dir=tmp_path)


def test_eda_report(tmp_path: Path, mnist_dir: Path) -> None:
    code, stdout, stderr = run("eda", "--data", str(mnist_dir), "--limit", "300",
                               "--out", str(tmp_path / "eda"))
    assert code == 0, stderr
    report = Path(stdout.strip())
    assert report == tmp_path / "eda" / "report.md"
    text = report.read_text()
    for png in sorted((tmp_path / "eda").glob("*.png")):
        assert f"]({png.name})" in text
    assert {p.name for p in (tmp_path / "eda").glob("*.png")} >= {
        "class_distribution.png", "pca.png", "sample_grid.png",
        "augmented_samples.png"}


@pytest.mark.slow
def test_ensemble_trains_its_own_members(tmp_path: Path, mnist_dir: Path) -> None:
    out = tmp_path / "ens"
    code, _, stderr = run("train", "ensemble", "--data", str(mnist_dir), "--limit", "300",
                          "--members", "2", "--epochs", "1", "--seed", "3", "--out", str(out))
    assert code == 0, stderr
    assert "ensemble: member 2/2 (cnn)" in stderr
    meta = read_metadata(out)
    assert [m["options"]["seed"] for m in meta["config"]["members"]] == [3, 4]
    assert sorted(p.name for p in (out / "members").iterdir()) == ["00-cnn", "01-cnn"]
    proba = load_model(str(out)).predict_proba(load_test(mnist_dir)[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_cosine_schedule_anneals_the_learning_rate(mnist_dir: Path) -> None:
    from digitocr_plugins.cnn import CNNClassifier

    x, y = load_test(mnist_dir)[:128], load_labels(mnist_dir)[:128]
    clf = CNNClassifier(epochs=2, batch_size=32, lr=0.002, lr_schedule="cosine", rotation=0)
    clf.fit(x, y)
    # 2 epochs of 4 steps: by the last step the rate is down to 1 % of the start
    assert clf.model.optimizer.iterations.numpy() == 8
    assert float(clf.model.optimizer.learning_rate) == pytest.approx(0.002 * 0.01, rel=1e-3)
    with pytest.raises(ModelError, match="unknown lr_schedule 'step'"):
        CNNClassifier(epochs=1, lr_schedule="step").fit(x, y)


@pytest.mark.slow
def test_fine_tune_from_a_trained_cnn(tmp_path: Path, mnist_dir: Path) -> None:
    base = tmp_path / "base"
    code, _, stderr = run("train", "cnn", "--data", str(mnist_dir), "--limit", "300",
                          "--epochs", "1", "--out", str(base))
    assert code == 0, stderr
    tuned = tmp_path / "tuned"
    code, _, stderr = run(
        "train", "cnn", "--data", str(mnist_dir), "--limit", "300", "--epochs", "1",
        "--lr", "1e-9", "--rotation", "0", "--init", str(base), "--out", str(tuned))
    assert code == 0, stderr
    meta = read_metadata(tuned)
    assert meta["config"]["init"] == str(base) and meta["config"]["lr"] == 1e-9
    assert meta["training"]["init_wall_time_s"] == read_metadata(base)["wall_time_s"]
    # the run it started from is kept, so the training curves can draw both stages
    assert meta["training"]["init_stages"] == [
        {"config": read_metadata(base)["config"], "history": read_metadata(base)["history"]}]
    x = load_test(mnist_dir)[:30]
    # with a vanishing learning rate the weights barely move: same predictions as the base
    np.testing.assert_allclose(load_model(str(tuned)).predict_proba(x),
                               load_model(str(base)).predict_proba(x), atol=0.02)
    code, _, stderr = run("train", "knn", "--data", str(mnist_dir), "--init", str(base),
                          "--out", str(tmp_path / "k"))
    assert code == 2 and "--init only applies to the cnn backend" in stderr


def test_ensemble_skips_holdouts_its_members_may_have_seen(
    tmp_path: Path, data_dir: Path, fake_plugin: None
) -> None:
    usps = str(data_dir / "usps" / "usps-train.npz")
    mnist = str(data_dir / "mnist")
    for seed, hseed in (("1", "0"), ("2", "5")):
        code, _, stderr = run("train", "fake", "--data", mnist, "--limit", "500", "--seed", seed,
                              "--extra", usps, "--holdout-seed", hseed,
                              "--out", str(tmp_path / f"m{seed}"))
        assert code == 0, stderr
    assert read_metadata(tmp_path / "m1")["metrics"]["holdout:usps-train.npz"]["n"] == 1458
    both = ["--member", str(tmp_path / "m1"), "--member", str(tmp_path / "m2")]
    code, _, stderr = run("train", "ensemble", "--data", mnist, *both, "--extra", usps,
                          "--out", str(tmp_path / "ens"))
    assert code == 0, stderr
    meta = read_metadata(tmp_path / "ens")
    assert list(meta["metrics"]) == ["mnist_test"]
    assert meta["training"]["holdout_skipped"] == (
        f"members {tmp_path / 'm2'} were trained with other --extra hold-outs")
    code, _, stderr = run("train", "ensemble", "--data", mnist, "--member", str(tmp_path / "m1"),
                          "--extra", usps, "--out", str(tmp_path / "ens1"))
    assert code == 0, stderr
    assert read_metadata(tmp_path / "ens1")["metrics"]["holdout:usps-train.npz"]["n"] == 1458


def test_a_fine_tuned_model_inherits_the_holdout_of_its_start() -> None:
    from digitocr.training import TrainConfig, saw_holdout

    config = TrainConfig(extra=["d/usps-train.npz"], holdout_seed=0)
    own = {"extra": ["x/usps-train.npz"], "extra_holdout": 0.2, "holdout_seed": 0}
    assert not saw_holdout({"train_config": own}, config)
    start = {**own, "holdout_seed": 1}
    tuned = {"train_config": own, "training": {"init_train_config": start}}
    assert saw_holdout(tuned, config)
    assert not saw_holdout({"train_config": own, "training": {"init_train_config": own}}, config)


def test_cnn_deskew_option_shears_what_the_network_sees() -> None:
    import cv2
    from digitocr_plugins.cnn import CNNClassifier

    from digitocr.normalise import deskew_batch

    x = np.zeros((2, 28, 28), np.float32)
    x[0, 4:24, 10:13] = 1.0
    x[1] = cv2.line(np.zeros((28, 28), np.float32), (9, 24), (19, 4), 1.0, 3)
    assert CNNClassifier()._inputs(x).shape == (2, 28, 28, 1)
    np.testing.assert_array_equal(CNNClassifier()._inputs(x)[..., 0], x)
    np.testing.assert_array_equal(CNNClassifier(deskew=True)._inputs(x)[..., 0],
                                  deskew_batch(x))
    assert not np.array_equal(deskew_batch(x)[1], x[1])


def test_train_on_own_crops_scores_only_held_out_crops(tmp_path: Path, fake_plugin: None) -> None:
    import cv2
    import numpy as np

    crops = tmp_path / "crops"
    for d in range(10):
        (crops / str(d)).mkdir(parents=True)
        for k in range(5):
            img = np.zeros((40, 30), np.uint8)
            cv2.putText(img, str(d), (3 + k % 2, 35), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 255, 2 + k % 3)
            cv2.imwrite(str(crops / str(d) / f"{k}.png"), img)
    out = tmp_path / "m"
    code, stdout, stderr = run("train", "fake", "--data", str(crops), "--val-split", "0.2",
                               "--out", str(out))
    assert code == 0, stderr
    what = f"the validation split (20 % held out of {crops})"
    meta = read_metadata(out)
    assert list(meta["metrics"]) == ["validation"]
    val = meta["metrics"]["validation"]
    assert val["n"] == 10 and val["what"] == what
    acc = meta["metrics"]["validation"]["accuracy"]
    assert stdout == f"{out}: accuracy {acc:.4f} on {what}, trained in {meta['wall_time_s']}s\n"
    code, stdout, stderr = run("train", "fake", "--data", str(crops), "--val-split", "0",
                               "--out", str(tmp_path / "m0"))
    assert code == 0, stderr
    assert stdout.startswith(f"{tmp_path / 'm0'}: no held-out score, trained in ")
    assert f"no held-out score: {crops} has no test split and --val-split is 0" in stderr
