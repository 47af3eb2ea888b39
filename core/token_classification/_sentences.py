"""Token-classification inputs: per-sentence lists read as one flat array of tokens (private).

A dataset of N sentences is given as cleanlab gives it: ``labels[i]`` lists the class of
each token of sentence ``i`` and ``pred_probs[i]`` is its ``(T_i, K)`` array of predicted
probabilities. Every computation works on the flat view (all tokens, sentence after
sentence) built here once with one concatenation; :class:`Sentences` remembers where each
sentence starts, to turn flat token indices back into ``(sentence, token)`` pairs and to
cut flat per-token results back into sentences.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core._validation import validate_labels, validate_pred_probs

#: What one sentence's labels, scores or tokens may be.
_SENTENCE_TYPES = (list, tuple, np.ndarray, pd.Series)

_LABELS_FORMAT = "a list with, per sentence, the list of its tokens' class indices"
_SCORES_FORMAT = "a list with, per sentence, the scores of its tokens"
_PROBS_FORMAT = "a list with, per sentence, its (n_tokens, n_classes) array of probabilities"


@dataclass(frozen=True)
class Sentences:
    """The tokens of N sentences laid end to end.

    Attributes
    ----------
    lengths : np.ndarray of shape (n_sentences,)
        Tokens per sentence (0 for an empty sentence).
    starts : np.ndarray of shape (n_sentences,)
        Flat index of each sentence's first token.
    """

    lengths: np.ndarray
    starts: np.ndarray

    @classmethod
    def from_lengths(cls, lengths: np.ndarray) -> Sentences:
        starts = np.zeros(len(lengths), dtype=np.intp)
        np.cumsum(lengths[:-1], out=starts[1:])
        return cls(lengths=lengths, starts=starts)

    @property
    def num_tokens(self) -> int:
        return int(self.starts[-1] + self.lengths[-1]) if len(self.lengths) else 0

    def positions(self, flat: np.ndarray) -> list[tuple[int, int]]:
        """``(sentence, token)`` pairs of flat token indices, as Python ints, in order."""
        sentence = np.searchsorted(self.starts + self.lengths, flat, side="right")
        token = flat - self.starts[sentence]
        return list(zip(sentence.tolist(), token.tolist(), strict=True))

    def split(self, values: np.ndarray) -> list[np.ndarray]:
        """Per sentence, its slice of the flat per-token ``values`` (views)."""
        ends = (self.starts + self.lengths).tolist()
        return [values[a:b] for a, b in zip(self.starts.tolist(), ends, strict=True)]


def as_sentence_list(value: Any, name: str, what: str) -> Sequence[Any]:
    """``value`` as a list or tuple of per-sentence items, or raise naming ``name``."""
    if isinstance(value, pd.Series):
        return value.tolist()
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            raise TypeError(f"{name} must be {what}; got a numpy scalar")
        return list(value)
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be {what}; got {type(value).__name__}")
    return value


def sentence_lengths(items: Sequence[Any], name: str, what: str) -> np.ndarray:
    """Length of every item of ``items``; each must be a list, tuple, array or Series."""
    if set(map(type, items)) - {list}:  # all lists is the common case, checked fast
        for i, item in enumerate(items):
            if not isinstance(item, _SENTENCE_TYPES) or np.ndim(item) < 1:
                raise TypeError(
                    f"{name} must be {what}; {name}[{i}] is {type(item).__name__} {item!r}"
                )
    return np.fromiter(map(len, items), dtype=np.intp, count=len(items))


def label_lengths(labels: Any, *, name: str = "labels") -> np.ndarray:
    """Tokens per sentence of per-sentence ``labels`` (at least one sentence)."""
    seq = as_sentence_list(labels, name, _LABELS_FORMAT)
    if len(seq) == 0:
        raise ValueError(f"{name} is empty; at least one sentence is needed")
    return sentence_lengths(seq, name, _LABELS_FORMAT)


def flatten_labels(labels: Any, *, name: str = "labels") -> tuple[np.ndarray, np.ndarray]:
    """``(flat labels, per-sentence lengths)``; the values are checked later, against K."""
    seq = as_sentence_list(labels, name, _LABELS_FORMAT)
    lengths = label_lengths(seq, name=name)
    if all(isinstance(item, np.ndarray) for item in seq):
        flat = np.concatenate(seq) if len(seq) > 1 else np.asarray(seq[0])
    else:
        try:
            flat = np.asarray(list(itertools.chain.from_iterable(seq)))
        except ValueError:  # ragged lists inside the sentences
            flat = np.zeros((0, 0))
    if flat.ndim != 1:
        raise ValueError(
            f"{name} must be {_LABELS_FORMAT}: one class index per token; got nested lists"
        )
    return flat, lengths


def pred_probs_per_sentence(pred_probs: Any, lengths: np.ndarray) -> list[np.ndarray]:
    """The non-empty sentences' probability arrays, each checked to be ``(lengths[i], K)``
    with the same K (an empty sentence may have any array of size 0; it is left out)."""
    seq = as_sentence_list(pred_probs, "pred_probs", _PROBS_FORMAT)
    if len(seq) != len(lengths):
        raise ValueError(
            "labels and pred_probs must have one entry per sentence; "
            f"got {len(lengths)} sentences of labels and {len(seq)} of pred_probs"
        )
    arrays = [p if isinstance(p, np.ndarray) else np.asarray(p) for p in seq]
    if not (
        all(a.ndim == 2 for a in arrays)
        and len({a.shape[1] for a in arrays}) == 1
        and np.array_equal(np.fromiter((a.shape[0] for a in arrays), np.intp, len(arrays)), lengths)
    ):
        _check_each_sentence(arrays, lengths)
    return [a for a in arrays if a.size]


def flatten_pred_probs(pred_probs: Any, lengths: np.ndarray, *, check: bool = True) -> np.ndarray:
    """All sentences' probability rows stacked (:func:`pred_probs_per_sentence`); with
    ``check``, the values are checked too (:func:`core._validation.validate_pred_probs`)."""
    nonempty = pred_probs_per_sentence(pred_probs, lengths)
    flat = np.concatenate(nonempty) if len(nonempty) > 1 else nonempty[0]
    return validate_pred_probs(flat) if check else flat


def _check_each_sentence(arrays: list[np.ndarray], lengths: np.ndarray) -> None:
    """Raise naming the first sentence whose ``pred_probs`` do not fit its labels."""
    first: int | None = None
    for i, (a, n) in enumerate(zip(arrays, lengths.tolist(), strict=True)):
        if a.size == 0 and n == 0:
            continue
        k = "n_classes" if first is None else arrays[first].shape[1]
        if a.ndim != 2 or a.shape[0] != n:
            raise ValueError(
                f"pred_probs[{i}] must have shape ({n}, {k}): one row per token of "
                f"labels[{i}] and one column per class; got shape {a.shape}"
            )
        if first is None:
            first = i
        elif a.shape[1] != k:
            raise ValueError(
                f"pred_probs[{i}] has {a.shape[1]} columns but pred_probs[{first}] has {k}; "
                "every sentence needs one column per class"
            )


def flatten(
    labels: Any, pred_probs: Any, *, check_probs: bool = True
) -> tuple[np.ndarray, np.ndarray, Sentences]:
    """Validate per-sentence ``labels`` and ``pred_probs``: ``(flat labels, flat
    pred_probs, sentences)``, with labels in ``0..K-1`` and every sentence's rows checked.

    ``check_probs=False`` leaves the probability values unchecked, for a caller that hands
    them to a public function of :mod:`core` (which checks them) rather than check twice.
    """
    flat_labels, lengths = flatten_labels(labels)
    if flat_labels.size == 0:
        raise ValueError("labels has no tokens: every sentence is empty")
    probs = flatten_pred_probs(pred_probs, lengths, check=check_probs)
    flat_labels = validate_labels(flat_labels, num_classes=probs.shape[1])
    return flat_labels, probs, Sentences.from_lengths(lengths)


def flatten_scores(
    token_scores: Any, *, name: str = "token_scores"
) -> tuple[np.ndarray, Sentences]:
    """Per-sentence token scores (pandas Series, arrays or lists) laid end to end.

    A numpy-backed Series hands over its array through pandas' ``_values`` (0.4 µs
    against 2.5 µs for ``to_numpy()`` and 20 µs for ``np.asarray``, which over tens of
    thousands of sentences is the whole cost); anything else goes through ``np.asarray``.
    """
    seq = as_sentence_list(token_scores, name, _SCORES_FORMAT)
    values = []
    for item in seq:
        array = getattr(item, "_values", None) if isinstance(item, pd.Series) else None
        values.append(array if isinstance(array, np.ndarray) else np.asarray(item))
    for i, array in enumerate(values):
        if array.ndim != 1 or array.dtype.kind not in "fiub":
            raise TypeError(
                f"{name} must be {_SCORES_FORMAT}; {name}[{i}] is {type(seq[i]).__name__} "
                f"holding {array.dtype} values of shape {array.shape}"
            )
    lengths = np.fromiter((array.size for array in values), np.intp, len(values))
    if len(values) == 0:
        return np.zeros(0), Sentences.from_lengths(lengths)
    flat = np.concatenate(values) if len(values) > 1 else values[0]
    return flat, Sentences.from_lengths(lengths)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block, then restore its state.

    Building one pandas Series per sentence makes tens of thousands of small objects that
    all stay alive; the collector, triggered by the allocations, walks the growing heap
    again and again and frees nothing (half the time of building them, measured). It is
    process-wide: other threads go uncollected for as long as the block lasts.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
