"""The multi_label=True paths of core.count and core.filter against cleanlab's."""

from __future__ import annotations

import warnings

import cleanlab.count as cl_count
import cleanlab.filter as cl_filter
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import count, latent_estimation
from core import filter as our_filter
from core.constants import FILTER_BY
from core.multilabel_classification import filter as ml_filter
from core.multilabel_classification import rank as ml_rank
from tests.core._cases import ML_CASES, ML_MISSING_CASES
from tests.core.conftest import noisy_multilabel_problem

ALL_CASES = ML_CASES + ML_MISSING_CASES
CASE_IDS = [case[0] for case in ALL_CASES]


def quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.mark.parametrize(("name", "seed", "n", "k", "opts"), ALL_CASES, ids=CASE_IDS)
def test_count_functions_match_cleanlab(name, seed, n, k, opts):
    labels, probs = noisy_multilabel_problem(seed, n, k, **opts)
    ours = count.get_confident_thresholds(labels, probs, multi_label=True)
    theirs = cl_count.get_confident_thresholds(labels, probs, multi_label=True)
    assert ours.shape == (k, 2) and ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)
    for calibrate in (True, False):
        ours_cj, ours_off = count.compute_confident_joint(
            labels,
            probs,
            calibrate=calibrate,
            multi_label=True,
            return_indices_of_off_diagonals=True,
        )
        theirs_cj, theirs_off = cl_count.compute_confident_joint(
            labels,
            probs,
            calibrate=calibrate,
            multi_label=True,
            return_indices_of_off_diagonals=True,
        )
        assert ours_cj.shape == (k, 2, 2) and ours_cj.dtype == theirs_cj.dtype
        np.testing.assert_array_equal(ours_cj, theirs_cj)
        assert len(ours_off) == len(theirs_off) == k
        for a, b in zip(ours_off, theirs_off, strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        count.compute_confident_joint(labels, probs, multi_label=True, thresholds=[0.4, 0.7]),
        cl_count.compute_confident_joint(labels, probs, multi_label=True, thresholds=[0.4, 0.7]),
    )
    ours_joint = count.estimate_joint(labels, probs, multi_label=True)
    np.testing.assert_array_equal(
        ours_joint, cl_count.estimate_joint(labels, probs, multi_label=True)
    )
    uncalibrated = count.compute_confident_joint(labels, probs, calibrate=False, multi_label=True)
    np.testing.assert_array_equal(
        count.estimate_joint(labels, probs, confident_joint=uncalibrated, multi_label=True),
        quietly(
            cl_count.estimate_joint,
            labels,
            probs,
            confident_joint=uncalibrated,
            multi_label=True,
        ),
    )
    assert count.num_label_issues(labels, probs, multi_label=True) == quietly(
        cl_count.num_label_issues, labels, probs, multi_label=True
    )
    np.testing.assert_array_equal(
        count.calibrate_confident_joint(uncalibrated, labels, multi_label=True),
        count.compute_confident_joint(labels, probs, multi_label=True),
    )
    if "missing" not in opts:  # cleanlab counts classes from labels, breaking on a missing one
        np.testing.assert_array_equal(
            count.calibrate_confident_joint(uncalibrated, labels, multi_label=True),
            cl_count.calibrate_confident_joint(uncalibrated, labels, multi_label=True),
        )


def test_per_class_thresholds_are_an_extension():
    labels, probs = noisy_multilabel_problem(3, 300, 4)
    pairs = count.get_confident_thresholds(labels, probs, multi_label=True)
    np.testing.assert_array_equal(
        count.compute_confident_joint(labels, probs, multi_label=True, thresholds=pairs),
        count.compute_confident_joint(labels, probs, multi_label=True),
    )
    with pytest.raises(ValueError, match=r"thresholds must have shape \(2,\)"):
        count.compute_confident_joint(labels, probs, multi_label=True, thresholds=[0.5] * 4)


def test_calibration_with_a_class_never_given_keeps_every_class():
    labels, probs = noisy_multilabel_problem(10, 400, 7, missing=(2,))
    raw = count.compute_confident_joint(labels, probs, calibrate=False, multi_label=True)
    calibrated = count.calibrate_confident_joint(raw, labels, multi_label=True)
    assert calibrated.shape == (7, 2, 2)
    np.testing.assert_array_equal(calibrated[2].sum(axis=1), [400, 0])
    theirs = quietly(cl_count.calibrate_confident_joint, raw, labels, multi_label=True)
    assert theirs.shape == (6, 2, 2)  # cleanlab drops a class (the last one's slot)


@pytest.mark.parametrize("rank_by", [None, "self_confidence", "normalized_margin"])
@pytest.mark.parametrize("filter_by", FILTER_BY)
def test_filter_multi_label_is_the_multilabel_function(filter_by, rank_by):
    labels, probs = noisy_multilabel_problem(6, 500, 6, round_to=2)
    kwargs = {"filter_by": filter_by, "return_indices_ranked_by": rank_by, "multi_label": True}
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ours = our_filter.find_label_issues(labels, probs, **kwargs)
    assert any(
        w.category is DeprecationWarning and "multilabel_classification" in str(w.message)
        for w in record
    )
    theirs = quietly(cl_filter.find_label_issues, labels, probs, n_jobs=1, **kwargs)
    if rank_by is not None and filter_by.startswith("low_"):
        np.testing.assert_array_equal(np.sort(ours), np.sort(theirs))  # cleanlab scrambles
    else:
        np.testing.assert_array_equal(ours, theirs)
    del kwargs["multi_label"]
    np.testing.assert_array_equal(
        ours, quietly(ml_filter.find_label_issues, labels, probs, **kwargs)
    )


