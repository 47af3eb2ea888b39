"""Find the examples whose given label is probably wrong.

Implements the pruning methods of Section 3.2 of Northcutt, Jiang & Chuang, "Confident
Learning: Estimating Uncertainty in Dataset Labels", JAIR 70 (2021) [CL]. Names,
signatures and results mirror ``cleanlab.filter`` (2.x).

Where cleanlab is slow we are not: examples are grouped by label once, only the rows of
one class are held at a time, the ``k`` largest margins are found by partition (O(n))
rather than a full sort (ties at the cut are handed to ``np.argsort`` so the chosen rows
are exactly cleanlab's), and the final argmax veto looks only at flagged rows. No process
pool is needed; ``n_jobs`` is accepted for compatibility and has no effect.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from core._util import (
    argmax_is_given,
    group_by_label,
    label_counts,
    round_preserving_row_totals,
    smallest_m,
)
from core._validation import check_option, validate_labels_and_pred_probs
from core.constants import FILTER_BY
from core.count import _calibrate, _confident_joint_and_off_diagonals, _validate_square
from core.rank import _METHODS as _RANK_METHODS
from core.rank import _order, _scores
from core.typing import LabelLike, MultiLabelLike

__all__ = [
    "find_label_issues",
    "find_label_issues_using_argmax_confusion_matrix",
    "find_predicted_neq_given",
]

_PRUNE = ("prune_by_noise_rate", "prune_by_class", "both")
_LOW = ("low_normalized_margin", "low_self_confidence")


def _keep_at_least_n_per_class(
    prune_count_matrix: np.ndarray, n: int, *, frac_noise: float = 1.0
) -> np.ndarray:
    """Raise each diagonal entry to ``n``, taking the difference evenly from its column.

    Then keep only ``frac_noise`` of each off-diagonal count (the rest moves to the
    diagonal) and round preserving row totals.
    """
    diagonal = np.diagonal(prune_count_matrix)
    new_diagonal = np.maximum(diagonal, n)
    diff_per_col = new_diagonal - diagonal
    noise_rates_per_col = np.maximum(np.count_nonzero(prune_count_matrix, axis=0) - 1.0, 1.0)
    kept = prune_count_matrix - diff_per_col / noise_rates_per_col
    kept[kept < 0] = 0
    np.fill_diagonal(kept, new_diagonal)
    kept = _reduce_prune_counts(kept, frac_noise)
    return round_preserving_row_totals(kept).astype(int)


def _reduce_prune_counts(prune_count_matrix: np.ndarray, frac_noise: float = 1.0) -> np.ndarray:
    """Scale off-diagonal counts by ``frac_noise``, moving the remainder to the diagonal."""
    reduced = prune_count_matrix * frac_noise
    np.fill_diagonal(reduced, prune_count_matrix.diagonal())
    moved = np.sum(prune_count_matrix - reduced, axis=0)
    np.fill_diagonal(reduced, prune_count_matrix.diagonal() + moved)
    return reduced.astype(int)


def _apply_num_to_remove(
    prune_count_matrix: np.ndarray, num_to_remove_per_class: Any, counts: np.ndarray
) -> np.ndarray:
    """Rescale the prune counts so that class ``k`` loses ``num_to_remove_per_class[k]``."""
    psy = prune_count_matrix / np.sum(prune_count_matrix, axis=1)
    noise_per_s = psy.sum(axis=1) - psy.diagonal()
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = (psy.T * num_to_remove_per_class / noise_per_s).T
    np.fill_diagonal(scaled, counts - num_to_remove_per_class)
    return round_preserving_row_totals(scaled)


def _validate_options(
    filter_by: str,
    return_indices_ranked_by: str | None,
    frac_noise: float,
    num_to_remove_per_class: Any,
    min_examples_per_class: Any,
    n_jobs: int | None,
    num_classes: int,
) -> None:
    check_option("filter_by", filter_by, FILTER_BY)
    if return_indices_ranked_by is not None:
        check_option("return_indices_ranked_by", return_indices_ranked_by, _RANK_METHODS)
    if not 0.0 < float(frac_noise) <= 1.0:
        raise ValueError(f"frac_noise must be in (0, 1]; got {frac_noise}")
    if isinstance(min_examples_per_class, bool) or not isinstance(
        min_examples_per_class, (int, np.integer)
    ):
        raise TypeError(
            f"min_examples_per_class must be an int; got {type(min_examples_per_class).__name__}"
        )
    if min_examples_per_class < 0:
        raise ValueError(f"min_examples_per_class must be >= 0; got {min_examples_per_class}")
    if n_jobs is not None and (not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1):
        raise ValueError(f"n_jobs must be None or an int >= 1; got {n_jobs!r}")
    if num_to_remove_per_class is not None and len(num_to_remove_per_class) != num_classes:
        raise ValueError(
            f"num_to_remove_per_class must have one entry per class ({num_classes}); "
            f"got {len(num_to_remove_per_class)}"
        )
    if filter_by not in _PRUNE and (frac_noise != 1.0 or num_to_remove_per_class is not None):
        warnings.warn(
            "frac_noise and num_to_remove_per_class only apply to filter_by "
            f"{list(_PRUNE)}; they are ignored for filter_by={filter_by!r}",
            UserWarning,
            stacklevel=3,
        )
        if num_to_remove_per_class is not None:
            raise ValueError(
                f"num_to_remove_per_class is not supported with filter_by={filter_by!r}; "
                f"use one of {list(_PRUNE)}"
            )


#: Up to this many per row, order statistics come from repeated argmin (a fast SIMD pass
#: each) rather than np.partition (~10 µs per 1,000 values, whatever the k).
_ARGMIN_STEPS = 8


def _kth_smallest_per_row(values: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """The ``ks[t]``-th smallest value (1-based, ``ks[t] < n``) of each row ``t`` of ``values``."""
    cut = np.empty(len(values), dtype=values.dtype)
    small = ks <= _ARGMIN_STEPS
    if small.any():
        remaining = values[small]  # a copy: entries are knocked out one per step
        wanted = ks[small]
        rows = np.arange(len(remaining))
        found = np.empty(len(remaining), dtype=values.dtype)
        for step in range(1, int(wanted.max()) + 1):
            idx = remaining.argmin(axis=1)
            lowest = remaining[rows, idx]
            found[wanted == step] = lowest[wanted == step]
            remaining[rows, idx] = np.inf
        cut[small] = found
    for t in np.flatnonzero(~small):
        cut[t] = np.partition(values[t], ks[t] - 1)[ks[t] - 1]
    return cut


def _largest_margins(block: np.ndarray, k: int, num_to_flag: np.ndarray) -> np.ndarray:
    """Rows of ``block`` (all given label ``k``) among the ``num_to_flag[j]`` largest
    margins ``p_j - p_k``, for every ``j != k``: a boolean mask of shape (len(block),).

    All columns are partitioned in one call; a column whose cut falls inside a run of
    tied margins is resolved by ``np.argsort`` so the rows chosen are the ones cleanlab's
    ``argsort(-margin)[:num]`` chooses.
    """
    n = len(block)
    wanted = np.array(num_to_flag, dtype=np.int64)
    wanted[k] = 0
    targets = np.flatnonzero(wanted > 0)
    if len(targets) == 0:
        return np.zeros(n, dtype=bool)
    counts = wanted[targets]
    if counts.max() >= n:
        return np.ones(n, dtype=bool)
    # -(p_j - p_k), computed as cleanlab does, one contiguous row per target class j.
    neg_margin = np.ascontiguousarray(-(block[:, targets] - block[:, k : k + 1]).T)
    cut = _kth_smallest_per_row(neg_margin, counts)
    at_most = neg_margin <= cut[:, None]
    exact = np.count_nonzero(at_most, axis=1) == counts
    flagged = at_most[exact].any(axis=0)
    for t in np.flatnonzero(~exact):
        flagged[np.argsort(neg_margin[t])[: counts[t]]] = True
    return flagged


def _prune(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    prune_count_matrix: np.ndarray,
    groups: list[np.ndarray],
    *,
    by_class: bool,
    by_noise_rate: bool,
    min_examples_per_class: int,
) -> tuple[np.ndarray, list[int]]:
    """Flag rows class by class, by lowest self-confidence and/or largest margins.

    ``prune_count_matrix[j][k]`` is how many examples given label ``k`` to flag as
    really being ``j`` (by noise rate, the ``num`` with the largest ``p_j - p_k``); its
    diagonal says how many to keep (by class, the rest with lowest ``p_k`` go).
    ``groups[k]`` holds the rows given label ``k`` (:func:`core._util.group_by_label`).
    Returns the mask and the classes left alone for having too few examples.
    """
    by_class_mask = np.zeros(len(labels), dtype=bool)
    by_rate_mask = np.zeros(len(labels), dtype=bool)
    too_few: list[int] = []
    for k, rows in enumerate(groups):
        n_k = len(rows)
        if n_k <= min_examples_per_class:
            too_few.append(k)
            continue
        if n_k == 1:  # cleanlab never writes back a per-class mask of length 1
            continue
        if by_class:
            num_issues = n_k - prune_count_matrix[k][k]
            if num_issues >= 1:
                by_class_mask[rows[smallest_m(pred_probs[rows, k], num_issues)]] = True
        if by_noise_rate:
            block = pred_probs[rows]
            by_rate_mask[rows[_largest_margins(block, k, prune_count_matrix[:, k])]] = True
    if by_class and by_noise_rate:
        return by_class_mask & by_rate_mask, too_few
    return (by_class_mask if by_class else by_rate_mask), too_few


def _issue_mask(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    groups: list[np.ndarray],
    confident_joint: np.ndarray | None,
    *,
    filter_by: str,
    frac_noise: float,
    num_to_remove_per_class: Any,
    min_examples_per_class: int,
    counted: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, list[int]]:
    """The mask of :func:`find_label_issues` for validated inputs, and the classes that
    had too few examples to prune (the caller warns about them).

    ``groups`` are the rows of each class (:func:`core._util.group_by_label`); they may be
    empty only for ``predicted_neq_given`` with a ``confident_joint``. ``counted`` is the
    uncalibrated confident joint and its off-diagonal rows when the caller has them
    (multi-label counts each binary class faster, and quietly).
    """
    counts = label_counts(labels, pred_probs.shape[1])
    off_diagonal = np.arange(0)
    too_few: list[int] = []
    if confident_joint is None or filter_by in ("confident_learning", *_LOW):
        if counted is None:
            counted = _confident_joint_and_off_diagonals(labels, pred_probs, groups=groups)
        joint, off_diagonal = counted
        if confident_joint is None or filter_by == "confident_learning":
            confident_joint = _calibrate(joint, counts)

    if filter_by in _LOW:
        num_errors = len(off_diagonal) - int(
            argmax_is_given(pred_probs, labels, off_diagonal).sum()
        )
        scores = _scores(labels, pred_probs, method=filter_by[len("low_") :])
        mask = np.zeros(len(labels), dtype=bool)
        mask[smallest_m(scores, num_errors)] = True
        return mask, too_few
    if filter_by in _PRUNE:
        prune_counts = _keep_at_least_n_per_class(
            confident_joint.T, n=min_examples_per_class, frac_noise=frac_noise
        )
        if num_to_remove_per_class is not None:
            prune_counts = _apply_num_to_remove(
                prune_counts, np.asarray(num_to_remove_per_class), counts
            )
        mask, too_few = _prune(
            labels,
            pred_probs,
            prune_counts,
            groups,
            by_class=filter_by in ("prune_by_class", "both"),
            by_noise_rate=filter_by in ("prune_by_noise_rate", "both"),
            min_examples_per_class=min_examples_per_class,
        )
    elif filter_by == "confident_learning":
        mask = np.zeros(len(labels), dtype=bool)
        mask[off_diagonal] = True
    else:  # predicted_neq_given
        mask = pred_probs.argmax(axis=1) != labels
    flagged = np.flatnonzero(mask)
    mask[flagged[argmax_is_given(pred_probs, labels, flagged)]] = False
    return mask, too_few


def find_label_issues(
    labels: LabelLike | MultiLabelLike,
    pred_probs: np.ndarray,
    *,
    return_indices_ranked_by: str | None = None,
    rank_by_kwargs: dict[str, Any] | None = None,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: int | list[int] | np.ndarray | None = None,
    min_examples_per_class: int = 1,
    confident_joint: np.ndarray | None = None,
    n_jobs: int | None = None,
    verbose: bool = False,
    multi_label: bool = False,
) -> np.ndarray:
    """Identify potentially mislabeled examples.

    Parameters
    ----------
    labels : array_like of shape (n_samples,)
        Given labels, integers in ``0..K-1``.
    pred_probs : np.ndarray of shape (n_samples, n_classes)
        Out-of-sample predicted probabilities (e.g. from cross-validation); rows sum to 1.
    return_indices_ranked_by : {None, 'self_confidence', 'normalized_margin', \
'confidence_weighted_entropy'}, default=None
        None returns a boolean mask; otherwise the flagged indices, most likely mislabeled
        first, ranked by that label quality score.
    rank_by_kwargs : dict, optional
        Passed to the scorer (``adjust_pred_probs``).
    filter_by : {'prune_by_noise_rate', 'prune_by_class', 'both', 'confident_learning', \
'predicted_neq_given', 'low_normalized_margin', 'low_self_confidence'}
        ``'prune_by_noise_rate'`` (default): for every off-diagonal cell ``(i, j)`` of the
        calibrated confident joint, flag that many examples given ``i`` with the largest
        margin ``p_j - p_i`` ([CL], Prune by Noise Rate). ``'prune_by_class'``: per class,
        flag the examples with the lowest self-confidence beyond the joint's diagonal.
        ``'both'``: examples flagged by both. ``'confident_learning'``: the off-diagonal
        examples of the confident joint ([CL], C_confusion / C_{ỹ,y*}).
        ``'predicted_neq_given'``: argmax differs from the given label.
        ``'low_normalized_margin'`` / ``'low_self_confidence'``: the examples with the
        lowest such score, as many as :func:`core.count.num_label_issues` estimates.
    frac_noise : float in (0, 1], default=1.0
        Flag only this fraction of the estimated issues in each off-diagonal cell
        (prune methods only).
    num_to_remove_per_class : int or array_like of shape (n_classes,), optional
        Flag exactly this many examples per given class (prune methods only); an int is
        the same number for every class, as in cleanlab.
    min_examples_per_class : int, default=1
        Never flag examples in a class that has this many examples or fewer, and keep
        at least this many per class.
    confident_joint : np.ndarray of shape (n_classes, n_classes), optional
        A precomputed confident joint (ignored, with a warning, by
        ``'confident_learning'``).
    n_jobs : int, optional
        Accepted for compatibility with cleanlab; results and speed do not depend on it
        (the work is vectorised, not spread over processes).
    verbose : bool, default=False
        Print the number of issues found.
    multi_label : bool, default=False
        Deprecated, as in cleanlab (warns ``DeprecationWarning``): ``labels`` are lists of
        class indices per example and the call is
        :func:`core.multilabel_classification.filter.find_label_issues`, which to use
        instead (``confident_joint`` then has shape (n_classes, 2, 2)).

    Returns
    -------
    np.ndarray
        A boolean mask of shape (n_samples,), or the ranked indices of flagged examples.

    Notes
    -----
    As in cleanlab's code (not the paper), except for the two ``low_*`` methods, an
    example is never flagged when its given label is the argmax of its ``pred_probs``
    (after giving the given label a head start of ``FLOATING_POINT_COMPARISON``).

    Raises
    ------
    ValueError
        On an unknown ``filter_by``, inconsistent inputs, or values out of range.

    Examples
    --------
    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.9, 0.1], [0.1, 0.9]])
    >>> find_label_issues([0, 0, 1, 1, 1], probs)
    array([False, False, False,  True, False])
    """
    if multi_label:
        warnings.warn(
            "The multi_label argument to filter.find_label_issues() is deprecated (as in "
            "cleanlab); use core.multilabel_classification.filter.find_label_issues()",
            DeprecationWarning,
            stacklevel=2,
        )
        from core.multilabel_classification.filter import find_label_issues as find_multilabel

        return find_multilabel(
            labels,  # type: ignore[arg-type]
            pred_probs,
            return_indices_ranked_by=return_indices_ranked_by,
            rank_by_kwargs=rank_by_kwargs,
            filter_by=filter_by,
            frac_noise=frac_noise,
            num_to_remove_per_class=num_to_remove_per_class,
            min_examples_per_class=min_examples_per_class,
            confident_joint=confident_joint,
            n_jobs=n_jobs,
            verbose=verbose,
        )
    labels_arr, probs = validate_labels_and_pred_probs(labels, pred_probs)
    num_classes = probs.shape[1]
    if num_to_remove_per_class is not None and np.ndim(num_to_remove_per_class) == 0:
        # One number for every class, as cleanlab's arithmetic broadcasts it.
        num_to_remove_per_class = np.full(num_classes, num_to_remove_per_class)
    _validate_options(
        filter_by,
        return_indices_ranked_by,
        frac_noise,
        num_to_remove_per_class,
        min_examples_per_class,
        n_jobs,
        num_classes,
    )
    if confident_joint is not None:
        confident_joint = _validate_square("confident_joint", confident_joint)
        if len(confident_joint) != num_classes:
            raise ValueError(
                f"confident_joint must be ({num_classes}, {num_classes}) to match pred_probs; "
                f"got {confident_joint.shape}"
            )
        if filter_by == "confident_learning":
            warnings.warn(
                "confident_joint is ignored by filter_by='confident_learning', which "
                "re-estimates it from labels and pred_probs",
                UserWarning,
                stacklevel=2,
            )
    # Rows grouped by label once, for the thresholds and for pruning class by class; only
    # predicted_neq_given with a supplied confident joint needs neither.
    skip_groups = filter_by == "predicted_neq_given" and confident_joint is not None
    groups = [] if skip_groups else group_by_label(labels_arr, num_classes)
    mask, too_few = _issue_mask(
        labels_arr,
        probs,
        groups,
        confident_joint,
        filter_by=filter_by,
        frac_noise=frac_noise,
        num_to_remove_per_class=num_to_remove_per_class,
        min_examples_per_class=min_examples_per_class,
    )
    if too_few:
        warnings.warn(
            f"May not flag all label issues in classes {too_few}: each has at most "
            f"min_examples_per_class={min_examples_per_class} examples",
            UserWarning,
            stacklevel=2,
        )

    if verbose:
        print(f"Number of label issues found: {int(mask.sum())}")
    if return_indices_ranked_by is not None:
        return _order(mask, labels_arr, probs, return_indices_ranked_by, dict(rank_by_kwargs or {}))
    return mask


def find_predicted_neq_given(
    labels: LabelLike | MultiLabelLike, pred_probs: np.ndarray, *, multi_label: bool = False
) -> np.ndarray:
    """Flag examples whose argmax prediction differs from the given label.

    Parameters
    ----------
    labels : array_like of shape (n_samples,)
    pred_probs : np.ndarray of shape (n_samples, n_classes)
    multi_label : bool, default=False
        ``labels`` are lists of class indices per example and ``pred_probs`` one
        probability per class: flag examples where some class is given with
        ``p < 1 - p`` or missing with ``p > 1 - p`` (no head start, as in cleanlab).

    Returns
    -------
    np.ndarray of shape (n_samples,), bool
    """
    if multi_label:
        from core._multilabel_count import predicted_neq_given

        return predicted_neq_given(labels, pred_probs)
    labels_arr, probs = validate_labels_and_pred_probs(labels, pred_probs)
    return np.asarray(probs.argmax(axis=1) != labels_arr)


def find_label_issues_using_argmax_confusion_matrix(
    labels: LabelLike,
    pred_probs: np.ndarray,
    *,
    calibrate: bool = True,
    filter_by: str = "prune_by_noise_rate",
) -> np.ndarray:
    """Like :func:`find_label_issues`, with the confusion matrix of argmax predictions
    standing in for the confident joint (a baseline from [CL]).

    Returns
    -------
    np.ndarray of shape (n_samples,), bool
    """
    labels_arr, probs = validate_labels_and_pred_probs(labels, pred_probs)
    k = probs.shape[1]
    predicted = probs.argmax(axis=1)
    joint = np.bincount(predicted * k + labels_arr, minlength=k * k).reshape(k, k).T
    if calibrate:
        joint = _calibrate(joint, label_counts(labels_arr, k))
    return find_label_issues(labels_arr, probs, confident_joint=joint, filter_by=filter_by)
