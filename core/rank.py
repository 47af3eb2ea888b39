"""Score how likely each given label is correct, and rank examples by it.

Names, signatures and results mirror ``cleanlab.rank`` (2.x). Scores lie in [0, 1];
lower means more likely mislabeled. The methods are those of Kuan & Mueller, "Model-
agnostic label quality scoring to detect real-world label errors", ICML DataPerf (2022).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import xlogy
from sklearn.metrics import log_loss

from core._validation import (
    TypeAssertionError,
    ValueAssertionError,
    check_option,
    validate_labels_and_pred_probs,
)
from core.constants import CLIPPING_LOWER_BOUND
from core.count import _thresholds
from core.typing import LabelLike

__all__ = [
    "find_top_issues",
    "get_confidence_weighted_entropy_for_each_label",
    "get_label_quality_ensemble_scores",
    "get_label_quality_scores",
    "get_normalized_margin_for_each_label",
    "get_self_confidence_for_each_label",
    "order_label_issues",
]

_METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
_ENSEMBLE_WEIGHTS = ("uniform", "accuracy", "log_loss_search", "custom")
_DEFAULT_LOG_LOSS_T = (0.0001, 0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 200.0)


# --------------------------------------------------------------------------- per-label scores


def get_self_confidence_for_each_label(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """Return ``pred_probs[i, labels[i]]``, the predicted probability of the given label.

    Parameters
    ----------
    labels : np.ndarray of shape (n_samples,)
    pred_probs : np.ndarray of shape (n_samples, n_classes)

    Returns
    -------
    np.ndarray of shape (n_samples,)
    """
    labels = np.asarray(labels)
    return pred_probs[np.arange(labels.shape[0]), labels]


def get_normalized_margin_for_each_label(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """Return ``(p_given - max_{j != given} p_j + 1) / 2``, in [0, 1].

    Parameters
    ----------
    labels : np.ndarray of shape (n_samples,)
    pred_probs : np.ndarray of shape (n_samples, n_classes)

    Returns
    -------
    np.ndarray of shape (n_samples,)
    """
    labels = np.asarray(labels)
    rows = np.arange(labels.shape[0])
    self_confidence = pred_probs[rows, labels]
    others = np.array(pred_probs, copy=True)
    others[rows, labels] = -np.inf
    max_other = others.max(axis=1)
    return (self_confidence - max_other + 1) / 2


def _normalized_entropy(pred_probs: np.ndarray) -> np.ndarray:
    if np.any(pred_probs < 0) or np.any(pred_probs > 1):
        raise ValueError("pred_probs values must be in [0, 1] to compute their entropy")
    return -np.sum(xlogy(pred_probs, pred_probs), axis=1) / np.log(pred_probs.shape[1])


def get_confidence_weighted_entropy_for_each_label(
    labels: np.ndarray, pred_probs: np.ndarray
) -> np.ndarray:
    """Return ``log(H/p_given + 1) / (H/p_given)`` with ``H`` the normalized entropy.

    Parameters
    ----------
    labels : np.ndarray of shape (n_samples,)
    pred_probs : np.ndarray of shape (n_samples, n_classes)

    Returns
    -------
    np.ndarray of shape (n_samples,)
    """
    self_confidence = get_self_confidence_for_each_label(labels, pred_probs)
    self_confidence = np.clip(self_confidence, a_min=CLIPPING_LOWER_BOUND, a_max=None)
    ratio = _normalized_entropy(pred_probs) / self_confidence
    clipped = np.clip(ratio, a_min=CLIPPING_LOWER_BOUND, a_max=None)
    return np.log(ratio + 1) / clipped


_SCORERS = {
    "self_confidence": get_self_confidence_for_each_label,
    "normalized_margin": get_normalized_margin_for_each_label,
    "confidence_weighted_entropy": get_confidence_weighted_entropy_for_each_label,
}


def _adjust(
    labels: np.ndarray, pred_probs: np.ndarray, thresholds: np.ndarray | None = None
) -> np.ndarray:
    """Subtract per-class confident thresholds, shift non-negative, renormalise rows."""
    if thresholds is None:
        thresholds = _thresholds(labels, pred_probs)
    adjusted = pred_probs - thresholds
    adjusted += thresholds.max()
    adjusted /= adjusted.sum(axis=1, keepdims=True)
    return adjusted


def _scores(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    method: str,
    adjust_pred_probs: bool = False,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Scores of validated inputs; with ``rows``, only for those rows (same values)."""
    check_option("method", method, _METHODS)
    if adjust_pred_probs and method == "confidence_weighted_entropy":
        raise ValueError(f"adjust_pred_probs is not supported for method={method!r}")
    thresholds = _thresholds(labels, pred_probs) if adjust_pred_probs else None
    if method == "confidence_weighted_entropy":
        _normalized_entropy(pred_probs)  # same range check as on the whole array
    if rows is not None:
        pred_probs, labels = pred_probs[rows], labels[rows]
    if adjust_pred_probs:
        pred_probs = _adjust(labels, pred_probs, thresholds)
    return _SCORERS[method](labels, pred_probs)


