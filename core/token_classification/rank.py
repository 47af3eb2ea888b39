"""Score the labels of a token classification dataset, token by token and sentence by sentence.

Names, signatures and results mirror ``cleanlab.token_classification.rank`` (2.x). A
token's score is the single-label score of :mod:`core.rank` (Kuan & Mueller, "Model-agnostic
label quality scoring to detect real-world label errors", ICML DataPerf 2022) of its given
label; a sentence's score aggregates its tokens' scores, by their minimum or by a
softmin (Wang & Mueller, "Detecting Label Errors in Token Classification Data",
arXiv:2210.03920, 2022). Lower scores mean more likely mislabeled.

cleanlab computes the sentence scores one sentence at a time; here sentences of equal
length are stacked and scored together, with the same operations in the same order (the
softmax weights and their dot product, through the same BLAS routine), so the numbers are
cleanlab's to the last bit.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from core._validation import ValueAssertionError, check_option
from core.constants import (
    EMPTY_SENTENCE_SCORE,
    SENTENCE_SOFTMIN_TEMPERATURE,
    SOFTMIN_MIN_TEMPERATURE,
    TOKEN_ISSUE_THRESHOLD,
)
from core.rank import _METHODS, _scores
from core.token_classification._sentences import (
    Sentences,
    as_sentence_list,
    collector_paused,
    flatten,
    flatten_scores,
    sentence_lengths,
)

__all__ = ["get_label_quality_scores", "issues_from_scores"]

_SENTENCE_METHODS = ("min", "softmin")
_TOKENS_FORMAT = "a list with, per sentence, the list of its tokens (strings)"


def get_label_quality_scores(
    labels: Sequence[Sequence[int]],
    pred_probs: Sequence[np.ndarray],
    *,
    tokens: Sequence[Sequence[str]] | None = None,
    token_score_method: str = "self_confidence",
    sentence_score_method: str = "min",
    sentence_score_kwargs: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, list[pd.Series]]:
    """Return a label quality score per sentence and per token, in [0, 1] (lower: worse).

    Parameters
    ----------
    labels : list of list of int, length n_sentences
        ``labels[i][j]`` is the given class (``0..K-1``) of token ``j`` of sentence ``i``.
    pred_probs : list of np.ndarray, length n_sentences
        ``pred_probs[i]`` has shape ``(len(labels[i]), n_classes)``: predicted class
        probabilities of each token of sentence ``i``.
    tokens : list of list of str, optional
        The words of each sentence; when given they index the returned token scores.
    token_score_method : {'self_confidence', 'normalized_margin', \
'confidence_weighted_entropy'}, default='self_confidence'
        How each token's label is scored (:func:`core.rank.get_label_quality_scores`).
    sentence_score_method : {'min', 'softmin'}, default='min'
        ``'min'``: a sentence scores as its worst token. ``'softmin'``: ``<s, softmax((1 -
        s) / t)>`` over the sentence's token scores ``s``, a weighted mean that tends to
        the minimum as the temperature ``t`` goes to 0 and to the mean as it grows.
    sentence_score_kwargs : dict, optional
        ``{'temperature': t}`` for ``'softmin'`` (default 0.05; 0 gives the minimum and
        ``np.inf`` the mean).

    Returns
    -------
    sentence_scores : np.ndarray of shape (n_sentences,)
        A sentence with no tokens scores 1.0 (with a warning).
    token_scores : list of pd.Series
        ``token_scores[i]`` holds the scores of sentence ``i``'s tokens, indexed by
        ``tokens[i]`` when given, else by position.

    Raises
    ------
    ValueError
        On an unknown method (a ``ValueError`` that is also an ``AssertionError`` for
        ``sentence_score_method``, as cleanlab asserts), a bad temperature, or inputs
        that do not match sentence by sentence.

    Notes
    -----
    Where cleanlab differs: it fails on a sentence without tokens (core scores it 1.0),
    ignores keys of ``sentence_score_kwargs`` other than ``temperature`` and takes a
    negative temperature as its floor of 1e-6 (core raises on both; positive
    temperatures below 1e-6 are raised to it, as in cleanlab).

    Examples
    --------
    >>> import numpy as np
    >>> labels = [[0, 0, 1], [0, 1]]
    >>> pred_probs = [
    ...     np.array([[0.9, 0.1], [0.7, 0.3], [0.05, 0.95]]),
    ...     np.array([[0.8, 0.2], [0.8, 0.2]]),
    ... ]
    >>> sentence_scores, token_scores = get_label_quality_scores(labels, pred_probs)
    >>> sentence_scores
    array([0.7, 0.2])
    >>> token_scores[1].tolist()
    [0.8, 0.2]
    """
    if sentence_score_method not in _SENTENCE_METHODS:
        raise ValueAssertionError(
            f"sentence_score_method must be one of {list(_SENTENCE_METHODS)}; got "
            f"{sentence_score_method!r}. Select from the following methods:\n"
            + "\n".join(_SENTENCE_METHODS)
        )
    check_option("token_score_method", token_score_method, _METHODS)
    temperature = _temperature(sentence_score_kwargs)
    flat_labels, probs, sentences = flatten(labels, pred_probs)
    names = None
    if tokens is not None and len(tokens) > 0:
        names = as_sentence_list(tokens, "tokens", _TOKENS_FORMAT)
        _check_tokens(sentence_lengths(names, "tokens", _TOKENS_FORMAT), sentences.lengths)
    scores = _scores(flat_labels, probs, method=token_score_method)
    if sentence_score_method == "min":
        temperature = 0
    sentence_scores = _sentence_scores(scores, sentences, temperature=temperature)
    per_sentence = sentences.split(scores)
    with collector_paused():
        if names is None:
            token_scores = [pd.Series(s) for s in per_sentence]
        else:
            token_scores = [pd.Series(s, index=w) for s, w in zip(per_sentence, names, strict=True)]
    return sentence_scores, token_scores


def issues_from_scores(
    sentence_scores: np.ndarray,
    *,
    token_scores: Sequence[Any] | None = None,
    threshold: float = TOKEN_ISSUE_THRESHOLD,
) -> list[tuple[int, int]] | np.ndarray:
    """Turn scores into issues: the tokens (or sentences) scoring below ``threshold``.

    Parameters
    ----------
    sentence_scores : np.ndarray of shape (n_sentences,)
        As returned by :func:`get_label_quality_scores`.
    token_scores : list of pd.Series or list of list of float, optional
        As returned by :func:`get_label_quality_scores`. When given (and not empty), the
        issues are tokens; otherwise sentences.
    threshold : float, default=0.1
        Scores strictly below it are issues.

    Returns
    -------
    list of tuple of (int, int) or np.ndarray of int
        With ``token_scores``: ``(i, j)`` pairs (token ``j`` of sentence ``i``), lowest
        score first, ties in reading order. Without: the indices of the sentences below
        ``threshold``, lowest score first.

    Notes
    -----
    Where cleanlab differs: without ``token_scores`` it raises ``IndexError`` when every
    sentence scores below ``threshold`` (core returns them all). Token scores are
    compared as float64 (cleanlab compares what iterating them yields: Python floats for a
    Series, the element type for a list).

    Examples
    --------
    >>> import numpy as np
    >>> issues_from_scores(np.array([0.1, 0.3, 0.05, 0.9, 0.0125]))
    array([4, 2])
    >>> issues_from_scores(np.array([0.3, 0.0]), token_scores=[[0.9, 0.3], [0.0, 0.05, 0.8]])
    [(1, 0), (1, 1)]
    """
    if isinstance(threshold, bool) or not isinstance(threshold, Real):
        raise TypeError(f"threshold must be a number; got {type(threshold).__name__}")
    if token_scores is not None and len(token_scores) > 0:
        flat, sentences = flatten_scores(token_scores)
        flat = flat.astype(np.float64, copy=False)  # compared as Python compares floats
        below = np.flatnonzero(flat < threshold)
        return sentences.positions(below[np.argsort(flat[below], kind="stable")])
    scores = np.asarray(sentence_scores)
    if scores.ndim != 1:
        raise ValueError(
            f"sentence_scores must be 1-D of shape (n_sentences,); got shape {scores.shape}"
        )
    ranking = np.argsort(scores)
    return ranking[: np.count_nonzero(scores < threshold)]


def _softmin_sentence_score(
    token_scores: Sequence[Sequence[float]], *, temperature: float = SENTENCE_SOFTMIN_TEMPERATURE
) -> np.ndarray:
    """The 'softmin' score of every sentence from its token scores (cleanlab's private
    helper of the same name, kept for code written against it).

    Parameters
    ----------
    token_scores : list of list of float, length n_sentences
    temperature : float >= 0, default=0.05
        0 gives each sentence's minimum, ``np.inf`` its mean.

    Returns
    -------
    np.ndarray of shape (n_sentences,)

    Examples
    --------
    >>> _softmin_sentence_score([[0.9, 0.6], [0.0, 0.8, 0.8], [0.8]])
    array([6.00741787e-01, 1.80056239e-07, 8.00000000e-01])
    """
    temperature = _temperature({"temperature": temperature})
    flat, sentences = flatten_scores(token_scores)
    return _sentence_scores(flat, sentences, temperature=temperature)


def _check_tokens(words: np.ndarray, lengths: np.ndarray) -> None:
    """Raise naming ``tokens`` unless it has as many words as labels, sentence by sentence."""
    if len(words) != len(lengths):
        raise ValueError(
            f"tokens must have one list of words per sentence; got {len(words)} lists for "
            f"{len(lengths)} sentences of labels"
        )
    bad = np.flatnonzero(words != lengths)
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"tokens must have one word per token of labels; tokens[{i}] has {words[i]} "
            f"words and labels[{i}] {lengths[i]} labels"
        )


def _temperature(sentence_score_kwargs: Mapping[str, Any] | None) -> Any:
    """The softmin temperature that ``sentence_score_kwargs`` asks for (checked)."""
    kwargs = dict(sentence_score_kwargs or {})
    unknown = set(kwargs) - {"temperature"}
    if unknown:
        raise ValueError(
            f"sentence_score_kwargs may only contain 'temperature'; got {sorted(unknown)}"
        )
    temperature = kwargs.get("temperature", SENTENCE_SOFTMIN_TEMPERATURE)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.number)):
        raise TypeError(
            f"sentence_score_kwargs['temperature'] must be a number; got "
            f"{type(temperature).__name__}"
        )
    if not temperature >= 0:  # also NaN
        raise ValueError(f"sentence_score_kwargs['temperature'] must be >= 0; got {temperature}")
    return temperature


def _sentence_scores(scores: np.ndarray, sentences: Sentences, *, temperature: Any) -> np.ndarray:
    """Aggregate the flat token ``scores`` per sentence: the minimum (temperature 0),
    the mean (infinite temperature) or the softmin-weighted mean."""
    out = _minimum(scores, sentences) if temperature == 0 else _mean(scores, sentences, temperature)
    empty = np.count_nonzero(sentences.lengths == 0)
    if empty:
        warnings.warn(
            f"{empty} of {len(sentences.lengths)} sentences have no tokens; their sentence "
            f"score is {EMPTY_SENTENCE_SCORE} (nothing in them can be mislabeled)",
            UserWarning,
            stacklevel=3,
        )
    return out


def _minimum(scores: np.ndarray, sentences: Sentences) -> np.ndarray:
    """Each sentence's smallest token score (EMPTY_SENTENCE_SCORE for an empty one)."""
    out = np.full(len(sentences.lengths), EMPTY_SENTENCE_SCORE, dtype=scores.dtype)
    nonempty = sentences.lengths > 0
    if nonempty.any():
        # Between the starts of two consecutive non-empty sentences lie exactly the
        # tokens of the first of them.
        out[nonempty] = np.minimum.reduceat(scores, sentences.starts[nonempty])
    return out


