"""Count label errors: confident thresholds, the confident joint, and noise matrices.

Implements Section 3 of Northcutt, Jiang & Chuang, "Confident Learning: Estimating
Uncertainty in Dataset Labels", JAIR 70 (2021) [CL]. Names and signatures mirror
``cleanlab.count`` (2.x) and results are identical to it; the docstrings note where
cleanlab's code (which we follow) differs from the paper.

Notation: ``labels`` are the given (noisy) labels ``s``; ``pred_probs`` are out-of-sample
predicted probabilities ``p̂(y = j | x)`` of shape ``(n_samples, n_classes)``. The
*confident joint* ``C[i][j]`` counts examples given label ``i`` whose true label is
confidently ``j``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, Literal, overload

import numpy as np
import sklearn.base
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from core._util import (
    argmax_is_given,
    clip_noise_rates,
    clip_values,
    group_by_label,
    label_counts,
    round_preserving_row_totals,
)
from core._validation import (
    check_option,
    check_positive_int,
    validate_labels,
    validate_labels_and_pred_probs,
)
from core.constants import (
    CLIPPING_LOWER_BOUND,
    CONFIDENT_THRESHOLDS_LOWER_BOUND,
    FLOATING_POINT_COMPARISON,
    MISSING_CLASS_THRESHOLD,
    TINY_VALUE,
)
from core.typing import DatasetLike, LabelLike, MultiLabelLike

__all__ = [
    "calibrate_confident_joint",
    "compute_confident_joint",
    "compute_inv_noise_matrix",
    "estimate_confident_joint_and_cv_pred_proba",
    "estimate_cv_predicted_probabilities",
    "estimate_joint",
    "estimate_latent",
    "estimate_noise_matrices",
    "estimate_py_and_noise_matrices_from_probabilities",
    "estimate_py_noise_matrices_and_cv_pred_proba",
    "get_confident_thresholds",
    "num_label_issues",
]

#: Rows processed at once when scanning pred_probs: keeps temporaries small and in cache.
_CHUNK_ROWS = 1 << 15

_NUM_ISSUES_METHODS = ("off_diagonal", "off_diagonal_calibrated", "off_diagonal_custom")
_PY_METHODS = ("cnt", "eqn", "marginal", "marginal_ps")


def _multilabel() -> Any:
    """:mod:`core._multilabel_count`, imported when first needed (it imports this module)."""
    import core._multilabel_count

    return core._multilabel_count


# --------------------------------------------------------------------------- thresholds


def _thresholds(
    labels: np.ndarray, pred_probs: np.ndarray, groups: list[np.ndarray] | None = None
) -> np.ndarray:
    """Per-class mean self-confidence (the t_j of [CL], eq. 2), for validated inputs.

    ``groups`` (from :func:`core._util.group_by_label`) saves regrouping when the caller
    already has them.
    """
    num_classes = pred_probs.shape[1]
    if groups is None:
        groups = group_by_label(labels, num_classes)
    per_class = []
    for k, rows in enumerate(groups):
        if len(rows):
            per_class.append(np.mean(pred_probs[rows, k]))
        else:
            per_class.append(MISSING_CLASS_THRESHOLD)
    # Built from a list of scalars, as cleanlab does, so the dtype (and thus every
    # comparison made against these thresholds) is the same as cleanlab's.
    return np.clip(per_class, a_min=CONFIDENT_THRESHOLDS_LOWER_BOUND, a_max=None)


def get_confident_thresholds(
    labels: LabelLike | MultiLabelLike, pred_probs: np.ndarray, multi_label: bool = False
) -> np.ndarray:
    """Return the per-class confident thresholds ``t_j``.

    ``t_j`` is the mean predicted probability of class ``j`` over the examples given
    label ``j`` ([CL], eq. 2). A class never given gets a threshold of 2, above any
    probability, so no example is ever confidently counted in it. Thresholds are clipped
    from below at ``CONFIDENT_THRESHOLDS_LOWER_BOUND``.

    Parameters
    ----------
    labels : array_like of shape (n_samples,)
        Given labels, integers in ``0..K-1``.
    pred_probs : np.ndarray of shape (n_samples, n_classes)
        Out-of-sample predicted probabilities.
    multi_label : bool, default=False
        ``labels`` are lists of class indices per example (``[[0, 2], [1], []]``) and
        ``pred_probs`` one probability per class; each class is its own binary problem
        (given / not given) and the result has shape ``(n_classes, 2)``: the thresholds
        of "not given" and "given".

    Returns
    -------
    np.ndarray of shape (n_classes,), or (n_classes, 2) when ``multi_label``

    Examples
    --------
    >>> import numpy as np
    >>> get_confident_thresholds([0, 0, 1], np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8]]))
    array([0.8, 0.8])
    """
    if multi_label:
        return _multilabel().get_confident_thresholds(labels, pred_probs)
    labels_arr, probs = validate_labels_and_pred_probs(labels, pred_probs)
    return _thresholds(labels_arr, probs)


# --------------------------------------------------------------------------- confident joint


def _confident_true_label_guess(
    pred_probs: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return (guessed true label per row, whether the row is confident in any class).

    A row is confident in class j when ``p_j >= t_j - FLOATING_POINT_COMPARISON``. Rows
    confident in exactly one class get that class; rows confident in several get the
    argmax of the whole row (cleanlab's code; the paper takes the argmax among the
    confident classes only, and the two differ when the overall argmax is not confident).

    Whenever the row's argmax is itself confident, both rules give the argmax, so the
    per-class comparisons are only made for the (usually few) other rows.
    """
    n = len(pred_probs)
    cutoff = thresholds - FLOATING_POINT_COMPARISON
    guess = np.empty(n, dtype=np.intp)
    confident = np.empty(n, dtype=bool)
    for start in range(0, n, _CHUNK_ROWS):
        block = pred_probs[start : start + _CHUNK_ROWS]
        top = block.argmax(axis=1)
        top_confident = block[np.arange(len(block)), top] >= cutoff[top]
        unsure = np.flatnonzero(~top_confident)
        passes = pred_probs[start + unsure] >= cutoff
        count = np.count_nonzero(passes, axis=1)
        top[unsure] = np.where(count > 1, top[unsure], passes.argmax(axis=1))
        top_confident[unsure] = count > 0
        guess[start : start + len(block)] = top
        confident[start : start + len(block)] = top_confident
    return guess, confident


