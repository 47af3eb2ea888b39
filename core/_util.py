"""Small numeric helpers shared by the modules of :mod:`core` (private)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.constants import FLOATING_POINT_COMPARISON, MAX_NOISE_RATE, TINY_VALUE


def label_counts(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Return the number of examples given each class ``0..num_classes-1`` (int64)."""
    return np.bincount(labels, minlength=num_classes).astype(np.int64, copy=False)


def group_by_label(labels: np.ndarray, num_classes: int) -> list[np.ndarray]:
    """Return, per class, the ascending row indices of the examples given that class."""
    small = labels.astype(np.int16 if num_classes < 2**15 else np.int32, copy=False)
    order = np.argsort(small, kind="stable")  # radix sort for small ints: O(n)
    bounds = np.cumsum(label_counts(labels, num_classes))[:-1]
    return np.split(order, bounds)


def smallest_m(values: np.ndarray, m: int) -> np.ndarray:
    """Return indices of the ``m`` smallest ``values``: the same set as ``np.argsort(values)[:m]``.

    A partition finds the m-th smallest value in O(n). When ties at that value straddle
    the cut, which of the tied entries ``argsort`` keeps depends on its sort algorithm, so
    we ask ``argsort`` itself; otherwise the answer is every value <= the cut.
    """
    n = len(values)
    if m >= n:
        return np.arange(n)
    if m <= 0:
        return np.arange(0)
    cut = np.partition(values, m - 1)[m - 1]
    at_most = values <= cut
    if np.count_nonzero(at_most) == m:
        return np.flatnonzero(at_most)
    return np.argsort(values)[:m]


def round_preserving_sum(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Round to integers while keeping the (rounded) total, nudging the largest remainders."""
    floats = np.asarray(values, dtype=float)
    ints = floats.round()
    target = np.sum(floats).round()
    total = np.sum(ints).round()
    while abs(total - target) > FLOATING_POINT_COMPARISON:
        diff = np.round(target - total)
        step = -1 if diff < 0.0 else 1
        changes = min(int(abs(diff)), len(floats))
        # Remainders ordered by argsort (ties resolved as numpy sorts them), largest first
        # when rounding up, smallest first when rounding down.
        ranked = np.argsort(floats - ints)[::-step][:changes]
        ints[ranked] += step
        total = np.sum(ints).round()
    return ints.astype(int)


def round_preserving_row_totals(matrix: np.ndarray) -> np.ndarray:
    """Round each row of ``matrix`` to integers, keeping each row's total."""
    return np.array([round_preserving_sum(row) for row in matrix], dtype=int).reshape(
        np.shape(matrix)
    )


def clip_noise_rates(noise_matrix: np.ndarray) -> np.ndarray:
    """Clip off-diagonal rates to [0, MAX_NOISE_RATE] and renormalise columns to sum to 1."""
    diagonal = np.diagonal(noise_matrix)
    clipped = np.clip(noise_matrix, 0, MAX_NOISE_RATE)
    np.fill_diagonal(clipped, diagonal)
    return clipped / np.clip(clipped.sum(axis=0), a_min=TINY_VALUE, a_max=None)


def clip_values(
    x: np.ndarray, low: float = 0.0, high: float = 1.0, new_sum: float | None = None
) -> np.ndarray:
    """Clip a 1-D array to ``[low, high]`` and rescale it to sum to ``new_sum`` (else its sum)."""
    if np.ndim(x) > 1:
        raise TypeError(f"x must be 1-D; got shape {np.shape(x)}")
    total = np.sum(x) if new_sum is None else new_sum
    clipped = np.clip(x, low, high)
    return clipped * total / np.clip(np.sum(clipped), a_min=TINY_VALUE, a_max=None)


def argmax_is_given(pred_probs: np.ndarray, labels: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For ``rows``, whether the given label is the argmax once it gets a tiny head start.

    The given label's probability is raised by FLOATING_POINT_COMPARISON before the argmax,
    so near-ties go to the given label. Only the requested rows are copied.
    """
    block = pred_probs[rows]
    given = labels[rows]
    block[np.arange(len(rows)), given] += FLOATING_POINT_COMPARISON
    return block.argmax(axis=1) == given
