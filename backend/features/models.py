"""The classifier behind an audit: the measured default per input type, or the user's own.

The defaults were chosen by how well confident learning finds injected label flips with
their out-of-fold probabilities (F1 of ``core.filter.find_label_issues``), tuned on one
set of datasets and checked on others (``bench/detection.py``, ``bench/RESULTS.md``):

=========  ===========================================================================
input      default model
=========  ===========================================================================
text       TF-IDF word 1-2 + char 2-4 n-grams (sublinear tf) -> ComplementNB
image      PCA(50) -> RBF SVC with sigmoid calibration (out-of-fold, one model)
numeric    ExtraTrees (100 trees, min_samples_leaf=2)
embedding  StandardScaler -> RBF SVC with sigmoid calibration
=========  ===========================================================================

With all of them ``filter_by="prune_by_noise_rate"`` (the settings' default) is the
best or close to it; no input type gains from another one on data it was not tuned on.

Past :data:`SVC_MAX_SAMPLES` rows a kernel SVC gets slow (its fit grows with the square
of the rows), so image and embedding models switch to logistic regression there.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from backend.features.text import text_vectorizer
from backend.labelstudio.dataset import TaskKind
from backend.settings import Settings

#: Components kept by the image model's PCA (fewer when there are fewer rows or pixels).
IMAGE_COMPONENTS = 50
#: Above this many rows, image and embedding defaults use logistic regression, not an SVC.
SVC_MAX_SAMPLES = 10_000
#: Folds of the calibration inside :class:`CalibratedSVC`.
CALIBRATION_FOLDS = 5
#: Trees of the numeric default; more gave no better detection on the tuning sets.
TREES = 100
#: Iterations allowed to logistic regression (large-data fallback).
LR_MAX_ITER = 1000


class CalibratedSVC(ClassifierMixin, BaseEstimator):
    """An RBF SVC whose decision values are turned into probabilities by sigmoid calibration.

    scikit-learn's ``CalibratedClassifierCV(SVC(), ensemble=False)``: out-of-fold decision
    values of one SVC fitted on all rows, calibrated per class. It needs every class in
    every calibration fold; this wrapper uses fewer folds when a class is rare, and
    repeats the rows of a class seen only once (the audit gives every training fold at
    least one example of every class, so a fold may hold exactly one).
    """

    def __init__(self, C: float = 1.0, gamma: str | float = "scale", cv: int = CALIBRATION_FOLDS):
        self.C = C
        self.gamma = gamma
        self.cv = cv

    def fit(self, X: Any, y: Any) -> CalibratedSVC:
        """Fit the SVC and its calibration on ``X``, ``y``."""
        y = np.asarray(y)
        classes, counts = np.unique(y, return_counts=True)
        singletons = np.flatnonzero(np.isin(y, classes[counts == 1]))
        if len(singletons):
            rows = np.concatenate([np.arange(len(y)), singletons])
            X, y = X[rows], y[rows]
            counts = np.maximum(counts, 2)
        folds = StratifiedKFold(n_splits=int(max(2, min(self.cv, counts.min()))))
        self.calibrated_ = CalibratedClassifierCV(
            SVC(C=self.C, gamma=self.gamma), method="sigmoid", cv=folds, ensemble=False
        ).fit(X, y)
        self.classes_ = self.calibrated_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return calibrated class probabilities, columns in ``classes_`` order."""
        check_is_fitted(self)
        return self.calibrated_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        """Return the most probable class of each row."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def default_model(kind: TaskKind, settings: Settings, *, n_samples: int) -> Any:
    """Return the measured default estimator for ``kind``'s input type (see module doc)."""
    seed = settings.seed
    input_type = kind.input_type
    if input_type == "text":
        return Pipeline(
            [("tfidf", text_vectorizer(n_samples=n_samples)), ("complementnb", ComplementNB())]
        )
    if input_type == "numeric":
        return ExtraTreesClassifier(n_estimators=TREES, min_samples_leaf=2, random_state=seed)
    if input_type == "image":
        pixels = 3 * settings.image_size**2
        components = max(1, min(IMAGE_COMPONENTS, pixels, n_samples // 2))
        head = PCA(n_components=components, random_state=seed)
        if n_samples > SVC_MAX_SAMPLES:
            return make_pipeline(head, LogisticRegression(C=0.1, max_iter=LR_MAX_ITER))
        return make_pipeline(head, CalibratedSVC())
    if input_type == "embedding":
        if n_samples > SVC_MAX_SAMPLES:
            return make_pipeline(StandardScaler(), LogisticRegression(max_iter=LR_MAX_ITER))
        return make_pipeline(StandardScaler(), CalibratedSVC())
    raise ValueError(f"no model for input type {input_type!r}")


def estimator_from_path(path: str, params: Mapping[str, Any]) -> Any:
    """Import ``path`` ("package.module.Name") and instantiate it with ``params``."""
    module_name, _, name = path.rpartition(".")
    if not module_name or not name:
        raise ValueError(
            f"setting model must be 'auto' or a dotted path such as "
            f"'sklearn.linear_model.LogisticRegression'; got {path!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"setting model {path!r}: cannot import {module_name!r} ({err})") from None
    factory = getattr(module, name, None)
    if factory is None or not callable(factory):
        raise ValueError(f"setting model {path!r}: {module_name!r} has no class {name!r}")
    try:
        estimator = factory(**params)
    except TypeError as err:
        accepted = _parameter_names(factory)
        raise ValueError(
            f"setting model_params {dict(params)!r} do not fit {path}: {err}"
            + (f" (it accepts {', '.join(accepted)})" if accepted else "")
        ) from None
    missing = [m for m in ("fit", "predict_proba") if not hasattr(estimator, m)]
    if missing:
        raise ValueError(
            f"setting model {path!r} is not a probabilistic classifier: it has no "
            f"{' or '.join(missing)} (with these model_params)"
        )
    return estimator


def _parameter_names(factory: Any) -> list[str]:
    try:
        return list(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return []


def make_model(kind: TaskKind, settings: Settings, *, n_samples: int) -> Any:
    """Return an unfitted, clonable classifier with ``fit``/``predict_proba`` for ``kind``.

    ``settings.model == "auto"`` gives :func:`default_model`; ``settings.model_params``
    then set its parameters by scikit-learn's nested names (``{"complementnb__alpha":
    0.5}``). Otherwise ``settings.model`` is a dotted path to an estimator class,
    instantiated with ``settings.model_params``, and fed what suits it: text through the
    default TF-IDF vectorizer, numeric columns through a StandardScaler, pixel and
    embedding vectors as they are. ``random_state`` is set to ``settings.seed`` wherever
    the estimator has one and the params do not say otherwise.

    Raises
    ------
    ValueError
        For an unknown path, a class that is not a probabilistic classifier, or params
        the estimator does not accept.
    """
    params = dict(settings.model_params)
    if settings.model == "auto":
        model = default_model(kind, settings, n_samples=n_samples)
        if params:
            try:
                model.set_params(**params)
            except ValueError as err:
                raise ValueError(
                    f"setting model_params {params!r} do not fit the default "
                    f"{kind.input_type} model ({type(model).__name__}): {err}"
                ) from None
    else:
        model = estimator_from_path(settings.model, params)
        if kind.input_type == "text":
            model = Pipeline([("tfidf", text_vectorizer(n_samples=n_samples)), ("model", model)])
        elif kind.input_type == "numeric":
            model = Pipeline([("scale", StandardScaler()), ("model", model)])
    seeded = {
        name: settings.seed
        for name in model.get_params()
        if (name == "random_state" or name.endswith("__random_state"))
        and name not in params
        and name.removeprefix("model__") not in params
    }
    model.set_params(**seeded)
    return clone(model)