@pytest.mark.parametrize(("name", "seed", "n", "k", "opts"), ML_CASES, ids=[c[0] for c in ML_CASES])
def test_predicted_neq_given_matches_cleanlab(name, seed, n, k, opts):
    labels, probs = noisy_multilabel_problem(seed, n, k, **opts)
    np.testing.assert_array_equal(
        our_filter.find_predicted_neq_given(labels, probs, multi_label=True),
        cl_filter.find_predicted_neq_given(labels, probs, multi_label=True),
    )


def test_hand_examples_from_cleanlab_docs():
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
    mask = quietly(ml_filter.find_label_issues, labels, probs)
    np.testing.assert_array_equal(np.flatnonzero(mask), [4, 6])
    np.testing.assert_array_equal(
        our_filter.find_predicted_neq_given(labels, probs, multi_label=True),
        [False, False, False, False, True, False, True],
    )


def test_count_warnings_and_errors_name_the_argument():
    labels, probs = noisy_multilabel_problem(0, 100, 3)
    cj = count.compute_confident_joint(labels, probs, multi_label=True)
    with pytest.warns(UserWarning, match="confident_joint is ignored"):
        count.num_label_issues(labels, probs, confident_joint=cj, multi_label=True)
    with pytest.warns(UserWarning, match="estimation_method='off_diagonal_calibrated' is ignored"):
        count.num_label_issues(
            labels, probs, estimation_method="off_diagonal_calibrated", multi_label=True
        )
    with pytest.raises(ValueError, match=r"confident_joint must have shape \(3, 2, 2\)"):
        count.calibrate_confident_joint(np.ones((3, 3)), labels, multi_label=True)
    with pytest.raises(ValueError, match=r"confident_joint must have shape \(3, 2, 2\)"):
        count.estimate_joint(labels, probs, confident_joint=np.ones((4, 2, 2)), multi_label=True)
    with pytest.raises(TypeError, match="labels must be a list"):
        count.estimate_joint(None, None, confident_joint=cj, multi_label=True)
    with pytest.raises(ValueError, match="needs labels and pred_probs"):
        count.estimate_joint(labels, None, multi_label=True)
    with pytest.raises(TypeError, match="labels must be a list"):
        count.get_confident_thresholds(np.array([0, 1, 2]), probs[:3], multi_label=True)
    for legacy in (
        lambda: latent_estimation.compute_confident_joint(labels, probs, multi_label=True),
        lambda: latent_estimation.calibrate_confident_joint(cj, labels, multi_label=True),
        lambda: latent_estimation.estimate_joint(labels, probs, multi_label=True),
    ):
        with pytest.raises(NotImplementedError, match=r"1\.x names"):
            legacy()


# --------------------------------------------------------------------------- properties


@st.composite
def multilabel_problems(draw):
    """Random multi-label data: any K, empty sets, ties at 0.5, float32 or float64."""
    n = draw(st.integers(min_value=2, max_value=200))
    k = draw(st.integers(min_value=1, max_value=8))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    rng = np.random.default_rng(seed)
    probs = rng.random((n, k))
    if draw(st.booleans()):
        probs = np.round(probs, draw(st.integers(min_value=0, max_value=2)))
    if draw(st.booleans()):
        probs = probs.astype(np.float32)
    given = rng.random((n, k)) < draw(st.floats(min_value=0.0, max_value=1.0))
    return [np.flatnonzero(row).tolist() for row in given], probs


PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(multilabel_problems())
def test_calibrated_joints_have_each_class_counts(problem):
    labels, probs = problem
    joints = quietly(count.compute_confident_joint, labels, probs, multi_label=True)
    present = np.array([sum(c in row for row in labels) for c in range(probs.shape[1])])
    np.testing.assert_array_equal(joints.sum(axis=2)[:, 1], present)
    np.testing.assert_array_equal(joints.sum(axis=(1, 2)), len(labels))


@PROPERTY
@given(multilabel_problems(), st.sampled_from([f for f in FILTER_BY if not f.startswith("low")]))
def test_flagged_examples_disagree_with_the_model_somewhere(problem, filter_by):
    labels, probs = problem
    mask = quietly(ml_filter.find_label_issues, labels, probs, filter_by=filter_by)
    onehot = np.zeros(probs.shape, dtype=bool)
    for i, row in enumerate(labels):
        onehot[i, row] = True
    says_present = probs > 0.5
    assert not np.any(mask & (says_present == onehot).all(axis=1))
    ranked = quietly(
        ml_filter.find_label_issues,
        labels,
        probs,
        filter_by=filter_by,
        return_indices_ranked_by="self_confidence",
    )
    np.testing.assert_array_equal(np.sort(ranked), np.flatnonzero(mask))


@PROPERTY
@given(multilabel_problems())
def test_aggregated_score_lies_between_the_class_scores(problem):
    labels, probs = problem
    per_class = ml_rank.get_label_quality_scores_per_class(labels, probs)
    scores = ml_rank.get_label_quality_scores(labels, probs)
    assert np.all(scores >= per_class.min(axis=1) - 1e-12)
    assert np.all(scores <= per_class.max(axis=1) + 1e-12)
    assert np.all((per_class >= 0) & (per_class <= 1))
