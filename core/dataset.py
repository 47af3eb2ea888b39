"""Dataset- and class-level summaries of label quality.

Mirrors ``cleanlab.dataset`` (2.x): which classes are labelled worst
(:func:`rank_classes_by_label_quality`), which pairs of classes annotators confuse
(:func:`find_overlapping_classes`), one overall score (:func:`overall_label_health_score`)
and all three at once (:func:`health_summary`). Results equal cleanlab's.

Everything is read off the estimated joint distribution ``Q[i][j] = p(label=i,
true_label=j)`` of given and true labels (Northcutt, Jiang & Chuang, "Confident
Learning: Estimating Uncertainty in Dataset Labels", JAIR 2021 [CL], Section 3.1). Each
function accepts any one of:

1. ``labels`` and ``pred_probs`` (the joint is estimated with
   :func:`core.count.estimate_joint`), or
2. ``joint`` and ``num_examples``, or
3. ``confident_joint`` (optionally with ``labels`` to calibrate it).

Where cleanlab 2.9 raises on a combination its documentation allows (option 3 in
:func:`rank_classes_by_label_quality` and :func:`health_summary`, option 2 in
:func:`health_summary`), these functions return the documented result instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any, cast

import numpy as np
import pandas as pd

from core._validation import labels_to_array
from core.constants import CLIPPING_LOWER_BOUND, ROW_SUM_TOLERANCE
from core.count import estimate_joint, num_label_issues
from core.typing import LabelLike

__all__ = [
    "find_overlapping_classes",
    "health_summary",
    "overall_label_health_score",
    "rank_classes_by_label_quality",
]


# --------------------------------------------------------------------------- validation


def _no_multi_label(multi_label: bool, instead: str) -> None:
    """As cleanlab: multi-label data has its own functions, named in the error."""
    if multi_label:
        raise ValueError(
            "For multilabel data, please instead call: "
            f"core.multilabel_classification.dataset.{instead}() (multi_label=True is not "
            "supported here)"
        )


def _check_matrix(name: str, matrix: Any) -> np.ndarray:
    """Return ``matrix`` as a finite, non-negative, square numeric array."""
    arr = np.asarray(matrix)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a numeric (K, K) array; got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.size == 0:
        raise ValueError(f"{name} must be a square (K, K) matrix; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if arr.min() < 0:
        raise ValueError(f"{name} entries must be >= 0; got min {arr.min()}")
    return arr


def _missing_inputs(labels: LabelLike | None, pred_probs: np.ndarray | None) -> ValueError:
    given = [
        name
        for name, value in (("labels", labels), ("pred_probs", pred_probs))
        if value is not None
    ]
    return ValueError(
        "provide labels and pred_probs, or joint and num_examples, or confident_joint; "
        f"got {' and '.join(given) + ' only' if given else 'none of them'}"
    )


def _resolve_joint(
    labels: LabelLike | None,
    pred_probs: np.ndarray | None,
    joint: np.ndarray | None,
    confident_joint: np.ndarray | None,
) -> np.ndarray:
    """The joint given, or the one estimated from the other inputs."""
    if joint is not None:
        arr = _check_matrix("joint", joint)
        total = arr.sum()
        if abs(total - 1.0) > ROW_SUM_TOLERANCE:
            raise ValueError(
                f"joint must sum to 1 (it is p(label, true_label)); got sum {total:.6g}"
            )
        return arr
    if confident_joint is None and (labels is None or pred_probs is None):
        raise _missing_inputs(labels, pred_probs)
    if confident_joint is not None:
        _check_matrix("confident_joint", confident_joint)
    # estimate_joint takes labels=None (confident joint already calibrated) and ignores
    # pred_probs when a confident joint is given, as cleanlab's does.
    return estimate_joint(labels, pred_probs, confident_joint=confident_joint)


def _resolve_num_examples(
    num_examples: Any,
    labels: LabelLike | None,
    confident_joint: np.ndarray | None,
    *,
    allow_empty: bool = False,
) -> int | float:
    """``num_examples`` if given, else ``len(labels)``, else the confident joint's total.

    Called once the inputs are known to be usable, so without these only a joint is left.
    With ``allow_empty`` an all-zero confident joint counts 0 examples (only counts are
    derived from it, so nothing divides by it); otherwise it is refused.
    """
    if num_examples is not None:
        if isinstance(num_examples, bool) or not isinstance(
            num_examples, (int, float, np.integer, np.floating)
        ):
            raise TypeError(
                f"num_examples must be a positive number; got {type(num_examples).__name__}"
            )
        if not (np.isfinite(num_examples) and num_examples > 0):
            raise ValueError(f"num_examples must be a positive number; got {num_examples}")
        if isinstance(num_examples, (int, np.integer)):
            return int(num_examples)
        return float(num_examples)
    if labels is not None:
        return len(labels_to_array(labels))
    if confident_joint is not None:
        total = np.sum(_check_matrix("confident_joint", confident_joint))
        if total == 0 and allow_empty:
            return 0
        if total <= 0:
            raise ValueError("confident_joint must count at least one example; got all zeros")
        return cast(int | float, total.item())
    raise ValueError(
        "num_examples is required when only joint is given (a normalised joint does not "
        "record how many examples it came from); got None"
    )


def _check_class_names(class_names: Any, num_classes: int) -> list[Any] | None:
    if class_names is None:
        return None
    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, Iterable):
        raise TypeError(
            "class_names must be a list (or other iterable) of one name per class; "
            f"got {type(class_names).__name__}"
        )
    names = list(class_names)
    if len(names) != num_classes:
        raise ValueError(
            f"class_names must have one name per class ({num_classes}); got {len(names)}"
        )
    return names


# --------------------------------------------------------------------------- public


def rank_classes_by_label_quality(
    labels: LabelLike | None = None,
    pred_probs: np.ndarray | None = None,
    *,
    class_names: Iterable[Any] | None = None,
    num_examples: float | None = None,
    joint: np.ndarray | None = None,
    confident_joint: np.ndarray | None = None,
    multi_label: bool = False,
) -> pd.DataFrame:
    """Score every class by how well it is labelled, worst first.

    With ``Q`` the joint of given and true labels, for class ``k``:
    label noise is ``p(true_label != k | label = k)``, inverse label noise is
    ``p(label != k | true_label = k)``, and the label quality score is
    ``p(true_label = k | label = k) = 1 - label noise``.

    Parameters
    ----------
    labels : array_like of shape (n_samples,), optional
        Given labels, integers in ``0..K-1``.
    pred_probs : np.ndarray of shape (n_samples, n_classes), optional
        Out-of-sample predicted probabilities.
    class_names : iterable of length n_classes, optional
        Adds a first column "Class Name".
    num_examples : int, optional
        Number of examples; needed with ``joint`` alone. Default ``len(labels)``, else
        the sum of ``confident_joint``.
    joint : np.ndarray of shape (n_classes, n_classes), optional
        Estimated joint ``p(label=i, true_label=j)``; sums to 1. Used instead of
        estimating one.
    confident_joint : np.ndarray of shape (n_classes, n_classes), optional
        A confident joint (:func:`core.count.compute_confident_joint`); calibrated
        against ``labels`` when they are given.
    multi_label : bool, default=False
        Not supported here: True raises ``ValueError`` naming the function of
        :mod:`core.multilabel_classification.dataset` to call instead (as cleanlab).

    Returns
    -------
    pd.DataFrame with n_classes rows
        Columns ("Class Name",) "Class Index", "Label Issues" (estimated count of
        examples labelled ``k`` whose true label differs), "Inverse Label Issues" (count
        whose true label is ``k`` but labelled otherwise), "Label Noise", "Inverse Label
        Noise", "Label Quality Score"; sorted by "Label Quality Score" ascending (ties in
        pandas' default sort order, as cleanlab).

    Raises
    ------
    ValueError
        If no usable combination of inputs is given, or an input is malformed.
        Also if ``multi_label`` is True (as cleanlab).

    Examples
    --------
    >>> import numpy as np
    >>> joint = np.array([[0.45, 0.05], [0.10, 0.40]])
    >>> rank_classes_by_label_quality(joint=joint, num_examples=100)["Class Index"].tolist()
    [1, 0]
    """
    _no_multi_label(multi_label, "rank_classes_by_multilabel_quality")
    q = _resolve_joint(labels, pred_probs, joint, confident_joint)
    n = _resolve_num_examples(num_examples, labels, confident_joint)
    names = _check_class_names(class_names, len(q))
    p_given = q.sum(axis=1)  # p(label = k)
    p_true = q.sum(axis=0)  # p(true_label = k)
    issues = p_given - q.diagonal()  # p(label = k, true_label != k)
    inverse_issues = p_true - q.diagonal()  # p(label != k, true_label = k)
    noise = issues / np.clip(p_given, a_min=CLIPPING_LOWER_BOUND, a_max=None)
    inverse_noise = inverse_issues / np.clip(p_true, a_min=CLIPPING_LOWER_BOUND, a_max=None)
    df = pd.DataFrame(
        {
            "Class Index": np.arange(len(q)),
            "Label Issues": np.round(issues * n).astype(int),
            "Inverse Label Issues": np.round(inverse_issues * n).astype(int),
            "Label Noise": noise,
            "Inverse Label Noise": inverse_noise,
            "Label Quality Score": 1 - noise,
        }
    )
    if names is not None:
        df.insert(0, "Class Name", names)
    # pandas' default (unstable) sort, as cleanlab: equal scores then come out in the
    # same order as cleanlab's.
    return df.sort_values(by="Label Quality Score", ascending=True).reset_index(drop=True)


def find_overlapping_classes(
    labels: LabelLike | None = None,
    pred_probs: np.ndarray | None = None,
    *,
    asymmetric: bool = False,
    class_names: Iterable[Any] | None = None,
    num_examples: float | None = None,
    joint: np.ndarray | None = None,
    confident_joint: np.ndarray | None = None,
    multi_label: bool = False,
) -> pd.DataFrame:
    """List the pairs of classes that annotators confuse, most confused first.

    The overlap of classes ``a`` and ``b`` is read off the joint of given and true
    labels, ``Q[a][b] = p(label=a, true_label=b)``, which [CL] uses to find ontological
    issues. Consider merging the top pairs, or defining them more clearly.

    Parameters
    ----------
    labels, pred_probs, class_names, num_examples, joint, confident_joint, multi_label
        As in :func:`rank_classes_by_label_quality`.
    asymmetric : bool, default=False
        If True, list every ordered pair ``(a, b)``, ``a != b``, with ``Q[a][b]`` (``a``
        labelled where ``b`` was true). If False, list each unordered pair once, ``a <
        b``, with ``Q[a][b] + Q[b][a]``.

    Returns
    -------
    pd.DataFrame
        Columns ("Class Name A", "Class Name B",) "Class Index A", "Class Index B",
        "Num Overlapping Examples" (``round(num_examples * joint probability)``), "Joint
        Probability"; one row per pair, sorted by "Joint Probability" descending.

    Raises
    ------
    ValueError
        If no usable combination of inputs is given, or an input is malformed.
        Also if ``multi_label`` is True (as cleanlab).

    Examples
    --------
    >>> import numpy as np
    >>> joint = np.array([[0.4, 0.1, 0.0], [0.05, 0.3, 0.0], [0.0, 0.05, 0.1]])
    >>> df = find_overlapping_classes(joint=joint, num_examples=200)
    >>> df.loc[0, ["Class Index A", "Class Index B", "Num Overlapping Examples"]].tolist()
    [0, 1, 30]
    """
    _no_multi_label(multi_label, "common_multilabel_issues")
    q = _resolve_joint(labels, pred_probs, joint, confident_joint)
    # an all-zero confident joint overlaps nowhere: zero counts, as cleanlab answers
    n = _resolve_num_examples(num_examples, labels, confident_joint, allow_empty=True)
    names = _check_class_names(class_names, len(q))
    if asymmetric:
        rows, cols = np.nonzero(~np.eye(len(q), dtype=bool))  # row-major, off-diagonal
        prob = q[rows, cols]
    else:
        rows, cols = np.triu_indices(len(q), k=1)  # row-major, a < b
        prob = q[rows, cols] + q[cols, rows]
    df = pd.DataFrame(
        {
            "Class Index A": rows.astype(np.int64),
            "Class Index B": cols.astype(np.int64),
            "Num Overlapping Examples": np.round(prob * n).astype(int),
            "Joint Probability": prob,
        }
    )
    if names is not None:
        df.insert(0, "Class Name A", [names[i] for i in rows])
        df.insert(1, "Class Name B", [names[j] for j in cols])
    # pandas' default sort, as cleanlab, so that ties (often many zero overlaps) come out
    # in the same order.
    return df.sort_values(by="Joint Probability", ascending=False).reset_index(drop=True)


def overall_label_health_score(
    labels: LabelLike | None = None,
    pred_probs: np.ndarray | None = None,
    *,
    num_examples: float | None = None,
    confident_joint: np.ndarray | None = None,
    joint: np.ndarray | None = None,
    multi_label: bool = False,
    verbose: bool = True,
) -> float:
    """One score in ``[0, 1]``: the estimated fraction of correctly labelled examples.

    With ``labels`` and ``pred_probs`` it is ``1 - num_label_issues / num_examples``
    (:func:`core.count.num_label_issues`); otherwise the trace of the joint,
    ``p(label = true_label)``.

    Parameters
    ----------
    labels, pred_probs, num_examples, joint, confident_joint, multi_label
        As in :func:`rank_classes_by_label_quality`. When ``labels`` and ``pred_probs``
        are both given, ``joint`` and ``confident_joint`` are not used (a given
        ``confident_joint`` then warns, as in cleanlab). ``num_examples`` (or ``labels``
        or ``confident_joint``, from which it is taken) is required.
    verbose : bool, default=True
        Print the score and the estimated number of issues.

    Returns
    -------
    float
        1 means every label is estimated correct; 0.5 that half are wrong.

    Raises
    ------
    ValueError
        If the number of examples cannot be determined, or no usable combination of
        inputs is given.
        Also if ``multi_label`` is True (as cleanlab).

    Warns
    -----
    UserWarning
        If ``confident_joint`` is given together with ``labels`` and ``pred_probs``.

    Examples
    --------
    >>> import numpy as np
    >>> joint = np.array([[0.45, 0.05], [0.10, 0.40]])
    >>> round(overall_label_health_score(joint=joint, num_examples=100, verbose=False), 2)
    0.85
    """
    _no_multi_label(multi_label, "overall_multilabel_health_score")
    if joint is None and confident_joint is None and (labels is None or pred_probs is None):
        raise _missing_inputs(labels, pred_probs)
    n = _resolve_num_examples(num_examples, labels, confident_joint)
    if labels is None or pred_probs is None:
        q = _resolve_joint(labels, pred_probs, joint, confident_joint)
        score = float(np.trace(q))
        num_issues = int(np.round(n * (1 - score)))
    else:
        if confident_joint is not None:
            warnings.warn(
                "confident_joint is not used when labels and pred_probs are given: the "
                "number of label issues is recounted from them",
                UserWarning,
                stacklevel=2,
            )
        num_issues = num_label_issues(labels, pred_probs)
        score = 1 - num_issues / n
    if verbose:
        print(
            f" * Overall, about {1 - score:.0%} ({num_issues:,} of the {n:,}) labels in "
            f"your dataset have potential issues.\n"
            f" ** The overall label health score for this dataset is: {score:.2f}."
        )
    return score


def health_summary(
    labels: LabelLike | None = None,
    pred_probs: np.ndarray | None = None,
    *,
    asymmetric: bool = False,
    class_names: Iterable[Any] | None = None,
    num_examples: float | None = None,
    joint: np.ndarray | None = None,
    confident_joint: np.ndarray | None = None,
    multi_label: bool = False,
    verbose: bool = True,
) -> dict[str, Any]:
    """Summarise label health: per class, per pair of classes, and overall.

    Parameters
    ----------
    labels, pred_probs, class_names, num_examples, joint, confident_joint, multi_label
        As in :func:`rank_classes_by_label_quality`.
    asymmetric : bool, default=False
        As in :func:`find_overlapping_classes`.
    verbose : bool, default=True
        Print the tables and the overall score.

    Returns
    -------
    dict
        ``"overall_label_health_score"`` (:func:`overall_label_health_score`),
        ``"joint"`` (the ``(n_classes, n_classes)`` joint used),
        ``"classes_by_label_quality"`` (:func:`rank_classes_by_label_quality`) and
        ``"overlapping_classes"`` (:func:`find_overlapping_classes`).

    Raises
    ------
    ValueError
        If no usable combination of inputs is given, or an input is malformed.
        Also if ``multi_label`` is True (as cleanlab).

    Examples
    --------
    >>> import numpy as np
    >>> joint = np.array([[0.45, 0.05], [0.10, 0.40]])
    >>> summary = health_summary(joint=joint, num_examples=100, verbose=False)
    >>> sorted(summary)
    ['classes_by_label_quality', 'joint', 'overall_label_health_score', 'overlapping_classes']
    """
    _no_multi_label(multi_label, "multilabel_health_summary")
    q = _resolve_joint(labels, pred_probs, joint, confident_joint)
    n = _resolve_num_examples(num_examples, labels, confident_joint)
    if verbose:
        title = f"| Dataset health summary: {n:,} examples, {len(q):,} classes |"
        rule = "-" * len(title)
        print(f"{rule}\n{title}\n{rule}\n")
    by_class = rank_classes_by_label_quality(
        labels,
        pred_probs,
        class_names=class_names,
        num_examples=n,
        joint=q,
        confident_joint=confident_joint,
    )
    if verbose:
        print("Label quality and noise per class, worst first (below)")
        print("-" * 60, "\n", flush=True)
        print(by_class)
    overlapping = find_overlapping_classes(
        labels,
        pred_probs,
        asymmetric=asymmetric,
        class_names=class_names,
        num_examples=n,
        joint=q,
        confident_joint=confident_joint,
    )
    if verbose:
        print(
            "\nPairs of classes that overlap; consider merging the top rows (below)\n"
            + "-" * 83
            + "\n",
            flush=True,
        )
        print(overlapping)
        print()
    # Like cleanlab, the score re-derives its joint from a confident joint; a joint that
    # was only given directly is passed on (cleanlab fails in that case).
    score = overall_label_health_score(
        labels,
        pred_probs,
        num_examples=n,
        confident_joint=confident_joint,
        joint=q if confident_joint is None else None,
        verbose=verbose,
    )
    if verbose:
        print()
    return {
        "overall_label_health_score": score,
        "joint": q,
        "classes_by_label_quality": by_class,
        "overlapping_classes": overlapping,
    }
