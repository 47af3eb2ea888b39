"""Folds that stay put (backend.tasktypes.folds)."""

from __future__ import annotations

import numpy as np
import pytest

from backend.tasktypes.folds import SPREAD_BELOW, stable_task_folds, unit_hash


def _fold_of(folds: list[tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
    out = np.full(n, -1)
    for i, (train, test) in enumerate(folds):
        assert np.intersect1d(train, test).size == 0
        assert (out[test] == -1).all()  # every row in exactly one test fold
        out[test] = i
    assert (out >= 0).all()
    return out


@pytest.fixture
def project() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    groups = rng.permutation(np.arange(10, 2010))  # task ids, in no order
    labels = rng.integers(0, 3, size=len(groups))
    labels[:12] = 3  # a class rarer than SPREAD_BELOW per fold
    return labels, groups


def test_a_changed_label_moves_no_task_and_the_folds_stay_balanced(project):
    labels, groups = project
    before = _fold_of(stable_task_folds(labels, groups, folds=5, seed=0), len(labels))
    changed = labels.copy()
    changed[100:150] = (changed[100:150] + 1) % 3  # 50 fixes among the common classes
    after = _fold_of(stable_task_folds(changed, groups, folds=5, seed=0), len(labels))
    assert (before == after).all()
    for cls in range(3):
        sizes = np.bincount(before[labels == cls], minlength=5)
        assert sizes.min() > 0.75 * sizes.mean(), sizes
    # The rare class is dealt out: in every fold it can reach (12 tasks, 5 folds).
    assert sorted(np.bincount(before[labels == 3], minlength=5).tolist()) == [2, 2, 2, 3, 3]
    assert 12 < SPREAD_BELOW * 5


def test_a_task_s_rows_share_a_fold_and_the_seed_reshuffles():
    groups = np.repeat(np.arange(1, 301), 3)  # three annotations per task
    labels = np.tile([0, 1, 1], 300)
    folds = _fold_of(stable_task_folds(labels, groups, folds=4, seed=1), len(groups))
    assert all(len(set(folds[groups == t].tolist())) == 1 for t in range(1, 301))
    other = _fold_of(stable_task_folds(labels, groups, folds=4, seed=2), len(groups))
    assert (folds != other).mean() > 0.5
    # Fewer tasks than folds: as many folds as tasks (at least two).
    assert len(stable_task_folds(np.array([0, 1]), np.array([5, 6]), folds=5, seed=0)) == 2


def test_unit_hash_is_fixed_and_uniform():
    values = unit_hash(np.arange(100_000), seed=0)
    assert ((values >= 0) & (values < 1)).all()
    assert np.histogram(values, bins=10, range=(0, 1))[0].min() > 9_500
    assert unit_hash(np.array([42]), seed=0)[0] == unit_hash(np.array([7, 42]), seed=0)[1]
    with pytest.raises(ValueError, match="groups is empty"):
        stable_task_folds(np.array([]), np.array([]), folds=5, seed=0)


def test_only_task_types_whose_folds_stay_put_write_re_audits_in_place():
    from backend import tasktypes

    in_place = {name for name in tasktypes.names() if tasktypes.get(name).in_place}
    assert in_place == {"single_choice"}  # multi_annotator inherits single choice's, not this
