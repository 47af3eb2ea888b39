"""Find label issues in data too big for memory, reading it in chunks.

Mirrors ``cleanlab.experimental.label_issues_batched`` (2.x): :func:`find_label_issues_batched`
and :class:`LabelInspector`, with cleanlab's parameters, defaults and answers. Two passes over
the data, one chunk at a time:

1. the per-class confident thresholds ``t_j`` ([CL] eq. 2: the mean self-confidence of the
   examples given class ``j``), as a running mean over the chunks;
2. each example's label quality score (:mod:`core.rank`), and the number of label issues:
   the examples whose predicted class ``j`` is not their given label and whose probability
   of ``j`` reaches ``t_j`` (the off-diagonal of the confident joint without calibration, or
   calibrated per given class with ``estimation_method="off_diagonal_calibrated"``).

The label issues are then the examples with the lowest scores, as many as counted, less those
whose given label is (within ``FLOATING_POINT_COMPARISON``) the predicted one. The result
approximates ``core.filter.find_label_issues(..., filter_by="low_self_confidence",
return_indices_ranked_by="self_confidence")``.

Where this differs from cleanlab (answers aside, which are the same):

* memory: scores are kept in one float array (cleanlab keeps a Python list of floats, about
  five times the size), and the final check of the given label against the argmax is made
  chunk by chunk (cleanlab copies the whole ``pred_probs`` into memory for it);
* ``find_label_issues_batched`` returns indices sorted by label quality, as both
  documentations say (cleanlab 2.9 returns the same indices in index order);
* ``n_jobs`` is accepted and changes nothing: counting is vectorised per chunk (cleanlab's
  process pool gives the single-process answer, except ``off_diagonal_calibrated`` on chunks
  of more than 5000 rows, where its pooled counts are wrong);
* inputs are checked per chunk (labels in ``0..K-1``, probabilities), options up front;
* progress is printed as one line per pass (cleanlab draws tqdm bars).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from core._util import smallest_m
from core._validation import TypeValueError
from core.constants import FLOATING_POINT_COMPARISON
from core.experimental._inspector import LabelInspector, split_arr

__all__ = ["LabelInspector", "find_label_issues_batched", "split_arr"]


def _given_is_argmax(
    probs: np.ndarray, labels: np.ndarray, predicted: np.ndarray, top: np.ndarray
) -> np.ndarray:
    """Per row, whether the given label is the argmax once its probability is raised by
    FLOATING_POINT_COMPARISON (in the array's dtype), ties going to the lower index as
    ``argmax`` does: :func:`core._util.argmax_is_given` without copying the rows."""
    raised = np.take_along_axis(probs, labels[:, None], axis=1)[:, 0] + probs.dtype.type(
        FLOATING_POINT_COMPARISON
    )
    return (predicted == labels) | (raised > top) | ((raised == top) & (labels < predicted))


def _load(name: str, array: Any, path: Any) -> Any:
    """``array``, or the ``.npy`` file at ``path`` memory-mapped; exactly one of the two."""
    if path is None:
        if array is None:
            raise ValueError(f"must provide one of: `{name}` or `{name}_file`")
        return array
    if array is not None:
        raise ValueError(f"only specify one of: `{name}` or `{name}_file`")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeValueError(
            f"{name}_file must be a path (str) to a .npy file; got {type(path).__name__}"
        )
    loaded = np.load(path, mmap_mode="r")
    if not isinstance(loaded, np.ndarray):
        raise ValueError(f"{name}_file must hold one array saved by np.save; got {path}")
    return loaded


def find_label_issues_batched(
    labels: Any = None,
    pred_probs: Any = None,
    *,
    labels_file: str | os.PathLike[str] | None = None,
    pred_probs_file: str | os.PathLike[str] | None = None,
    batch_size: int = 10000,
    n_jobs: int | None = 1,
    verbose: bool = True,
    quality_score_kwargs: dict[str, Any] | None = None,
    num_issue_kwargs: dict[str, Any] | None = None,
    return_mask: bool = False,
) -> np.ndarray:
    """Find label issues reading ``labels`` and ``pred_probs`` ``batch_size`` rows at a time.

    Approximates ``core.filter.find_label_issues(labels, pred_probs,
    filter_by="low_self_confidence", return_indices_ranked_by="self_confidence")`` with
    memory for one chunk plus 9 bytes per example. Pass memory-mapped arrays
    (``np.load(path, mmap_mode="r")``), Zarr or HDF5 arrays, or the ``.npy`` paths.

    Parameters
    ----------
    labels : array_like of shape (n_samples,), optional
        Given labels, integers in ``0..K-1``; anything sliceable (``labels[i:j]``).
    pred_probs : array_like of shape (n_samples, K), optional
        Out-of-sample predicted probabilities; anything sliceable (``pred_probs[i:j, :]``).
    labels_file, pred_probs_file : str or path, optional
        A ``.npy`` file (``np.save``) to memory-map instead of ``labels`` / ``pred_probs``.
    batch_size : int, default=10000
        Rows per chunk; the answer does not depend on it beyond float rounding.
    n_jobs : int or None, default=1
        Accepted for compatibility; no effect.
    verbose : bool, default=True
        Print progress.
    quality_score_kwargs : dict or None, default=None
        See :class:`LabelInspector`.
    num_issue_kwargs : dict or None, default=None
        See :class:`LabelInspector`.
    return_mask : bool, default=False
        Return a boolean mask instead of indices.

    Returns
    -------
    np.ndarray
        Indices of the label issues, lowest label quality first; or, with
        ``return_mask``, a boolean mask of shape (n_samples,).

    Raises
    ------
    ValueError
        If both or neither of an array and its file are given, the lengths differ, or a
        chunk is malformed.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([0, 0, 1, 1, 1, 0])
    >>> pred_probs = np.array(
    ...     [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9], [0.95, 0.05], [0.7, 0.3]]
    ... )
    >>> find_label_issues_batched(labels, pred_probs, batch_size=4, verbose=False).tolist()
    [4]
    """
    labels = _load("labels", labels, labels_file)
    pred_probs = _load("pred_probs", pred_probs, pred_probs_file)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be an int; got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    shape = getattr(pred_probs, "shape", None)
    if shape is None or len(shape) != 2:
        raise ValueError(
            f"pred_probs must be 2-D of shape (n_samples, n_classes); got shape {shape}"
        )
    n = len(labels)
    if n != shape[0]:
        raise ValueError(
            f"len(labels)={n} does not match len(pred_probs)={shape[0]}; labels and "
            "pred_probs must have one row per example"
        )
    lab = LabelInspector(
        num_class=int(shape[1]),
        verbose=verbose,
        n_jobs=n_jobs,
        quality_score_kwargs=quality_score_kwargs,
        num_issue_kwargs=num_issue_kwargs,
    )
    if verbose:
        print(f"Estimating confident thresholds from {n} examples in chunks of {batch_size}")
    for start in range(0, n, batch_size):
        lab.update_confident_thresholds(
            labels[start : start + batch_size], pred_probs[start : start + batch_size, :]
        )
    if verbose:
        print(f"Checking the labels of {n} examples in chunks of {batch_size}")
    # Whether each given label is (within FLOATING_POINT_COMPARISON) the argmax: such an
    # example is never an issue. One byte per example, decided chunk by chunk.
    given_is_argmax = np.zeros(n, dtype=bool)
    for start in range(0, n, batch_size):
        chunk_labels, chunk_probs = lab._batch(
            labels[start : start + batch_size], pred_probs[start : start + batch_size, :]
        )
        _, predicted, top = lab._score(chunk_labels, chunk_probs, True)
        assert predicted is not None and top is not None  # issues were counted
        given_is_argmax[start : start + len(chunk_labels)] = _given_is_argmax(
            chunk_probs, chunk_labels, predicted, top
        )
    scores = lab.get_quality_scores()
    flagged = smallest_m(scores, lab.get_num_issues(silent=True))  # argsort's set, in O(n)
    ranked = flagged[np.argsort(scores[flagged], kind="stable")]
    ranked = ranked[~given_is_argmax[ranked]]
    if return_mask:
        mask = np.zeros(n, dtype=bool)
        mask[ranked] = True
        return mask
    return ranked
