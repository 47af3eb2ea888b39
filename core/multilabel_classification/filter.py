"""Find the examples of a multi-label dataset whose set of labels is probably wrong.

Names, signatures and results mirror ``cleanlab.multilabel_classification.filter`` (2.x).
Each class is a binary problem ("is class k among this example's labels?", with
``pred_probs`` ``(1 - p_k, p_k)``) judged by the single-label confident learning of
:mod:`core.filter` (Northcutt, Jiang & Chuang, JAIR 2021); an example is flagged when
any of its classes is (Thyagarajan, Snorrason, Northcutt & Mueller, "Identifying Incorrect
Annotations in Multi-Label Classification Data", arXiv:2211.13895, 2022).

Unlike :func:`core.filter.find_label_issues`, the options here may also be passed by
position, because cleanlab's signatures allow it and its own code calls them so.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from core._multilabel import (
    binary_problems,
    check_joints,
    confident_learning_mask,
    validate_multilabel,
    warn_if_always_given,
)
from core._util import smallest_m
from core._validation import warn_unused
from core.experimental.label_issues_batched import find_label_issues_batched
from core.filter import _LOW, _issue_mask, _validate_options
from core.multilabel_classification.scorer import class_label_quality_scores, default_aggregator
from core.rank import _order
from core.typing import MultiLabelLike

__all__ = ["find_label_issues", "find_multilabel_issues_per_class"]


def _prepare(
    labels: Any,
    pred_probs: Any,
    *,
    return_indices_ranked_by: str | None,
    rank_by_kwargs: Mapping[str, Any] | None,
    filter_by: str,
    frac_noise: float,
    num_to_remove_per_class: Any,
    min_examples_per_class: int,
    confident_joint: Any,
    n_jobs: int | None,
    low_memory: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, dict[str, Any]]:
    """Validate everything once: (one-hot labels, pred_probs, joints, removals, kwargs).

    With ``low_memory`` the options the batched search does not use warn when set, and
    ``confident_joint`` is not looked at (as cleanlab).
    """
    if low_memory:
        warn_unused(
            "`low_memory=True`",
            {
                "filter_by": (filter_by, "prune_by_noise_rate"),
                "frac_noise": (frac_noise, 1.0),
                "num_to_remove_per_class": (num_to_remove_per_class, None),
                "min_examples_per_class": (min_examples_per_class, 1),
                "confident_joint": (confident_joint, None),
                "n_jobs": (n_jobs, None),
            },
            stacklevel=4,
        )
        confident_joint = None
    onehot, probs = validate_multilabel(labels, pred_probs)
    num_classes = probs.shape[1]
    if num_to_remove_per_class is not None and np.ndim(num_to_remove_per_class) == 0:
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
    kwargs = dict(rank_by_kwargs or {})
    unknown = set(kwargs) - {"adjust_pred_probs"}
    if unknown:
        raise ValueError(
            f"rank_by_kwargs may only contain 'adjust_pred_probs'; got {sorted(unknown)}"
        )
    joints = None
    if confident_joint is not None:
        shape = np.shape(confident_joint)
        if shape == (num_classes, num_classes):
            warnings.warn(
                f"confident_joint of shape {shape} (one K x K matrix) is ignored: with "
                f"multi-label data it must have shape ({num_classes}, 2, 2), one 2x2 joint "
                "per class, as compute_confident_joint(..., multi_label=True) returns. "
                "The new recommended format for `confident_joint` in multi_label settings "
                "is (num_classes,2,2)",
                UserWarning,
                stacklevel=3,
            )
        else:
            joints = check_joints(confident_joint, num_classes)
            if filter_by == "confident_learning" or filter_by in _LOW:
                warnings.warn(
                    f"confident_joint is ignored by filter_by={filter_by!r}, which re-estimates "
                    "it from labels and pred_probs",
                    UserWarning,
                    stacklevel=3,
                )
    removals = None if num_to_remove_per_class is None else np.asarray(num_to_remove_per_class)
    warn_if_always_given(onehot, stacklevel=4)
    return onehot, probs, joints, removals, kwargs


def _class_masks(
    onehot: np.ndarray,
    probs: np.ndarray,
    joints: np.ndarray | None,
    removals: np.ndarray | None,
    *,
    filter_by: str,
    frac_noise: float,
    min_examples_per_class: int,
) -> np.ndarray:
    """Per class, the single-label issue mask of its binary problem: shape (N, K)."""
    masks = np.zeros(onehot.shape, dtype=bool)
    too_few = []
    needs_count = joints is None or filter_by in ("confident_learning", *_LOW)
    for k, problem in enumerate(binary_problems(onehot, probs)):
        mask, tiny = _issue_mask(
            problem.labels,
            problem.pred_probs,
            problem.groups,
            None if joints is None else joints[k],
            filter_by=filter_by,
            frac_noise=frac_noise,
            num_to_remove_per_class=None if removals is None else np.array([removals[k], 0]),
            min_examples_per_class=min_examples_per_class,
            counted=problem.confident_joint() if needs_count else None,
        )
        masks[:, k] = mask
        if tiny:
            too_few.append(k)
    if too_few:
        warnings.warn(
            f"May not flag all label issues in classes {too_few}: each is given to, or "
            f"missing from, at most min_examples_per_class={min_examples_per_class} examples",
            UserWarning,
            stacklevel=3,
        )
    return masks


def _batched_class_masks(
    onehot: np.ndarray, probs: np.ndarray, rank_by: str | None, verbose: bool
) -> np.ndarray:
    """``low_memory``: per class, the batched search on its binary problem: shape (N, K).

    With ``rank_by`` the per-class search scores by that method (as cleanlab passes it on).
    """
    quality = None if rank_by is None else {"method": rank_by}
    masks = np.zeros(onehot.shape, dtype=bool)
    for k, problem in enumerate(binary_problems(onehot, probs)):
        masks[:, k] = find_label_issues_batched(
            problem.labels,
            problem.pred_probs,
            verbose=verbose,
            quality_score_kwargs=quality,
            return_mask=True,
        )
    return masks


def _rank(
    mask: np.ndarray,
    onehot: np.ndarray,
    probs: np.ndarray,
    rank_by: str,
    rank_by_kwargs: dict[str, Any],
) -> np.ndarray:
    """Flagged rows, lowest aggregated score (``rank_by`` per class, default EMA) first."""
    class_scores = class_label_quality_scores(
        onehot,
        probs,
        method=rank_by,
        adjust_pred_probs=bool(rank_by_kwargs.get("adjust_pred_probs", False)),
    )
    flagged = np.flatnonzero(mask)
    return flagged[np.argsort(default_aggregator()(class_scores[flagged]))]


def find_label_issues(
    labels: MultiLabelLike,
    pred_probs: np.ndarray,
    return_indices_ranked_by: str | None = None,
    rank_by_kwargs: Mapping[str, Any] | None = None,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: int | list[int] | np.ndarray | None = None,
    min_examples_per_class: int = 1,
    confident_joint: np.ndarray | None = None,
    n_jobs: int | None = None,
    verbose: bool = False,
    low_memory: bool = False,
) -> np.ndarray:
    """Identify examples whose labels are probably wrong for at least one class.

    Parameters
    ----------
    labels : list of list of int, length n_samples
        Per example, the indices ``0..K-1`` of the classes it was given
        (``[[0, 2], [1], []]``); an example may have none.
    pred_probs : np.ndarray of shape (n_samples, n_classes)
        Out-of-sample predicted probability of each class; rows need not sum to 1.
    return_indices_ranked_by : {None, 'self_confidence', 'normalized_margin', \
'confidence_weighted_entropy'}, default=None
        None returns a boolean mask; otherwise the flagged indices, lowest label quality
        score first (each class scored by this method, aggregated by the exponential
        moving average of :func:`core.multilabel_classification.rank.get_label_quality_scores`).
    rank_by_kwargs : dict, optional
        ``{'adjust_pred_probs': bool}`` for the ranking scores.
    filter_by : {'prune_by_noise_rate', 'prune_by_class', 'both', 'confident_learning', \
'predicted_neq_given', 'low_normalized_margin', 'low_self_confidence'}, \
default='prune_by_noise_rate'
        The method of :func:`core.filter.find_label_issues`, applied to every class. The
        two ``low_*`` methods instead flag the examples with the lowest aggregated
        self-confidence, as many as ``'confident_learning'`` flags (cleanlab's
        behaviour: both give the same set).
    frac_noise : float in (0, 1], default=1.0
        Per class, flag only this fraction of the estimated issues (prune methods).
    num_to_remove_per_class : int or array_like of shape (n_classes,), optional
        Per class, how many examples given that class to flag (prune methods).
    min_examples_per_class : int, default=1
        Never flag within a class given to (or missing from) this many examples or fewer.
    confident_joint : np.ndarray of shape (n_classes, 2, 2), optional
        One-vs-rest confident joints, as :func:`core.count.compute_confident_joint` with
        ``multi_label=True`` returns. A (n_classes, n_classes) matrix is ignored with a
        warning, as in cleanlab.
    n_jobs : int, optional
        Accepted for compatibility; the result and the speed do not depend on it.
    verbose : bool, default=False
        Print the number of issues found.
    low_memory : bool, default=False
        Judge each class's binary problem chunk by chunk with
        :func:`core.experimental.label_issues_batched.find_label_issues_batched` (an
        approximation of ``filter_by="low_self_confidence"``, scored by
        ``return_indices_ranked_by`` when given); ``filter_by``, ``frac_noise``,
        ``num_to_remove_per_class``, ``min_examples_per_class``, ``confident_joint`` and
        ``n_jobs`` are then not used and warn when set.

    Returns
    -------
    np.ndarray
        A boolean mask of shape (n_samples,), or the ranked indices of flagged examples.

    Raises
    ------
    ValueError
        On an unknown option, malformed inputs, or values out of range.
    TypeError
        If ``labels`` is not a list of lists of class indices.

    Notes
    -----
    With a ``low_*`` filter and ``return_indices_ranked_by``, cleanlab returns the right
    set in a scrambled order (it pairs scores of rows in index order with rows in score
    order); here the flagged rows are ranked as with every other filter.

    Examples
    --------
    >>> import numpy as np
    >>> labels = [[0], [0], [0, 1], [1], [1], [0]]
    >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.9, 0.8], [0.1, 0.9], [0.2, 0.7],
    ...                   [0.1, 0.9]])
    >>> find_label_issues(labels, probs)
    array([False, False, False, False, False,  True])
    """
    onehot, probs, joints, removals, kwargs = _prepare(
        labels,
        pred_probs,
        return_indices_ranked_by=return_indices_ranked_by,
        rank_by_kwargs=rank_by_kwargs,
        filter_by=filter_by,
        frac_noise=frac_noise,
        num_to_remove_per_class=num_to_remove_per_class,
        min_examples_per_class=min_examples_per_class,
        confident_joint=confident_joint,
        n_jobs=n_jobs,
        low_memory=low_memory,
    )
    if low_memory:
        masks = _batched_class_masks(onehot, probs, return_indices_ranked_by, verbose)
        mask = np.any(masks, axis=1, out=np.empty(len(masks), dtype=bool))
    elif filter_by in _LOW:
        num_issues = int(confident_learning_mask(onehot, probs).sum())
        scores = default_aggregator()(class_label_quality_scores(onehot, probs))
        mask = np.zeros(len(onehot), dtype=bool)
        mask[smallest_m(scores, num_issues)] = True
    else:
        masks = _class_masks(
            onehot,
            probs,
            joints,
            removals,
            filter_by=filter_by,
            frac_noise=frac_noise,
            min_examples_per_class=min_examples_per_class,
        )
        mask = np.any(masks, axis=1, out=np.empty(len(masks), dtype=bool))
    if verbose:
        print(f"Number of label issues found: {int(mask.sum())}")
    if return_indices_ranked_by is None:
        return mask
    return _rank(mask, onehot, probs, return_indices_ranked_by, kwargs)


def find_multilabel_issues_per_class(
    labels: MultiLabelLike,
    pred_probs: np.ndarray,
    return_indices_ranked_by: str | None = None,
    rank_by_kwargs: Mapping[str, Any] | None = None,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: int | list[int] | np.ndarray | None = None,
    min_examples_per_class: int = 1,
    confident_joint: np.ndarray | None = None,
    n_jobs: int | None = None,
    verbose: bool = False,
    low_memory: bool = False,
) -> np.ndarray | tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Identify, for every class, the examples where that class is probably wrong.

    Each class is judged as its own binary problem by :func:`core.filter.find_label_issues`
    (``low_*`` filters included, per class).

    Parameters
    ----------
    labels, pred_probs, return_indices_ranked_by, rank_by_kwargs, filter_by, frac_noise, \
num_to_remove_per_class, min_examples_per_class, confident_joint, n_jobs, verbose, low_memory
        As in :func:`find_label_issues`; rankings are per class, by the binary score.

    Returns
    -------
    np.ndarray of shape (n_samples, n_classes), bool
        When ``return_indices_ranked_by`` is None: entry ``(i, k)`` is True when class
        ``k`` looks wrongly given to, or wrongly missing from, example ``i``.
    (label_issues_list, labels_list, pred_probs_list) : tuple of three lists of length K
        Otherwise: per class, the ranked indices of its issues, its binary labels
        (shape (n_samples,), 0/1) and its binary pred_probs (shape (n_samples, 2),
        ``(1 - p_k, p_k)``).

    Examples
    --------
    >>> import numpy as np
    >>> labels = [[0], [0], [0, 1], [1], [1], [0]]
    >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.9, 0.8], [0.1, 0.9], [0.2, 0.7],
    ...                   [0.1, 0.9]])
    >>> np.flatnonzero(find_multilabel_issues_per_class(labels, probs)[:, 1])
    array([5])
    """
    onehot, probs, joints, removals, kwargs = _prepare(
        labels,
        pred_probs,
        return_indices_ranked_by=return_indices_ranked_by,
        rank_by_kwargs=rank_by_kwargs,
        filter_by=filter_by,
        frac_noise=frac_noise,
        num_to_remove_per_class=num_to_remove_per_class,
        min_examples_per_class=min_examples_per_class,
        confident_joint=confident_joint,
        n_jobs=n_jobs,
        low_memory=low_memory,
    )
    if low_memory:
        masks = _batched_class_masks(onehot, probs, return_indices_ranked_by, verbose)
    else:
        masks = _class_masks(
            onehot,
            probs,
            joints,
            removals,
            filter_by=filter_by,
            frac_noise=frac_noise,
            min_examples_per_class=min_examples_per_class,
        )
    if verbose:
        print(f"Number of label issues found per class: {masks.sum(axis=0).tolist()}")
    if return_indices_ranked_by is None:
        return masks
    issues, labels_list, probs_list = [], [], []
    for k, problem in enumerate(binary_problems(onehot, probs)):
        issues.append(
            _order(
                masks[:, k], problem.labels, problem.pred_probs, return_indices_ranked_by, kwargs
            )
        )
        labels_list.append(problem.labels.astype(np.int64))
        probs_list.append(problem.pred_probs)
    return issues, labels_list, probs_list
