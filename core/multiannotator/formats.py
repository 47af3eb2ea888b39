"""Getting annotations into the wide format the multi-annotator functions take.

``convert_long_to_wide_dataset`` mirrors ``cleanlab.multiannotator``'s (one row per
annotation -> one row per example, one column per annotator) and
``format_multiannotator_labels`` cleanlab's helper of that name (any class names -> class
indices ``0..K-1`` in sorted order).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["convert_long_to_wide_dataset", "format_multiannotator_labels"]

_LONG_COLUMNS = ("task", "annotator", "label")


def _sorted_codes(keys: pd.Series) -> tuple[np.ndarray, pd.Index] | None:
    """Codes of ``keys`` in the order of their sorted distinct values, and those values (as
    pandas' pivot sorts them); None for missing or unsortable keys."""
    if isinstance(keys.dtype, np.dtype) and keys.dtype.kind in "iu":
        values = keys.to_numpy()
    elif keys.dtype == object or isinstance(keys.dtype, pd.StringDtype):
        values = keys.to_numpy(dtype=object)  # hashing plain objects is the fast way
    else:
        return None
    codes, distinct = pd.factorize(values)  # in order of appearance
    if (codes < 0).any():
        return None
    if values.dtype == object and not all(isinstance(v, str) for v in distinct):
        return None  # mixed or odd objects: pandas decides how they sort
    order = np.argsort(distinct, kind="stable")
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    return rank[codes], pd.Index(distinct[order], dtype=keys.dtype)


def _wide_from_codes(long: pd.DataFrame) -> pd.DataFrame | None:
    """The pivot built from sorted codes, for integer or float labels and integer or string
    keys; None where pandas' own pivot should decide (other dtypes, missing keys, a pair
    labelled twice)."""
    label = long["label"]
    if label.dtype not in (np.dtype(np.int64), np.dtype(np.float64)):
        return None
    tasks, annotators = _sorted_codes(long["task"]), _sorted_codes(long["annotator"])
    if tasks is None or annotators is None:
        return None
    (task_codes, task_index), (annotator_codes, annotator_index) = tasks, annotators
    width = len(annotator_index)
    cells = task_codes.astype(np.int64) * width + annotator_codes
    size = len(task_index) * width
    if np.bincount(cells, minlength=size).max(initial=0) > 1:
        return None
    if len(cells) == size:  # every annotator labelled every task: the labels' dtype stays
        values = np.empty((len(task_index), width), dtype=label.dtype)
    else:
        values = np.full((len(task_index), width), np.nan)
    values.reshape(-1)[cells] = label.to_numpy()
    return pd.DataFrame(values, index=task_index, columns=annotator_index, copy=False)


def convert_long_to_wide_dataset(labels_multiannotator_long: pd.DataFrame) -> pd.DataFrame:
    """Return one row per task and one column per annotator from one row per annotation.

    Parameters
    ----------
    labels_multiannotator_long : pd.DataFrame
        Columns ``task`` (the example), ``annotator`` and ``label`` (the class that
        annotator gave that task); one row per (task, annotator).

    Returns
    -------
    pd.DataFrame of shape (n_tasks, n_annotators)
        Index: the tasks, sorted; columns: the annotators, sorted (neither named); NaN where
        an annotator did not label a task. Integer labels stay integers when every
        annotator labelled every task. Pass it to :func:`get_label_quality_multiannotator`.

    Raises
    ------
    ValueError
        If a column is missing or an annotator labelled a task twice.

    Examples
    --------
    >>> import pandas as pd
    >>> long = pd.DataFrame({"task": [0, 0, 1], "annotator": ["a", "b", "a"], "label": [1, 2, 0]})
    >>> convert_long_to_wide_dataset(long)
         a    b
    0  1.0  2.0
    1  0.0  NaN
    """
    if not isinstance(labels_multiannotator_long, pd.DataFrame):
        raise TypeError(
            "labels_multiannotator_long must be a pandas DataFrame; "
            f"got {type(labels_multiannotator_long).__name__}"
        )
    missing = [c for c in _LONG_COLUMNS if c not in labels_multiannotator_long.columns]
    if missing:
        raise ValueError(
            f"labels_multiannotator_long must have columns {list(_LONG_COLUMNS)}; missing {missing}"
        )
    wide = _wide_from_codes(labels_multiannotator_long)
    if wide is None:
        try:
            wide = labels_multiannotator_long.pivot(
                index="task", columns="annotator", values="label"
            )
        except ValueError as error:
            raise ValueError(
                "labels_multiannotator_long holds more than one label for some (task, "
                f"annotator) pair ({error})"
            ) from None
    wide.index.name = None
    wide.columns.name = None
    return wide


def _is_missing(value: Any) -> bool:
    return (isinstance(value, str) and value == "nan") or bool(pd.isna(value))


def format_multiannotator_labels(
    labels: pd.DataFrame | np.ndarray,
) -> tuple[pd.DataFrame, dict[int, Any]]:
    """Return ``labels`` as class indices ``0..K-1`` (classes in sorted order) and the map back.

    Parameters
    ----------
    labels : pd.DataFrame or np.ndarray of shape (n_samples, n_annotators)
        Any sortable class names (strings, numbers); NaN, None, pd.NA or the string
        ``"nan"`` (numpy's rendering of NaN in a string array) where there is no label.

    Returns
    -------
    formatted_labels : pd.DataFrame of shape (n_samples, n_annotators)
        Class indices, with the index and columns of ``labels``: a column is int64 if every
        entry is labelled, else float64 with NaN where there is no label. (cleanlab 2.9 keeps
        the strings ``"nan"`` of a string array in place.)
    mapping : dict
        ``mapping[k]`` is the name of class ``k``.

    Examples
    --------
    >>> import numpy as np
    >>> formatted, mapping = format_multiannotator_labels(np.array([["b", "a"], ["c", "nan"]]))
    >>> formatted.to_numpy().tolist(), mapping
    ([[1.0, 0.0], [2.0, nan]], {0: 'a', 1: 'b', 2: 'c'})
    """
    if isinstance(labels, pd.DataFrame):
        frame = labels
    elif isinstance(labels, np.ndarray):
        frame = pd.DataFrame(labels)
    else:
        raise TypeError(
            f"labels must be 2D numpy array or pandas DataFrame; got {type(labels).__name__}"
        )
    values = frame.to_numpy(dtype=object)
    missing = np.vectorize(_is_missing, otypes=[bool])(values) if values.size else values
    present = values[~missing]
    try:
        classes = sorted(set(present.tolist()))
    except TypeError:
        raise TypeError(
            "labels must hold class names of one sortable kind (all numbers or all strings)"
        ) from None
    codes = np.full(values.shape, np.nan)
    lookup = {name: k for k, name in enumerate(classes)}
    codes[~missing] = [lookup[v] for v in present.tolist()]
    mapping = {
        k: int(c) if isinstance(c, float) and c.is_integer() else c for k, c in enumerate(classes)
    }
    columns = {
        j: codes[:, j] if missing[:, j].any() else codes[:, j].astype(np.int64)
        for j in range(codes.shape[1])
    }
    formatted = pd.DataFrame(columns, index=frame.index)
    formatted.columns = frame.columns
    return formatted, mapping
