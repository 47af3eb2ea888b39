"""Input validation at the public boundary of :mod:`core`.

Every public function validates once, here, and raises a ``TypeError`` (wrong kind of
object) or ``ValueError`` (wrong values) whose message names the argument, what was
expected and what arrived. Internal helpers trust their inputs.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from core.constants import PROBABILITY_TOLERANCE, ROW_SUM_TOLERANCE


def labels_to_array(labels: Any, *, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as a 1-D array, without checking its values."""
    if isinstance(labels, pd.DataFrame):
        if labels.shape[1] != 1:
            raise ValueError(f"{name} must be 1-D; got a DataFrame with {labels.shape[1]} columns")
        return labels.to_numpy().ravel()
    if isinstance(labels, pd.Series):
        return labels.to_numpy()
    if isinstance(labels, (str, bytes, dict, set)) or labels is None:
        raise TypeError(
            f"{name} must be a list, numpy array or pandas Series of integer class labels; "
            f"got {type(labels).__name__}"
        )
    try:
        arr = np.asarray(labels)
    except (TypeError, ValueError) as err:  # ragged lists
        raise ValueError(f"{name} must be convertible to a 1-D array: {err}") from None
    return arr


def validate_labels(
    labels: Any, *, num_classes: int | None = None, name: str = "labels"
) -> np.ndarray:
    """Return ``labels`` as a 1-D ``intp`` array of class indices in ``0..num_classes-1``."""
    arr = labels_to_array(labels, name=name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D of shape (n_samples,); got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; at least one example is needed")
    if arr.dtype.kind in "US" or (arr.dtype == object and any(isinstance(v, str) for v in arr)):
        raise ValueError(
            f"{name} must be integer class indices 0..K-1; got strings (e.g. {arr[0]!r}). "
            "Map them to integers first, or use core.classification.CleanLearning, "
            "which accepts any hashable labels."
        )
    if arr.dtype.kind == "b":
        arr = arr.astype(np.intp)
    if arr.dtype.kind not in "iuf":
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} must hold integer class indices; got dtype {arr.dtype}"
            ) from None
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite values")
        if not np.all(np.mod(arr, 1) == 0):
            bad = arr[np.mod(arr, 1) != 0][0]
            raise ValueError(f"{name} must be integer class indices 0..K-1; got {bad!r}")
    lo, hi = arr.min(), arr.max()
    if lo < 0:
        raise ValueError(f"{name} must be class indices 0..K-1; got negative label {lo}")
    if num_classes is not None and hi >= num_classes:
        raise ValueError(
            f"{name} must be class indices 0..{num_classes - 1} "
            f"(K = {num_classes} classes); got label {hi}"
        )
    return arr.astype(np.intp, copy=False)


def validate_pred_probs(
    pred_probs: Any, *, name: str = "pred_probs", rows_sum_to_one: bool = True
) -> np.ndarray:
    """Return ``pred_probs`` as a 2-D float array whose rows are probability vectors.

    float32 input stays float32 (as in cleanlab, arithmetic is done in the input dtype).
    With ``rows_sum_to_one=False`` (multi-label: one probability per class, independently)
    only the values are checked, not the row sums.
    """
    if isinstance(pred_probs, (pd.DataFrame, pd.Series)):
        pred_probs = pred_probs.to_numpy()
    if not isinstance(pred_probs, (np.ndarray, list, tuple)):
        raise TypeError(
            f"{name} must be a numpy array of shape (n_samples, n_classes); "
            f"got {type(pred_probs).__name__}"
        )
    arr = np.asarray(pred_probs)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_classes); got shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty; got shape {arr.shape}")
    lo, hi = arr.min(), arr.max()  # NaN propagates into both; inf shows in one
    if not (np.isfinite(lo) and np.isfinite(hi)):
        row = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise ValueError(f"{name} contains NaN or infinite values (first in row {row})")
    if lo < -PROBABILITY_TOLERANCE or hi > 1 + PROBABILITY_TOLERANCE:
        raise ValueError(
            f"{name} values must be probabilities in [0, 1] (within {PROBABILITY_TOLERANCE} for "
            f"float rounding); got min {lo}, max {hi}"
        )
    if not rows_sum_to_one:
        return arr
    sums = arr @ np.ones(arr.shape[1], dtype=arr.dtype)  # BLAS: far faster than sum(axis=1)
    bad = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} rows must sum to 1 (they are predicted class probabilities); "
            f"row {row} sums to {sums[row]:.6g} ({int(bad.sum())} rows off by more than "
            f"{ROW_SUM_TOLERANCE})"
        )
    return arr


def validate_labels_and_pred_probs(
    labels: Any, pred_probs: Any, *, allow_one_class: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a ``(labels, pred_probs)`` pair and return them as arrays.

    A single distinct class is legal but degenerate: it warns (``allow_one_class``) or
    raises.
    """
    probs = validate_pred_probs(pred_probs)
    arr = validate_labels(labels, num_classes=probs.shape[1])
    if len(arr) != len(probs):
        raise ValueError(
            "labels and pred_probs must have the same length; "
            f"got {len(arr)} labels and {len(probs)} rows of pred_probs"
        )
    if arr.min() == arr.max():
        msg = f"labels contain a single class ({arr[0]}); every example has the same label"
        if not allow_one_class:
            raise ValueError(msg + ", so there is nothing to compare it with")
        warnings.warn(msg + "; results are degenerate", UserWarning, stacklevel=3)
    return arr, probs


def refuse_legacy_multi_label(multi_label: bool) -> None:
    """The cleanlab 1.x names refuse ``multi_label=True``: 1.x counted multi-label data in
    one K x K joint, where 2.x and core count each class in a (K, 2, 2) one."""
    if multi_label:
        raise NotImplementedError(
            "multi_label=True is not supported by the cleanlab 1.x names (1.x counted "
            "multi-label data in one K x K joint; 2.x and core give each class its own 2x2 "
            "joint); use core.multilabel_classification, or core.count / core.filter with "
            "multi_label=True"
        )


class ValueAssertionError(ValueError, AssertionError):
    """A bad value where cleanlab raises ``AssertionError``: catchable as either, so code
    written for cleanlab (``except AssertionError``) and for us (``except ValueError``) works."""


class TypeAssertionError(TypeError, AssertionError):
    """A wrong type where cleanlab raises ``AssertionError``: catchable as either."""


class TypeValueError(TypeError, ValueError):
    """A wrong type where cleanlab raises ``ValueError``: catchable as either."""


def check_option(name: str, value: Any, allowed: tuple[str, ...] | list[str]) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is one of ``allowed``.

    The message also carries cleanlab's wording ("... is not a valid estimation method",
    "should be ...") so code that matches cleanlab's messages keeps working.
    """
    if value not in allowed:
        raise ValueError(
            f"{name} must be one of {sorted(allowed)}; got {value!r}, which is not a valid "
            f"{name.replace('_', ' ')} (it should be one of those)"
        )


def check_positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise naming ``name`` if it is not an int >= minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def warn_unused(reason: str, given: dict[str, tuple[Any, Any]], *, stacklevel: int = 3) -> None:
    """Warn (UserWarning, cleanlab's wording) for each option set away from its default
    that ``reason`` makes meaningless: ``given`` maps a name to ``(value, default)``."""
    for name, (value, default) in given.items():
        if value is default:
            continue
        if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
            same = False
        else:
            try:
                same = bool(value == default)
            except (TypeError, ValueError):
                same = False
        if not same:
            warnings.warn(
                f"`{name}` is not used when {reason}.", UserWarning, stacklevel=stacklevel
            )
