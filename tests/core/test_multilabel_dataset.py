"""core.multilabel_classification.dataset against cleanlab's: the same DataFrames."""

from __future__ import annotations

import warnings

import cleanlab.filter
import cleanlab.multilabel_classification.dataset as cl_dataset
import numpy as np
import pandas as pd
import pytest

from core import count
from core.multilabel_classification import dataset
from tests.core._cases import ML_CASES, ML_MISSING_CASES
from tests.core.conftest import noisy_multilabel_problem

CASES = ML_CASES + ML_MISSING_CASES


@pytest.fixture(autouse=True)
def cleanlab_in_one_process(monkeypatch):
    """cleanlab's dataset functions leave n_jobs at its default, which starts a process
    pool for every class; its results do not depend on n_jobs, so run it with 1."""
    serial_find = cleanlab.filter.find_label_issues

    def find_label_issues(*args, **kwargs):
        return serial_find(*args, **{**kwargs, "n_jobs": 1})

    monkeypatch.setattr(cleanlab.filter, "find_label_issues", find_label_issues)


def quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.mark.parametrize("named", [False, True], ids=["indices", "names"])
@pytest.mark.parametrize(("name", "seed", "n", "k", "opts"), CASES, ids=[c[0] for c in CASES])
def test_tables_and_score_match_cleanlab(name, seed, n, k, opts, named):
    labels, probs = noisy_multilabel_problem(seed, n, k, **opts)
    names = [f"class {c}" for c in range(k)] if named else None
    for fn in (dataset.common_multilabel_issues, dataset.rank_classes_by_multilabel_quality):
        ours = quietly(fn, labels, probs, class_names=names)
        theirs = quietly(getattr(cl_dataset, fn.__name__), labels, probs, class_names=names)
        pd.testing.assert_frame_equal(ours, theirs)
    assert quietly(dataset.overall_multilabel_health_score, labels, probs) == quietly(
        cl_dataset.overall_multilabel_health_score, labels, probs
    )


def test_supplied_joints_match_cleanlab():
    labels, probs = noisy_multilabel_problem(2, 600, 5, noise=0.2)
    rng = np.random.default_rng(1)
    cj = rng.integers(0, 60, size=(5, 2, 2))
    cj[:, [0, 1], [0, 1]] += 200
    for fn, kwargs in (
        (dataset.common_multilabel_issues, {"confident_joint": cj}),
        (dataset.rank_classes_by_multilabel_quality, {"joint": cj}),
        (dataset.rank_classes_by_multilabel_quality, {"confident_joint": cj}),
    ):
        ours = fn(labels, probs, **kwargs)
        theirs = getattr(cl_dataset, fn.__name__)(labels, probs, **kwargs)
        pd.testing.assert_frame_equal(ours, theirs)
    assert dataset.overall_multilabel_health_score(
        labels, probs, confident_joint=cj
    ) == cl_dataset.overall_multilabel_health_score(labels, probs, confident_joint=cj)


@pytest.mark.parametrize("with_joint", [False, True])
def test_health_summary_matches_cleanlab(with_joint, capsys):
    labels, probs = noisy_multilabel_problem(3, 500, 6, round_to=2)
    cj = count.compute_confident_joint(labels, probs, multi_label=True) if with_joint else None
    names = list("abcdef")
    kwargs = {"class_names": names, "confident_joint": cj}
    ours = quietly(dataset.multilabel_health_summary, labels, probs, verbose=False, **kwargs)
    assert capsys.readouterr().out == ""
    theirs = quietly(cl_dataset.multilabel_health_summary, labels, probs, verbose=False, **kwargs)
    assert sorted(ours) == sorted(theirs)
    assert ours["overall_multilabel_health_score"] == theirs["overall_multilabel_health_score"]
    for key in ("classes_by_multilabel_quality", "common_multilabel_issues"):
        pd.testing.assert_frame_equal(ours[key], theirs[key])
    quietly(dataset.multilabel_health_summary, labels, probs, num_examples=12_345, **kwargs)
    printed = capsys.readouterr().out
    assert "12,345 examples" in printed
    assert f"{ours['overall_multilabel_health_score']:.4g}" in printed


def test_hand_example_from_cleanlab_docs():
    probs = np.array(
        [
            [0.9, 0.1, 0.0, 0.4, 0.1],
            [0.7, 0.8, 0.2, 0.3, 0.1],
            [0.9, 0.8, 0.4, 0.2, 0.1],
            [0.1, 0.1, 0.8, 0.3, 0.1],
            [0.4, 0.5, 0.1, 0.1, 0.1],
            [0.1, 0.1, 0.2, 0.1, 0.1],
            [0.8, 0.1, 0.2, 0.1, 0.1],
        ]
    )
    labels = [[0], [0, 1], [0, 1], [2], [0, 2, 3], [], []]
    names = ["Apple", "Cat", "Dog", "Peach", "Bird"]
    ranked = quietly(dataset.rank_classes_by_multilabel_quality, labels, probs, class_names=names)
    assert ranked["Class Name"].tolist() == ["Dog", "Apple", "Cat", "Peach", "Bird"]
    assert ranked["Label Issues"].tolist() == [1, 0, 0, 0, 0]
    assert ranked["Inverse Label Issues"].tolist() == [0, 1, 0, 0, 0]
    common = quietly(dataset.common_multilabel_issues, labels, probs)
    np.testing.assert_allclose(common["Issue Probability"][:2], [1 / 7, 1 / 7])
    assert "Class Name" not in common.columns


def test_dataset_errors_name_the_argument():
    labels, probs = noisy_multilabel_problem(0, 50, 3)
    with pytest.raises(ValueError, match="class_names must have one name per class"):
        dataset.common_multilabel_issues(labels, probs, class_names=["a"])
    with pytest.raises(ValueError, match="labels and pred_probs are both needed"):
        dataset.overall_multilabel_health_score(labels)
    with pytest.raises(ValueError, match=r"confident_joint must have shape \(3, 2, 2\)"):
        dataset.common_multilabel_issues(labels, probs, confident_joint=np.ones((3, 2)))
