"""CRNN string reader: convolutions → bidirectional GRU over the width → CTC (Keras).

Input: crops prepared by ``digitocr.strings.prepare`` (ink-bright, height 32, aspect ratio
kept), padded left-aligned to a common width per batch. Four convolution stages bring the
height to 1 and the width to a quarter (one step per 4 columns); a bidirectional GRU reads the
steps; a dense layer gives per-step probabilities over the reader's alphabet (option
``alphabet``, stored in its metadata; the ten digits by default) and the CTC blank (the last
class). Training minimises the CTC loss; reading is greedy CTC decoding (``digitocr.strings``).
Fine-tuning into a wider alphabet (``init_network``) keeps every layer and the output rows of
the characters both alphabets share, and adds rows for the new ones.

Keras trains it; ``save`` writes ``model.keras`` and ``model.onnx`` (width free), and a
loaded model reads on ONNX Runtime, so reading never imports TensorFlow.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from digitocr import hookimpl
from digitocr.augment import jitter_string
from digitocr.backends import FitResult, Progress, StringReader, read_metadata
from digitocr.combined import AutoReader
from digitocr.errors import ModelError
from digitocr.kerasio import (
    epoch_line,
    export_onnx,
    export_sample,
    import_keras,
    load_model_file,
    save_model,
)
from digitocr.onnxrun import ONNX_FILE, OnnxNetwork, load_network
from digitocr.strings import (
    ALPHABET,
    HEIGHT,
    MIN_WIDTH,
    StringReading,
    alphabet_problem,
    ctc_greedy,
    exact_match,
    prepare,
)

WEIGHTS = "model.keras"
#: the batch an ONNX export is checked on (crops 96 wide)
EXPORT_SHAPE = (8, HEIGHT, 96, 1)
DOWNSAMPLE = 4  # input columns per output step
MAX_LABEL = 12
DEFAULTS: dict[str, Any] = {
    "filters": [32, 64, 96, 128],
    "rnn_units": 64,
    "dropout": 0.2,
    "epochs": 10,
    "batch_size": 32,
    "learning_rate": 2e-3,
    "seed": 0,
    "alphabet": ALPHABET,
    #: the share of training crops warped afresh each time they are shown
    #: (``digitocr.augment.jitter_string``)
    "jitter": 0.0,
}
#: the bias a new output row (a character the starting model did not know) starts with,
#: below the known rows' lowest, so that fine-tuning starts from what the model reads today
NEW_ROW_BIAS_OFFSET = 1.0


_keras = import_keras


def build_network(filters: list[int], rnn_units: int, dropout: float,
                  classes: int = len(ALPHABET) + 1) -> Any:
    """Functional Keras model: (N, 32, W, 1) → per-step probabilities (N, W/4, ``classes``):
    the alphabet's characters, then the CTC blank."""
    keras = _keras()
    layers = keras.layers
    f1, f2, f3, f4 = (int(f) for f in filters)

    def conv(x: Any, f: int) -> Any:
        x = layers.Conv2D(f, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    inp = keras.Input((HEIGHT, None, 1), name="image")
    x = conv(inp, f1)
    x = layers.MaxPooling2D((2, 2))(x)  # 16 x W/2
    x = conv(x, f2)
    x = layers.MaxPooling2D((2, 2))(x)  # 8 x W/4
    x = conv(x, f3)
    x = conv(x, f3)
    x = layers.MaxPooling2D((2, 1))(x)  # 4 x W/4
    x = conv(x, f4)
    x = layers.MaxPooling2D((4, 1))(x)  # 1 x W/4
    x = layers.Reshape((-1, f4))(x)  # steps x features
    x = layers.Dropout(dropout)(x)
    x = layers.Bidirectional(layers.GRU(rnn_units, return_sequences=True))(x)
    x = layers.Dropout(dropout)(x)
    out = layers.Dense(classes, activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name="digitocr_crnn")


def check_alphabet(alphabet: str) -> str:
    """``alphabet`` when a CRNN can write it (``strings.alphabet_problem``), else ModelError."""
    problem = alphabet_problem(alphabet)
    if problem:
        raise ModelError(problem)
    return alphabet


def encode_labels(labels: list[str], alphabet: str = ALPHABET) -> np.ndarray:
    """(N, 1 + MAX_LABEL) int32: length, then the characters' classes (zero padded)."""
    index = {c: i for i, c in enumerate(alphabet)}
    out = np.zeros((len(labels), 1 + MAX_LABEL), np.int32)
    for i, s in enumerate(labels):
        if not s or len(s) > MAX_LABEL or any(c not in index for c in s):
            raise ModelError(f"label {s!r}: expected 1-{MAX_LABEL} characters of {alphabet!r}")
        out[i, 0] = len(s)
        out[i, 1 : 1 + len(s)] = [index[c] for c in s]
    return out


def make_ctc_loss(blank: int) -> Any:
    """The CTC loss per sample for a network whose class ``blank`` is the blank."""

    def ctc_loss(y_true: Any, y_pred: Any) -> Any:
        """``y_true`` rows are (length, classes...); every step is valid."""
        keras = _keras()
        ops = keras.ops
        y_true = ops.cast(y_true, "int32")
        steps = ops.shape(y_pred)[1]
        batch = ops.shape(y_pred)[0]
        logits = ops.log(ops.clip(y_pred, 1e-7, 1.0))
        return ops.ctc_loss(y_true[:, 1:], logits, y_true[:, 0],
                            ops.full((batch,), steps, dtype="int32"), mask_index=blank)

    return ctc_loss


#: the CTC loss of a digit reader (blank 10)
ctc_loss = make_ctc_loss(len(ALPHABET))


def model_alphabet(directory: Path) -> str:
    """The alphabet a saved CRNN reads (its metadata's ``config.alphabet``; digits when the
    metadata predates alphabets or is missing)."""
    try:
        config = read_metadata(directory).get("config") or {}
    except ModelError:
        config = {}
    return check_alphabet(str(config.get("alphabet", ALPHABET)))


class CRNNReader(StringReader):
    """Small CRNN trained with CTC; reads a whole string (of its ``alphabet``) per crop."""

    backend = "crnn"

    def __init__(self, **options: Any) -> None:
        super().__init__(**{**DEFAULTS, **options})
        check_alphabet(self.options["alphabet"])
        #: the Keras network (training, or a model directory without ``model.onnx``)
        self.model: Any = None
        #: the network read from ``model.onnx``, which reading runs when it is there
        self.network: OnnxNetwork | None = None
        self._predict: Any = None

    # ---------------------------------------------------------------- training

    def fit(
        self,
        crops: list[np.ndarray],
        labels: list[str],
        *,
        validation: tuple[list[np.ndarray], list[str]] | None = None,
        progress: Progress | None = None,
    ) -> FitResult:
        keras = _keras()
        o = self.options
        keras.utils.set_random_seed(int(o["seed"]))
        imgs = [_to_u8(prepare(c)) for c in crops]
        y = encode_labels(labels, self.alphabet)
        # CTC needs at least one step per digit plus a blank between repeats
        keep = [i for i, im in enumerate(imgs)
                if -(-im.shape[1] // DOWNSAMPLE) >= 2 * int(y[i, 0]) + 1]
        if len(keep) < len(imgs) and progress is not None:
            progress(f"skipped {len(imgs) - len(keep)} crops too narrow for their labels")
        batches = _batches(keras, [imgs[i] for i in keep], y[keep], int(o["batch_size"]),
                           int(o["seed"]), float(o["jitter"]))
        if self.model is None:
            self.model = build_network(list(o["filters"]), int(o["rnn_units"]),
                                       float(o["dropout"]), self.classes)
        if int(self.model.output_shape[-1]) != self.classes:
            raise ModelError(f"the network has {self.model.output_shape[-1]} outputs; alphabet "
                             f"{self.alphabet!r} needs {self.classes} (init_network widens it)")
        epochs = int(o["epochs"])
        schedule = keras.optimizers.schedules.CosineDecay(
            float(o["learning_rate"]), decay_steps=max(1, epochs * len(batches)), alpha=0.02)
        self.model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=5.0),
                           loss=make_ctc_loss(self.classes - 1))
        self._predict = None
        self.network = None  # the model now is the one being trained
        callback = _epoch_callback(keras, self, progress, epochs, validation)
        hist = self.model.fit(batches, epochs=epochs, verbose=0, callbacks=[callback])
        history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
        history.update(callback.history)
        if callback.best_weights is not None:  # the best epoch on validation exact match
            self.model.set_weights(callback.best_weights)
        self._predict = None
        return FitResult(history=history, epochs=len(history.get("loss", [])))

    @property
    def alphabet(self) -> str:
        """The characters this reader writes, in output order (the blank comes after them)."""
        return str(self.options["alphabet"])

    @property
    def classes(self) -> int:
        """Output classes per step: the alphabet and the blank."""
        return len(self.alphabet) + 1

    # ---------------------------------------------------------------- reading

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Per-step probabilities (N, T, classes) for a prepared batch, compiled once per
        model."""
        if self.network is not None:
            return self.network.run(x)
        if self.model is None:
            raise ModelError("the CRNN has not been trained or loaded")
        if self._predict is None:
            import tensorflow as tf

            model = self.model

            def forward(t: Any) -> Any:
                return model(t, training=False)

            self._predict = tf.function(
                forward, autograph=False, reduce_retracing=True,
                input_signature=[tf.TensorSpec((None, HEIGHT, None, 1), tf.float32)])
        return np.asarray(self._predict(x))

    def read_detailed(self, crops: list[np.ndarray], polarity: str = "auto",
                      batch_size: int = 128) -> list[StringReading]:
        return self.read_prepared([prepare(c, polarity) for c in crops], batch_size)

    def read_prepared(self, prepared: list[np.ndarray],
                      batch_size: int = 128) -> list[StringReading]:
        """Batched reading of prepared crops without padding: each crop's width is rounded to
        whole output steps and crops of equal width share a batch, so a reading never depends
        on its batch-mates (padding would reach the backward GRU)."""
        prepared = [_whole_steps(im) for im in prepared]
        groups: dict[int, list[int]] = {}
        for i, im in enumerate(prepared):
            groups.setdefault(im.shape[1], []).append(i)
        results: dict[int, StringReading] = {}
        for idx in groups.values():
            for b in range(0, len(idx), batch_size):
                part = idx[b : b + batch_size]
                probs = self.probabilities(np.stack([prepared[i] for i in part])[..., None])
                decoded = ctc_greedy(probs, blank=self.classes - 1, alphabet=self.alphabet)
                for i, r in zip(part, decoded, strict=True):
                    results[i] = r
        return [results[i] for i in range(len(prepared))]

    def read_strings(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        return [(r.text, r.confidence) for r in self.read_detailed(crops)]

    # ---------------------------------------------------------------- files

    def save(self, directory: Path) -> None:
        if self.model is None:
            raise ModelError("nothing to save: the CRNN has not been trained (a model loaded "
                             "from model.onnx alone cannot be saved again)")
        save_model(self.model, directory / WEIGHTS)
        self.export_report = export_onnx(self.model, directory / ONNX_FILE,
                                         export_sample(EXPORT_SHAPE))

    @classmethod
    def load(cls, directory: Path, options: dict[str, Any]) -> CRNNReader:
        inst = cls(**options)
        inst.network = load_network(directory, inst.classes)
        if inst.network is None:
            inst.model = load_model_file(directory / WEIGHTS, "CRNN", inst.classes)
        return inst

    @classmethod
    def export(cls, directory: Path) -> dict[str, Any]:
        return export_onnx(cls.load_keras(directory), directory / ONNX_FILE,
                           export_sample(EXPORT_SHAPE))

    @classmethod
    def load_keras(cls, directory: Path) -> Any:
        """The Keras network of a model directory (to fine-tune from it)."""
        return load_model_file(directory / WEIGHTS, "CRNN",
                               len(model_alphabet(directory)) + 1)

    def init_network(self, directory: Path) -> str:
        """Start from a saved CRNN's network (fine-tuning), its output layer mapped onto this
        reader's alphabet: every other layer as it is; the rows of characters both alphabets
        have, and the blank's, copied; new characters' rows drawn like the known ones with a
        bias below theirs. Returns the starting model's alphabet."""
        old_alphabet = model_alphabet(directory)
        old = self.load_keras(directory)
        if old_alphabet == self.alphabet:
            self.model = old
            return old_alphabet
        keras = _keras()
        last = old.layers[-1].name  # the output layer (softmax over the classes)
        new = keras.models.clone_model(
            old, clone_function=lambda layer: (
                keras.layers.Dense(self.classes, activation="softmax", name=last)
                if layer.name == last else layer.__class__.from_config(layer.get_config())))
        for src, dst in zip(old.layers, new.layers, strict=True):
            if src.name != last:
                dst.set_weights(src.get_weights())
        kernel, bias = old.get_layer(last).get_weights()
        rng = np.random.default_rng(int(self.options["seed"]))
        known = kernel[:, : len(old_alphabet)]
        new_kernel = rng.normal(0.0, float(known.std()),
                                (kernel.shape[0], self.classes)).astype(kernel.dtype)
        new_bias = np.full(self.classes, float(bias[: len(old_alphabet)].min())
                           - NEW_ROW_BIAS_OFFSET, bias.dtype)
        for j, ch in enumerate(self.alphabet):
            i = old_alphabet.find(ch)
            if i >= 0:
                new_kernel[:, j], new_bias[j] = kernel[:, i], bias[i]
        new_kernel[:, -1], new_bias[-1] = kernel[:, -1], bias[-1]  # the blank
        new.get_layer(last).set_weights([new_kernel, new_bias])
        self.model = new
        return old_alphabet


def _whole_steps(img: np.ndarray) -> np.ndarray:
    """Stretch a prepared crop (by under half a step) to a whole number of output steps."""
    w = img.shape[1]
    target = max(MIN_WIDTH, round(w / DOWNSAMPLE) * DOWNSAMPLE)
    if target == w:
        return img
    return cv2.resize(img, (target, img.shape[0]), interpolation=cv2.INTER_LINEAR)


def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.round(img * 255).astype(np.uint8)


def _batches(keras: Any, imgs: list[np.ndarray], y: np.ndarray, batch_size: int,
             seed: int, jitter: float = 0.0) -> Any:
    """A Keras PyDataset of width-bucketed batches (little padding), reshuffled each epoch;
    a ``jitter`` share of each batch's crops warped afresh (``augment.jitter_string``)."""

    class Batches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = np.argsort([im.shape[1] for im in imgs], kind="stable")
            self.batches: list[np.ndarray] = []
            self.first_width = 0
            self.on_epoch_end()

        def on_epoch_end(self) -> None:
            # jitter the width order a little so batches differ from epoch to epoch
            widths = np.array([im.shape[1] for im in imgs], np.float64)
            keys = widths * self.rng.uniform(0.9, 1.1, len(widths))
            order = np.argsort(keys, kind="stable")
            chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
            self.rng.shuffle(chunks)
            # Keras takes the input signature from the first two batches: when their widths
            # agree it fixes the width, and a later batch of another width stops training
            widths_of = [max(imgs[j].shape[1] for j in c) for c in chunks]
            other = next((k for k in range(2, len(chunks)) if widths_of[k] != widths_of[0]),
                         None)
            if len(chunks) > 2 and widths_of[1] == widths_of[0] and other is not None:
                chunks[1], chunks[other] = chunks[other], chunks[1]
            if jitter and len(chunks) == 1 and len(chunks[0]) > 1:
                # a jittered batch's width changes each time it is drawn, so even a set of
                # one batch needs two first batches of different widths (``__getitem__``)
                chunks = [chunks[0][::2], chunks[0][1::2]]
            self.batches = chunks

        def __len__(self) -> int:
            return len(self.batches)

        def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
            idx = self.batches[i]
            shown = [jitter_string(imgs[j], self.rng, DOWNSAMPLE * (2 * int(y[j, 0]) + 1))
                     if jitter and self.rng.random() < jitter else imgs[j] for j in idx]
            w = max(im.shape[1] for im in shown)
            if jitter and i == 0:
                self.first_width = w
            elif jitter and i == 1 and w == self.first_width:
                w += DOWNSAMPLE  # padding: the first two widths differ, as above
            x = np.zeros((len(idx), HEIGHT, w, 1), np.float32)
            for k, im in enumerate(shown):
                x[k, :, : im.shape[1], 0] = im / np.float32(255)
            return x, y[idx]

    return Batches()


def _epoch_callback(keras: Any, reader: CRNNReader, progress: Progress | None, epochs: int,
                    validation: tuple[list[np.ndarray], list[str]] | None) -> Any:
    """Per-epoch progress, validation exact match, and the best epoch's weights."""

    class Callback(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.history: dict[str, list[float]] = {}
            self.best_weights: list[Any] | None = None
            self.best = -1.0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            msg = epoch_line(epoch, epochs, time.perf_counter() - self.t0, logs)
            if validation is not None and validation[0]:
                reader._predict = None
                acc = exact_match(reader, *validation)
                self.history.setdefault("val_exact_match", []).append(acc)
                msg += f" val_exact_match={acc:.4f}"
                if acc >= self.best:
                    self.best = acc
                    self.best_weights = reader.model.get_weights()
            if progress is not None:
                progress(msg)

    return Callback()


@hookimpl
def register_string_readers(register: Any) -> None:
    register("crnn", CRNNReader)
    register("auto", AutoReader)


__all__ = ["CRNNReader", "build_network", "check_alphabet", "ctc_loss", "encode_labels",
           "make_ctc_loss", "model_alphabet"]
