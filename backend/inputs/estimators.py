"""Estimators the input types' default models share (imported only where a model is built)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

#: Above this many rows, image and embedding defaults use logistic regression, not an SVC
#: (a kernel SVC's fit grows with the square of the rows).
SVC_MAX_SAMPLES = 10_000
#: Folds of the calibration inside :class:`CalibratedSVC`.
CALIBRATION_FOLDS = 5
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
