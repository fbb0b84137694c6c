"""Whole-string reading: CTC decoding, synthetic strings, the CRNN plugin, hooks, read CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from digitocr import hookimpl, plugins
from digitocr.backends import (
    FitResult,
    StringReader,
    load_model,
    load_reader,
    load_string_reader,
    write_metadata,
)
from digitocr.cli import cli
from digitocr.errors import ModelError
from digitocr.strings import BLANK, ctc_greedy, pad_batch, prepare
from digitocr.synth import CHEQUE_AMOUNTS, StringSynth, SynthConfig, append_ending, augment_real

REPO = Path(__file__).resolve().parent.parent


def onehot_steps(path: list[int], p: float = 0.9) -> np.ndarray:
    """(T, 11) probabilities whose best class per step follows ``path``."""
    out = np.full((len(path), BLANK + 1), (1 - p) / BLANK)
    out[np.arange(len(path)), path] = p
    return out


# ------------------------------------------------------------------ decoding


def test_ctc_greedy_collapses_repeats_and_drops_blanks() -> None:
    b = BLANK
    probs = np.stack([
        onehot_steps([1, 1, b, 1, 2, b, b, 0], 0.9),
        onehot_steps([b, b, b, b, b, b, b, b], 0.5),
        onehot_steps([7, b, 7, 7, b, 3, b, b], 0.8),
    ])
    got = ctc_greedy(probs)
    assert [r.text for r in got] == ["1120", "", "773"]
    # four characters at 0.9; blank steps next to a character also count that character (0.01)
    assert got[0].confidence == pytest.approx(0.9 ** 4 * 0.91 ** 3)
    assert got[1].confidence == pytest.approx(0.5 ** 8)
    assert got[2].confidence == pytest.approx(0.8 ** 3 * 0.82 * 0.84 * 0.82 * 0.8)
    assert [c.confidence for c in got[2].chars] == pytest.approx([0.8, 0.8, 0.8])
    # spans: "1" won steps 0-1 of 8, "2" step 4
    assert (got[0].chars[0].start, got[0].chars[0].end) == (0.0, 0.25)
    assert (got[0].chars[2].start, got[0].chars[2].end) == (0.5, 0.625)
    assert got[0].chars[0].alternatives[0] == ("1", pytest.approx(0.9 / (0.9 + 9 * 0.01)))


def test_ctc_greedy_respects_valid_lengths() -> None:
    probs = onehot_steps([4, BLANK, 5, 6])[None]
    assert ctc_greedy(probs, np.array([3]))[0].text == "45"
    assert ctc_greedy(probs, np.array([0]))[0].text == ""
    with pytest.raises(ValueError):
        ctc_greedy(probs[0])


def test_prepare_keeps_aspect_and_pads_left() -> None:
    img = np.full((50, 150), 230, np.uint8)
    cv2.putText(img, "123", (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 20, 3)
    x = prepare(img)
    assert x.shape == (32, 96) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.9
    assert x[:, :4].max() < 0.2  # paper is no ink
    batch = pad_batch([x, x[:, :40]])
    assert batch.shape == (2, 32, 96) and not batch[1, :, 40:].any()


# ------------------------------------------------------------------ synthetic strings


def toy_digits() -> tuple[np.ndarray, np.ndarray]:
    """Ten 28x28 ink-bright digits drawn with a font (enough for the generator)."""
    xs = []
    for d in range(10):
        im = np.zeros((28, 28), np.uint8)
        cv2.putText(im, str(d), (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
        xs.append(im / np.float32(255))
    return np.stack(xs), np.arange(10)


def test_synthetic_strings_labels_lengths_and_separators() -> None:
    x, y = toy_digits()
    synth = StringSynth(x, y, config=SynthConfig(min_len=3, max_len=5))
    rng = np.random.default_rng(1)
    for _ in range(20):
        img, label = synth.sample(rng)
        assert img.dtype == np.uint8 and img.ndim == 2
        assert label.isdigit() and 3 <= len(label) <= 5
    img, label = synth.sample(rng, length=6)
    assert len(label) == 6
    # separators are drawn (more ink, wider) but never labelled
    plain = StringSynth(x, y, config=SynthConfig(p_separator=0.0, p_ending=0.0))
    seps = StringSynth(x, y, config=SynthConfig(p_separator=1.0, p_ending=1.0))
    widths_plain, widths_sep = [], []
    for seed in range(10):
        ink_p, lab_p = plain.ink_string(np.random.default_rng(seed), 4)
        ink_s, lab_s = seps.ink_string(np.random.default_rng(seed), 4)
        assert lab_p.isdigit() and lab_s.isdigit() and len(lab_p) == len(lab_s) == 4
        widths_plain.append(ink_p.shape[1])
        widths_sep.append(ink_s.shape[1])
    assert np.mean(widths_sep) > np.mean(widths_plain) + 5
    # seeded: the same draw twice
    a = synth.sample(np.random.default_rng(7))
    b = synth.sample(np.random.default_rng(7))
    assert a[1] == b[1] and np.array_equal(a[0], b[0])
    aug = augment_real(a[0], np.random.default_rng(0))
    assert aug.dtype == np.uint8 and aug.ndim == 2


def test_cheque_amounts_are_grouped_and_ended_but_labelled_digits_only() -> None:
    x, y = toy_digits()
    grouped = StringSynth(x, y, config=replace(CHEQUE_AMOUNTS, p_separator=0.0, p_ending=0.0,
                                                p_grouping=1.0))
    bare = StringSynth(x, y, config=replace(CHEQUE_AMOUNTS, p_separator=0.0, p_ending=0.0,
                                             p_grouping=0.0))
    ended = StringSynth(x, y, config=replace(CHEQUE_AMOUNTS, p_separator=0.0, p_ending=1.0,
                                              p_grouping=0.0, endings=("/-",)))
    widths: dict[str, list[int]] = {"bare": [], "grouped": [], "ended": []}
    for seed in range(10):
        for name, synth in (("bare", bare), ("grouped", grouped), ("ended", ended)):
            ink, label = synth.ink_string(np.random.default_rng(seed), 7)
            assert label.isdigit() and len(label) == 7  # the marks are never labelled
            widths[name].append(ink.shape[1] / ink.shape[0])
    # "88,00,000" has two marks between the digits, "/-" comes after them
    assert np.mean(widths["grouped"]) > np.mean(widths["bare"]) + 0.3
    assert np.mean(widths["ended"]) > np.mean(widths["bare"]) + 0.3


def test_append_ending_writes_after_the_digits_in_the_crops_own_paper() -> None:
    crop = np.full((40, 90), 200, np.uint8)
    cv2.putText(crop, "250", (5, 32), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 40, 3)
    out = append_ending(crop, np.random.default_rng(0), "/-")
    assert out.shape[0] == crop.shape[0] and out.shape[1] >= crop.shape[1]
    assert np.array_equal(out[:, :60], crop[:, :60])  # the digits untouched
    right = out[:, 80:]
    assert (right < 120).sum() > 20  # an ending's dark strokes
    assert abs(float(np.median(right)) - 200) < 15  # on paper like the crop's


# ------------------------------------------------------------------ the CRNN plugin


@pytest.fixture(scope="module")
def tiny_crnn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny CRNN trained for a few steps on synthetic strings, saved as a model dir."""
    from digitocr_plugins.crnn import CRNNReader

    x, y = toy_digits()
    synth = StringSynth(x, y, config=SynthConfig(min_len=2, max_len=4))
    rng = np.random.default_rng(0)
    samples = [synth.sample(rng) for _ in range(24)]
    config = {"filters": [4, 4, 8, 8], "rnn_units": 4, "epochs": 2, "batch_size": 8}
    reader = CRNNReader(**config)
    fit = reader.fit([s[0] for s in samples], [s[1] for s in samples],
                     validation=([s[0] for s in samples[:4]], [s[1] for s in samples[:4]]))
    assert fit.epochs == 2 and len(fit.history["loss"]) == 2
    assert len(fit.history["val_exact_match"]) == 2
    out = tmp_path_factory.mktemp("models") / "tiny-crnn"
    reader.save(out)
    write_metadata(out, {"backend": "crnn", "config": reader.options})
    return out


