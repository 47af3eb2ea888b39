"""Per-class label quality scores and the ways to aggregate them into one per example.

Names and behaviour mirror ``cleanlab.internal.multilabel_scorer`` (2.x):
:func:`exponential_moving_average` and :func:`softmin` are the built-in aggregators and
:class:`Aggregator` wraps them (or any callable) with keyword arguments, as
``aggregator_kwargs`` of :func:`core.multilabel_classification.rank.get_label_quality_scores`
describes. :func:`class_label_quality_scores` scores every class of every example at
once (cleanlab builds K two-column arrays and scores them one by one; the numbers are
the same).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from scipy.special import xlogy

from core._multilabel import binary_problems
from core._validation import check_option
from core.constants import CLIPPING_LOWER_BOUND, SOFTMIN_MIN_TEMPERATURE
from core.rank import _METHODS, _SCORERS, _adjust

__all__ = [
    "Aggregator",
    "class_label_quality_scores",
    "exponential_moving_average",
    "softmin",
]

#: Default forgetting factor of the aggregation (cleanlab's ``alpha=0.8``).
DEFAULT_EMA_ALPHA: float = 0.8


def exponential_moving_average(
    s: np.ndarray, *, alpha: float | None = None, axis: int = 1, **_: Any
) -> np.ndarray:
    r"""Aggregate each row of scores by an exponential moving average, largest first.

    Each row is sorted in descending order, ``s_(1) >= ... >= s_(K)``, then
    ``EMA_1 = s_(1)`` and ``EMA_t = alpha * s_(t) + (1 - alpha) * EMA_(t-1)``; the
    result is ``EMA_K``. The lowest scores come last and weigh most, so one bad class
    pulls the example's score down.

    Parameters
    ----------
    s : np.ndarray of shape (n_samples, n_classes)
        Per-class scores.
    alpha : float in [0, 1], optional
        Weight of each new (smaller) score. Default ``2 / (n_classes + 1)``. ``alpha=1``
        gives the row minimum, ``alpha=0`` the row maximum.
    axis : int, default=1
        Accepted for the :class:`Aggregator` protocol; rows are always aggregated.

    Returns
    -------
    np.ndarray of shape (n_samples,)

    Raises
    ------
    ValueError
        If ``alpha`` is outside [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> exponential_moving_average(np.array([[0.1, 0.2, 0.3]]), alpha=0.5)
    array([0.175])
    """
    if alpha is None:
        alpha = float(2 / (s.shape[1] + 1))
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in the interval [0, 1], got {alpha}")
    blocks = [_ema_block(s[rows], alpha, axis) for rows in row_blocks(s.shape[0], s.shape[1])]
    if len(blocks) == 1:
        return blocks[0]
    return np.concatenate(blocks) if blocks else np.empty(0, dtype=np.result_type(s, alpha))


def _ema_block(s: np.ndarray, alpha: float, axis: int) -> np.ndarray:
    """The moving average of a block of rows (rows are independent)."""
    # Column t of the row-sorted scores, largest first, as contiguous rows.
    columns = np.ascontiguousarray(np.sort(s, axis=axis)[:, ::-1].T)
    ema = columns[0].copy()
    for column in columns[1:]:
        ema *= 1 - alpha  # the same two products and one sum per step as
        column *= alpha  # alpha * s_t + (1 - alpha) * EMA_(t-1), without temporaries
        ema += column
    return ema


def softmin(s: np.ndarray, *, temperature: float = 0.1, axis: int = 1, **_: Any) -> np.ndarray:
    """Aggregate each row of scores by a softmin-weighted average.

    Weights are ``softmax((1 - s) / temperature)`` over the row, so low scores dominate;
    small temperatures approach the minimum (too small ones underflow to NaN).

    Parameters
    ----------
    s : np.ndarray of shape (n_samples, n_classes)
    temperature : float, default=0.1
    axis : int, default=1

    Returns
    -------
    np.ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> softmin(np.array([[0.6, 0.3, 0.7, 0.1, 0.9]])).round(3)
    array([0.128])
    """
    logits = (1 - s) / max(temperature, SOFTMIN_MIN_TEMPERATURE)
    logits = logits - np.max(logits, axis=axis, keepdims=True)
    weights = np.exp(logits)
    weights = weights / np.sum(weights, axis=axis, keepdims=True)
    return np.einsum("ij,ij->i", s, weights)


class Aggregator:
    """Turn per-class scores of shape (n_samples, n_classes) into one score per example.

    Parameters
    ----------
    method : {'exponential_moving_average', 'softmin'} or callable
        A built-in aggregation by name (:attr:`possible_methods`), or a function called
        as ``method(scores, axis=1, **kwargs)`` (``np.min``, ``np.mean``, ...).
    **kwargs
        Keyword arguments for ``method`` (e.g. ``alpha``, ``temperature``); those given
        when calling the aggregator take precedence.

    Raises
    ------
    ValueError
        On an unknown method name.
    TypeError
        If ``method`` is neither a name nor callable.

    Examples
    --------
    >>> import numpy as np
    >>> Aggregator(np.min)(np.array([[0.9, 0.2], [0.4, 0.6]]))
    array([0.2, 0.4])
    """

    possible_methods: ClassVar[dict[str, Callable[..., np.ndarray]]] = {
        "exponential_moving_average": exponential_moving_average,
        "softmin": softmin,
    }

    def __init__(self, method: str | Callable[..., np.ndarray], **kwargs: Any) -> None:
        if isinstance(method, str):
            if method not in self.possible_methods:
                raise ValueError(
                    f"Invalid aggregation method specified: '{method}', must be one of the "
                    f"following: {list(self.possible_methods)}"
                )
            method = self.possible_methods[method]
        if not callable(method):
            raise TypeError(
                f"Expected callable method, got {type(method)}: the aggregation method must "
                f"be one of {list(self.possible_methods)} or a function"
            )
        self.method = method
        self.kwargs = kwargs

    def __call__(self, scores: np.ndarray, **kwargs: Any) -> np.ndarray:
        """Aggregate ``scores`` (n_samples, n_classes) row by row: shape (n_samples,)."""
        if not (isinstance(scores, np.ndarray) and scores.ndim == 2):
            raise ValueError(
                f"Expected 2D array for scores, got {type(scores).__name__} with shape "
                f"{np.shape(scores)}"
            )
        return self.method(scores, **{**self.kwargs, **kwargs, "axis": 1})

    def __repr__(self) -> str:
        name = getattr(self.method, "__name__", repr(self.method))
        return f"Aggregator(method={name}, kwargs={self.kwargs})"


def default_aggregator() -> Aggregator:
    """cleanlab's default: the exponential moving average with ``alpha=0.8``."""
    return Aggregator(exponential_moving_average, alpha=DEFAULT_EMA_ALPHA)


def check_method(method: Any, *, name: str = "method") -> str:
    """Return the scoring method's canonical name; like cleanlab, any letter case is
    accepted."""
    if not isinstance(method, str) or method.lower() not in _METHODS:
        raise ValueError(
            f"Invalid method name: {method}. {name} must be one of {sorted(_METHODS)}; "
            f"got {method!r}"
        )
    return method.lower()


def class_label_quality_scores(
    onehot: np.ndarray,
    pred_probs: np.ndarray,
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
) -> np.ndarray:
    """Score each class annotation of each example: shape (n_samples, n_classes), float64.

    Entry ``(i, k)`` is the single-label score (:mod:`core.rank`) of the binary problem
    "is class ``k`` among example ``i``'s labels", with binary pred_probs
    ``(1 - p_k, p_k)``. Inputs are validated one-hot labels and pred_probs.
    """
    check_option("method", method, _METHODS)
    if adjust_pred_probs and method == "confidence_weighted_entropy":
        raise ValueError(
            f"adjust_pred_probs is not currently supported for method={method!r} "
            "(adjust_pred_probs is not supported for confidence_weighted_entropy)"
        )
    scores = np.empty(onehot.shape)
    if adjust_pred_probs:  # thresholds differ per class (and so may their dtype)
        for k, problem in enumerate(binary_problems(onehot, pred_probs)):
            adjusted = _adjust(problem.labels, problem.pred_probs, problem.thresholds())
            scores[:, k] = _SCORERS[method](problem.labels, adjusted)
        return scores
    if method == "confidence_weighted_entropy" and (pred_probs.min() < 0 or pred_probs.max() > 1):
        raise ValueError("pred_probs values must be in [0, 1] to compute their entropy")
    for rows in row_blocks(len(onehot), onehot.shape[1]):
        _score_block(onehot[rows], pred_probs[rows], method, scores[rows])
    return scores


#: Rows are scored in blocks of about this many entries, so temporaries stay in cache.
_BLOCK_ENTRIES = 1 << 16


def row_blocks(num_rows: int, num_columns: int) -> list[slice]:
    """Slices covering ``range(num_rows)`` in blocks of about ``_BLOCK_ENTRIES`` entries."""
    step = max(1, _BLOCK_ENTRIES // max(num_columns, 1))
    return [slice(start, start + step) for start in range(0, num_rows, step)]


def _score_block(onehot: np.ndarray, pred_probs: np.ndarray, method: str, out: np.ndarray) -> None:
    """Write the scores of one block of rows into ``out`` (float64, same shape)."""
    absent = 1 - pred_probs
    own = np.where(onehot, pred_probs, absent)
    if method == "self_confidence":
        out[:] = own
    elif method == "normalized_margin":
        out[:] = (own - np.where(onehot, absent, pred_probs) + 1) / 2
    else:  # confidence_weighted_entropy, as core.rank computes it on (1 - p, p)
        # Each step rounds as core.rank's formula does; buffers are reused where the
        # dtype allows (float32 input turns float64 at the division by log(2)).
        summed = xlogy(absent, absent)
        summed += xlogy(pred_probs, pred_probs)
        np.negative(summed, out=summed)
        entropy = summed / np.log(2)
        np.clip(own, a_min=CLIPPING_LOWER_BOUND, a_max=None, out=own)
        entropy /= own
        np.add(entropy, 1, out=out)
        np.log(out, out=out)
        np.clip(entropy, a_min=CLIPPING_LOWER_BOUND, a_max=None, out=entropy)
        out /= entropy
