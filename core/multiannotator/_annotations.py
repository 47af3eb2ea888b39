"""The wide annotator-label matrix, read and checked once (private to core.multiannotator).

``labels_multiannotator`` has shape ``(N, M)``: entry ``[n, m]`` is annotator ``m``'s class
for example ``n``, NaN where ``m`` did not label ``n``. :class:`Annotations` keeps the
labelled entries as flat arrays, one entry per annotation, examples in order and, within an
example, annotators in column order: the order in which cleanlab visits them, so that sums
taken here add the same numbers in the same order and give the same bits.

The checks raise cleanlab's errors (its wording where it has one) with the argument named.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from core._validation import TypeValueError, validate_pred_probs

LABELS = "labels_multiannotator"
_STRINGS = (
    "Labels cannot be strings, they must be zero-indexed integers corresponding to class indices"
)


def _frame_to_matrix(frame: pd.DataFrame) -> np.ndarray:
    """A DataFrame of labels as floats, pandas' missing values (NaN, None, pd.NA) as NaN."""
    if all(isinstance(t, np.dtype) and t.kind in "fiub" for t in frame.dtypes):
        return frame.to_numpy(dtype=float)
    matrix = np.empty(frame.shape, dtype=float)
    for j in range(frame.shape[1]):
        column = frame.iloc[:, j]
        if isinstance(column.dtype, np.dtype) and column.dtype.kind in "fiub":
            matrix[:, j] = column.to_numpy(dtype=float)
            continue
        values = column.to_numpy(dtype=object)
        missing = pd.isna(values)
        if any(isinstance(v, str) for v in values[~missing]):
            raise ValueError(f"{LABELS}: {_STRINGS}; column {frame.columns[j]!r} holds strings")
        matrix[:, j] = np.nan
        try:
            matrix[~missing, j] = values[~missing].astype(float)
        except (TypeError, ValueError):
            raise TypeValueError(
                f"{LABELS} must hold class indices or NaN; column {frame.columns[j]!r} has "
                f"values of type {type(values[~missing][0]).__name__}"
            ) from None
    return matrix


def read_labels(labels_multiannotator: Any) -> tuple[np.ndarray, pd.Index | None, pd.Index | None]:
    """Return ``(matrix, annotator_ids, index)``.

    ``matrix`` is the labels as a 2-D float array, NaN where no label was given; the ids and
    the index are the DataFrame's columns and index (None for an array).
    """
    if isinstance(labels_multiannotator, pd.DataFrame):
        frame = labels_multiannotator
        return _frame_to_matrix(frame), frame.columns, frame.index
    if not isinstance(labels_multiannotator, (np.ndarray, list, tuple)):
        raise TypeValueError(
            f"{LABELS} must be either a NumPy array or Pandas DataFrame; "
            f"got {type(labels_multiannotator).__name__}"
        )
    array = np.asarray(labels_multiannotator)
    if array.ndim != 2:
        raise ValueError(
            f"{LABELS} must be a 2D array or dataframe, each row represents an example and each "
            f"column represents an annotator; got shape {array.shape}"
        )
    if array.dtype.kind in "US" or (
        array.dtype == object and any(isinstance(v, str) for v in array.ravel())
    ):
        raise ValueError(f"{LABELS}: {_STRINGS}")
    try:  # float input is read, never written: no copy
        return array.astype(float, copy=False), None, None
    except (TypeError, ValueError):
        raise TypeValueError(
            f"{LABELS} must hold class indices or NaN; got dtype {array.dtype}"
        ) from None


def check_label_values(matrix: np.ndarray) -> None:
    """Raise unless every label given is an integer class index ``>= 0``."""
    given = matrix[~np.isnan(matrix)]
    if not np.all(np.isfinite(given)) or not np.all(np.mod(given, 1) == 0):
        bad = given[~(np.isfinite(given) & (np.mod(given, 1) == 0))][0]
        raise ValueError(
            f"{LABELS}: Labels must be zero-indexed integers corresponding to class indices; "
            f"got {bad!r}"
        )
    if given.size and given.min() < 0:
        raise ValueError(
            f"{LABELS}: Labels must be positive integers corresponding to class indices; "
            f"got {given.min()!r}"
        )


def check_rows_labeled(matrix: np.ndarray) -> None:
    """Raise if an example has no label at all."""
    empty = np.isnan(matrix).all(axis=1)
    if empty.any():
        raise ValueError(
            f"{LABELS} cannot have rows with all NaN, each example must have at least one "
            f"label.\nExamples {np.flatnonzero(empty).tolist()} do not have any labels."
        )