def get_label_quality_scores(
    labels: LabelLike,
    pred_probs: np.ndarray,
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
) -> np.ndarray:
    """Return a label quality score in [0, 1] for every example (lower: more suspicious).

    Parameters
    ----------
    labels : array_like of shape (n_samples,)
        Given labels, integers in ``0..K-1``.
    pred_probs : np.ndarray of shape (n_samples, n_classes)
        Out-of-sample predicted probabilities.
    method : {'self_confidence', 'normalized_margin', 'confidence_weighted_entropy'}
        ``'self_confidence'`` (default): probability of the given label.
        ``'normalized_margin'``: ``(p_given - max_other + 1) / 2``.
        ``'confidence_weighted_entropy'``: entropy of the prediction weighted by
        self-confidence.
    adjust_pred_probs : bool, default=False
        Subtract each class's confident threshold first, to account for class imbalance
        (not supported with ``'confidence_weighted_entropy'``).

    Returns
    -------
    np.ndarray of shape (n_samples,)

    Raises
    ------
    ValueError
        On an unknown ``method`` or inconsistent inputs.

    Examples
    --------
    >>> import numpy as np
    >>> get_label_quality_scores([0, 1], np.array([[0.9, 0.1], [0.8, 0.2]]))
    array([0.9, 0.2])
    """
    check_option("method", method, _METHODS)
    labels_arr, probs = validate_labels_and_pred_probs(labels, pred_probs)
    return _scores(labels_arr, probs, method=method, adjust_pred_probs=adjust_pred_probs)


def get_label_quality_ensemble_scores(
    labels: LabelLike,
    pred_probs_list: list[np.ndarray],
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
    weight_ensemble_members_by: str = "accuracy",
    custom_weights: np.ndarray | None = None,
    log_loss_search_T_values: Sequence[float] = _DEFAULT_LOG_LOSS_T,
    verbose: bool = True,
) -> np.ndarray:
    """Combine the label quality scores of several models' ``pred_probs``.

    Parameters
    ----------
    labels : array_like of shape (n_samples,)
    pred_probs_list : list of np.ndarray of shape (n_samples, n_classes)
        One array per model.
    method : {'self_confidence', 'normalized_margin', 'confidence_weighted_entropy'}
    adjust_pred_probs : bool, default=False
    weight_ensemble_members_by : {'uniform', 'accuracy', 'log_loss_search', 'custom'}
        ``'accuracy'`` (default) weights each model by its accuracy on ``labels``;
        ``'log_loss_search'`` by ``exp(-T * log_loss)`` with the ``T`` among
        ``log_loss_search_T_values`` whose weighted average has the lowest log loss;
        ``'custom'`` uses ``custom_weights``.
    custom_weights : np.ndarray of shape (n_models,), optional
    log_loss_search_T_values : sequence of float
    verbose : bool, default=True
        Print the weights.

    Returns
    -------
    np.ndarray of shape (n_samples,)
    """
    if not isinstance(pred_probs_list, list):
        raise TypeAssertionError(
            f"pred_probs_list must be a list; got {type(pred_probs_list).__name__}"
        )
    if not pred_probs_list:
        raise ValueAssertionError("pred_probs_list is empty; pass one pred_probs array per model")
    check_option("weight_ensemble_members_by", weight_ensemble_members_by, _ENSEMBLE_WEIGHTS)
    if len(pred_probs_list) == 1:
        warnings.warn(
            "pred_probs_list has only one element; get_label_quality_scores() is equivalent",
            UserWarning,
            stacklevel=2,
        )
    validated = [validate_labels_and_pred_probs(labels, p) for p in pred_probs_list]
    labels_arr = validated[0][0]
    probs_list = [p for _, p in validated]
    if custom_weights is not None and weight_ensemble_members_by != "custom":
        raise ValueError(
            "custom_weights is only used with weight_ensemble_members_by='custom'; "
            f"got weight_ensemble_members_by={weight_ensemble_members_by!r}"
        )
    weights: np.ndarray | None = None
    if weight_ensemble_members_by == "log_loss_search":
        best = float("inf")
        for t in log_loss_search_T_values:
            member_weights = []
            for probs in probs_list:
                clipped = np.clip(probs, a_min=CLIPPING_LOWER_BOUND, a_max=None)
                clipped /= clipped.sum(axis=1)[:, np.newaxis]
                member_weights.append(np.exp(-t * log_loss(labels_arr, clipped)))
            candidate = np.array(member_weights) / sum(member_weights)
            averaged = sum(candidate[i] * p for i, p in enumerate(probs_list))
            loss = log_loss(labels_arr, averaged)
            if best > loss:
                best, weights = loss, candidate.copy()
    scores = np.vstack(
        [
            _scores(labels_arr, p, method=method, adjust_pred_probs=adjust_pred_probs)
            for p in probs_list
        ]
    ).T
    if verbose:
        print(f"Weighting scheme for ensemble: {weight_ensemble_members_by}")
    if weight_ensemble_members_by == "uniform":
        return scores.mean(axis=1)
    if weight_ensemble_members_by == "accuracy":
        accuracies = [(p.argmax(axis=1) == labels_arr).mean() for p in probs_list]
        weights = np.array(accuracies) / sum(accuracies)
        if verbose:
            print("Ensemble members will be weighted by their relative accuracy")
            for i, acc in enumerate(accuracies):
                print(f"  Model {i} accuracy : {acc}")
                print(f"  Model {i} weight   : {weights[i]}")
    elif weight_ensemble_members_by == "log_loss_search":
        if verbose:
            print(
                "Ensemble members will be weighted by log-loss between their predicted "
                "probabilities and given labels"
            )
            for i, w in enumerate(weights if weights is not None else []):
                print(f"  Model {i} weight   : {w}")
    else:  # custom
        if custom_weights is None:
            raise ValueAssertionError(
                "weight_ensemble_members_by='custom' needs custom_weights; got None"
            )
        if len(custom_weights) != len(probs_list):
            raise ValueAssertionError(
                f"custom_weights must have one weight per model ({len(probs_list)}); "
                f"got {len(custom_weights)}"
            )
        weights = np.asarray(custom_weights)
    assert weights is not None  # every branch above sets it
    return (scores * weights).sum(axis=1)