@pytest.mark.slow
def test_crnn_save_load_round_trip(tiny_crnn: Path) -> None:
    from digitocr_plugins.crnn import CRNNReader

    x, y = toy_digits()
    rng = np.random.default_rng(3)
    crops = [StringSynth(x, y).sample(rng)[0] for _ in range(5)]
    a = load_string_reader(str(tiny_crnn))
    b = load_reader(str(tiny_crnn))
    assert isinstance(a, CRNNReader) and isinstance(b, CRNNReader)
    batch = pad_batch([prepare(c) for c in crops])[..., None]
    pa, pb = a.probabilities(batch), b.probabilities(batch)
    assert pa.shape == (5, batch.shape[2] // 4, BLANK + 1)
    np.testing.assert_array_equal(pa, pb)
    np.testing.assert_allclose(pa.sum(axis=2), 1.0, rtol=1e-5)
    got = a.read_strings(crops)
    assert got == b.read_strings(crops)
    assert all(t == "" or t.isdigit() for t, _ in got)
    assert all(0.0 <= c <= 1.0 for _, c in got)
    assert a.metadata["backend"] == "crnn"
    with pytest.raises(ModelError, match="reads whole strings"):
        load_model(str(tiny_crnn))


@pytest.mark.slow
def test_read_cli_with_tiny_crnn(tiny_crnn: Path, tmp_path: Path) -> None:
    img = np.full((50, 150), 220, np.uint8)
    cv2.putText(img, "4071", (8, 38), cv2.FONT_HERSHEY_SIMPLEX, 1.1, 30, 3)
    path = tmp_path / "amount.png"
    cv2.imwrite(str(path), img)
    res = CliRunner().invoke(cli, ["read", str(path), "--layout", "string", "--model",
                                   str(tiny_crnn), "--format", "jsonl", "-q"])
    assert res.exit_code == 0, res.output
    page = json.loads(res.output.splitlines()[0])
    field = page["fields"][0]
    assert field["bbox"] == [0, 0, 150, 50]
    assert field["text"] == "" or field["text"].isdigit()
    assert 0.0 <= field["confidence"] <= 1.0


@pytest.mark.slow
def test_shipped_crnn_reads_an_orand_crop() -> None:
    from conftest import shared_data

    model = REPO / "models" / "crnn"
    data = shared_data()
    if not (model / "metadata.json").is_file() or data is None:
        pytest.skip("models/crnn or the ORAND data is not available")
    images = data / "orand-car" / "images"
    if not images.is_dir():
        pytest.skip("no orand-car data")
    name = "a_car_000720_png.rf.001e41868ecc296098f960608d12e326.jpg"
    res = CliRunner().invoke(cli, ["read", str(images / name), "--layout", "string",
                                   "--model", "crnn", "-q"])
    assert res.exit_code == 0, res.output
    field = json.loads(res.output)[0]["fields"][0]
    assert field["text"].isdigit() and len(field["text"]) >= 3


# ------------------------------------------------------------------ hooks and the read path


class EchoReader(StringReader):
    """Reads every crop as its width in pixels (deterministic, no TensorFlow)."""

    backend = "echo"

    def fit(self, crops: list[np.ndarray], labels: list[str], *,
            validation: Any = None, progress: Any = None) -> FitResult:
        return FitResult()

    def read_strings(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        return [(str(c.shape[1]), float(self.options.get("confidence", 0.8))) for c in crops]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)

    @classmethod
    def load(cls, directory: Path, options: dict[str, Any]) -> EchoReader:
        return cls(**options)


class EchoPlugin:
    @hookimpl
    def register_string_readers(self, register: Any) -> None:
        register("echo", EchoReader)


@pytest.fixture
def echo_model(tmp_path: Path) -> Iterator[Path]:
    plugins.register_plugin(EchoPlugin(), name="echo-plugin")
    out = tmp_path / "echo"
    EchoReader().save(out)
    write_metadata(out, {"backend": "echo", "config": {"confidence": 0.8}})
    try:
        yield out
    finally:
        plugins.unregister_plugin("echo-plugin")


def test_builtin_crnn_is_registered() -> None:
    from digitocr_plugins.crnn import CRNNReader

    assert plugins.get_string_readers()["crnn"] is CRNNReader
    info = {p["name"]: p for p in plugins.describe()}
    assert info["crnn"]["string_readers"] == ["auto", "crnn"]
    assert "crnn" not in plugins.get_classifiers()


def test_plugin_string_reader_through_read_cli(echo_model: Path, tmp_path: Path) -> None:
    assert "echo" in plugins.get_string_readers()
    res = CliRunner().invoke(cli, ["plugins"])
    assert "string_readers: echo" in res.output
    img = np.full((40, 123), 200, np.uint8)
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), img)
    base = ["read", str(path), "--layout", "string", "--model", str(echo_model), "-q"]
    res = CliRunner().invoke(cli, base)
    assert res.exit_code == 0, res.output
    field = json.loads(res.output)[0]["fields"][0]
    assert (field["text"], field["confidence"], field["needs_review"]) == ("123", 0.8, False)
    assert field["glyphs"] == [] and field["bbox"] == [0, 0, 123, 40]
    res = CliRunner().invoke(cli, [*base, "--min-confidence", "0.9"])
    field = json.loads(res.output)[0]["fields"][0]
    assert field["text"] == "123" and field["needs_review"] is True


