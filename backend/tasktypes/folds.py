"""Folds that stay put: each task's fold follows from its id, not from the other labels.

A re-audit after one fixed label should move almost nothing, so that a push of only the
predictions that changed has little to write (issue 14). Stratified folds
(scikit-learn's ``StratifiedGroupKFold``) reshuffle: one changed label moves many tasks to
other folds, every fold model sees a different training set, and 15-18% of the shown
predictions changed after one fix (bench/scale.py --offline). Here a task's fold is a
hash of its id and the seed, so a changed label moves no task. Balance comes from the
hash: a stratum of n tasks puts about n/K (+- sqrt(n/K)) in each fold. A stratum too small
for that (fewer than :data:`SPREAD_BELOW` tasks per fold) is dealt out round-robin in hash
order instead, so a rare class still lands in as many folds as it can; only its own
members can move when it gains or loses one.
"""

from __future__ import annotations

import numpy as np

#: A stratum with fewer tasks than this many per fold is dealt out round-robin.
SPREAD_BELOW = 10

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def unit_hash(ids: np.ndarray, seed: int) -> np.ndarray:
    """Return a number in [0, 1) per id, the same for the same (id, seed) on any machine.

    splitmix64's finalizer over ``id`` and ``seed`` (a fixed, well-mixed integer hash).
    """
    x = np.asarray(ids).astype(np.int64).view(np.uint64).copy()
    x ^= np.uint64((int(seed) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
    x += np.uint64(0x9E3779B97F4A7C15)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    x &= _MASK64
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def stable_task_folds(
    strata: np.ndarray, groups: np.ndarray, *, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """K folds over tasks (``groups``, integer task ids): a task's rows share a fold, and a
    task's fold depends only on its id and ``seed`` (a rare stratum: on its members).

    ``strata`` is one class per row (a task's first row stands for the task); returns
    (train, test) row indices per fold, every row in exactly one test.
    """
    groups = np.asarray(groups)
    if len(groups) == 0:
        raise ValueError("groups is empty: folds need at least one task")
    ids, first, task = np.unique(groups, return_index=True, return_inverse=True)
    n_splits = max(2, min(int(folds), len(ids)))
    position = unit_hash(ids, seed)
    fold_of = np.minimum((position * n_splits).astype(np.intp), n_splits - 1)
    _, stratum = np.unique(np.asarray(strata)[first], return_inverse=True)
    counts = np.bincount(stratum)
    for s in np.flatnonzero(counts < SPREAD_BELOW * n_splits).tolist():
        members = np.flatnonzero(stratum == s)
        ordered = members[np.argsort(position[members], kind="stable")]
        start = int(unit_hash(np.array([s]), seed)[0] * n_splits)  # not every rare class in fold 0
        fold_of[ordered] = (start + np.arange(len(ordered))) % n_splits
    row_fold = fold_of[task]
    return [(np.flatnonzero(row_fold != i), np.flatnonzero(row_fold == i)) for i in range(n_splits)]
