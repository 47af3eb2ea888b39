"""Why an annotation is flagged, in words a reviewer can check: the model's top labels and
the most similar audited tasks with their labels.

For task types whose out-of-fold probabilities are one column per class (single choice,
several annotators, multi-label); similarity is cosine in the space the model sees (the
fitted feature steps' output: TF-IDF for text, pixels after PCA for images, the numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: Labels shown from the model's probabilities, and similar tasks shown.
TOP_LABELS = 3
SIMILAR_TASKS = 3
#: MiB of distances computed at a time when looking for similar tasks (scikit-learn's
#: ``working_memory``, 1,024 by default): at 100,000 text tasks its default chunks held
#: ~2.6 GiB (a nearly dense sparse product beside the dense distances; issue 14).
SIMILAR_WORKING_MEMORY_MIB = 128


def flagged_evidence(
    X: Any,
    probs: np.ndarray,
    groups: np.ndarray,
    given: np.ndarray,
    flagged: np.ndarray,
    classes: tuple[str, ...],
    label_text: Callable[[Any], str],
) -> list[str]:
    """One string per row: for flagged rows, ``model: A 0.81, B 0.12; similar: task 12 (A),
    ...``; "" for the rest. ``groups`` are task ids (a task is never its own neighbour)."""
    out = [""] * len(groups)
    rows = np.flatnonzero(flagged)
    if len(rows) == 0 or probs.ndim != 2 or probs.dtype == object:
        return out
    neighbours = _similar_rows(X, groups, rows)
    for row, near in zip(rows.tolist(), neighbours, strict=True):
        top = np.argsort(-probs[row], kind="stable")[:TOP_LABELS]
        model = ", ".join(f"{classes[k]} {probs[row, k]:.2f}" for k in top.tolist())
        similar = ", ".join(f"task {int(groups[n])} ({label_text(given[n])})" for n in near)
        out[row] = f"model: {model}" + (f"; similar: {similar}" if similar else "")
    return out


def _similar_rows(X: Any, groups: np.ndarray, rows: np.ndarray) -> list[list[int]]:
    """For each of ``rows``, up to SIMILAR_TASKS rows of other tasks, most similar first
    (one row per task)."""
    from sklearn import config_context
    from sklearn.neighbors import NearestNeighbors

    if not hasattr(X, "shape") or len(X.shape) != 2 or X.shape[0] != len(groups):
        return [[] for _ in rows]
    per_task = int(np.unique(groups, return_counts=True)[1].max())
    k = min(len(groups), SIMILAR_TASKS * per_task + per_task)
    index = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(X)
    with config_context(working_memory=SIMILAR_WORKING_MEMORY_MIB):
        _, found = index.kneighbors(X[rows])
    out = []
    for row, candidates in zip(rows.tolist(), found, strict=True):
        seen = {int(groups[row])}
        near: list[int] = []
        for n in candidates.tolist():
            task = int(groups[n])
            if task not in seen:
                seen.add(task)
                near.append(n)
            if len(near) == SIMILAR_TASKS:
                break
        out.append(near)
    return out
