"""The :class:`LabelInspector` of :mod:`core.experimental.label_issues_batched` (private
module: import it from there): running confident thresholds, per-chunk scores and counts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core._util import label_counts
from core._validation import check_option, validate_labels, validate_pred_probs
from core.constants import (
    CLIPPING_LOWER_BOUND,
    CONFIDENT_THRESHOLDS_LOWER_BOUND,
    FLOATING_POINT_COMPARISON,
)
from core.count import _thresholds
from core.rank import _METHODS, _SCORERS, _adjust, find_top_issues

__all__ = ["LabelInspector", "split_arr"]

#: The only key of ``num_issue_kwargs`` and its values.
_ESTIMATION_METHODS = ("off_diagonal", "off_diagonal_calibrated")
#: The keys of ``quality_score_kwargs`` (those of ``core.rank.get_label_quality_scores``).
_QUALITY_KEYS = ("method", "adjust_pred_probs")


def split_arr(arr: np.ndarray, chunksize: int) -> list[np.ndarray]:
    """Split ``arr`` along its first axis into chunks of ``chunksize`` rows (the last shorter).

    Parameters
    ----------
    arr : np.ndarray
    chunksize : int
        Rows per chunk, at least 1.

    Returns
    -------
    list of np.ndarray
    """
    if isinstance(chunksize, bool) or not isinstance(chunksize, (int, np.integer)):
        raise TypeError(f"chunksize must be an int; got {type(chunksize).__name__}")
    if chunksize < 1:
        raise ValueError(f"chunksize must be >= 1; got {chunksize}")
    return np.split(arr, np.arange(chunksize, arr.shape[0], chunksize), axis=0)


def _options(name: str, kwargs: Mapping[str, Any] | None, allowed: tuple[str, ...]) -> dict:
    if kwargs is None:
        return {}
    if not isinstance(kwargs, Mapping):
        raise TypeError(f"{name} must be a dict or None; got {type(kwargs).__name__}")
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"{name} accepts only the keys {list(allowed)}; got {unknown}")
    return dict(kwargs)


def _check_n_jobs(n_jobs: Any) -> None:
    if n_jobs is None:
        return
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)):
        raise TypeError(f"n_jobs must be an int or None; got {type(n_jobs).__name__}")
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1 or None; got {n_jobs}")


class LabelInspector:
    """Estimate label quality and label issues chunk by chunk, in two passes over the data.

    First call :meth:`update_confident_thresholds` on every chunk (or on a large enough
    sample), then :meth:`score_label_quality` on every chunk; then :meth:`get_label_issues`,
    :meth:`get_num_issues` and :meth:`get_quality_scores` answer for the data scored so far.
    One inspector per dataset. Multi-class only (for multi-label data, one inspector per
    class on its two columns).

    Parameters
    ----------
    num_class : int
        Number of classes ``K``; every chunk of ``pred_probs`` has ``K`` columns.
    store_results : bool, default=True
        Keep every label quality score (8 bytes per example), which
        :meth:`get_quality_scores` and :meth:`get_label_issues` need. With False only the
        counts are kept; rank the scores each chunk returns yourself.
    verbose : bool, default=True
        Print how many examples each answer rests on.
    quality_score_kwargs : dict or None, default=None
        Keyword arguments of :func:`core.rank.get_label_quality_scores`: ``method``
        ({"self_confidence", "normalized_margin", "confidence_weighted_entropy"},
        default="self_confidence") and ``adjust_pred_probs`` (default=False; adjusted with
        the thresholds estimated here).
    num_issue_kwargs : dict or None, default=None
        ``estimation_method`` ({"off_diagonal", "off_diagonal_calibrated"},
        default="off_diagonal"), as in :func:`core.count.num_label_issues`.
    n_jobs : int or None, default=1
        Accepted for compatibility; counting is vectorised in this process.

    Raises
    ------
    ValueError
        If an option is not one of those above.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([0, 0, 1, 1, 1, 0])
    >>> pred_probs = np.array(
    ...     [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9], [0.95, 0.05], [0.7, 0.3]]
    ... )
    >>> lab = LabelInspector(num_class=2, verbose=False)
    >>> for i in range(0, 6, 4):
    ...     lab.update_confident_thresholds(labels[i : i + 4], pred_probs[i : i + 4])
    >>> for i in range(0, 6, 4):
    ...     _ = lab.score_label_quality(labels[i : i + 4], pred_probs[i : i + 4])
    >>> lab.get_label_issues().tolist()
    [4]
    """

    def __init__(
        self,
        *,
        num_class: int,
        store_results: bool = True,
        verbose: bool = True,
        quality_score_kwargs: dict[str, Any] | None = None,
        num_issue_kwargs: dict[str, Any] | None = None,
        n_jobs: int | None = 1,
    ) -> None:
        if isinstance(num_class, bool) or not isinstance(num_class, (int, np.integer)):
            raise TypeError(f"num_class must be an int; got {type(num_class).__name__}")
        if num_class < 1:
            raise ValueError(f"num_class must be >= 1; got {num_class}")
        _check_n_jobs(n_jobs)
        quality = _options("quality_score_kwargs", quality_score_kwargs, _QUALITY_KEYS)
        check_option("method", quality.get("method", "self_confidence"), _METHODS)
        if quality.get("adjust_pred_probs") and quality.get("method") == (
            "confidence_weighted_entropy"
        ):
            raise ValueError(
                "adjust_pred_probs is not supported for method='confidence_weighted_entropy'"
            )
        num_issue = _options("num_issue_kwargs", num_issue_kwargs, ("estimation_method",))
        method = num_issue.get("estimation_method", "off_diagonal")
        check_option("estimation_method", method, _ESTIMATION_METHODS)
        self.num_class = int(num_class)
        self.store_results = store_results
        self.verbose = verbose
        self.quality_score_kwargs = quality
        self.num_issue_kwargs = num_issue
        self.n_jobs = n_jobs
        self.off_diagonal_calibrated = method == "off_diagonal_calibrated"
        k = self.num_class
        self.confident_thresholds = np.zeros(k)
        self.examples_per_class = np.zeros(k)
        self.examples_processed_thresh = 0
        self.examples_processed_quality = 0
        self.prune_count = 0
        # per given class: examples, confidently counted ones, and those off the diagonal
        self.class_counts = np.zeros(k)
        self.normalization = np.zeros(k)
        self.prune_counts = np.zeros(k)
        self._scores: list[np.ndarray] = []

    # ------------------------------------------------------------------ inputs

    def _batch(self, labels: Any, pred_probs: Any) -> tuple[np.ndarray, np.ndarray]:
        """One chunk as arrays: labels in ``0..K-1``, probabilities with ``K`` columns."""
        probs = validate_pred_probs(np.asarray(pred_probs))
        if probs.shape[1] != self.num_class:
            raise ValueError(
                f"pred_probs must have num_class={self.num_class} columns; got "
                f"{probs.shape[1]} (num_class must equal pred_probs.shape[1])"
            )
        labels_arr = validate_labels(np.asarray(labels), num_classes=self.num_class)
        if len(labels_arr) != len(probs):
            raise ValueError(
                f"labels and pred_probs must have same length; got {len(labels_arr)} labels "
                f"and {len(probs)} rows of pred_probs"
            )
        return labels_arr, probs

    def _say(self, message: str, silent: bool = False) -> None:
        if self.verbose and not silent:
            print(message)

    # ------------------------------------------------------------------ pass 1

    def update_confident_thresholds(self, labels: Any, pred_probs: Any) -> None:
        """Fold one chunk into the running per-class confident thresholds.

        Parameters
        ----------
        labels : array_like of shape (n_chunk,)
            Given labels of the chunk, integers in ``0..K-1``.
        pred_probs : array_like of shape (n_chunk, K)
            Predicted probabilities of the chunk.
        """
        labels_arr, probs = self._batch(labels, pred_probs)
        # A class absent from the chunk gets threshold 2 there, weighted by its count 0.
        batch = _thresholds(labels_arr, probs)
        counts = label_counts(labels_arr, self.num_class)
        seen = self.examples_per_class
        mean = (seen * self.confident_thresholds + counts * batch) / np.clip(
            seen + counts, a_min=1, a_max=None
        )
        self.confident_thresholds = np.clip(
            mean, a_min=CONFIDENT_THRESHOLDS_LOWER_BOUND, a_max=None
        )
        self.examples_per_class = seen + counts
        self.examples_processed_thresh += len(labels_arr)

    def get_confident_thresholds(self, silent: bool = False) -> np.ndarray:
        """Return the confident thresholds of the chunks seen, shape ``(K,)``.

        Raises
        ------
        ValueError
            If :meth:`update_confident_thresholds` was never called.
        """
        if self.examples_processed_thresh < 1:
            raise ValueError(
                "Have not computed any confident_thresholds yet. Call "
                "`update_confident_thresholds()` first."
            )
        self._say(
            "Total number of examples used to estimate confident thresholds: "
            f"{self.examples_processed_thresh}",
            silent,
        )
        return self.confident_thresholds

    # ------------------------------------------------------------------ pass 2

    def _quality(self, labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
        method = self.quality_score_kwargs.get("method", "self_confidence")
        if self.quality_score_kwargs.get("adjust_pred_probs", False):
            probs = _adjust(labels, probs, self.get_confident_thresholds(silent=True))
        return _SCORERS[method](labels, probs)

    def score_label_quality(
        self, labels: Any, pred_probs: Any, *, update_num_issues: bool = True
    ) -> np.ndarray:
        """Score one chunk's labels and count its label issues.

        Parameters
        ----------
        labels : array_like of shape (n_chunk,)
        pred_probs : array_like of shape (n_chunk, K)
        update_num_issues : bool, default=True
            Also count the chunk's label issues (False only scores).

        Returns
        -------
        np.ndarray of shape (n_chunk,)
            Label quality scores in [0, 1], lower for labels more likely wrong.

        Raises
        ------
        ValueError
            If no thresholds were estimated yet.
        """
        labels_arr, probs = self._batch(labels, pred_probs)
        return self._score(labels_arr, probs, update_num_issues)[0]

    def _score(
        self, labels_arr: np.ndarray, probs: np.ndarray, update_num_issues: bool
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """:meth:`score_label_quality` on a checked chunk: (scores, argmax, max) per row,
        the last two only when issues are counted."""
        self.get_confident_thresholds(silent=True)  # raises before any state changes
        scores = self._quality(labels_arr, probs)
        predicted = top = None
        if update_num_issues:
            predicted, top = self._count_issues(labels_arr, probs)
        self.examples_processed_quality += len(labels_arr)
        if self.store_results:
            self._scores.append(np.asarray(scores, dtype=float))
        return scores, predicted, top

    def _count_issues(self, labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add the chunk's off-diagonal confident counts (argmax class at its threshold);
        return each row's argmax and its probability."""
        thresholds = self.confident_thresholds - FLOATING_POINT_COMPARISON
        predicted = probs.argmax(axis=1)
        top = np.take_along_axis(probs, predicted[:, None], axis=1)[:, 0]
        confident = top >= thresholds[predicted]
        off = confident & (predicted != labels)
        if self.off_diagonal_calibrated:
            k = self.num_class
            self.class_counts += label_counts(labels, k)
            self.normalization += label_counts(labels[confident], k)
            self.prune_counts += label_counts(labels[off], k)
        else:
            self.prune_count += int(np.count_nonzero(off))
        return predicted, top

    def get_num_issues(self, silent: bool = False) -> int:
        """Return the estimated number of label issues among the examples scored so far.

        May differ by one from :func:`core.count.num_label_issues` on the whole data
        (rounding).

        Raises
        ------
        ValueError
            If :meth:`score_label_quality` was never called.
        """
        if self.examples_processed_quality < 1:
            raise ValueError(
                "Have not evaluated any labels yet. Call `score_label_quality()` first."
            )
        self._say(
            "Total number of examples whose labels have been evaluated: "
            f"{self.examples_processed_quality}",
            silent,
        )
        if self.off_diagonal_calibrated:
            calibrated = (
                self.prune_counts
                * self.class_counts
                / np.clip(self.normalization, a_min=CLIPPING_LOWER_BOUND, a_max=None)
            )
            return int(np.rint(np.sum(calibrated)))
        return int(self.prune_count)

    def _need_results(self, what: str) -> None:
        if not self.store_results:
            raise ValueError(
                f"{what} needs the scores: create the LabelInspector with "
                "store_results=True (Must initialize the LabelInspector with "
                "`store_results` == True), or rank the scores score_label_quality returns "
                "per chunk yourself"
            )

    def get_quality_scores(self) -> np.ndarray:
        """Return the label quality score of every example scored so far, in order.

        Raises
        ------
        ValueError
            If created with ``store_results=False``.
        """
        self._need_results("get_quality_scores")
        if not self._scores:
            return np.zeros(0)
        if len(self._scores) > 1:
            self._scores = [np.concatenate(self._scores)]
        return self._scores[0]

    def get_label_issues(self) -> np.ndarray:
        """Return the indices of the label issues among the examples scored so far.

        The :meth:`get_num_issues` examples with the lowest quality scores, lowest first:
        ``core.filter.find_label_issues(..., filter_by="low_self_confidence",
        return_indices_ranked_by="self_confidence")`` on the same data, up to one example
        (``low_normalized_margin`` / ``normalized_margin`` with that ``method``).

        Raises
        ------
        ValueError
            If created with ``store_results=False`` or nothing was scored yet.
        """
        self._need_results("get_label_issues")
        if self.examples_processed_quality < 1:
            raise ValueError(
                "Have not evaluated any labels yet. Call `score_label_quality()` first."
            )
        self._say(
            "Total number of examples whose labels have been evaluated: "
            f"{self.examples_processed_quality}"
        )
        return find_top_issues(self.get_quality_scores(), top=self.get_num_issues(silent=True))
