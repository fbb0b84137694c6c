"""Keras CNN backend: the paper's network by default; ``arch="wide"`` or ``"deep"`` for more.

Keras trains it; ``save`` writes ``model.keras`` (for fine-tuning) and ``model.onnx``, and a
loaded model runs on ONNX Runtime, so reading never imports TensorFlow. A model directory
without ``model.onnx`` (saved before it existed) is run by Keras when Keras is installed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from digitocr import hookimpl
from digitocr.backends import Classifier, FitResult, Progress, check_batch
from digitocr.errors import ModelError
from digitocr.kerasio import (
    epoch_line,
    export_onnx,
    export_sample,
    import_keras,
    load_model_file,
    save_model,
)
from digitocr.normalise import deskew_batch
from digitocr.onnxrun import ONNX_FILE, OnnxNetwork, load_network
from digitocr.trainopts import TrainingOptions, TrainRequest

WEIGHTS = "model.keras"
#: the batch an ONNX export is checked on
EXPORT_SHAPE = (64, 28, 28, 1)
#: most images per inference call (bounds memory on huge batches)
PREDICT_CHUNK = 1024
#: learning-rate schedules: fixed, halved when validation loss stalls, cosine-annealed per step
SCHEDULES = ("constant", "plateau", "cosine")
DEFAULTS: dict[str, Any] = {
    "arch": "paper",
    "epochs": 20,
    "batch_size": 64,
    "rotation": 10.0,  # degrees
    "shift": 0.1,  # fraction of the image
    "zoom": 0.1,
    "patience": 3,
    "lr_schedule": "constant",
    "lr": 0.001,  # Adam's default
    "init": None,  # start from a trained model's weights (fine-tuning)
    "deskew": False,  # shear every image upright by its moments, in training and reading
    "seed": 0,
}


_keras = import_keras


def build_network(arch: str, rotation: float, shift: float, zoom: float, seed: int) -> Any:
    """The Keras model: augmentation (active only in training) then the classifier."""
    keras = _keras()
    layers = keras.layers
    aug: list[Any] = []
    if rotation:
        aug.append(layers.RandomRotation(rotation / 360.0, fill_mode="constant", seed=seed))
    if shift:
        aug.append(layers.RandomTranslation(shift, shift, fill_mode="constant", seed=seed + 1))
    if zoom:
        aug.append(layers.RandomZoom(zoom, zoom, fill_mode="constant", seed=seed + 2))

    def block(filters: int, n: int) -> list[Any]:
        out: list[Any] = []
        for _ in range(n):
            out += [
                layers.Conv2D(filters, 3, strides=1, padding="valid", use_bias=False),
                layers.BatchNormalization(),
                layers.ReLU(),
            ]
        return [*out, layers.MaxPooling2D(2)]

    if arch == "paper":
        body = [
            *block(32, 1),
            *block(64, 1),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.5),
        ]
    elif arch == "wide":
        body = [
            *block(32, 2),
            *block(64, 2),
            layers.Flatten(),
            layers.Dense(256, use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Dropout(0.4),
        ]
    elif arch == "deep":
        def conv(filters: int, size: int, stride: int = 1) -> list[Any]:
            return [layers.Conv2D(filters, size, strides=stride, use_bias=False,
                                  padding="same" if stride > 1 else "valid"),
                    layers.BatchNormalization(), layers.ReLU()]

        # pooling learnt by strided 5x5 convolutions, ending in a 4x4 convolution to 1x1
        body = [
            *conv(32, 3), *conv(32, 3), *conv(32, 5, 2), layers.Dropout(0.4),
            *conv(64, 3), *conv(64, 3), *conv(64, 5, 2), layers.Dropout(0.4),
            *conv(128, 4), layers.Flatten(), layers.Dropout(0.4),
        ]
    else:
        raise ModelError(f"unknown CNN architecture {arch!r} (paper, wide or deep)")
    return keras.Sequential(
        [keras.Input((28, 28, 1)), *aug, *body, layers.Dense(10, activation="softmax")],
        name=f"digitocr_cnn_{arch}",
    )


class CNNClassifier(Classifier):
    """Convolutional network trained with Adam and early stopping on validation loss."""

    backend = "cnn"
    #: run inference through a traced ``tf.function`` (False: eager Keras calls)
    compiled: bool = True

    def __init__(self, **options: Any) -> None:
        super().__init__(**{**DEFAULTS, **options})
        #: the Keras network (training, or a model directory without ``model.onnx``)
        self.model: Any = None
        #: the network read from ``model.onnx``, which reading runs when it is there
        self.network: OnnxNetwork | None = None
        self._fn: Any = None
        self._fn_model: Any = None

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        progress: Progress | None = None,
    ) -> FitResult:
        keras = _keras()
        o = self.options
        keras.utils.set_random_seed(int(o["seed"]))
        self.model = build_network(
            str(o["arch"]), float(o["rotation"]), float(o["shift"]), float(o["zoom"]),
            int(o["seed"]),
        )
        if o.get("init"):
            _copy_weights(CNNClassifier.load_keras(Path(o["init"])), self.model)
        schedule = str(o["lr_schedule"])
        if schedule not in SCHEDULES:
            raise ModelError(f"unknown lr_schedule {schedule!r} ({', '.join(SCHEDULES)})")
        lr: Any = float(o["lr"])
        if schedule == "cosine":
            # anneal to 1 % of the start over the whole run, step by step
            steps = int(o["epochs"]) * -(-len(x) // int(o["batch_size"]))
            lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, steps), alpha=0.01)
        self.model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=lr),
            loss="categorical_crossentropy",
            metrics=["accuracy"],
        )
        callbacks: list[Any] = [_progress_callback(keras, progress, int(o["epochs"]))]
        val = None
        if validation is not None and len(validation[1]):
            val = (self._inputs(validation[0]), _onehot(validation[1]))
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=int(o["patience"]), restore_best_weights=True
                )
            )
            if schedule == "plateau":
                callbacks.append(
                    keras.callbacks.ReduceLROnPlateau(
                        monitor="val_loss", factor=0.5, patience=1, min_lr=1e-5
                    )
                )
        self.network = None  # the model now is the one being trained
        hist = self.model.fit(
            self._inputs(x),
            _onehot(y),
            batch_size=int(o["batch_size"]),
            epochs=int(o["epochs"]),
            validation_data=val,
            shuffle=True,
            verbose=0,
            callbacks=callbacks,
        )
        history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
        return FitResult(history=history, epochs=len(next(iter(history.values()), [])))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        if self.model is None and self.network is None:
            raise ModelError("the CNN has not been trained or loaded")
        x = self._inputs(x)
        if len(x) == 0:
            return np.zeros((0, 10), np.float32)
        if self.network is not None:
            forward = self.network.run
        else:
            forward = self._compiled() if self.compiled else self._eager
        out = [forward(x[i : i + PREDICT_CHUNK]) for i in range(0, len(x), PREDICT_CHUNK)]
        return np.concatenate(out).astype(np.float32)

    def _inputs(self, x: np.ndarray) -> np.ndarray:
        """A checked batch (N, 28, 28, 1) for the network, deskewed when the option says so."""
        x = check_batch(x)
        return (deskew_batch(x) if self.options.get("deskew") else x)[..., None]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fn"] = state["_fn_model"] = None  # a traced function does not pickle
        return state

    def _eager(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model(x, training=False))

    def _compiled(self) -> Any:
        """The network as one cached ``tf.function`` with a batch-size-free signature.

        An eager ``model(x)`` call walks every Keras layer in Python (~5 ms before any maths);
        the traced graph runs the same kernels in one call, 2-10x faster for the 1-200 crop
        batches that ``read`` sends. The batch dimension is ``None``, so it is traced once and
        never again, whatever the batch size (no padding to bucket sizes needed).
        """
        if self._fn is None or self._fn_model is not self.model:
            import tensorflow as tf

            model = self.model
            spec = tf.TensorSpec([None, 28, 28, 1], tf.float32)
            graph = tf.function(lambda t: model(t, training=False), input_signature=[spec],
                                autograph=False, reduce_retracing=True)

            def run(x: np.ndarray) -> np.ndarray:
                return np.asarray(graph(tf.constant(x)))

            self._fn, self._fn_model = run, model
        return self._fn

    def save(self, directory: Path) -> None:
        if self.model is None:
            raise ModelError("nothing to save: the CNN has not been trained (a model loaded "
                             "from model.onnx alone cannot be saved again)")
        save_model(self.model, directory / WEIGHTS)
        self.export_report = export_onnx(self.model, directory / ONNX_FILE,
                                         export_sample(EXPORT_SHAPE))

    @classmethod
    def load(cls, directory: Path, options: dict[str, Any]) -> CNNClassifier:
        inst = cls(**options)
        inst.network = load_network(directory, 10)
        if inst.network is None:
            inst.model = load_model_file(directory / WEIGHTS, "CNN", 10)
        return inst

    @classmethod
    def export(cls, directory: Path) -> dict[str, Any]:
        return export_onnx(cls.load_keras(directory), directory / ONNX_FILE,
                           export_sample(EXPORT_SHAPE))

    @classmethod
    def load_keras(cls, directory: Path) -> Any:
        """The Keras network of a model directory (to fine-tune from it)."""
        return load_model_file(directory / WEIGHTS, "CNN", 10)


def _copy_weights(source: Any, target: Any) -> None:
    """Copy every weighted layer of ``source`` into ``target`` (augmentation layers aside)."""
    src = [layer for layer in source.layers if layer.get_weights()]
    dst = [layer for layer in target.layers if layer.get_weights()]
    shapes = [[w.shape for w in layer.get_weights()] for layer in src]
    if shapes != [[w.shape for w in layer.get_weights()] for layer in dst]:
        raise ModelError("the --init model's architecture differs from the one being trained")
    for a, b in zip(src, dst, strict=True):
        b.set_weights(a.get_weights())


def _onehot(y: np.ndarray) -> np.ndarray:
    """One-hot targets; a not-a-digit example (label 10) gets the uniform distribution."""
    eye = np.vstack([np.eye(10, dtype=np.float32), np.full((1, 10), 0.1, np.float32)])
    return eye[np.asarray(y, dtype=np.int64)]


def _progress_callback(keras: Any, progress: Progress | None, epochs: int) -> Any:
    """A Keras callback printing one line per epoch (Keras's own bar would go to stdout)."""

    class Callback(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if progress is not None:
                progress(epoch_line(epoch, epochs, time.perf_counter() - self.t0, logs))

    return Callback()


@hookimpl
def register_classifiers(register: Any) -> None:
    register("cnn", CNNClassifier)


#: ``train cnn``'s own options, shown after ``--scan``: examples trained toward a flat output
TRAIN_PARAMS: dict[str, list[click.Parameter]] = {"scan": [
    click.Option(["--pairs"], type=click.FloatRange(0, 1), default=0.0, show_default=True,
                 help="CNN: add this fraction of touching digit pairs, trained toward a flat "
                 "output, so that read's unsplit neighbours come out unsure."),
    click.Option(["--non-digits"], type=click.FloatRange(0, 1), default=0.0, show_default=True,
                 help="CNN: add this fraction of crops that are not digits (crosses, "
                 "struck-out digits, ticks, box corners, letters), trained toward a flat "
                 "output, so that read says it is unsure of them."),
]}
#: the options only ``cnn`` takes among the classifiers, and what another one says of them
#: (``--init`` is train's own: string readers fine-tune with it too)
TRAIN_TAKES = {"init_model": "--init only applies to the cnn backend",
               "pairs": "--pairs only applies to networks (cnn)",
               "non_digits": "--non-digits only applies to networks (cnn)"}


def training_options(request: TrainRequest) -> dict[str, Any]:
    """``CNNClassifier``'s options from ``train cnn``: the network options given, the
    ``--init`` model's directory, then ``--set``'s pairs."""
    options = dict(request.network)
    if request.values.get("init_model"):
        from digitocr.backends import resolve_model_dir

        options["init"] = str(resolve_model_dir(request.values["init_model"]))
    return {**options, **request.settings}


@hookimpl
def register_training_options(register: Any) -> None:
    register("cnn", TrainingOptions(params=TRAIN_PARAMS, takes=TRAIN_TAKES,
                                    build=training_options))
