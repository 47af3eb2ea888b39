"""Find the tokens whose given label is probably wrong, in a token classification dataset.

Names, signatures and results mirror ``cleanlab.token_classification.filter`` (2.x). Every
token is one example of an ordinary single-label problem: the tokens of all sentences are
laid end to end and judged by :func:`core.filter.find_label_issues` (confident learning,
Northcutt, Jiang & Chuang, JAIR 70, 2021), as Wang & Mueller, "Detecting Label Errors in
Token Classification Data" (arXiv:2210.03920, 2022) found works best for NER; the flagged
tokens come back as ``(sentence, token)`` pairs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core import filter as _filter
from core._validation import warn_unused
from core.experimental.label_issues_batched import find_label_issues_batched
from core.token_classification._sentences import flatten

__all__ = ["find_label_issues"]


def find_label_issues(
    labels: Sequence[Sequence[int]],
    pred_probs: Sequence[np.ndarray],
    *,
    return_indices_ranked_by: str | None = "self_confidence",
    low_memory: bool = False,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: int | list[int] | np.ndarray | None = None,
    min_examples_per_class: int = 1,
    confident_joint: np.ndarray | None = None,
    rank_by_kwargs: Mapping[str, Any] | None = None,
    n_jobs: int | None = None,
    verbose: bool = False,
) -> list[tuple[int, int]]:
    """Identify the tokens whose given label is probably wrong.

    Parameters
    ----------
    labels : list of list of int, length n_sentences
        ``labels[i][j]`` is the given class (``0..K-1``) of token ``j`` of sentence ``i``;
        a sentence may be empty.
    pred_probs : list of np.ndarray, length n_sentences
        ``pred_probs[i]`` has shape ``(len(labels[i]), n_classes)``: out-of-sample
        predicted probabilities of each of sentence ``i``'s tokens (rows sum to 1).
    return_indices_ranked_by : {'self_confidence', 'normalized_margin', \
'confidence_weighted_entropy', None}, default='self_confidence'
        The flagged tokens are ordered by this label quality score, lowest (most likely
        mislabeled) first; None keeps reading order (sentence, then token).
    low_memory : bool, default=False
        Find the issues chunk by chunk with
        :func:`core.experimental.label_issues_batched.find_label_issues_batched` (an
        approximation of ``filter_by="low_self_confidence"``, ranked by
        ``return_indices_ranked_by``); the options below it does not use warn when set.
    filter_by : {'prune_by_noise_rate', 'prune_by_class', 'both', 'confident_learning', \
'predicted_neq_given', 'low_normalized_margin', 'low_self_confidence'}, \
default='prune_by_noise_rate'
        How tokens are flagged, over all tokens at once
        (:func:`core.filter.find_label_issues`).
    frac_noise : float in (0, 1], default=1.0
        Flag only this fraction of the estimated issues (prune methods only).
    num_to_remove_per_class : int or array_like of shape (n_classes,), optional
        Flag exactly this many tokens per given class (prune methods only).
    min_examples_per_class : int, default=1
        Never flag tokens of a class given this many times or fewer.
    confident_joint : np.ndarray of shape (n_classes, n_classes), optional
        A precomputed confident joint of the tokens.
    rank_by_kwargs : dict, optional
        ``{'adjust_pred_probs': bool}`` for the ranking score.
    n_jobs : int, optional
        Accepted for compatibility with cleanlab; it changes nothing.
    verbose : bool, default=False
        Print the number of issues found.

    Returns
    -------
    list of tuple of (int, int)
        ``(i, j)``: token ``j`` of sentence ``i`` probably has a wrong label; most likely
        first.

    Raises
    ------
    ValueError
        If ``labels`` and ``pred_probs`` do not match sentence by sentence, hold no token,
        or an option is not one of those listed.
    TypeError
        If ``labels`` is not a list of lists (one per sentence).

    Notes
    -----
    Where cleanlab differs: with ``return_indices_ranked_by=None`` cleanlab indexes its
    token positions with the boolean mask and returns meaningless pairs (core returns
    the flagged tokens in reading order); cleanlab checks only that the total numbers of
    labels and probability rows agree, core checks every sentence.

    Examples
    --------
    >>> import numpy as np
    >>> labels = [[0, 0, 1], [0, 1]]
    >>> pred_probs = [
    ...     np.array([[0.9, 0.1], [0.7, 0.3], [0.05, 0.95]]),
    ...     np.array([[0.8, 0.2], [0.8, 0.2]]),
    ... ]
    >>> find_label_issues(labels, pred_probs)
    [(1, 1)]
    """
    flat_labels, probs, sentences = flatten(labels, pred_probs, check_probs=False)
    if low_memory:
        return _find_label_issues_low_memory(
            flat_labels,
            probs,
            sentences,
            return_indices_ranked_by=return_indices_ranked_by,
            verbose=verbose,
            unused={
                "filter_by": (filter_by, "prune_by_noise_rate"),
                "frac_noise": (frac_noise, 1.0),
                "num_to_remove_per_class": (num_to_remove_per_class, None),
                "min_examples_per_class": (min_examples_per_class, 1),
                "confident_joint": (confident_joint, None),
                "rank_by_kwargs": (rank_by_kwargs, None),
                "n_jobs": (n_jobs, None),
            },
        )
    flagged = _filter.find_label_issues(
        flat_labels,
        probs,
        return_indices_ranked_by=return_indices_ranked_by,
        rank_by_kwargs=None if rank_by_kwargs is None else dict(rank_by_kwargs),
        filter_by=filter_by,
        frac_noise=frac_noise,
        num_to_remove_per_class=num_to_remove_per_class,
        min_examples_per_class=min_examples_per_class,
        confident_joint=confident_joint,
        n_jobs=n_jobs,
        verbose=verbose,
    )
    if return_indices_ranked_by is None:  # a mask, in reading order
        flagged = np.flatnonzero(flagged)
    return sentences.positions(flagged)


def _find_label_issues_low_memory(
    flat_labels: np.ndarray,
    probs: np.ndarray,
    sentences: Any,
    *,
    return_indices_ranked_by: str | None,
    verbose: bool,
    unused: dict[str, tuple[Any, Any]],
) -> list[tuple[int, int]]:
    """``low_memory=True``: the batched search over all tokens, then back to (i, j)."""
    warn_unused("`low_memory=True`", unused, stacklevel=4)
    method = return_indices_ranked_by or "self_confidence"
    flagged = find_label_issues_batched(
        flat_labels, probs, quality_score_kwargs={"method": method}, verbose=verbose
    )
    if return_indices_ranked_by is None:  # reading order, as without low_memory
        flagged = np.sort(flagged)
    return sentences.positions(flagged)
