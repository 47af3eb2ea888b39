"""Invariants of core, checked on random data by hypothesis."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.count import compute_confident_joint
from core.filter import find_label_issues

ARGMAX_VETOED = [
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
]


@st.composite
def problems(draw):
    """Labels and pred_probs of random shape, sharpness and precision (ties included)."""
    n = draw(st.integers(min_value=2, max_value=400))
    k = draw(st.integers(min_value=2, max_value=12))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(k, draw(st.floats(min_value=0.05, max_value=5.0))), size=n)
    if draw(st.booleans()):
        probs = np.round(probs, draw(st.integers(min_value=1, max_value=3))) + 1e-9
        probs /= probs.sum(axis=1, keepdims=True)
    labels = rng.integers(0, draw(st.integers(min_value=2, max_value=k)), size=n)
    labels[:2] = [0, 1]  # at least two classes
    return labels, probs


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(problems())
def test_calibrated_rows_sum_to_label_counts(problem):
    labels, probs = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        joint = compute_confident_joint(labels, probs, calibrate=True)
    counts = np.bincount(labels, minlength=probs.shape[1])
    np.testing.assert_array_equal(joint.sum(axis=1), counts)
    assert joint.sum() == len(labels)


@SETTINGS
@given(problems(), st.sampled_from(ARGMAX_VETOED))
def test_never_flags_an_example_whose_argmax_is_its_label(problem, filter_by):
    labels, probs = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mask = find_label_issues(labels, probs, filter_by=filter_by)
    assert not np.any(mask & (probs.argmax(axis=1) == labels))


@SETTINGS
@given(problems(), st.sampled_from([*ARGMAX_VETOED, "low_self_confidence"]))
def test_n_jobs_has_no_effect(problem, filter_by):
    labels, probs = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = [
            find_label_issues(labels, probs, filter_by=filter_by, n_jobs=j) for j in (None, 1, 4)
        ]
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)


@SETTINGS
@given(problems())
def test_both_is_the_intersection(problem):
    labels, probs = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_rate = find_label_issues(labels, probs, filter_by="prune_by_noise_rate")
        by_class = find_label_issues(labels, probs, filter_by="prune_by_class")
        both = find_label_issues(labels, probs, filter_by="both")
    np.testing.assert_array_equal(both, by_rate & by_class)
