"""Label quality scores for multi-label data: per class, and one per example.

Names, signatures and results mirror ``cleanlab.multilabel_classification.rank`` (2.x).
Each class annotation is scored as a binary problem ("is class k among this example's
labels?", with ``pred_probs`` ``(1 - p_k, p_k)``) by one of the methods of
:mod:`core.rank` (Kuan & Mueller, "Model-agnostic label quality scoring to detect
real-world label errors", ICML DataPerf 2022), then the K scores of an example are
aggregated, by default with an exponential moving average that weighs the worst class
most (Thyagarajan, Snorrason, Northcutt & Mueller, "Identifying Incorrect Annotations in
Multi-Label Classification Data", arXiv:2211.13895, 2022).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from core._multilabel import validate_multilabel
from core.multilabel_classification.scorer import (
    Aggregator,
    check_method,
    class_label_quality_scores,
    default_aggregator,
)
from core.typing import MultiLabelLike

__all__ = ["get_label_quality_scores", "get_label_quality_scores_per_class"]

#: cleanlab's default ``aggregator_kwargs``.
DEFAULT_AGGREGATOR_KWARGS: Mapping[str, Any] = MappingProxyType(
    {"method": "exponential_moving_average", "alpha": 0.8}
)


def make_aggregator(aggregator_kwargs: Mapping[str, Any] | None) -> Aggregator:
    """The :class:`Aggregator` that ``aggregator_kwargs`` describes (empty: the default)."""
    if not aggregator_kwargs:
        return default_aggregator()
    if not isinstance(aggregator_kwargs, Mapping):
        raise TypeError(
            "aggregator_kwargs must be a dict such as {'method': 'softmin', 'temperature': "
            f"0.1}}; got {type(aggregator_kwargs).__name__}"
        )
    if "method" not in aggregator_kwargs:
        raise TypeError(
            "aggregator_kwargs must name its 'method' ('exponential_moving_average', "
            f"'softmin' or a callable); got keys {sorted(aggregator_kwargs)}"
        )
    return Aggregator(**aggregator_kwargs)


def get_label_quality_scores(
    labels: MultiLabelLike,
    pred_probs: np.ndarray,
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
    aggregator_kwargs: Mapping[str, Any] | None = DEFAULT_AGGREGATOR_KWARGS,
) -> np.ndarray:
    """Return one label quality score in [0, 1] per example (lower: more suspicious).

    Every class annotation of an example is scored (see
    :func:`get_label_quality_scores_per_class`) and the scores are aggregated, so an
    example scores low when any of its classes is probably wrongly given or missing.

    Parameters
    ----------
    labels : list of list of int, length n_samples
        Per example, the indices of the classes it was given (``[[0, 2], [1], []]``); an
        example may have none.
    pred_probs : np.ndarray of shape (n_samples, n_classes)
        Out-of-sample predicted probability of each class; rows need not sum to 1.
    method : {'self_confidence', 'normalized_margin', 'confidence_weighted_entropy'}, \
default='self_confidence'
        How each class annotation is scored (:func:`core.rank.get_label_quality_scores`);
        any letter case.
    adjust_pred_probs : bool, default=False
        Subtract each class's confident thresholds first (not with
        ``'confidence_weighted_entropy'``).
    aggregator_kwargs : dict, default={'method': 'exponential_moving_average', 'alpha': 0.8}
        ``method`` (``'exponential_moving_average'``, ``'softmin'`` or a callable such as
        ``np.min``) and its keyword arguments (``alpha``, ``temperature``), as
        :class:`core.multilabel_classification.scorer.Aggregator` takes them. Empty or
        None means the default.

    Returns
    -------
    np.ndarray of shape (n_samples,), float64

    Raises
    ------
    ValueError
        On an unknown ``method`` or aggregation method, or malformed inputs.
    TypeError
        If ``labels`` is not a list of lists of class indices.

    Examples
    --------
    >>> import numpy as np
    >>> get_label_quality_scores([[1], [0, 2]], np.array([[0.1, 0.9, 0.1], [0.4, 0.1, 0.9]]))
    array([0.9, 0.5])
    """
    method = check_method(method)
    aggregator = make_aggregator(aggregator_kwargs)
    onehot, probs = validate_multilabel(labels, pred_probs)
    scores = class_label_quality_scores(
        onehot, probs, method=method, adjust_pred_probs=adjust_pred_probs
    )
    return aggregator(scores)


def get_label_quality_scores_per_class(
    labels: MultiLabelLike,
    pred_probs: np.ndarray,
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
) -> np.ndarray:
    """Return a quality score in [0, 1] for every class annotation of every example.

    Entry ``(i, k)`` says how likely it is that class ``k`` is correctly given (or
    correctly not given) to example ``i``: the single-label score of the binary problem
    with labels "k among labels[i]" and ``pred_probs`` ``(1 - p_k, p_k)``.

    Parameters
    ----------
    labels : list of list of int, length n_samples
    pred_probs : np.ndarray of shape (n_samples, n_classes)
    method : {'self_confidence', 'normalized_margin', 'confidence_weighted_entropy'}, \
default='self_confidence'
    adjust_pred_probs : bool, default=False

    Returns
    -------
    np.ndarray of shape (n_samples, n_classes), float64

    Examples
    --------
    >>> import numpy as np
    >>> get_label_quality_scores_per_class([[1], [0, 2]], np.array([[0.1, 0.9, 0.2], \
[0.4, 0.1, 0.9]]))
    array([[0.9, 0.9, 0.8],
           [0.4, 0.9, 0.9]])
    """
    method = check_method(method)
    onehot, probs = validate_multilabel(labels, pred_probs)
    return class_label_quality_scores(
        onehot, probs, method=method, adjust_pred_probs=adjust_pred_probs
    )
