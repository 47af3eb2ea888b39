"""The ``multi_label=True`` paths of :mod:`core.count` and :mod:`core.filter` (private).

Each function validates its inputs once and answers from the per-class binary problems
of :mod:`core._multilabel`, with cleanlab 2.x's shapes: thresholds (K, 2), confident
joints and joints (K, 2, 2), and one count or mask over the examples.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from core._multilabel import (
    calibrate_joints,
    check_joints,
    class_thresholds,
    confident_joints,
    confident_learning_mask,
    labels_to_onehot,
    validate_multilabel,
)
from core.constants import TINY_VALUE


def predicted_neq_given(labels: Any, pred_probs: Any) -> np.ndarray:
    """``core.filter.find_predicted_neq_given(..., multi_label=True)``: examples where the
    binary argmax of some class (present when ``p > 1 - p``) disagrees with its labels."""
    onehot, probs = validate_multilabel(labels, pred_probs)
    return np.asarray(((probs > 1 - probs) != onehot).any(axis=1))


def get_confident_thresholds(labels: Any, pred_probs: Any) -> np.ndarray:
    """``core.count.get_confident_thresholds(..., multi_label=True)``: shape (K, 2)."""
    onehot, probs = validate_multilabel(labels, pred_probs)
    return class_thresholds(onehot, probs)


def compute_confident_joint(
    labels: Any,
    pred_probs: Any,
    *,
    thresholds: Any = None,
    calibrate: bool = True,
    return_indices_of_off_diagonals: bool = False,
) -> np.ndarray | tuple[np.ndarray, list[np.ndarray]]:
    """``core.count.compute_confident_joint(..., multi_label=True)``: shape (K, 2, 2).

    ``thresholds`` of shape (2,) apply to every class (as in cleanlab); shape (K, 2), as
    :func:`get_confident_thresholds` returns, gives each class its own.
    """
    onehot, probs = validate_multilabel(labels, pred_probs)
    num_classes = probs.shape[1]
    per_class = None
    if thresholds is not None:
        given = np.asarray(thresholds)
        if given.shape == (2,):
            per_class = np.broadcast_to(given, (num_classes, 2))
        elif given.shape == (num_classes, 2):
            per_class = given
        else:
            raise ValueError(
                "thresholds must have shape (2,) (the same for every class) or "
                f"({num_classes}, 2) (one pair per class) with multi_label=True; "
                f"got shape {given.shape}"
            )
    joints, off_diagonals = confident_joints(
        onehot, probs, class_thresholds=per_class, calibrate=calibrate
    )
    if return_indices_of_off_diagonals:
        return joints, off_diagonals
    return joints


def calibrate_confident_joint(confident_joint: Any, labels: Any) -> np.ndarray:
    """``core.count.calibrate_confident_joint(..., multi_label=True)``: shape (K, 2, 2).

    K is ``len(confident_joint)`` (cleanlab takes the number of distinct classes in
    ``labels``, which breaks when a class is never given).
    """
    joints = np.asarray(confident_joint)
    joints = check_joints(joints, len(joints) if joints.ndim else 0)
    return calibrate_joints(joints, labels_to_onehot(labels, len(joints)))


def estimate_joint(labels: Any, pred_probs: Any, confident_joint: Any = None) -> np.ndarray:
    """``core.count.estimate_joint(..., multi_label=True)``: per class, the calibrated
    2x2 joint over its total; shape (K, 2, 2), each 2x2 summing to 1."""
    if confident_joint is None:
        if pred_probs is None:
            raise ValueError("estimate_joint needs labels and pred_probs, or a confident_joint")
        onehot, probs = validate_multilabel(labels, pred_probs)
        joints = confident_joints(onehot, probs, calibrate=True)[0]
    else:
        joints = np.asarray(confident_joint)
        joints = check_joints(joints, len(joints) if joints.ndim else 0)
        if pred_probs is None:
            onehot = labels_to_onehot(labels, len(joints))
        else:
            onehot, probs = validate_multilabel(labels, pred_probs)
            check_joints(joints, probs.shape[1])
    calibrated = calibrate_joints(joints, onehot)
    totals = np.clip(calibrated.sum(axis=(1, 2)).astype(float), a_min=TINY_VALUE, a_max=None)
    return calibrated / totals[:, None, None]


def num_label_issues(
    labels: Any, pred_probs: Any, *, confident_joint: Any, estimation_method: str
) -> int:
    """``core.count.num_label_issues(..., multi_label=True)``: the examples flagged by
    ``filter_by='confident_learning'`` in some class. As in cleanlab, ``estimation_method``
    and ``confident_joint`` do not change the count; both warn when they would."""
    if confident_joint is not None:
        warnings.warn(
            "confident_joint is ignored with multi_label=True: the count re-estimates each "
            "class's confident joint from labels and pred_probs (as cleanlab does)",
            UserWarning,
            stacklevel=3,
        )
    if estimation_method != "off_diagonal":
        warnings.warn(
            f"estimation_method={estimation_method!r} is ignored with multi_label=True; the "
            "count is always 'off_diagonal' (as in cleanlab)",
            UserWarning,
            stacklevel=3,
        )
    onehot, probs = validate_multilabel(labels, pred_probs)
    return int(confident_learning_mask(onehot, probs).sum())