# --------------------------------------------------------------------------- ranking


def find_top_issues(quality_scores: np.ndarray, *, top: int | None = 10) -> np.ndarray:
    """Return the indices of the ``top`` lowest quality scores, lowest first.

    Parameters
    ----------
    quality_scores : np.ndarray of shape (n_samples,)
    top : int or None, default=10
        None (or more than ``n_samples``) returns every index.

    Returns
    -------
    np.ndarray of shape (min(top, n_samples),)
    """
    scores = np.asarray(quality_scores)
    if scores.ndim != 1:
        raise ValueError(f"quality_scores must be 1-D; got shape {scores.shape}")
    if top is None or top > len(scores):
        top = len(scores)
    return scores.argsort()[:top]


def _order(
    mask: np.ndarray,
    labels: np.ndarray,
    pred_probs: np.ndarray,
    rank_by: str,
    rank_by_kwargs: dict[str, Any],
) -> np.ndarray:
    """Flagged indices ordered by score, computing scores for flagged rows only."""
    unknown = set(rank_by_kwargs) - {"adjust_pred_probs"}
    if unknown:
        raise ValueError(
            f"rank_by_kwargs may only contain 'adjust_pred_probs'; got {sorted(unknown)}"
        )
    flagged = np.flatnonzero(mask)
    scores = _scores(labels, pred_probs, method=rank_by, rows=flagged, **rank_by_kwargs)
    return flagged[np.argsort(scores)]


def order_label_issues(
    label_issues_mask: np.ndarray,
    labels: LabelLike,
    pred_probs: np.ndarray,
    *,
    rank_by: str = "self_confidence",
    rank_by_kwargs: dict[str, Any] | None = None,
) -> np.ndarray:
    """Return the indices of the flagged examples, most likely mislabeled first.

    Parameters
    ----------
    label_issues_mask : np.ndarray of shape (n_samples,), bool
    labels : array_like of shape (n_samples,)
    pred_probs : np.ndarray of shape (n_samples, n_classes)
    rank_by : {'self_confidence', 'normalized_margin', 'confidence_weighted_entropy'}
    rank_by_kwargs : dict, optional
        Passed to :func:`get_label_quality_scores` (``adjust_pred_probs``).

    Returns
    -------
    np.ndarray of shape (n_flagged,)
    """
    check_option("rank_by", rank_by, _METHODS)
    labels_arr, probs = validate_labels_and_pred_probs(labels, pred_probs)
    mask = np.asarray(label_issues_mask)
    if mask.dtype != bool or mask.shape != labels_arr.shape:
        raise ValueError(
            f"label_issues_mask must be a boolean array of shape {labels_arr.shape}; "
            f"got dtype {mask.dtype} and shape {mask.shape}"
        )
    return _order(mask, labels_arr, probs, rank_by, dict(rank_by_kwargs or {}))