def check_labels(
    matrix: np.ndarray,
    annotator_ids: pd.Index | None = None,
    *,
    allow_single_label: bool = False,
) -> None:
    """cleanlab's checks of a wide label matrix (``assert_valid_inputs_multiannotator``).

    Every example needs a label and every annotator one label at least; unless
    ``allow_single_label``, there must be two annotators or more and some example labelled
    twice, and a warning says so when no two annotators ever agree.
    """
    check_rows_labeled(matrix)
    silent = np.isnan(matrix).all(axis=0)
    if silent.any():
        where = np.flatnonzero(silent)
        names = (annotator_ids[where] if annotator_ids is not None else where).tolist()
        raise ValueError(
            f"{LABELS} cannot have columns with all NaN, each annotator must annotate at least "
            f"one example.\nAnnotators {names} did not label any examples."
        )
    check_label_values(matrix)
    if allow_single_label:
        return
    if matrix.shape[1] <= 1:
        raise ValueError(
            f"{LABELS} must have more than one column; got {matrix.shape[1]}.\nIf there is "
            "only one annotator, use core.rank.get_label_quality_scores instead"
        )
    given = ~np.isnan(matrix)
    if (given.sum(axis=1) == 1).all():
        raise ValueError(
            f"{LABELS}: Each example only has one label, collapse the labels into a 1-D "
            "array and use core.rank.get_label_quality_scores instead"
        )
    # Two equal labels of one example sit side by side once its row is sorted (NaN last,
    # equal to nothing); class indices below 2**24 are exact in float32.
    ordered = matrix.astype(np.float32 if np.nanmax(matrix) < 2**24 else np.float64)
    ordered.sort(axis=1)
    if not (ordered[:, 1:] == ordered[:, :-1]).any():
        warnings.warn(
            "Annotators do not agree on any example. Check input data.",
            UserWarning,
            stacklevel=3,
        )


def check_pred_probs(
    pred_probs: Any, matrix: np.ndarray, *, ensemble: bool = False, name: str = "pred_probs"
) -> np.ndarray:
    """Return ``pred_probs`` validated against the labels: (N, K), or (P, N, K) for an
    ensemble, with K above every class given."""
    if isinstance(pred_probs, (pd.DataFrame, pd.Series)):
        pred_probs = pred_probs.to_numpy()
    if not isinstance(pred_probs, (np.ndarray, list, tuple)):
        raise TypeError(f"{name} must be a numpy array; got {type(pred_probs).__name__}")
    array = np.asarray(pred_probs)
    check_dimensions(array, ensemble=ensemble, name=name)
    if array.shape[-2] != len(matrix):
        raise ValueError(
            f"{name} and {LABELS} must have same length; got {array.shape[-2]} rows of {name} "
            f"and {len(matrix)} of {LABELS}"
        )
    highest = np.nanmax(matrix) + 1
    if array.shape[-1] < highest:
        raise ValueError(
            f"{name} must have at least {int(highest)} columns based on the largest class label "
            f"which appears in {LABELS}; got {array.shape[-1]}. Perhaps some rarely-annotated "
            "classes were lost while establishing consensus labels used to train your classifier."
        )
    return check_probabilities(array, ensemble=ensemble, name=name)


def check_dimensions(array: np.ndarray, *, ensemble: bool, name: str) -> None:
    """Raise unless ``array`` is 2-D (one model) or 3-D (``ensemble``), naming the other."""
    want, other = (3, 2) if ensemble else (2, 3)
    if array.ndim != want:
        shape = "(P, N, K)" if ensemble else "(N, K)"
        message = f"{name} must be a {want}d array of shape {shape}; got shape {array.shape}."
        if array.ndim == other:
            version = "non-ensemble" if ensemble else "ensemble"
            message += (
                f" If you have a {other}d {name} array, use the {version} version of this function."
            )
        raise ValueError(message)


def check_probabilities(
    array: np.ndarray, *, ensemble: bool, name: str, rows_sum_to_one: bool = True
) -> np.ndarray:
    """Rows of predicted probabilities, as :func:`core._validation.validate_pred_probs` wants
    (``rows_sum_to_one=False``: values in [0, 1], rows of any sum)."""
    if not ensemble:
        return validate_pred_probs(array, name=name, rows_sum_to_one=rows_sum_to_one)
    if len(array) == 0:
        raise ValueError(f"{name} must hold at least one model; got shape {array.shape}")
    if array.dtype.kind in "iub":
        array = array.astype(np.float64)
    for p in range(len(array)):
        validate_pred_probs(array[p], name=f"{name}[{p}]", rows_sum_to_one=rows_sum_to_one)
    return array


