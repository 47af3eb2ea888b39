"""ActiveLab: which examples to label next, when several annotators label each.

Mirrors ``cleanlab.multiannotator.get_active_learning_scores`` and its ``_ensemble``
variant (2.x). The method is that of Goh & Mueller, "ActiveLab: Active Learning with
Re-Labeling by Multiple Annotators" (2023, arXiv:2301.11856): an example's score is its
CROWDLAB consensus quality averaged with ``1 / K`` (what one more, unknown, annotator
would be expected to contribute), weighted by the model's and the example's annotators'
weights against one average annotator. Unlabelled examples use the model's confidence.
Lower scores mean a new label there would tell us more.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from core.multiannotator import calibration
from core.multiannotator._annotations import (
    LABELS,
    Annotations,
    check_dimensions,
    check_labels,
    check_probabilities,
    read_labels,
)
from core.multiannotator.label_quality import label_quality, label_quality_ensemble
from core.multiannotator.majority_vote import (
    RandomState,
    chooser,
    get_majority_vote_label,
    majority_vote,
    random_source,
)
from core.rank import _scores

__all__ = ["get_active_learning_scores", "get_active_learning_scores_ensemble"]

_EMPTY = np.array([])


def _check_arrays(pred_probs: Any, pred_probs_unlabeled: Any, *, ensemble: bool) -> tuple:
    """Both probability arrays, checked for shape (then values) and the same classes."""
    if pred_probs is None and pred_probs_unlabeled is None:
        raise ValueError(
            "pred_probs and pred_probs_unlabeled cannot both be None, specify at least one of "
            "the two."
        )
    arrays: list[np.ndarray | None] = []
    for name, value in (("pred_probs", pred_probs), ("pred_probs_unlabeled", pred_probs_unlabeled)):
        if value is None:
            arrays.append(None)
            continue
        if not isinstance(value, (np.ndarray, list, tuple)):
            raise TypeError(f"{name} must be a numpy array; got {type(value).__name__}")
        array = np.asarray(value)
        check_dimensions(array, ensemble=ensemble, name=name)
        arrays.append(array)
    labeled, unlabeled = arrays
    if labeled is not None and unlabeled is not None:
        if labeled.shape[-1] != unlabeled.shape[-1]:
            raise ValueError(
                "pred_probs and pred_probs_unlabeled must have the same number of classes; got "
                f"{labeled.shape[-1]} and {unlabeled.shape[-1]}"
            )
        if ensemble and len(labeled) != len(unlabeled):
            raise ValueError(
                "pred_probs and pred_probs_unlabeled must hold the same models; got "
                f"{len(labeled)} and {len(unlabeled)}"
            )
    names = ("pred_probs", "pred_probs_unlabeled")
    # cleanlab's ActiveLab scores any values in [0, 1], rows of any sum (its own tests
    # pass np.random.random arrays): so does this.
    return tuple(
        None
        if a is None
        else check_probabilities(a, ensemble=ensemble, name=n, rows_sum_to_one=False)
        for a, n in zip(arrays, names, strict=True)
    )


def _labels(labels_multiannotator: Any, pred_probs: np.ndarray) -> np.ndarray:
    if labels_multiannotator is None:
        raise ValueError(
            f"{LABELS} cannot be None when passing in pred_probs. Either provide {LABELS} to "
            "obtain active learning scores for the labeled examples, or just pass in "
            "pred_probs_unlabeled to get active learning scores for unlabeled examples."
        )
    matrix, _, _ = read_labels(labels_multiannotator)  # ids are not reported, as in cleanlab
    check_labels(matrix, allow_single_label=True)
    n = pred_probs.shape[-2]
    if len(matrix) != n:
        raise ValueError(
            f"pred_probs and {LABELS} must have same length; got {n} rows of pred_probs and "
            f"{len(matrix)} of {LABELS}"
        )
    highest = np.nanmax(matrix) + 1
    if pred_probs.shape[-1] < highest:
        raise ValueError(
            f"pred_probs must have at least {int(highest)} columns based on the largest class "
            f"label which appears in {LABELS}; got {pred_probs.shape[-1]}"
        )
    return matrix


def _labeled_scores(
    ann: Annotations, quality: np.ndarray, model_weight: Any, weight: np.ndarray, k: int
) -> np.ndarray:
    """``np.average((quality, 1/K), weights=(sum of the example's annotator weights + model
    weight, mean annotator weight))`` per example."""
    own = ann.row_sums(np.asarray(weight)[ann.cols]) + model_weight
    average = np.mean(weight)
    return (quality * own + (1 / k) * average) / (own + average)


def get_active_learning_scores(
    labels_multiannotator: pd.DataFrame | np.ndarray | None = None,
    pred_probs: np.ndarray | None = None,
    pred_probs_unlabeled: np.ndarray | None = None,
    *,
    random_state: RandomState = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ActiveLab scores for labelled and for unlabelled examples (lower: label next).

    Parameters
    ----------
    labels_multiannotator : pd.DataFrame or np.ndarray of shape (n_samples, n_annotators), optional
        As for :func:`get_label_quality_multiannotator`, but one annotator (one column) is
        allowed; needed with ``pred_probs``.
    pred_probs : np.ndarray of shape (n_samples, n_classes), optional
        A model's predicted probabilities for the labelled examples.
    pred_probs_unlabeled : np.ndarray of shape (n_unlabeled, n_classes), optional
        The same model's predicted probabilities for examples without labels yet.
    random_state : None, int, np.random.RandomState or np.random.Generator, default=None
        Breaks majority-vote ties nothing else breaks; None uses numpy's global state.

    Returns
    -------
    active_learning_scores : np.ndarray of shape (n_samples,)
        Empty without ``pred_probs``. Where some example has two labels, ``pred_probs`` are
        first temperature-scaled to the annotators and scored with CROWDLAB (printing its
        cautions); else the majority vote is scored by self-confidence.
    active_learning_scores_unlabeled : np.ndarray of shape (n_unlabeled,)
        Empty without ``pred_probs_unlabeled``; comparable with the first.

    Raises
    ------
    ValueError
        If both probability arrays are None, ``pred_probs`` comes without labels, shapes or
        classes disagree, or the labels are not valid.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[0, np.nan], [np.nan, 1], [1, np.nan]])
    >>> probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.5, 0.5]])
    >>> scores, unlabeled = get_active_learning_scores(labels, probs, np.array([[0.6, 0.4]]))
    >>> scores.round(3), unlabeled.round(3)
    (array([0.767, 0.633, 0.5  ]), array([0.55]))
    """
    source = random_source(random_state)
    choose = chooser(source)
    probs, unlabeled = _check_arrays(pred_probs, pred_probs_unlabeled, ensemble=False)
    scores = _EMPTY
    temperature: Any = 1
    model_weight: Any = 1
    average: Any = 1
    if probs is not None:
        matrix = _labels(labels_multiannotator, probs)
        k = probs.shape[1]
        ann = Annotations(matrix)
        if (ann.num_annotations == 1).all():
            temperature = 1.0
            label = majority_vote(ann, ann.class_counts(k), probs, choose)
            quality = _scores(label, probs, method="self_confidence")
            weight: np.ndarray = np.full(ann.num_annotators, 1)
        else:
            temperature = calibration.best_temperature(
                calibration.empirical_distribution(ann, k), probs
            )
            check_labels(matrix)  # as CROWDLAB checks them (two labels on some example)
            info = label_quality(
                ann,
                calibration.scale(probs, temperature),
                methods=["best_quality"],
                quality_method="crowdlab",
                score_kwargs={},
                calibrate_probs=False,
                outputs=(False, False, True),
                verbose=True,
                choose=choose,
            )
            quality = info["label_quality"]["consensus_quality_score"].to_numpy()
            model_weight, weight = info["model_weight"], info["annotator_weight"]
        average = np.mean(weight)
        scores = _labeled_scores(ann, quality, model_weight, weight, k)
    if unlabeled is None:
        return scores, _EMPTY
    k = unlabeled.shape[1]
    confidence = np.max(calibration.scale(unlabeled, temperature), axis=1)
    stacked = np.stack([confidence, np.full(len(confidence), 1 / k)])
    return scores, np.average(stacked, weights=[model_weight, average], axis=0)


