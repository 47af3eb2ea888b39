"""Multi-label inputs and their one-vs-rest confident-learning counts (private).

A multi-label dataset with K classes is read as K binary problems, as cleanlab 2.x reads
it: for class k, an example's binary label is 1 when k is among its given labels, and its
binary ``pred_probs`` row is ``(1 - p_k, p_k)``. Each binary problem is counted with the
comparisons of :mod:`core.count`'s single-label code, written out for two classes, and
pruned by :mod:`core.filter`'s (the same arithmetic, hence the same numbers as cleanlab);
results are stacked per class: thresholds of shape (K, 2), confident joints of shape
(K, 2, 2), issue masks of shape (N, K).

What cleanlab repeats for every class through its public functions (input validation, a
scikit-learn ``MultiLabelBinarizer``, a confusion matrix) is done here once: ``labels``
become a boolean one-hot matrix in one scatter, ``pred_probs`` are validated once.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from core._validation import validate_pred_probs
from core.constants import (
    CONFIDENT_THRESHOLDS_LOWER_BOUND,
    FLOATING_POINT_COMPARISON,
    MISSING_CLASS_THRESHOLD,
)
from core.count import _calibrate

#: What one example's labels may be: a list (cleanlab's format) or another 1-D collection.
_SET_TYPES = (list, tuple, set, frozenset, range, np.ndarray)

_FORMAT = "a list with, per example, the list of its class indices (e.g. [[0, 2], [1], []])"


def _as_sequence(labels: Any, name: str) -> list[Any] | tuple[Any, ...]:
    """``labels`` as a list or tuple of per-example collections (not yet checked)."""
    if isinstance(labels, pd.Series):
        return labels.tolist()
    if isinstance(labels, np.ndarray):
        if labels.dtype == object and labels.ndim == 1:
            return labels.tolist()
        hint = (
            "A one-hot matrix converts with [np.flatnonzero(row).tolist() for row in matrix]."
            if labels.ndim == 2
            else "For one label per example, use the single-label functions (multi_label=False)."
        )
        raise TypeError(
            f"{name} must be {_FORMAT}; got a numpy array of shape {labels.shape} and dtype "
            f"{labels.dtype}. {hint}"
        )
    if not isinstance(labels, (list, tuple)):
        raise TypeError(f"{name} must be {_FORMAT}; got {type(labels).__name__}")
    return labels


def labels_to_onehot(labels: Any, num_classes: int, *, name: str = "labels") -> np.ndarray:
    """Return the ``(n_samples, num_classes)`` boolean matrix of the given labels.

    Row ``i`` is True at the classes listed in ``labels[i]`` (repeats count once). Raises
    naming ``labels`` when it is not a list of lists of class indices in
    ``0..num_classes-1``.
    """
    seq = _as_sequence(labels, name)
    if len(seq) == 0:
        raise ValueError(f"{name} is empty; at least one example is needed")
    if set(map(type, seq)) - {list}:  # all lists is the common case, checked fast
        for i, item in enumerate(seq):
            if not isinstance(item, _SET_TYPES) or (
                isinstance(item, np.ndarray) and item.ndim != 1
            ):
                raise TypeError(
                    f"{name} must be {_FORMAT}; {name}[{i}] is {type(item).__name__} "
                    f"{item!r}. For one label per example, use the single-label functions "
                    "(multi_label=False)."
                )
    lengths = np.fromiter(map(len, seq), dtype=np.intp, count=len(seq))
    flat = np.asarray(list(itertools.chain.from_iterable(seq)))
    onehot = np.zeros((len(seq), num_classes), dtype=bool)
    if flat.size == 0:
        return onehot
    if flat.dtype.kind == "f" and np.all(np.isfinite(flat)) and np.all(np.mod(flat, 1) == 0):
        flat = flat.astype(np.intp)
    if flat.dtype.kind not in "iu":
        example = int(np.repeat(np.arange(len(seq)), lengths)[0])
        raise TypeError(
            f"{name} must hold integer class indices; got dtype {flat.dtype} "
            f"(e.g. {name}[{example}] = {seq[example]!r})"
        )
    bad = (flat < 0) | (flat >= num_classes)
    if bad.any():
        position = int(np.argmax(bad))
        example = int(np.searchsorted(np.cumsum(lengths), position, side="right"))
        raise ValueError(
            f"{name} must be class indices 0..{num_classes - 1} (K = {num_classes} columns "
            f"of pred_probs); {name}[{example}] contains {flat[position]}"
        )
    onehot[np.repeat(np.arange(len(seq)), lengths), flat] = True
    return onehot


def validate_multilabel(labels: Any, pred_probs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate a multi-label ``(labels, pred_probs)`` pair: (one-hot labels, pred_probs).

    ``pred_probs`` holds one probability per class; its rows need not sum to 1.
    """
    probs = validate_pred_probs(pred_probs, rows_sum_to_one=False)
    onehot = labels_to_onehot(labels, probs.shape[1])
    if len(onehot) != len(probs):
        raise ValueError(
            "labels and pred_probs must have the same length; "
            f"got {len(onehot)} labels and {len(probs)} rows of pred_probs"
        )
    return onehot, probs