def test_string_reader_reads_the_ink_of_a_found_field(echo_model: Path) -> None:
    """With a finding layout (cheque), the reader sees the ink's box, not the printed frame."""
    res = CliRunner().invoke(cli, ["read", str(REPO / "samples" / "cheque.jpg"), "--layout",
                                   "cheque", "--model", str(echo_model), "-q"])
    assert res.exit_code == 0, res.output
    field = json.loads(res.output)[0]["fields"][0]
    w = field["bbox"][2]
    assert 0.5 * w < int(field["text"]) < w  # echo reads the crop's width


@pytest.mark.slow
def test_first_two_training_batches_differ_in_width() -> None:
    """Keras takes a PyDataset's input signature from its first two batches: when their widths
    agree, a later batch of another width stops training (seen on 37,658 ledger crops)."""
    from digitocr_plugins.crnn import _batches, encode_labels

    from digitocr.kerasio import import_keras

    widths = [40] * 64 + [44, 48, 52, 56] * 4  # mostly one width, as a real set can be
    imgs = [np.zeros((32, w), np.uint8) for w in widths]
    y = encode_labels(["1"] * len(imgs))
    for seed in range(5):
        batches = _batches(import_keras(), imgs, y, 8, seed)
        for _ in range(3):
            first, second = batches[0][0].shape[2], batches[1][0].shape[2]
            assert first != second
            batches.on_epoch_end()


