"""cleanlab 1.x's ``pruning`` module, for code and tutorials written against it.

``get_noise_indices(s, psx)`` is 1.x's name for :func:`core.filter.find_label_issues`;
``s`` are the given labels and ``psx`` the out-of-sample predicted probabilities. It
keeps 1.x's parameter names and its fixed minimum of
:data:`~core.constants.LEGACY_MIN_EXAMPLES_PER_CLASS` (5) examples per class, and gives
the answers of cleanlab 2.x's ``find_label_issues(..., min_examples_per_class=5)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core._validation import refuse_legacy_multi_label
from core.constants import LEGACY_MIN_EXAMPLES_PER_CLASS
from core.filter import find_label_issues

__all__ = ["MIN_NUM_PER_CLASS", "get_noise_indices", "order_label_errors"]

#: 1.x's name for the fixed per-class minimum.
MIN_NUM_PER_CLASS = LEGACY_MIN_EXAMPLES_PER_CLASS

#: 1.x ``sorted_index_method`` values and the 2.x ranking each corresponds to.
_SORTED_INDEX_METHODS = {
    "prob_given_label": "self_confidence",
    "normalized_margin": "normalized_margin",
}
_PRUNE_METHODS = ("prune_by_noise_rate", "prune_by_class", "both")

_NEED_PSX = (
    "get_noise_indices(s, psx) needs out-of-sample predicted probabilities, not a "
    "classifier: {where} is a {kind}. Compute them first, e.g. "
    "psx = core.count.estimate_cv_predicted_probabilities(X, s, clf), "
    "then call get_noise_indices(s, psx)."
)


def _looks_like_model(obj: Any) -> bool:
    return any(hasattr(obj, attr) for attr in ("fit", "predict_proba", "predict"))


def get_noise_indices(
    s: Any,
    psx: np.ndarray,
    inverse_noise_matrix: np.ndarray | None = None,
    confident_joint: np.ndarray | None = None,
    frac_noise: float = 1.0,
    num_to_remove_per_class: list[int] | None = None,
    prune_method: str = "prune_by_noise_rate",
    sorted_index_method: str | None = None,
    multi_label: bool = False,
    n_jobs: int | None = None,
    verbose: int = 0,
) -> np.ndarray:
    """Return the (likely) label errors in ``s`` (cleanlab 1.x API).

    Parameters
    ----------
    s : array_like of shape (n_samples,)
        Given labels, integers in ``0..K-1``.
    psx : np.ndarray of shape (n_samples, n_classes)
        Out-of-sample predicted probabilities (e.g. from cross-validation).
    inverse_noise_matrix : np.ndarray of shape (n_classes, n_classes), optional
        Accepted for 1.x compatibility. As in cleanlab 1.x, it does not change the result:
        the confident joint is estimated from ``s`` and ``psx`` unless given.
    confident_joint : np.ndarray of shape (n_classes, n_classes), optional
    frac_noise : float in (0, 1], default=1.0
    num_to_remove_per_class : list of int of length n_classes, optional
    prune_method : {'prune_by_noise_rate', 'prune_by_class', 'both'}
    sorted_index_method : {None, 'prob_given_label', 'normalized_margin'}
        None returns a boolean mask; otherwise the indices of the errors, most likely first.
    multi_label : bool, default=False
        Not supported (1.x's multi-label counting differs from 2.x's); raises
        ``NotImplementedError`` when True.
    n_jobs : int, optional
        Accepted; the result does not depend on it.
    verbose : int, default=0
        Print the number of issues found when non-zero.

    Returns
    -------
    np.ndarray
        Boolean mask of shape (n_samples,), or ranked indices.

    Raises
    ------
    TypeError
        If a classifier is passed where probabilities belong (a common copy-paste of
        ``get_noise_indices(s, psx, clf)``).

    Examples
    --------
    >>> import numpy as np
    >>> s = np.repeat([0, 1], 10)
    >>> psx = np.where(s[:, None] == [0, 1], 0.9, 0.1)
    >>> psx[3] = [0.05, 0.95]
    >>> np.flatnonzero(get_noise_indices(s, psx))
    array([3])
    """
    refuse_legacy_multi_label(multi_label)
    if _looks_like_model(psx):
        raise TypeError(_NEED_PSX.format(where="psx", kind=type(psx).__name__))
    if _looks_like_model(inverse_noise_matrix):
        raise TypeError(
            _NEED_PSX.format(
                where="the third argument (inverse_noise_matrix)",
                kind=type(inverse_noise_matrix).__name__,
            )
        )
    if inverse_noise_matrix is not None:
        matrix = np.asarray(inverse_noise_matrix)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(
                f"inverse_noise_matrix must be a square (K, K) matrix; got shape {matrix.shape}"
            )
    if prune_method not in _PRUNE_METHODS:
        raise ValueError(
            f"prune_method must be one of {list(_PRUNE_METHODS)}; got {prune_method!r}"
        )
    if sorted_index_method is not None and sorted_index_method not in _SORTED_INDEX_METHODS:
        raise ValueError(
            "sorted_index_method must be None or one of "
            f"{sorted(_SORTED_INDEX_METHODS)}; got {sorted_index_method!r}"
        )
    return find_label_issues(
        s,
        psx,
        return_indices_ranked_by=(
            None if sorted_index_method is None else _SORTED_INDEX_METHODS[sorted_index_method]
        ),
        filter_by=prune_method,
        frac_noise=frac_noise,
        num_to_remove_per_class=num_to_remove_per_class,
        min_examples_per_class=LEGACY_MIN_EXAMPLES_PER_CLASS,
        confident_joint=confident_joint,
        n_jobs=n_jobs,
        verbose=bool(verbose),
    )


def order_label_errors(
    label_errors_bool: np.ndarray,
    psx: np.ndarray,
    labels: Any,
    sorted_index_method: str = "normalized_margin",
) -> np.ndarray:
    """Order flagged examples, most likely mislabeled first (cleanlab 1.x API)."""
    from core.rank import order_label_issues

    if sorted_index_method not in _SORTED_INDEX_METHODS:
        raise ValueError(
            f"sorted_index_method must be one of {sorted(_SORTED_INDEX_METHODS)}; "
            f"got {sorted_index_method!r}"
        )
    return order_label_issues(
        np.asarray(label_errors_bool),
        labels,
        psx,
        rank_by=_SORTED_INDEX_METHODS[sorted_index_method],
    )
