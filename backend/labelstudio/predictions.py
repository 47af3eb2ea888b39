"""Predictions in the shapes Label Studio takes them.

``build_prediction`` makes one item for ``ls.projects.import_predictions`` (bulk import,
with a ``task`` id); ``build_predict_result`` makes the same thing without ``task``, as
one element of a ``/predict`` answer's ``results``. ``score`` is what the Data Manager's
prediction-score column shows and sorts by; labelaudit puts the suspicion there. The
``result`` regions are the task type's (:meth:`backend.tasktypes.TaskType.result`), from
a label in its encoding (single choice: a class index).
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any

from backend import tasktypes
from backend.labelstudio.dataset import TaskKind

#: The model_version labelaudit's predictions carry: ``labelaudit-<n>``.
VERSION_PREFIX = "labelaudit"


def _finite(name: str, value: Any) -> float:
    # numbers.Real takes numpy scalars too; the result is a plain float for JSON.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number; got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}")
    return float(value)


def build_predict_result(
    kind: TaskKind,
    label: Any,
    score: float,
    model_version: str,
    *,
    mislabeling: float | None = None,
) -> dict[str, Any]:
    """Return one ``/predict``-style prediction: the label as the task type's result, with score."""
    if not isinstance(model_version, str) or not model_version:
        raise ValueError(f"model_version must be a non-empty string; got {model_version!r}")
    prediction: dict[str, Any] = {
        "result": tasktypes.get(kind.task_type).result(kind, label),
        "score": _finite("score", score),
        "model_version": model_version,
    }
    if mislabeling is not None:
        prediction["mislabeling"] = _finite("mislabeling", mislabeling)
    return prediction


def build_prediction(
    kind: TaskKind,
    task_id: int,
    label: Any,
    score: float,
    model_version: str,
    *,
    mislabeling: float | None = None,
) -> dict[str, Any]:
    """Return one item for ``ls.projects.import_predictions`` (a prediction for a task)."""
    if isinstance(task_id, bool) or not isinstance(task_id, numbers.Integral):
        raise TypeError(f"task_id must be an int; got {type(task_id).__name__}")
    return {
        "task": operator.index(task_id),
        **build_predict_result(kind, label, score, model_version, mislabeling=mislabeling),
    }
