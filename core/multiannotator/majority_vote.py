"""Majority vote over several annotators' labels, ties broken as cleanlab breaks them.

Mirrors ``cleanlab.multiannotator.get_majority_vote_label`` (2.x). A tie between the most
chosen classes of an example goes, in turn, to the class the model finds most likely, to
the class chosen least often in the whole dataset (against class imbalance), to the class
whose annotators agree most often with the majority elsewhere, and last at random.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from core.multiannotator._annotations import (
    Annotations,
    check_label_values,
    check_labels,
    check_pred_probs,
    check_rows_labeled,
    read_labels,
)

__all__ = ["get_majority_vote_label"]

#: What ``random_state`` may be.
RandomState = None | int | np.integer | np.random.RandomState | np.random.Generator


def random_source(random_state: Any) -> np.random.RandomState | np.random.Generator | None:
    """``random_state`` as a generator to pass on: None stays None (numpy's global state, as
    cleanlab uses), an int seeds a ``RandomState`` once, so nested calls share its stream."""
    if random_state is None or isinstance(
        random_state, (np.random.RandomState, np.random.Generator)
    ):
        return random_state
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return np.random.RandomState(random_state)
    raise TypeError(
        "random_state must be None, an int, a numpy RandomState or a numpy Generator; "
        f"got {type(random_state).__name__}"
    )


def chooser(source: np.random.RandomState | np.random.Generator | None) -> Callable[..., Any]:
    """The ``choice`` that breaks the last ties (``source`` from :func:`random_source`)."""
    return np.random.choice if source is None else source.choice


def _keep_extreme(candidates: np.ndarray, values: np.ndarray, *, largest: bool) -> np.ndarray:
    """Of each row's candidate classes, those whose ``values`` are the largest (smallest)."""
    masked = np.where(candidates, values, -np.inf if largest else np.inf)
    best = masked.max(axis=1) if largest else masked.min(axis=1)
    return candidates & (values == best[:, None])


