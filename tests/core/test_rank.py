"""core.rank against cleanlab.rank, side by side."""

from __future__ import annotations

import warnings

import cleanlab.rank as cl_rank
import numpy as np
import pytest

from core import rank
from tests.core._cases import CASES
from tests.core.conftest import noisy_problem

METHODS = ["self_confidence", "normalized_margin", "confidence_weighted_entropy"]
SMALL_CASES = [c for c in CASES if c[2] <= 10_000]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("name", "seed", "n", "k", "opts"), SMALL_CASES, ids=[c[0] for c in SMALL_CASES]
)
def test_label_quality_scores_match(name, seed, n, k, opts, method):
    labels, probs = noisy_problem(seed, n, k, **opts)
    for adjust in (False, True) if method != "confidence_weighted_entropy" else (False,):
        ours = rank.get_label_quality_scores(labels, probs, method=method, adjust_pred_probs=adjust)
        theirs = cl_rank.get_label_quality_scores(
            labels, probs, method=method, adjust_pred_probs=adjust
        )
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
        assert ours.shape == (n,) and np.all((ours >= 0) & (ours <= 1 + 1e-12))


@pytest.mark.parametrize("method", METHODS)
def test_order_label_issues_matches(method):
    labels, probs = noisy_problem(3, 2_000, 6, round_to=2)
    mask = np.random.default_rng(0).random(2_000) < 0.1
    np.testing.assert_array_equal(
        rank.order_label_issues(mask, labels, probs, rank_by=method),
        cl_rank.order_label_issues(mask, labels, probs, rank_by=method),
    )


@pytest.mark.parametrize("weighting", ["uniform", "accuracy", "log_loss_search", "custom"])
@pytest.mark.parametrize("method", ["self_confidence", "normalized_margin"])
def test_ensemble_scores_match(weighting, method, capsys):
    labels, first = noisy_problem(1, 800, 4)
    _, second = noisy_problem(2, 800, 4, concentration=1.0)
    _, third = noisy_problem(3, 800, 4, float32=True)
    third = third.astype(np.float64)
    third /= third.sum(axis=1, keepdims=True)
    members = [first, second, third]
    custom = np.array([0.5, 0.2, 0.3]) if weighting == "custom" else None
    kwargs = dict(method=method, weight_ensemble_members_by=weighting, custom_weights=custom)
    ours = rank.get_label_quality_ensemble_scores(labels, members, **kwargs)
    our_out = capsys.readouterr().out
    theirs = cl_rank.get_label_quality_ensemble_scores(labels, members, **kwargs)
    assert our_out == capsys.readouterr().out  # same verbose report
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


def test_find_top_issues_matches():
    scores = np.random.default_rng(0).random(100)
    for top in (None, 0, 5, 100, 500):
        np.testing.assert_array_equal(
            rank.find_top_issues(scores, top=top), cl_rank.find_top_issues(scores, top=top)
        )
    assert list(rank.find_top_issues(np.array([0.5, 0.1, 0.9]), top=2)) == [1, 0]


def test_hand_computed_scores():
    labels = np.array([0, 1, 2])
    probs = np.array([[0.7, 0.2, 0.1], [0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    np.testing.assert_allclose(
        rank.get_label_quality_scores(labels, probs), [0.7, 0.3, 0.8], rtol=0, atol=1e-15
    )
    np.testing.assert_allclose(
        rank.get_label_quality_scores(labels, probs, method="normalized_margin"),
        [(0.7 - 0.2 + 1) / 2, (0.3 - 0.5 + 1) / 2, (0.8 - 0.1 + 1) / 2],
        rtol=0,
        atol=1e-15,
    )


def test_bad_options_are_named():
    labels, probs = noisy_problem(0, 50, 3)
    with pytest.raises(ValueError, match="method must be one of"):
        rank.get_label_quality_scores(labels, probs, method="entropy")
    with pytest.raises(ValueError, match="adjust_pred_probs is not supported"):
        rank.get_label_quality_scores(
            labels, probs, method="confidence_weighted_entropy", adjust_pred_probs=True
        )
    with pytest.raises(ValueError, match="label_issues_mask must be a boolean array"):
        rank.order_label_issues(np.zeros(3, dtype=bool), labels, probs)
    with pytest.raises(TypeError, match="pred_probs_list must be a list"):
        rank.get_label_quality_ensemble_scores(labels, probs)
    with pytest.raises(ValueError, match="pred_probs_list is empty"):
        rank.get_label_quality_ensemble_scores(labels, [])
    with pytest.raises(ValueError, match="custom_weights is only used"):
        rank.get_label_quality_ensemble_scores(
            labels, [probs, probs], custom_weights=np.ones(2), verbose=False
        )
    with pytest.raises(ValueError, match="custom_weights must have one weight per model"):
        rank.get_label_quality_ensemble_scores(
            labels,
            [probs, probs],
            weight_ensemble_members_by="custom",
            custom_weights=np.ones(3),
            verbose=False,
        )
    with pytest.warns(UserWarning, match="only one element"):
        rank.get_label_quality_ensemble_scores(labels, [probs], verbose=False)


def test_silenced_cleanlab_does_not_hide_our_warnings():
    """Guard for the tests above: our scorer itself is silent on ordinary data."""
    labels, probs = noisy_problem(0, 50, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rank.get_label_quality_scores(labels, probs)


def test_ensemble_argument_errors_are_also_cleanlab_s_assertion_errors():
    """cleanlab raises AssertionError here; core's errors are catchable as either."""
    labels = np.array([0, 1, 0, 1])
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    for call in (
        lambda: rank.get_label_quality_ensemble_scores(labels, np.stack([probs, probs])),
        lambda: rank.get_label_quality_ensemble_scores(labels, []),
        lambda: rank.get_label_quality_ensemble_scores(
            labels, [probs, probs], weight_ensemble_members_by="custom"
        ),
    ):
        with pytest.raises(AssertionError):
            call()
        with pytest.raises((TypeError, ValueError)):
            call()