def get_active_learning_scores_ensemble(
    labels_multiannotator: pd.DataFrame | np.ndarray | None = None,
    pred_probs: np.ndarray | None = None,
    pred_probs_unlabeled: np.ndarray | None = None,
    *,
    random_state: RandomState = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`get_active_learning_scores` with an ensemble of P models.

    Parameters
    ----------
    labels_multiannotator : pd.DataFrame or np.ndarray of shape (n_samples, n_annotators), optional
    pred_probs : np.ndarray of shape (n_models, n_samples, n_classes), optional
    pred_probs_unlabeled : np.ndarray of shape (n_models, n_unlabeled, n_classes), optional
        The arrays are left as they are (cleanlab 2.9 writes the calibrated models into them).
    random_state : None, int, np.random.RandomState or np.random.Generator, default=None

    Returns
    -------
    active_learning_scores, active_learning_scores_unlabeled : np.ndarray
        As :func:`get_active_learning_scores`. Unlabelled examples are scored like a
        labelled one whose annotators are the models: the majority vote of the models'
        argmax (which needs two models or more) scored against the weighted average of the
        models and ``1 / K``.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[0, np.nan], [np.nan, 1], [1, np.nan]])
    >>> probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.5, 0.5]])
    >>> scores, _ = get_active_learning_scores_ensemble(labels, np.stack([probs, probs]))
    >>> scores.round(3)
    array([0.8 , 0.65, 0.5 ])
    """
    source = random_source(random_state)
    choose = chooser(source)
    probs, unlabeled = _check_arrays(pred_probs, pred_probs_unlabeled, ensemble=True)
    scores = _EMPTY
    models = len(probs) if probs is not None else len(unlabeled)
    temperatures = np.full(models, 1.0)
    model_weight: np.ndarray = np.full(models, 1)
    average: Any = 1
    if probs is not None:
        matrix = _labels(labels_multiannotator, probs)
        k = probs.shape[2]
        ann = Annotations(matrix)
        if (ann.num_annotations == 1).all():
            mean_probs = np.mean(probs, axis=0)
            label = majority_vote(ann, ann.class_counts(k), mean_probs, choose)
            quality = _scores(label, mean_probs, method="self_confidence")
            weight: np.ndarray = np.full(ann.num_annotators, 1)
        else:
            empirical = calibration.empirical_distribution(ann, k)
            scaled = np.array(probs, copy=True)
            for p, model in enumerate(probs):
                temperatures[p] = calibration.best_temperature(empirical, model)
                scaled[p] = calibration.scale(model, temperatures[p])
            del empirical
            check_labels(matrix)  # as CROWDLAB checks them (two labels on some example)
            info = label_quality_ensemble(
                ann,
                scaled,
                score_kwargs={},
                calibrate_probs=False,
                outputs=(False, False, True),
                verbose=True,
                choose=choose,
            )
            quality = info["label_quality"]["consensus_quality_score"].to_numpy()
            model_weight, weight = info["model_weight"], info["annotator_weight"]
        average = np.mean(weight)
        scores = _labeled_scores(ann, quality, np.sum(model_weight), weight, k)
    if unlabeled is None:
        return scores, _EMPTY
    k = unlabeled.shape[2]
    scaled_unlabeled = np.array(unlabeled, copy=True)
    for p in range(models):
        scaled_unlabeled[p] = calibration.scale(unlabeled[p], temperatures[p])
    mean_unlabeled = np.mean(scaled_unlabeled, axis=0)
    label = get_majority_vote_label(
        np.argmax(scaled_unlabeled, axis=2).T, mean_unlabeled, random_state=source
    )
    with_prior = np.concatenate((scaled_unlabeled, np.full((1, *unlabeled.shape[1:]), 1 / k)))
    weights = np.concatenate((model_weight, np.array([average])))
    return scores, _scores(
        label, np.average(with_prior, weights=weights, axis=0), method="self_confidence"
    )
