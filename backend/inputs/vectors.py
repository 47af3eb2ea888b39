"""Numeric and embedding values: one list of numbers per row, stacked into a matrix.

Numbers are used as given; scaling, where a model needs it, is a step of the model's
pipeline (so each fold learns it from its own training rows).
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.inputs import Features, Fetch, InputType, RowProgress

if TYPE_CHECKING:
    from backend.settings import Settings


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _problem(value: Any, what: str) -> str | None:
    """Return why ``value`` is not a usable vector of numbers, or None if it is."""
    if not isinstance(value, (list, tuple, np.ndarray)):
        return f"{what} input must be a list of numbers; got {type(value).__name__}"
    if len(value) == 0:
        return f"{what} input is an empty list"
    for position, item in enumerate(value):
        if not _is_number(item):
            return f"{what} input has a non-number at position {position}: {item!r:.40}"
        if not math.isfinite(item):
            return f"{what} input has a non-finite number at position {position}: {item!r}"
    return None


def _rectangular(inputs: Sequence[Any]) -> np.ndarray | None:
    """Return ``inputs`` as a matrix if every row is a finite numeric vector of one length."""
    if len(inputs) == 0:
        return None
    try:
        X = np.asarray(inputs)
    except ValueError:  # ragged rows
        return None
    if X.ndim != 2 or X.shape[1] == 0 or X.dtype.kind not in "iuf":
        return None
    X = X.astype(np.float64, copy=False)
    return X if np.isfinite(X).all() else None


def featurize_vectors(
    inputs: Sequence[Any], *, what: str
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]:
    """Return ``(X, ok, failures)``: a float64 matrix with one row per input.

    Every usable row must have the same length: the most common length among the rows
    (``what`` names the input kind in the messages). Rows of another length, holding
    non-numbers or NaN/inf, fail; their row of ``X`` is zeros.
    """
    fast = _rectangular(inputs)
    if fast is not None:
        return fast, np.ones(len(inputs), dtype=bool), []
    problems = [_problem(value, what) for value in inputs]
    lengths = Counter(len(v) for v, p in zip(inputs, problems, strict=True) if p is None)
    width = lengths.most_common(1)[0][0] if lengths else 0
    X = np.zeros((len(inputs), width), dtype=np.float64)
    ok = np.zeros(len(inputs), dtype=bool)
    failures: list[tuple[int, str]] = []
    for row, (value, problem) in enumerate(zip(inputs, problems, strict=True)):
        if problem is None and len(value) != width:
            problem = f"{what} input has length {len(value)}; the other rows have {width}"
        if problem is None:
            X[row] = value
            ok[row] = True
        else:
            failures.append((row, problem))
    return X, ok, failures


class VectorInput(InputType):
    """What numeric and embedding inputs share: rows of numbers stacked into a matrix, and a
    report cell showing the first numbers (subclasses read their values and pick a model)."""

    #: Numbers of a value the report shows.
    SHOWN = 12

    def featurize(
        self,
        inputs: Sequence[Any],
        settings: Settings,
        *,
        fetch: Fetch | None = None,
        progress: RowProgress | None = None,
    ) -> Features:
        features = Features(*featurize_vectors(inputs, what=self.name))
        if progress is not None:
            progress(len(inputs), len(inputs))
        return features

    def cell(self, value: Any, fetch: Fetch | None) -> str:
        numbers = ", ".join(f"{float(x):.3g}" for x in list(value)[: self.SHOWN])
        more = " …" if len(value) > self.SHOWN else ""
        return f"<code>{html.escape(numbers)}{more}</code>"
