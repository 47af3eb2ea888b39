"""Why a row is flagged: the similar tasks are found in bounded memory (issue 14)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from backend import evidence


@pytest.fixture
def tfidf_like():
    rng = np.random.default_rng(0)
    X = sparse.random(300, 50, density=0.2, format="csr", random_state=rng)
    groups = np.arange(1, 301)
    groups[10] = groups[11]  # a task with two rows: never its own neighbour
    return X, groups


def test_similar_tasks_do_not_depend_on_the_working_memory(tfidf_like, monkeypatch):
    """The distances are computed in chunks of SIMILAR_WORKING_MEMORY_MIB; the chunk size
    changes how much is held at once, never which tasks are found."""
    X, groups = tfidf_like
    rows = np.arange(0, 300, 7)
    monkeypatch.setattr(evidence, "SIMILAR_WORKING_MEMORY_MIB", 1024)
    whole = evidence._similar_rows(X, groups, rows)
    monkeypatch.setattr(evidence, "SIMILAR_WORKING_MEMORY_MIB", 0.01)  # 4 rows a chunk
    assert evidence._similar_rows(X, groups, rows) == whole
    assert all(len(near) == evidence.SIMILAR_TASKS for near in whole)
    assert all(groups[n] != groups[r] for r, near in zip(rows, whole, strict=True) for n in near)