def _mean(scores: np.ndarray, sentences: Sentences, temperature: Any) -> np.ndarray:
    """Each sentence's softmin-weighted mean token score (the plain mean at infinite
    temperature); EMPTY_SENTENCE_SCORE for an empty sentence."""
    out: np.ndarray | None = None
    for rows, block in _blocks_by_length(scores, sentences):
        result = block.mean(axis=1) if temperature == np.inf else _softmin_rows(block, temperature)
        if out is None:  # the dtype is the one the arithmetic gives, as in cleanlab
            out = np.full(len(sentences.lengths), EMPTY_SENTENCE_SCORE, dtype=result.dtype)
        out[rows] = result
    return np.full(len(sentences.lengths), EMPTY_SENTENCE_SCORE) if out is None else out


def _blocks_by_length(
    scores: np.ndarray, sentences: Sentences
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per token count L > 0: (the sentences of L tokens, their scores as an (n, L) array)."""
    order = np.argsort(sentences.lengths, kind="stable")
    lengths = sentences.lengths[order]
    bounds = np.flatnonzero(np.diff(lengths)) + 1
    for rows in np.split(order, bounds):
        length = int(sentences.lengths[rows[0]])
        if length:
            yield rows, scores[sentences.starts[rows][:, None] + np.arange(length)]


def _softmin_rows(block: np.ndarray, temperature: Any) -> np.ndarray:
    """``<s, softmax((1 - s) / t)>`` for every row ``s`` of ``block``, computed as cleanlab
    computes it for one sentence (the row maximum shifted out before the exponential)."""
    logits = (1 - block) / max(temperature, SOFTMIN_MIN_TEMPERATURE)
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits, out=logits)
    weights /= weights.sum(axis=1, keepdims=True)
    # A stack of (1, L) @ (L, 1) products: one BLAS dot per row, as np.dot of two vectors.
    return np.matmul(block[:, None, :], weights[:, :, None])[:, 0, 0]