@dataclass(frozen=True, eq=False)
class Annotations:
    """The labels of a validated wide matrix, one flat entry per annotation.

    ``rows[a]``, ``cols[a]`` and ``labels[a]`` say that annotator ``cols[a]`` gave example
    ``rows[a]`` the class ``labels[a]``; entries run by example, then by annotator. They are
    int32 (half the memory of numpy's indices; widen before multiplying them).
    """

    matrix: np.ndarray
    annotator_ids: pd.Index | None = None
    index: pd.Index | None = None

    @cached_property
    def _entries(self) -> tuple[np.ndarray, ...]:
        return tuple(a.astype(np.int32) for a in np.nonzero(~np.isnan(self.matrix)))

    @property
    def rows(self) -> np.ndarray:
        return self._entries[0]

    @property
    def cols(self) -> np.ndarray:
        return self._entries[1]

    @cached_property
    def labels(self) -> np.ndarray:
        return self.matrix[self.rows, self.cols].astype(np.int32)

    @property
    def num_examples(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def num_annotators(self) -> int:
        return int(self.matrix.shape[1])

    @cached_property
    def num_annotations(self) -> np.ndarray:
        """(N,) int64: how many annotators labelled each example."""
        return np.bincount(self.rows, minlength=self.num_examples).astype(np.int64)

    @cached_property
    def num_labeled(self) -> np.ndarray:
        """(M,) int64: how many examples each annotator labelled."""
        return np.bincount(self.cols, minlength=self.num_annotators).astype(np.int64)

    @cached_property
    def row_start(self) -> np.ndarray:
        """Where each example's annotations start in the flat arrays (N + 1 entries)."""
        return np.concatenate(([0], np.cumsum(self.num_annotations)))

    @cached_property
    def by_annotator(self) -> np.ndarray:
        """Annotation indices ordered by annotator, examples in order within one."""
        return np.argsort(self.cols, kind="stable")

    @cached_property
    def annotator_start(self) -> np.ndarray:
        """Where each annotator's entries start in :attr:`by_annotator` (M + 1 entries)."""
        return np.concatenate(([0], np.cumsum(self.num_labeled)))

    def class_counts(self, num_classes: int) -> np.ndarray:
        """(N, K) int32: how many annotators gave each example each class."""
        flat = self.rows.astype(np.int64) * num_classes + self.labels
        counts = np.bincount(flat, minlength=self.num_examples * num_classes)
        return counts.reshape(self.num_examples, num_classes).astype(np.int32)

    def annotator_slices(self, values: np.ndarray) -> Iterator[np.ndarray]:
        """Per annotator, its entries of the per-annotation ``values``, examples in order."""
        ordered = values[self.by_annotator]
        bounds = self.annotator_start
        for m in range(self.num_annotators):
            yield ordered[bounds[m] : bounds[m + 1]]

    def slots(self) -> Iterator[np.ndarray]:
        """Annotation indices by position within their example: first every example's first
        annotation, then every second one, and so on (examples in order in each)."""
        position = np.arange(len(self.rows)) - self.row_start[self.rows]
        order = np.argsort(position, kind="stable")
        bounds = np.concatenate(([0], np.cumsum(np.bincount(position))))
        for j in range(len(bounds) - 1):
            yield order[bounds[j] : bounds[j + 1]]

    def groups_by_count(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(examples, entries)`` per number of annotations ``n``: the examples with ``n``
        annotations and an (examples, n) array of their annotation indices, in column order."""
        for n in np.unique(self.num_annotations):
            examples = np.flatnonzero(self.num_annotations == n)
            yield examples, self.row_start[examples][:, None] + np.arange(n)

    def row_sums(self, values: np.ndarray) -> np.ndarray:
        """Per example, ``np.sum`` of its annotations' ``values`` in column order.

        A row of an (examples, n) array sums as the same n numbers summed alone do (numpy's
        pairwise summation works along the row), so the bits are those of one sum per row.
        """
        sums = np.empty(self.num_examples, dtype=np.result_type(values.dtype, np.float64))
        for examples, entries in self.groups_by_count():
            sums[examples] = values[entries].sum(axis=1)
        return sums