def _confident_joint_and_off_diagonals(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    thresholds: np.ndarray | None = None,
    *,
    groups: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Uncalibrated confident joint (diagonal >= 1) and the rows off its diagonal."""
    k = pred_probs.shape[1]
    if thresholds is None:
        thresholds = _thresholds(labels, pred_probs, groups)
    guess, confident = _confident_true_label_guess(pred_probs, np.asarray(thresholds))
    given = labels[confident]
    true = guess[confident]
    # Counted as [true][given] and transposed: the (Fortran-ordered) layout changes the
    # summation order of later column sums, and so their last bits; this keeps them
    # identical to cleanlab's.
    joint = np.bincount(true * k + given, minlength=k * k).reshape(k, k).astype(np.int64).T
    if not confident.any():
        warnings.warn(
            "no example is confidently in any class (every pred_probs value is below its "
            "class threshold); the confident joint is empty",
            UserWarning,
            stacklevel=3,
        )
    if k == 2:
        ties = int(np.count_nonzero(pred_probs[:, 0] == pred_probs[:, 1]))
        if ties:
            warnings.warn(
                f"{ties} rows of pred_probs are exact ties between the two classes; "
                "argmax breaks ties toward class 0, so they are counted as class 0",
                UserWarning,
                stacklevel=3,
            )
    # cleanlab's code (not the paper): every class counts at least one correct example.
    np.fill_diagonal(joint, joint.diagonal().clip(min=1))
    off_diagonal = np.flatnonzero(confident)[true != given]
    return joint, off_diagonal


def _calibrate(confident_joint: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Calibrate rows to the label counts, then the total to N ([CL], eq. 4)."""
    row_sums = np.clip(confident_joint.sum(axis=1), a_min=TINY_VALUE, a_max=None)
    calibrated = (confident_joint.T / row_sums * counts).T
    calibrated = calibrated / np.clip(np.sum(calibrated), a_min=TINY_VALUE, a_max=None)
    calibrated = calibrated * sum(counts)
    return round_preserving_row_totals(calibrated)


@overload
def compute_confident_joint(
    labels: LabelLike | MultiLabelLike,
    pred_probs: np.ndarray,
    *,
    thresholds: np.ndarray | list[float] | None = ...,
    calibrate: bool = ...,
    multi_label: bool = ...,
    return_indices_of_off_diagonals: Literal[False] = ...,
) -> np.ndarray: ...


@overload
def compute_confident_joint(
    labels: LabelLike | MultiLabelLike,
    pred_probs: np.ndarray,
    *,
    thresholds: np.ndarray | list[float] | None = ...,
    calibrate: bool = ...,
    multi_label: bool = ...,
    return_indices_of_off_diagonals: Literal[True],
) -> tuple[np.ndarray, np.ndarray | list[np.ndarray]]: ...


def compute_confident_joint(
    labels: LabelLike | MultiLabelLike,
    pred_probs: np.ndarray,
    *,
    thresholds: np.ndarray | list[float] | None = None,
    calibrate: bool = True,
    multi_label: bool = False,
    return_indices_of_off_diagonals: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray | list[np.ndarray]]:
    """Estimate the confident joint ``C[given][true]`` ([CL], eq. 3).

    Each example whose predicted probability reaches its class threshold in at least one
    class is counted in row ``labels[i]`` and column "its confident class". Following
    cleanlab's code rather than the paper, an example confident in several classes is
    counted under the argmax of its whole row, and every diagonal entry is raised to at
    least 1.

    Parameters
    ----------
    labels : array_like of shape (n_samples,)
        Given labels, integers in ``0..K-1``.
    pred_probs : np.ndarray of shape (n_samples, n_classes)
        Out-of-sample predicted probabilities; rows sum to 1.
    thresholds : array_like of shape (n_classes,), optional
        Per-class thresholds; default :func:`get_confident_thresholds`. With
        ``multi_label``: shape (2,), used for every class (as cleanlab does), or
        (n_classes, 2), one pair per class.
    calibrate : bool, default=True
        Calibrate so that row ``i`` sums to the number of examples given label ``i``
        (:func:`calibrate_confident_joint`).
    multi_label : bool, default=False
        ``labels`` are lists of class indices per example and ``pred_probs`` one
        probability per class (rows need not sum to 1). Each class is a binary problem
        (0: not given, 1: given; ``pred_probs`` ``(1 - p_k, p_k)``) and its 2x2 confident
        joint is entry ``k`` of the result, of shape ``(n_classes, 2, 2)``.
    return_indices_of_off_diagonals : bool, default=False
        Also return the indices of the confidently counted examples whose confident class
        differs from their given label (with ``multi_label``, a list: one array per class).

    Returns
    -------
    confident_joint : np.ndarray of shape (n_classes, n_classes), int
        Or (n_classes, 2, 2) with ``multi_label``.
    indices : np.ndarray of shape (n_off_diagonal,), or a list of them
        Only when ``return_indices_of_off_diagonals``.

    Raises
    ------
    ValueError
        If labels and pred_probs are inconsistent or not probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.9, 0.1]])
    >>> compute_confident_joint([0, 0, 1, 1], probs)
    array([[2, 0],
           [1, 1]])
    """
    if multi_label:
        return _multilabel().compute_confident_joint(
            labels,
            pred_probs,
            thresholds=thresholds,
            calibrate=calibrate,
            return_indices_of_off_diagonals=return_indices_of_off_diagonals,
        )
    labels_arr, probs = validate_labels_and_pred_probs(labels, pred_probs)
    if thresholds is not None:
        thresholds = np.asarray(thresholds)
        if thresholds.shape != (probs.shape[1],):
            raise ValueError(
                f"thresholds must have shape ({probs.shape[1]},), one per class; "
                f"got shape {thresholds.shape}"
            )
    joint, off_diagonal = _confident_joint_and_off_diagonals(labels_arr, probs, thresholds)
    if calibrate:
        joint = _calibrate(joint, label_counts(labels_arr, probs.shape[1]))
    if return_indices_of_off_diagonals:
        return joint, off_diagonal
    return joint


def _validate_square(name: str, matrix: Any) -> np.ndarray:
    arr = np.asarray(matrix)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square (K, K) matrix; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def calibrate_confident_joint(
    confident_joint: np.ndarray, labels: LabelLike | MultiLabelLike, *, multi_label: bool = False
) -> np.ndarray:
    """Calibrate a confident joint so that row ``i`` sums to the count of label ``i``.

    Rows are scaled to the given-label counts, the whole matrix to ``n_samples``, and the
    result is rounded to integers preserving each row total ([CL], eq. 4).

    Parameters
    ----------
    confident_joint : np.ndarray of shape (n_classes, n_classes)
        Or (n_classes, 2, 2) with ``multi_label``.
    labels : array_like of shape (n_samples,)
    multi_label : bool, default=False
        Calibrate each class's 2x2 joint to that class's counts of "not given" and
        "given" (see :func:`compute_confident_joint`); ``labels`` are lists of class
        indices and there are ``len(confident_joint)`` classes.

    Returns
    -------
    np.ndarray of shape (n_classes, n_classes), or (n_classes, 2, 2), int

    Examples
    --------
    >>> import numpy as np
    >>> calibrate_confident_joint(np.array([[2, 0], [1, 1]]), [0, 0, 0, 1, 1])
    array([[3, 0],
           [1, 1]])
    """
    if multi_label:
        return _multilabel().calibrate_confident_joint(confident_joint, labels)
    joint = _validate_square("confident_joint", confident_joint)
    labels_arr = validate_labels(labels, num_classes=len(joint))
    return _calibrate(joint, label_counts(labels_arr, len(joint)))


def estimate_joint(
    labels: LabelLike | MultiLabelLike | None,
    pred_probs: np.ndarray | None,
    *,
    confident_joint: np.ndarray | None = None,
    multi_label: bool = False,
) -> np.ndarray:
    """Estimate the joint distribution ``Q[given][true]``: the calibrated joint over N.

    Parameters
    ----------
    labels : array_like of shape (n_samples,) or None
        Given labels. When None, ``confident_joint`` is taken as already calibrated.
    pred_probs : np.ndarray of shape (n_samples, n_classes)
        Used only when ``confident_joint`` is None.
    confident_joint : np.ndarray of shape (n_classes, n_classes), optional
        An (uncalibrated) confident joint; calibrated here against ``labels``.
    multi_label : bool, default=False
        One 2x2 joint per class, each summing to 1 (see :func:`compute_confident_joint`);
        ``labels`` (lists of class indices) are then required.

    Returns
    -------
    np.ndarray of shape (n_classes, n_classes), or (n_classes, 2, 2)
        Entries sum to 1 (per class with ``multi_label``).
    """
    if multi_label:
        return _multilabel().estimate_joint(labels, pred_probs, confident_joint)
    if confident_joint is None:
        if labels is None or pred_probs is None:
            raise ValueError("estimate_joint needs labels and pred_probs, or a confident_joint")
        calibrated = compute_confident_joint(labels, pred_probs, calibrate=True)
    elif labels is not None:
        calibrated = calibrate_confident_joint(confident_joint, labels)
    else:
        calibrated = _validate_square("confident_joint", confident_joint)
    return calibrated / np.clip(float(np.sum(calibrated)), a_min=TINY_VALUE, a_max=None)


# --------------------------------------------------------------------------- latent estimates


def _compute_py(
    ps: np.ndarray,
    noise_matrix: np.ndarray,
    inverse_noise_matrix: np.ndarray,
    *,
    py_method: str = "cnt",
    true_labels_class_counts: np.ndarray | None = None,
) -> np.ndarray:
    """Prior of the true labels ``p(y)`` by one of the methods of [CL], Section 3."""
    check_option("py_method", py_method, _PY_METHODS)
    if py_method == "cnt":
        diag = np.clip(noise_matrix.diagonal(), a_min=TINY_VALUE, a_max=None)
        py = inverse_noise_matrix.diagonal() / diag * ps
    elif py_method == "eqn":
        py = np.linalg.inv(noise_matrix).dot(ps)
    elif py_method == "marginal":
        if true_labels_class_counts is None:
            raise ValueError("py_method='marginal' needs true_labels_class_counts")
        total = np.clip(float(sum(true_labels_class_counts)), a_min=TINY_VALUE, a_max=None)
        py = true_labels_class_counts / total
    else:  # marginal_ps
        py = np.dot(inverse_noise_matrix, ps)
    return clip_values(py, low=CLIPPING_LOWER_BOUND, high=1.0, new_sum=1.0)


def _inverse_from_noise(py: np.ndarray, noise_matrix: np.ndarray, ps: np.ndarray) -> np.ndarray:
    joint = noise_matrix * py
    inverse = joint.T / np.clip(ps, a_min=TINY_VALUE, a_max=None)
    return clip_noise_rates(inverse)


def compute_inv_noise_matrix(
    py: np.ndarray, noise_matrix: np.ndarray, *, ps: np.ndarray | None = None
) -> np.ndarray:
    """Return the inverse noise matrix P(true label = row | given label = column).

    Bayes' rule over the noise matrix: ``inv[j, i] = noise_matrix[i, j] * py[j] / ps[i]``,
    noise rates then clipped into [0, 1) with columns summing to 1, as cleanlab does.

    Parameters
    ----------
    py : np.ndarray, shape ``(n_classes,)``
        Prior of the true labels, P(true label = k).
    noise_matrix : np.ndarray, shape ``(n_classes, n_classes)``
        P(given label = row | true label = column).
    ps : np.ndarray of shape ``(n_classes,)``, optional
        Prior of the given labels, P(given label = k); by default ``noise_matrix @ py``.

    Returns
    -------
    np.ndarray, shape ``(n_classes, n_classes)``

    Raises
    ------
    ValueError
        When ``noise_matrix`` is not square and finite, or ``py`` / ``ps`` do not have one
        entry per class.

    Examples
    --------
    >>> compute_inv_noise_matrix(np.array([0.5, 0.5]), np.array([[0.9, 0.2], [0.1, 0.8]]))
    array([[0.81818182, 0.11111111],
           [0.18181818, 0.88888889]])
    """
    noise = _validate_square("noise_matrix", noise_matrix)
    prior = np.asarray(py, dtype=float)
    if prior.shape != (noise.shape[0],):
        raise ValueError(f"py must have one entry per class ({noise.shape[0]}); got {prior.shape}")
    given = noise.dot(prior) if ps is None else np.asarray(ps, dtype=float)
    if given.shape != prior.shape:
        raise ValueError(f"ps must have one entry per class ({noise.shape[0]}); got {given.shape}")
    return _inverse_from_noise(prior, noise, given)


def _noise_from_inverse(ps: np.ndarray, inverse: np.ndarray, py: np.ndarray) -> np.ndarray:
    joint = (inverse * ps).T
    noise = joint / np.clip(py, a_min=TINY_VALUE, a_max=None)
    return clip_noise_rates(noise)


def _converge_estimates(
    ps: np.ndarray,
    py: np.ndarray,
    noise_matrix: np.ndarray,
    inverse_noise_matrix: np.ndarray,
    *,
    inv_noise_matrix_iterations: int = 5,
    noise_matrix_iterations: int = 3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Alternate the latent-algebra identities until py and both matrices agree."""
    for _ in range(noise_matrix_iterations):
        for _ in range(inv_noise_matrix_iterations):
            inverse_noise_matrix = _inverse_from_noise(py, noise_matrix, ps)
            py = _compute_py(ps, noise_matrix, inverse_noise_matrix)
        noise_matrix = _noise_from_inverse(ps, inverse_noise_matrix, py)
    return py, noise_matrix, inverse_noise_matrix


def estimate_latent(
    confident_joint: np.ndarray,
    labels: np.ndarray,
    *,
    py_method: str = "cnt",
    converge_latent_estimates: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimate ``p(y)``, the noise matrix ``p(s|y)`` and the inverse ``p(y|s)``.

    Parameters
    ----------
    confident_joint : np.ndarray of shape (n_classes, n_classes)
        ``C[given][true]``, usually calibrated.
    labels : array_like of shape (n_samples,)
        Given labels (for the prior ``p(s)``).
    py_method : {'cnt', 'eqn', 'marginal', 'marginal_ps'}, default='cnt'
        How to estimate ``p(y)`` ([CL], Section 3).
    converge_latent_estimates : bool, default=False
        Iterate the latent-algebra identities so the three estimates agree.

    Returns
    -------
    py : np.ndarray of shape (n_classes,)
    noise_matrix : np.ndarray of shape (n_classes, n_classes)
        ``P(label=i | true_label=j)``; columns sum to 1.
    inv_noise_matrix : np.ndarray of shape (n_classes, n_classes)
        ``P(true_label=i | label=j)``; columns sum to 1.
    """
    joint = _validate_square("confident_joint", confident_joint)
    check_option("py_method", py_method, _PY_METHODS)
    num_classes = len(joint)
    labels_arr = validate_labels(labels, num_classes=num_classes)
    ps = label_counts(labels_arr, num_classes) / float(len(labels_arr))
    given_counts = joint.sum(axis=1).astype(float)
    true_counts = joint.sum(axis=0).astype(float)
    noise_matrix = joint / np.clip(true_counts, a_min=TINY_VALUE, a_max=None)
    inv_noise_matrix = joint.T / np.clip(given_counts, a_min=TINY_VALUE, a_max=None)
    py = _compute_py(
        ps,
        noise_matrix,
        inv_noise_matrix,
        py_method=py_method,
        true_labels_class_counts=true_counts,
    )
    noise_matrix = clip_noise_rates(noise_matrix)
    inv_noise_matrix = clip_noise_rates(inv_noise_matrix)
    if converge_latent_estimates:
        py, noise_matrix, inv_noise_matrix = _converge_estimates(
            ps, py, noise_matrix, inv_noise_matrix
        )
        py = clip_values(py, low=1e-5, high=1.0, new_sum=1.0)
        noise_matrix = clip_noise_rates(noise_matrix)
        inv_noise_matrix = clip_noise_rates(inv_noise_matrix)
    return py, noise_matrix, inv_noise_matrix


def estimate_py_and_noise_matrices_from_probabilities(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    thresholds: np.ndarray | list[float] | None = None,
    converge_latent_estimates: bool = True,
    py_method: str = "cnt",
    calibrate: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Estimate ``p(y)``, noise matrix, inverse noise matrix and confident joint.

    Parameters
    ----------
    labels : array_like of shape (n_samples,)
    pred_probs : np.ndarray of shape (n_samples, n_classes)
    thresholds : array_like of shape (n_classes,), optional
    converge_latent_estimates : bool, default=True
    py_method : {'cnt', 'eqn', 'marginal', 'marginal_ps'}, default='cnt'
    calibrate : bool, default=True

    Returns
    -------
    py, noise_matrix, inv_noise_matrix, confident_joint
    """
    joint = compute_confident_joint(labels, pred_probs, thresholds=thresholds, calibrate=calibrate)
    py, noise_matrix, inv_noise_matrix = estimate_latent(
        joint,
        np.asarray(labels),
        py_method=py_method,
        converge_latent_estimates=converge_latent_estimates,
    )
    return py, noise_matrix, inv_noise_matrix, joint


# --------------------------------------------------------------------------- counting issues


def num_label_issues(
    labels: LabelLike | MultiLabelLike,
    pred_probs: np.ndarray,
    *,
    confident_joint: np.ndarray | None = None,
    estimation_method: str = "off_diagonal",
    multi_label: bool = False,
) -> int:
    """Estimate how many examples are mislabeled.

    Parameters
    ----------
    labels : array_like of shape (n_samples,)
    pred_probs : np.ndarray of shape (n_samples, n_classes)
    confident_joint : np.ndarray of shape (n_classes, n_classes), optional
        Used only by ``estimation_method='off_diagonal_custom'`` (warns otherwise).
    estimation_method : {'off_diagonal', 'off_diagonal_calibrated', 'off_diagonal_custom'}
        ``'off_diagonal'`` (default): the confidently counted off-diagonal examples, less
        those whose argmax is their given label. ``'off_diagonal_calibrated'``:
        ``round(N * (1 - trace(Q)))`` with ``Q`` the calibrated joint.
        ``'off_diagonal_custom'``: the same from the supplied ``confident_joint``.
    multi_label : bool, default=False
        ``labels`` are lists of class indices per example: the count is of examples that
        ``core.multilabel_classification.filter.find_label_issues`` flags with
        ``filter_by='confident_learning'`` (as in cleanlab, whatever
        ``estimation_method``; other methods and a ``confident_joint`` warn).

    Returns
    -------
    int
    """
    check_option("estimation_method", estimation_method, _NUM_ISSUES_METHODS)
    if multi_label:
        return _multilabel().num_label_issues(
            labels,
            pred_probs,
            confident_joint=confident_joint,
            estimation_method=estimation_method,
        )
    if confident_joint is not None and estimation_method != "off_diagonal_custom":
        warnings.warn(
            "confident_joint is ignored unless estimation_method='off_diagonal_custom'; "
            "it is recomputed from labels and pred_probs",
            UserWarning,
            stacklevel=2,
        )
    labels_arr, probs = validate_labels_and_pred_probs(labels, pred_probs)
    if estimation_method == "off_diagonal":
        return _num_off_diagonal_issues(labels_arr, probs)
    if estimation_method == "off_diagonal_calibrated":
        joint = estimate_joint(labels_arr, probs)
    else:
        if confident_joint is None:
            raise ValueError(
                "estimation_method='off_diagonal_custom' needs a confident_joint (as "
                "cleanlab says, you need to provide pre-calculated `confident_joint`); got None"
            )
        joint = estimate_joint(labels_arr, probs, confident_joint=confident_joint)
    return int(np.rint((1.0 - joint.trace()) * len(labels_arr)))


def _off_diagonal_issue_rows(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """Off-diagonal rows of the confident joint, less those whose argmax is the given label."""
    _, rows = _confident_joint_and_off_diagonals(labels, pred_probs)
    return rows[~argmax_is_given(pred_probs, labels, rows)]


def _num_off_diagonal_issues(labels: np.ndarray, pred_probs: np.ndarray) -> int:
    return len(_off_diagonal_issue_rows(labels, pred_probs))


# --------------------------------------------------------------------------- cross-validation


def _append_rows(to_data: Any, from_data: Any, index: int) -> Any:
    """Append row ``index`` of ``from_data`` to ``to_data`` (array, DataFrame or sparse)."""
    import pandas as pd
    import scipy.sparse as sp

    if isinstance(to_data, np.ndarray):
        if to_data.ndim == 1:  # e.g. raw strings for a text pipeline
            return np.append(to_data, from_data[index : index + 1])
        return np.vstack([to_data, from_data[index]])
    if isinstance(to_data, (pd.DataFrame, pd.Series)):
        return pd.concat([to_data, from_data.iloc[[index]]]).reset_index(drop=True)
    if sp.issparse(to_data):
        return sp.vstack([to_data, from_data[index]], format=to_data.format)
    try:
        return to_data.append(from_data[index])
    except AttributeError:
        raise TypeError(
            "X must be a numpy array, pandas DataFrame, scipy sparse matrix, or support "
            f"X.append(X[i]); got {type(to_data).__name__}"
        ) from None


def _take(X: Any, idx: np.ndarray) -> Any:
    import pandas as pd

    if isinstance(X, (pd.DataFrame, pd.Series)):
        return X.iloc[idx]
    try:
        return X[idx]
    except Exception:
        raise TypeError(
            "X must support indexing by an array of row indices (X[idx] or X.iloc[idx]); "
            f"got {type(X).__name__}"
        ) from None


def _check_X(X: Any, n: int) -> None:
    if X is None:
        raise ValueError("X must not be None")
    try:
        length = X.shape[0] if hasattr(X, "shape") else len(X)
    except TypeError:
        raise TypeError(f"X must support len(X) or X.shape; got {type(X).__name__}") from None
    if length != n:
        raise ValueError(f"X and labels must have the same length; got {length} and {n}")


def estimate_confident_joint_and_cv_pred_proba(
    X: DatasetLike,
    labels: LabelLike,
    clf: Any = None,
    *,
    cv_n_folds: int = 5,
    thresholds: np.ndarray | list[float] | None = None,
    seed: int | None = None,
    calibrate: bool = True,
    clf_kwargs: dict[str, Any] | None = None,
    validation_func: Callable[[Any, Any], dict[str, Any]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-validate ``clf`` to get out-of-fold ``pred_probs``, then the confident joint.

    Folds are ``StratifiedKFold(cv_n_folds, shuffle=True, random_state=seed)``. When a
    class is missing from a fold's training part, one of its held-out examples is copied
    into training (with a warning) and its out-of-fold prediction is set to that class.

    Parameters
    ----------
    X : array_like, DataFrame or sparse matrix of shape (n_samples, ...)
    labels : array_like of shape (n_samples,)
        Integers ``0..K-1``.
    clf : sklearn classifier, default=LogisticRegression()
        Cloned for every fold.
    cv_n_folds : int, default=5
    thresholds : array_like of shape (n_classes,), optional
    seed : int, optional
    calibrate : bool, default=True
    clf_kwargs : dict, optional
        Passed to ``clf.fit``.
    validation_func : callable, optional
        ``validation_func(X_holdout, labels_holdout) -> dict`` of extra ``fit`` kwargs.

    Returns
    -------
    confident_joint : np.ndarray of shape (n_classes, n_classes)
    pred_probs : np.ndarray of shape (n_samples, n_classes)
    """
    labels_arr = validate_labels(labels)
    _check_X(X, len(labels_arr))
    cv_n_folds = check_positive_int("cv_n_folds", cv_n_folds, minimum=2)
    if clf is None:
        clf = LogisticRegression()
    if validation_func is not None and not callable(validation_func):
        raise TypeError("validation_func must be callable as validation_func(X_val, y_val)")
    clf_kwargs = dict(clf_kwargs or {})
    num_classes = len(np.unique(labels_arr))
    all_classes = set(range(num_classes))
    folds = StratifiedKFold(n_splits=cv_n_folds, shuffle=True, random_state=seed)
    pred_probs = np.zeros((len(labels_arr), num_classes))
    for train_idx, holdout_idx in folds.split(X=labels_arr, y=labels_arr):
        try:
            fold_clf = sklearn.base.clone(clf)
        except Exception:
            raise ValueError(
                "clf must be clonable with sklearn.base.clone (implement get_params), or "
                "compute out-of-fold pred_probs yourself and pass them instead"
            ) from None
        X_train, X_holdout = _take(X, train_idx), _take(X, holdout_idx)
        y_train, y_holdout = labels_arr[train_idx], labels_arr[holdout_idx]
        copied: dict[int, int] = {}
        missing = all_classes.difference(set(y_train.tolist()))
        if missing:
            warnings.warn(
                f"classes {sorted(missing)} have too few examples for {cv_n_folds}-fold "
                "cross-validation; one example of each is copied into the training folds",
                UserWarning,
                stacklevel=2,
            )
            for cls in sorted(missing):
                row = int(np.flatnonzero(y_holdout == cls)[0])
                y_train = np.append(y_train, y_holdout[row])
                X_train = _append_rows(X_train, X_holdout, row)
                copied[cls] = row
        fit_kwargs = dict(clf_kwargs)
        if validation_func is not None:
            fit_kwargs.update(validation_func(X_holdout, y_holdout))
        fold_clf.fit(X_train, y_train, **fit_kwargs)
        fold_probs = fold_clf.predict_proba(X_holdout)
        for cls, row in copied.items():
            fold_probs[row] = np.eye(fold_probs.shape[1])[cls]
        pred_probs[holdout_idx] = fold_probs
    joint = compute_confident_joint(
        labels_arr, pred_probs, thresholds=thresholds, calibrate=calibrate
    )
    return joint, pred_probs


def estimate_py_noise_matrices_and_cv_pred_proba(
    X: DatasetLike,
    labels: LabelLike,
    clf: Any = None,
    *,
    cv_n_folds: int = 5,
    thresholds: np.ndarray | list[float] | None = None,
    converge_latent_estimates: bool = False,
    py_method: str = "cnt",
    seed: int | None = None,
    clf_kwargs: dict[str, Any] | None = None,
    validation_func: Callable[[Any, Any], dict[str, Any]] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cross-validate, then estimate ``py``, both noise matrices and the confident joint.

    Returns
    -------
    py, noise_matrix, inv_noise_matrix, confident_joint, pred_probs
    """
    joint, pred_probs = estimate_confident_joint_and_cv_pred_proba(
        X,
        labels,
        clf,
        cv_n_folds=cv_n_folds,
        thresholds=thresholds,
        seed=seed,
        clf_kwargs=clf_kwargs,
        validation_func=validation_func,
    )
    py, noise_matrix, inv_noise_matrix = estimate_latent(
        joint,
        np.asarray(labels),
        py_method=py_method,
        converge_latent_estimates=converge_latent_estimates,
    )
    return py, noise_matrix, inv_noise_matrix, joint, pred_probs


def estimate_cv_predicted_probabilities(
    X: DatasetLike,
    labels: LabelLike,
    clf: Any = None,
    *,
    cv_n_folds: int = 5,
    seed: int | None = None,
    clf_kwargs: dict[str, Any] | None = None,
    validation_func: Callable[[Any, Any], dict[str, Any]] | None = None,
) -> np.ndarray:
    """Return out-of-fold predicted probabilities of shape (n_samples, n_classes)."""
    return estimate_confident_joint_and_cv_pred_proba(
        X,
        labels,
        clf,
        cv_n_folds=cv_n_folds,
        seed=seed,
        clf_kwargs=clf_kwargs,
        validation_func=validation_func,
    )[1]


def estimate_noise_matrices(
    X: DatasetLike,
    labels: LabelLike,
    clf: Any = None,
    *,
    cv_n_folds: int = 5,
    thresholds: np.ndarray | list[float] | None = None,
    converge_latent_estimates: bool = True,
    seed: int | None = None,
    clf_kwargs: dict[str, Any] | None = None,
    validation_func: Callable[[Any, Any], dict[str, Any]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-validate, then return ``(noise_matrix, inv_noise_matrix)``."""
    result = estimate_py_noise_matrices_and_cv_pred_proba(
        X,
        labels,
        clf,
        cv_n_folds=cv_n_folds,
        thresholds=thresholds,
        converge_latent_estimates=converge_latent_estimates,
        seed=seed,
        clf_kwargs=clf_kwargs,
        validation_func=validation_func,
    )
    return result[1], result[2]
