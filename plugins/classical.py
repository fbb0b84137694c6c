"""Classical backends with scikit-learn: kNN and an RBF SVM.

Features: each 28x28 image is deskewed by its second-order moments (the classic MNIST trick that
removes slant, the largest nuisance for distance-based models), then projected onto its first
principal components. PCA drops pixel noise and makes both models far faster; the RBF SVM then
separates the classes in that compact space. Models are stored with skops, never pickle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from digitocr import hookimpl
from digitocr.backends import Classifier, FitResult, Progress, check_batch
from digitocr.errors import ModelError
from digitocr.extras import requires
from digitocr.normalise import deskew

MODEL_FILE = "model.skops"
#: the only types, beyond skops's own defaults, that a model file may name: exactly what the
#: shipped SVM and a freshly trained kNN (brute force or a tree) hold. Exact names, never
#: prefixes: skops calls some of them while loading, so ``builtins.exec`` or ``numpy.load``
#: would run whatever the file says.
ALLOWED_TYPES = frozenset({
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.EuclideanDistance32",
})


def features(x: np.ndarray) -> np.ndarray:
    """Deskewed, flattened pixels (PCA happens inside the fitted pipeline)."""
    x = check_batch(x)
    return np.stack([deskew(i) for i in x]).reshape(len(x), -1) if len(x) else x.reshape(0, 784)


class SklearnClassifier(Classifier):
    """A scikit-learn pipeline (PCA → estimator) over deskewed pixels."""

    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **options: Any) -> None:
        super().__init__(**{**self.defaults, **options})
        self.pipeline: Any = None

    def make_estimator(self) -> Any:
        raise NotImplementedError

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        progress: Progress | None = None,
    ) -> FitResult:
        with requires(f"the {self.backend} backend"):
            from sklearn.decomposition import PCA
            from sklearn.pipeline import Pipeline

        if progress:
            progress(f"{self.backend}: fitting on {len(y)} images")
        pca = PCA(n_components=int(self.options["components"]), random_state=0)
        self.pipeline = Pipeline([("pca", pca), ("model", self.make_estimator())])
        self.pipeline.fit(features(x), np.asarray(y))
        history: dict[str, list[float]] = {}
        if validation is not None and len(validation[1]):
            acc = float((self.predict(validation[0]) == validation[1]).mean())
            history = {"val_accuracy": [acc]}
            if progress:
                progress(f"{self.backend}: validation accuracy {acc:.4f}")
        return FitResult(history=history, epochs=1)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        if self.pipeline is None:
            raise ModelError(f"the {self.backend} model has not been trained or loaded")
        f = features(x)
        if len(f) == 0:
            return np.zeros((0, 10), np.float32)
        proba = self.pipeline.predict_proba(f)
        out = np.zeros((len(f), 10), np.float32)
        out[:, self.pipeline.classes_.astype(int)] = proba
        return out

    def save(self, directory: Path) -> None:
        with requires(f"the {self.backend} backend"):
            import skops.io as sio

        if self.pipeline is None:
            raise ModelError(f"nothing to save: the {self.backend} model has not been trained")
        directory.mkdir(parents=True, exist_ok=True)
        sio.dump(self.pipeline, directory / MODEL_FILE)

    @classmethod
    def load(cls, directory: Path, options: dict[str, Any]) -> SklearnClassifier:
        with requires(f"the {cls.backend} model {directory}"):
            import skops.io as sio

        path = directory / MODEL_FILE
        if not path.is_file():
            raise ModelError(f"{directory}: no {MODEL_FILE} in this model directory")
        try:
            untrusted = sio.get_untrusted_types(file=path)
            refused = sorted(t for t in untrusted if t not in ALLOWED_TYPES)
            if refused:
                raise ModelError(f"{path}: refusing to load unexpected types {refused}")
            pipeline = sio.load(path, trusted=untrusted)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"{path}: cannot load scikit-learn model ({exc})") from exc
        if not hasattr(pipeline, "predict_proba"):
            raise ModelError(f"{path}: the stored object is not a classifier")
        inst = cls(**options)
        inst.pipeline = pipeline
        return inst


class KNNClassifier(SklearnClassifier):
    """k nearest neighbours, distance-weighted, on 40 principal components."""

    backend = "knn"
    defaults: ClassVar[dict[str, Any]] = {"components": 40, "k": 4}

    def make_estimator(self) -> Any:
        with requires("the knn backend"):
            from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(n_neighbors=int(self.options["k"]), weights="distance")


class SVMClassifier(SklearnClassifier):
    """RBF support-vector machine on 50 principal components, with Platt probabilities."""

    backend = "svm"
    defaults: ClassVar[dict[str, Any]] = {"components": 50, "C": 10.0, "gamma": "scale"}

    def make_estimator(self) -> Any:
        with requires("the svm backend"):
            from sklearn.calibration import CalibratedClassifierCV
            from sklearn.svm import SVC

        gamma = self.options["gamma"]
        svc = SVC(
            C=float(self.options["C"]),
            gamma=gamma if isinstance(gamma, str) else float(gamma),
            cache_size=1000,
        )
        # Platt scaling on 3-fold out-of-fold scores, then one SVC refit on all the data
        return CalibratedClassifierCV(svc, method="sigmoid", cv=3, ensemble=False)


@hookimpl
def register_classifiers(register: Any) -> None:
    register("knn", KNNClassifier)
    register("svm", SVMClassifier)