def _settle(
    label: np.ndarray, tied: np.ndarray, candidates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Give rows left with one candidate that class; return the rows still tied."""
    single = candidates.sum(axis=1) == 1
    label[tied[single]] = candidates[single].argmax(axis=1)
    return tied[~single], candidates[~single]


def _agreement_where_untied(
    ann: Annotations, label: np.ndarray, untied: np.ndarray
) -> np.ndarray | None:
    """Per annotator, the fraction of its labels on untied examples equal to the majority;
    annotators without such labels get the mean of the others (None if nobody has one)."""
    entries = np.flatnonzero(untied[ann.rows])
    cols = ann.cols[entries]
    agrees = ann.labels[entries] == label[ann.rows[entries]]
    seen = np.bincount(cols, minlength=ann.num_annotators)
    agreed = np.bincount(cols[agrees], minlength=ann.num_annotators)
    if not seen.any():
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        agreement = agreed / seen
    agreement[seen == 0] = np.mean(agreement[seen > 0])
    return agreement


def majority_vote(
    ann: Annotations,
    counts: np.ndarray,
    pred_probs: np.ndarray | None,
    choose: Callable[[np.ndarray], Any],
) -> np.ndarray:
    """Majority vote of validated annotations; ``counts`` is :meth:`Annotations.class_counts`."""
    modes = counts == counts.max(axis=1)[:, None]
    num_modes = modes.sum(axis=1)
    label = modes.argmax(axis=1).astype(np.int64)
    tied = np.flatnonzero(num_modes > 1)
    candidates = modes[tied]
    if tied.size and pred_probs is not None:
        candidates = _keep_extreme(candidates, pred_probs[tied], largest=True)
        tied, candidates = _settle(label, tied, candidates)
    if tied.size:  # the class chosen least often overall, against class imbalance
        frequency = counts.sum(axis=0).astype(np.float64)
        candidates = _keep_extreme(
            candidates, np.broadcast_to(frequency, candidates.shape), largest=False
        )
        tied, candidates = _settle(label, tied, candidates)
    agreement = _agreement_where_untied(ann, label, num_modes == 1) if tied.size else None
    if agreement is not None:  # the class whose annotators agree most with the majority
        for t, row in enumerate(tied):
            span = slice(ann.row_start[row], ann.row_start[row + 1])
            cols, labels = ann.cols[span], ann.labels[span]
            score = np.full(candidates.shape[1], -np.inf)
            for k in np.flatnonzero(candidates[t]):
                score[k] = np.mean(agreement[cols[labels == k]])
            candidates[t] &= score == score.max()
        tied, candidates = _settle(label, tied, candidates)
    if tied.size:
        warnings.warn(
            f"breaking ties of examples {tied.tolist()} by random selection; pass "
            "random_state (or seed numpy's global random state) for reproducibility",
            UserWarning,
            stacklevel=3,
        )
        for t, row in enumerate(tied):
            label[row] = choose(np.flatnonzero(candidates[t]))
    return label


def report_missing_classes(ann: Annotations, consensus: np.ndarray, method: str) -> None:
    """Print a caution if some class the annotators chose is no consensus label."""
    lost = np.setdiff1d(np.unique(ann.labels), consensus)
    if lost.size:
        print(
            "CAUTION: Number of unique classes has been reduced from the original data when "
            f"establishing consensus labels using consensus method '{method}', likely due to "
            "some classes being rarely annotated. If training a classifier on these consensus "
            "labels, it will never see any of the omitted classes unless you manually replace "
            "some of the consensus labels.\n"
            f"Classes in the original data but not in consensus labels: {lost.tolist()}"
        )


def get_majority_vote_label(
    labels_multiannotator: pd.DataFrame | np.ndarray,
    pred_probs: np.ndarray | None = None,
    verbose: bool = True,
    *,
    random_state: RandomState = None,
) -> np.ndarray:
    """Return each example's majority vote among its annotators' labels.

    Parameters
    ----------
    labels_multiannotator : pd.DataFrame or np.ndarray of shape (n_samples, n_annotators)
        ``labels_multiannotator[n][m]`` is the class (``0..K-1``) annotator ``m`` gave
        example ``n``, or NaN if ``m`` did not label ``n``. DataFrame columns are the
        annotators' ids.
    pred_probs : np.ndarray of shape (n_samples, n_classes), optional
        A model's predicted class probabilities, used to break ties.
    verbose : bool, default=True
        Check the labels as :func:`get_label_quality_multiannotator` does (two annotators
        or more, some example labelled twice) and print a caution if a class chosen by an
        annotator is nobody's majority. With False only the format is checked.
    random_state : None, int, np.random.RandomState or np.random.Generator, default=None
        Breaks the ties that survive every other tie-break (with a warning). None uses
        numpy's global random state, as cleanlab does.

    Returns
    -------
    np.ndarray of shape (n_samples,), int64
        Ties between the most chosen classes go to the class with the highest
        ``pred_probs`` (if given), then the class chosen least often in the whole dataset,
        then the class whose annotators agree most often with the majority on examples
        without a tie, then a random one.

    Raises
    ------
    ValueError
        On labels that are not class indices or NaN, an example without labels, or
        ``pred_probs`` of the wrong shape (and, with ``verbose``, on fewer than two
        annotators, an annotator without labels or no example labelled twice).

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[0, 0, 1], [1, np.nan, 1], [2, 1, np.nan]])
    >>> probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.3, 0.6]])
    >>> get_majority_vote_label(labels, probs)
    array([0, 1, 2])
    """
    choose = chooser(random_source(random_state))
    matrix, annotator_ids, _ = read_labels(labels_multiannotator)
    if verbose:
        check_labels(matrix, annotator_ids)
    else:
        check_rows_labeled(matrix)
        check_label_values(matrix)
    probs = check_pred_probs(pred_probs, matrix) if pred_probs is not None else None
    ann = Annotations(matrix, annotator_ids)
    num_classes = probs.shape[1] if probs is not None else int(np.nanmax(matrix)) + 1
    label = majority_vote(ann, ann.class_counts(num_classes), probs, choose)
    if verbose:
        report_missing_classes(ann, label, "majority_vote")
    return label