def test_jitter_string_keeps_the_height_and_room_for_the_label() -> None:
    from digitocr.augment import jitter_string

    img = np.zeros((32, 40), np.uint8)
    cv2.line(img, (5, 4), (30, 28), 255, 3)
    widths = set()
    for seed in range(20):
        out = jitter_string(img, np.random.default_rng(seed), min_width=36)
        assert out.dtype == np.uint8 and out.shape[0] == 32 and out.shape[1] >= 36
        assert out.max() > 100  # the stroke is still there
        widths.add(out.shape[1])
        again = jitter_string(img, np.random.default_rng(seed), min_width=36)
        assert np.array_equal(out, again)  # seeded
    assert len(widths) > 5  # the frame changes from draw to draw
    # a crop too narrow for its label is stretched to the label's CTC steps
    assert jitter_string(img, np.random.default_rng(0), min_width=120).shape[1] >= 120


@pytest.mark.slow
def test_jittered_training_batches_change_every_epoch() -> None:
    from digitocr_plugins.crnn import DOWNSAMPLE, _batches, encode_labels

    from digitocr.kerasio import import_keras

    imgs = [np.full((32, 40 + 4 * (i % 3)), 200, np.uint8) for i in range(16)]
    y = encode_labels(["123456"] * len(imgs))  # 13 CTC steps: wider than any crop
    batches = _batches(import_keras(), imgs, y, 16, 0, jitter=1.0)
    first = batches[0][0]
    assert first.shape[2] >= DOWNSAMPLE * (2 * 6 + 1)
    # one batch's worth read as two of different widths: Keras would fix the width of one
    assert len(batches) == 2 and batches[1][0].shape[2] != first.shape[2]
    batches.on_epoch_end()
    assert batches[0][0].shape != first.shape or not np.array_equal(batches[0][0], first)
    plain = _batches(import_keras(), imgs, y, 16, 0)
    assert plain[0][0].shape[2] == 48  # no jitter: the crops as prepared