def warn_if_always_given(onehot: np.ndarray, stacklevel: int = 3) -> None:
    """Warn about classes that every example has (degenerate, but legal)."""
    always = np.flatnonzero(onehot.all(axis=0))
    if len(always):
        warnings.warn(
            f"classes {always.tolist()} are given to every example, so no example can be "
            "found wrongly missing them (cleanlab raises 'Labels must contain at least 2 "
            "classes' here); their results are degenerate",
            UserWarning,
            stacklevel=stacklevel,
        )


# --------------------------------------------------------------------------- binary views


class BinaryProblem:
    """One class as a binary problem: is the class among an example's labels?

    ``given`` (bool) says it is, ``p`` is its predicted probability and ``q = 1 - p``
    (in the dtype of ``p``, as cleanlab computes it). ``labels`` (0/1), ``groups`` (the
    rows labelled 0 and 1) and ``pred_probs`` (the (n_samples, 2) array ``(q, p)``) are
    what the single-label routines of :mod:`core.count` and :mod:`core.filter` take.
    """

    def __init__(self, given: np.ndarray, p: np.ndarray) -> None:
        self.given = given
        self.p = p
        self.q = 1 - p
        self.labels = given.astype(np.intp)
        self.groups = [np.flatnonzero(~given), np.flatnonzero(given)]
        self.pred_probs = np.vstack((self.q, p)).T

    def counts(self) -> np.ndarray:
        """Examples labelled 0 and 1."""
        return np.array([len(self.groups[0]), len(self.groups[1])], dtype=np.int64)

    def thresholds(self) -> np.ndarray:
        """``core.count._thresholds`` of this problem: mean ``q`` of the 0s, mean ``p`` of
        the 1s (a class with no examples gets MISSING_CLASS_THRESHOLD), clipped below."""
        means = [
            np.mean(values[rows]) if len(rows) else MISSING_CLASS_THRESHOLD
            for values, rows in ((self.q, self.groups[0]), (self.p, self.groups[1]))
        ]
        # From a list of scalars, as core.count builds it, so the dtype is the same.
        return np.clip(means, a_min=CONFIDENT_THRESHOLDS_LOWER_BOUND, a_max=None)

    def confident_joint(self, thresholds: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """``core.count._confident_joint_and_off_diagonals`` of this problem (uncalibrated
        2x2 joint, rows off its diagonal), computed with two comparisons per row.

        A row is confident in 0 when ``q >= t0 - eps`` and in 1 when ``p >= t1 - eps``;
        confident in both, it goes to the larger of ``q`` and ``p`` (ties to 0, as argmax).
        """
        cut = np.asarray(self.thresholds() if thresholds is None else thresholds)
        cut = cut - FLOATING_POINT_COMPARISON
        in_absent = self.q >= cut[0]
        in_present = self.p >= cut[1]
        confident = in_absent | in_present
        guess = in_present & (~in_absent | (self.p > self.q))
        cells = (2 * guess.astype(np.intp) + self.labels)[confident]  # [true][given]
        joint = np.bincount(cells, minlength=4).reshape(2, 2).T.astype(np.int64)
        np.fill_diagonal(joint, joint.diagonal().clip(min=1))
        return joint, np.flatnonzero(confident & (guess != self.given))

    def argmax_is_given(self, rows: np.ndarray) -> np.ndarray:
        """``core._util.argmax_is_given`` for these rows: the given side wins with a head
        start of FLOATING_POINT_COMPARISON (ties go to 0, as argmax)."""
        given = self.given[rows]
        p, q = self.p[rows], self.q[rows]
        return np.where(
            given, p + FLOATING_POINT_COMPARISON > q, q + FLOATING_POINT_COMPARISON >= p
        )


#: Columns of pred_probs are copied out (transposed, contiguous) this many bytes at a time:
#: fast to read class by class, without a second copy of the whole array.
_COLUMN_BLOCK_BYTES = 1 << 22


def binary_problems(onehot: np.ndarray, pred_probs: np.ndarray) -> Iterator[BinaryProblem]:
    """Yield the :class:`BinaryProblem` of each class, in order."""
    num_rows, num_classes = pred_probs.shape
    step = max(1, _COLUMN_BLOCK_BYTES // max(1, num_rows * pred_probs.itemsize))
    for start in range(0, num_classes, step):
        given_block = np.ascontiguousarray(onehot[:, start : start + step].T)
        probs_block = np.ascontiguousarray(pred_probs[:, start : start + step].T)
        for given, p in zip(given_block, probs_block, strict=True):
            yield BinaryProblem(given, p)


# --------------------------------------------------------------------------- counts


def class_thresholds(onehot: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """Per-class binary confident thresholds, shape (K, 2): ``[t(absent), t(present)]``."""
    out = np.empty((onehot.shape[1], 2))
    for k, problem in enumerate(binary_problems(onehot, pred_probs)):
        out[k] = problem.thresholds()
    return out


def confident_joints(
    onehot: np.ndarray,
    pred_probs: np.ndarray,
    *,
    class_thresholds: np.ndarray | None = None,
    calibrate: bool = True,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """One-vs-rest confident joints (K, 2, 2) and, per class, the off-diagonal rows.

    ``class_thresholds`` of shape (K, 2) overrides the thresholds of each class.
    """
    joints = np.empty((onehot.shape[1], 2, 2), dtype=np.int64)
    off_diagonals = []
    for k, problem in enumerate(binary_problems(onehot, pred_probs)):
        cut = None if class_thresholds is None else class_thresholds[k]
        joint, rows = problem.confident_joint(cut)
        joints[k] = _calibrate(joint, problem.counts()) if calibrate else joint
        off_diagonals.append(rows)
    return joints, off_diagonals


def calibrate_joints(joints: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """Calibrate each class's 2x2 joint to that class's binary label counts (K, 2, 2)."""
    present = onehot.sum(axis=0).astype(np.int64)
    out = np.empty(joints.shape, dtype=np.int64)
    for k, joint in enumerate(joints):
        out[k] = _calibrate(joint, np.array([len(onehot) - present[k], present[k]]))
    return out


def confident_learning_mask(onehot: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """Rows off the diagonal of some class's confident joint whose binary argmax (with
    the given side's head start) disagrees with the given side: a boolean mask (N,).

    This is cleanlab's multi-label ``filter_by='confident_learning'``, and what
    ``num_label_issues(..., multi_label=True)`` counts.
    """
    mask = np.zeros(len(onehot), dtype=bool)
    for problem in binary_problems(onehot, pred_probs):
        _, rows = problem.confident_joint()
        mask[rows[~problem.argmax_is_given(rows)]] = True
    return mask


def check_joints(
    confident_joint: Any, num_classes: int, *, name: str = "confident_joint"
) -> np.ndarray:
    """Return a one-vs-rest confident joint as a finite numeric array of shape (K, 2, 2)."""
    arr = np.asarray(confident_joint)
    if arr.shape != (num_classes, 2, 2):
        raise ValueError(
            f"{name} must have shape ({num_classes}, 2, 2) with multi_label=True: one 2x2 "
            "joint per class, as compute_confident_joint(..., multi_label=True) returns; "
            f"got shape {arr.shape}"
        )
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr
