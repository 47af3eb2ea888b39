"""Issues of a token classification dataset: checked, and read against labels (private).

An issue is a ``(sentence, token)`` pair, as :mod:`core.token_classification.filter`
returns them; :mod:`core.token_classification.summary` reads each issue's word, given
label and predicted label through the helpers here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from core.token_classification._sentences import (
    Sentences,
    label_lengths,
    pred_probs_per_sentence,
)

Issue = tuple[int, int]


def pairs_set(exclude: Iterable[Any]) -> set[tuple[Any, ...]]:
    """``exclude`` as a set of ``(given, predicted)`` tuples."""
    try:
        pairs = {tuple(pair) for pair in exclude}
    except TypeError:
        raise TypeError(
            "exclude must be a list of (given, predicted) class pairs, e.g. [(0, 1)]"
        ) from None
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"exclude must hold (given, predicted) pairs; got {sorted(pairs)}")
    return pairs


def check_issues(issues: Any, tokens: Sequence[Sequence[str]], *, allow_sentences: bool) -> None:
    """Raise naming ``issues`` if one of them does not index ``tokens``: all must be
    ``(i, j)`` pairs or, with ``allow_sentences``, all sentence indices (as the first)."""
    expected = "(sentence, token) pairs" + (" or sentence indices" if allow_sentences else "")
    if not isinstance(issues, (list, tuple)):
        raise TypeError(f"issues must be a list of {expected}; got {type(issues).__name__}")
    pairs = not allow_sentences or (len(issues) > 0 and isinstance(issues[0], tuple))
    for n, issue in enumerate(issues):
        if pairs and isinstance(issue, (tuple, list)) and len(issue) == 2:
            i, j = issue
            if _index_ok(i, len(tokens)) and _index_ok(j, len(tokens[i])):
                continue
        elif not pairs and _index_ok(issue, len(tokens)):
            continue
        raise ValueError(
            f"issues must be {expected} within tokens ({len(tokens)} sentences); "
            f"issues[{n}] is {issue!r}"
        )


def _index_ok(index: Any, size: int) -> bool:
    """Whether ``index`` is an int that indexes a list of ``size`` items."""
    is_int = isinstance(index, (int, np.integer)) and not isinstance(index, bool)
    return is_int and -size <= index < size


def given_and_predicted(
    issues: Sequence[Issue], labels: Sequence[Sequence[int]], pred_probs: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, int]:
    """The given and predicted class of every issue, and the number of classes K.

    With fewer issues than sentences their probability rows are looked up one by one;
    otherwise every sentence's predictions are computed at once (one argmax per sentence,
    shapes checked as :func:`core.token_classification._sentences.flatten` checks them)
    and looked up in the flat result: several times faster per issue, one integer per
    token of memory.
    """
    if len(issues) == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp), 1
    try:
        given = np.array([labels[i][j] for i, j in issues])
    except (IndexError, TypeError, ValueError):
        raise ValueError("labels must hold a label for every token that issues names") from None
    if given.ndim != 1 or given.dtype.kind not in "iu":
        raise ValueError(
            f"labels must hold one class index per token; got values of dtype {given.dtype}"
        )
    if len(issues) >= len(pred_probs):
        lengths = label_lengths(labels)
        arrays = pred_probs_per_sentence(pred_probs, lengths)
        k = arrays[0].shape[1]
        flat_issues = np.fromiter(itertools.chain.from_iterable(issues), np.intp, 2 * len(issues))
        sentence, token = flat_issues.reshape(-1, 2).T
        sentence = np.where(sentence < 0, sentence + len(lengths), sentence)
        token = np.where(token < 0, token + lengths[sentence], token)  # as labels[i][j] reads
        rows = Sentences.from_lengths(lengths).starts[sentence] + token
        predicted = np.concatenate([a.argmax(axis=1) for a in arrays])[rows]
    else:
        try:
            probs = np.array([pred_probs[i][j] for i, j in issues])
        except (IndexError, TypeError, ValueError):
            raise ValueError(
                "pred_probs must hold a row of probabilities for every token that issues "
                "names, all of the same length"
            ) from None
        if probs.ndim != 2:
            raise ValueError(
                "pred_probs must hold one row of probabilities per token, all of the same "
                f"length; got rows of shape {probs.shape[1:]}"
            )
        k, predicted = probs.shape[1], probs.argmax(axis=1)
    if given.min() < 0 or given.max() >= k:
        raise ValueError(f"labels must be class indices 0..{k - 1}; got {given.max()}")
    return given.astype(np.intp, copy=False), predicted, k
