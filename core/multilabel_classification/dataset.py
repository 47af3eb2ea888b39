"""Class- and dataset-level summaries of label quality for multi-label data.

Names, signatures and results (DataFrames included) mirror
``cleanlab.multilabel_classification.dataset`` (2.x). Everything is read off the per-class
issues of :func:`core.multilabel_classification.filter.find_multilabel_issues_per_class`
(default ``filter_by='prune_by_noise_rate'``): for each class, how many examples have it
but should not, and how many lack it but should have it.

Two of cleanlab's quirks are kept, so that the same call gives the same table:
:func:`rank_classes_by_multilabel_quality` finds the issues with its ``joint`` argument (a
one-vs-rest confident joint of shape (K, 2, 2)), not with ``confident_joint``, and its
issue counts are ``int(issue_probability * num_examples)`` (truncated).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from core.dataset import _check_class_names
from core.multilabel_classification.filter import _class_masks, _prepare
from core.typing import MultiLabelLike

__all__ = [
    "common_multilabel_issues",
    "multilabel_health_summary",
    "overall_multilabel_health_score",
    "rank_classes_by_multilabel_quality",
]


def _issues(labels: Any, pred_probs: Any, confident_joint: Any) -> tuple[np.ndarray, np.ndarray]:
    """(one-hot labels, per-class issue masks (N, K)) with the default filter."""
    if labels is None or pred_probs is None:
        raise ValueError(
            "labels and pred_probs are both needed for multi-label summaries; got "
            f"labels={'None' if labels is None else '...'}, "
            f"pred_probs={'None' if pred_probs is None else '...'}"
        )
    onehot, probs, joints, _, _ = _prepare(
        labels,
        pred_probs,
        return_indices_ranked_by=None,
        rank_by_kwargs=None,
        filter_by="prune_by_noise_rate",
        frac_noise=1.0,
        num_to_remove_per_class=None,
        min_examples_per_class=1,
        confident_joint=confident_joint,
        n_jobs=None,
        low_memory=False,
    )
    masks = _class_masks(
        onehot,
        probs,
        joints,
        None,
        filter_by="prune_by_noise_rate",
        frac_noise=1.0,
        min_examples_per_class=1,
    )
    return onehot, masks


def _common_frame(onehot: np.ndarray, masks: np.ndarray, names: list[Any] | None) -> pd.DataFrame:
    """The table of :func:`common_multilabel_issues` from the per-class issue masks."""
    n, k = onehot.shape
    wrongly_given = np.count_nonzero(masks & onehot, axis=0)
    wrongly_missing = np.count_nonzero(masks & ~onehot, axis=0)
    columns: dict[str, Any] = {}
    if names is not None:
        columns["Class Name"] = np.repeat(np.array(names, dtype=object), 2)
    columns["Class Index"] = np.repeat(np.arange(k, dtype=np.int64), 2)
    columns["In Given Label"] = np.tile([True, False], k)
    columns["In Suggested Label"] = np.tile([False, True], k)
    counts = np.column_stack([wrongly_given, wrongly_missing]).ravel().astype(np.int64)
    columns["Num Examples"] = counts
    columns["Issue Probability"] = counts / n
    return (
        pd.DataFrame(columns)
        .sort_values(by=["Issue Probability"], ascending=False)
        .reset_index(drop=True)
    )


def _rank_frame(common: pd.DataFrame, num_examples: int, names: list[Any] | None) -> pd.DataFrame:
    """The table of :func:`rank_classes_by_multilabel_quality` from the common issues."""
    order = pd.unique(common["Class Index"].to_numpy())  # classes as they first appear
    by_side = common.set_index(["Class Index", "In Given Label"])["Issue Probability"]
    noise = by_side.xs(True, level="In Given Label").reindex(order).to_numpy()
    inverse = by_side.xs(False, level="In Given Label").reindex(order).to_numpy()
    columns: dict[str, Any] = {"Class Index": order.astype(np.int64)}
    if names is not None:
        columns["Class Name"] = np.array([names[c] for c in order], dtype=object)
    columns["Label Issues"] = np.array([int(p * num_examples) for p in noise], dtype=np.int64)
    columns["Inverse Label Issues"] = np.array(
        [int(p * num_examples) for p in inverse], dtype=np.int64
    )
    columns["Label Noise"] = noise
    columns["Inverse Label Noise"] = inverse
    columns["Label Quality Score"] = 1 - noise
    wanted = [c for c in _RANK_COLUMNS if names is not None or c != "Class Name"]
    frame = pd.DataFrame(columns).sort_values(by="Label Quality Score", ascending=True)
    return frame.reset_index(drop=True)[wanted]


_RANK_COLUMNS = [
    "Class Name",
    "Class Index",
    "Label Issues",
    "Inverse Label Issues",
    "Label Noise",
    "Inverse Label Noise",
    "Label Quality Score",
]


def common_multilabel_issues(
    labels: MultiLabelLike | None = None,
    pred_probs: np.ndarray | None = None,
    *,
    class_names: Iterable[Any] | None = None,
    confident_joint: np.ndarray | None = None,
) -> pd.DataFrame:
    """Summarise, per class, how often it is wrongly given and wrongly missing.

    Classes are not exclusive in multi-label data, so each is summarised on its own.

    Parameters
    ----------
    labels : list of list of int, length n_samples
        Per example, the indices of its classes (``[[0, 2], [1], []]``).
    pred_probs : np.ndarray of shape (n_samples, n_classes)
        Out-of-sample predicted probability of each class.
    class_names : iterable of length n_classes, optional
        Adds a "Class Name" column.
    confident_joint : np.ndarray of shape (n_classes, 2, 2), optional
        One-vs-rest confident joints, as ``core.count.compute_confident_joint(...,
        multi_label=True)`` returns.

    Returns
    -------
    pd.DataFrame
        Two rows per class: "Class Name" (with ``class_names``), "Class Index", "In Given
        Label" (the class is given: True; missing: False), "In Suggested Label" (the
        opposite), "Num Examples" (flagged examples of that kind) and "Issue Probability"
        (that over n_samples); sorted by "Issue Probability", descending.

    Examples
    --------
    >>> import numpy as np
    >>> labels = [[0], [0], [0, 1], [1], [1], [0]]
    >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.9, 0.8], [0.1, 0.9], [0.2, 0.7],
    ...                   [0.1, 0.9]])
    >>> common_multilabel_issues(labels, probs)["Num Examples"].tolist()
    [1, 1, 0, 0]
    """
    onehot, masks = _issues(labels, pred_probs, confident_joint)
    return _common_frame(onehot, masks, _check_class_names(class_names, onehot.shape[1]))


def rank_classes_by_multilabel_quality(
    labels: MultiLabelLike | None = None,
    pred_probs: np.ndarray | None = None,
    *,
    class_names: Iterable[Any] | None = None,
    joint: np.ndarray | None = None,
    confident_joint: np.ndarray | None = None,
) -> pd.DataFrame:
    """Rank classes by the share of their examples that are labelled correctly.

    Parameters
    ----------
    labels, pred_probs, class_names
        As in :func:`common_multilabel_issues`.
    joint : np.ndarray of shape (n_classes, 2, 2), optional
        One-vs-rest confident joints used to find the issues (cleanlab passes this, not
        ``confident_joint``, on as the confident joint).
    confident_joint : np.ndarray of shape (n_classes, 2, 2), optional
        Accepted for cleanlab's signature; as in cleanlab it does not change the result
        when ``labels`` are given (which they must be).

    Returns
    -------
    pd.DataFrame
        One row per class: "Class Name" (with ``class_names``), "Class Index", "Label
        Issues" (examples given the class that should not have it), "Inverse Label
        Issues" (examples missing it that should have it), "Label Noise" and "Inverse
        Label Noise" (those over n_samples), "Label Quality Score" (``1 - label noise``);
        sorted by "Label Quality Score", ascending.

    Examples
    --------
    >>> import numpy as np
    >>> labels = [[0], [0], [0, 1], [1], [1], [0]]
    >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.9, 0.8], [0.1, 0.9], [0.2, 0.7],
    ...                   [0.1, 0.9]])
    >>> rank_classes_by_multilabel_quality(labels, probs)["Label Issues"].tolist()
    [1, 0]
    """
    onehot, masks = _issues(labels, pred_probs, joint)
    names = _check_class_names(class_names, onehot.shape[1])
    return _rank_frame(_common_frame(onehot, masks, names), len(onehot), names)


def overall_multilabel_health_score(
    labels: MultiLabelLike | None = None,
    pred_probs: np.ndarray | None = None,
    *,
    confident_joint: np.ndarray | None = None,
) -> float:
    """Return the share of examples whose labels look right for every class, in [0, 1].

    Parameters
    ----------
    labels, pred_probs, confident_joint
        As in :func:`common_multilabel_issues`.

    Returns
    -------
    float
        ``1 - (flagged examples) / n_samples``, the examples flagged by
        :func:`core.multilabel_classification.filter.find_label_issues`.

    Examples
    --------
    >>> import numpy as np
    >>> labels = [[0], [0], [0, 1], [1], [1], [0]]
    >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.9, 0.8], [0.1, 0.9], [0.2, 0.7],
    ...                   [0.1, 0.9]])
    >>> round(overall_multilabel_health_score(labels, probs), 3)
    0.833
    """
    onehot, masks = _issues(labels, pred_probs, confident_joint)
    return 1.0 - int(masks.any(axis=1).sum()) / len(onehot)


def multilabel_health_summary(
    labels: MultiLabelLike | None = None,
    pred_probs: np.ndarray | None = None,
    *,
    class_names: Iterable[Any] | None = None,
    num_examples: int | None = None,
    confident_joint: np.ndarray | None = None,
    verbose: bool = True,
) -> dict[str, Any]:
    """Summarise multi-label health: per class, per kind of issue, and overall.

    Parameters
    ----------
    labels, pred_probs, class_names, confident_joint
        As in :func:`common_multilabel_issues`. As in cleanlab, ``confident_joint`` is
        used for the common issues and the overall score, not the class ranking.
    num_examples : int, optional
        The number of examples shown in the printed title; default ``len(labels)``.
    verbose : bool, default=True
        Print the tables and the overall score.

    Returns
    -------
    dict
        ``"overall_multilabel_health_score"`` (:func:`overall_multilabel_health_score`),
        ``"classes_by_multilabel_quality"`` (:func:`rank_classes_by_multilabel_quality`)
        and ``"common_multilabel_issues"`` (:func:`common_multilabel_issues`).

    Examples
    --------
    >>> import numpy as np
    >>> labels = [[0], [0], [0, 1], [1], [1], [0]]
    >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.9, 0.8], [0.1, 0.9], [0.2, 0.7],
    ...                   [0.1, 0.9]])
    >>> sorted(multilabel_health_summary(labels, probs, verbose=False))
    ['classes_by_multilabel_quality', 'common_multilabel_issues', 'overall_multilabel_health_score']
    """
    onehot, masks = _issues(labels, pred_probs, None)
    names = _check_class_names(class_names, onehot.shape[1])
    if num_examples is None:
        num_examples = len(onehot)
    if verbose:
        title = (
            f"| Multi-label health summary: {num_examples:,} examples, "
            f"{onehot.shape[1]:,} classes |"
        )
        print(f"{'-' * len(title)}\n{title}\n{'-' * len(title)}\n")
    by_class = _rank_frame(_common_frame(onehot, masks, names), len(onehot), names)
    if verbose:
        print("Label quality and noise per class, worst first (below)")
        print("-" * 60, "\n", flush=True)
        print(by_class)
    if confident_joint is not None:  # cleanlab's class ranking ignores it; the rest use it
        onehot, masks = _issues(labels, pred_probs, confident_joint)
    common = _common_frame(onehot, masks, names)
    if verbose:
        print("\nHow often each class is wrongly given or wrongly missing (below)")
        print("-" * 83, "\n", flush=True)
        print(common)
        print()
    score = 1.0 - int(masks.any(axis=1).sum()) / len(onehot)
    if verbose:
        print(f"Overall multi-label health score: {score:.4g}\n")
    return {
        "overall_multilabel_health_score": score,
        "classes_by_multilabel_quality": by_class,
        "common_multilabel_issues": common,
    }
