"""core.filter against cleanlab.filter, side by side, for every filter_by."""

from __future__ import annotations

import warnings

import cleanlab.filter as cl_filter
import numpy as np
import pytest

from core import filter as our_filter
from core.filter import FILTER_BY as FILTER_BY_OPTIONS
from tests.core._cases import CASES
from tests.core.conftest import noisy_problem

FILTER_BY = list(FILTER_BY_OPTIONS)
PRUNE = FILTER_BY[:3]


def both_ways(labels, probs, **kwargs):
    """Run cleanlab (one process, as its n_jobs>1 path forks) and core; return both."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = cl_filter.find_label_issues(labels, probs, n_jobs=1, **kwargs)
        ours = our_filter.find_label_issues(labels, probs, **kwargs)
    return ours, theirs


@pytest.mark.parametrize("filter_by", FILTER_BY)
@pytest.mark.parametrize(("name", "seed", "n", "k", "opts"), CASES, ids=[c[0] for c in CASES])
def test_masks_match_cleanlab(name, seed, n, k, opts, filter_by):
    labels, probs = noisy_problem(seed, n, k, **opts)
    ours, theirs = both_ways(labels, probs, filter_by=filter_by)
    assert ours.dtype == bool and ours.shape == (n,)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("filter_by", FILTER_BY)
@pytest.mark.parametrize(
    "rank_by", ["self_confidence", "normalized_margin", "confidence_weighted_entropy"]
)
def test_ranked_indices_match_cleanlab(filter_by, rank_by):
    for seed, (n, k, opts) in enumerate([(700, 4, {"round_to": 2}), (3_000, 30, {})]):
        labels, probs = noisy_problem(seed, n, k, **opts)
        ours, theirs = both_ways(
            labels, probs, filter_by=filter_by, return_indices_ranked_by=rank_by
        )
        np.testing.assert_array_equal(ours, theirs)
    if rank_by != "confidence_weighted_entropy":
        ours, theirs = both_ways(
            labels,
            probs,
            filter_by=filter_by,
            return_indices_ranked_by=rank_by,
            rank_by_kwargs={"adjust_pred_probs": True},
        )
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("filter_by", PRUNE)
@pytest.mark.parametrize(
    "options",
    [
        {"frac_noise": 0.5},
        {"frac_noise": 0.13},
        {"min_examples_per_class": 0},
        {"min_examples_per_class": 5},
        {"min_examples_per_class": 40},
    ],
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()),
)
def test_prune_options_match_cleanlab(filter_by, options):
    for seed, (n, k, opts) in enumerate(
        [(400, 3, {}), (1_500, 12, {"tiny": (2,), "imbalance": 0.2}), (900, 6, {"round_to": 2})]
    ):
        labels, probs = noisy_problem(seed, n, k, **opts)
        ours, theirs = both_ways(labels, probs, filter_by=filter_by, **options)
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("filter_by", PRUNE)
def test_num_to_remove_per_class_matches_cleanlab(filter_by):
    labels, probs = noisy_problem(5, 1_000, 4, noise=0.3)
    for remove in ([10, 5, 20, 0], [1, 1, 1, 1], [50, 60, 40, 30]):
        ours, theirs = both_ways(labels, probs, filter_by=filter_by, num_to_remove_per_class=remove)
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("filter_by", [f for f in FILTER_BY if f != "confident_learning"])
def test_supplied_confident_joint_matches_cleanlab(filter_by):
    labels, probs = noisy_problem(2, 1_200, 5)
    rng = np.random.default_rng(0)
    joint = rng.integers(0, 40, size=(5, 5))
    np.fill_diagonal(joint, 150)
    ours, theirs = both_ways(labels, probs, filter_by=filter_by, confident_joint=joint)
    np.testing.assert_array_equal(ours, theirs)


def test_predicted_neq_given_and_argmax_confusion_matrix_match():
    labels, probs = noisy_problem(4, 2_000, 8)
    np.testing.assert_array_equal(
        our_filter.find_predicted_neq_given(labels, probs),
        cl_filter.find_predicted_neq_given(labels, probs),
    )
    for filter_by in PRUNE:
        for calibrate in (True, False):
            np.testing.assert_array_equal(
                our_filter.find_label_issues_using_argmax_confusion_matrix(
                    labels, probs, calibrate=calibrate, filter_by=filter_by
                ),
                cl_filter.find_label_issues_using_argmax_confusion_matrix(
                    labels, probs, calibrate=calibrate, filter_by=filter_by
                ),
            )


def test_hand_example_flags_the_confidently_wrong_label():
    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.9, 0.1], [0.1, 0.9], [0.95, 0.05], [0.2, 0.8]])
    for filter_by in FILTER_BY:
        mask = our_filter.find_label_issues(labels, probs, filter_by=filter_by)
        np.testing.assert_array_equal(np.flatnonzero(mask), [4], err_msg=filter_by)


def test_binary_ties_at_one_half_flag_nothing_like_cleanlab():
    labels = np.array([0, 1] * 20)
    probs = np.full((40, 2), 0.5)
    for filter_by in FILTER_BY:
        ours, theirs = both_ways(labels, probs, filter_by=filter_by)
        np.testing.assert_array_equal(ours, theirs)
    with pytest.warns(UserWarning, match="40 rows of pred_probs are exact ties"):
        assert not our_filter.find_label_issues(labels, probs).any()


def test_single_example_class_warns_and_is_never_flagged():
    labels, probs = noisy_problem(3, 200, 4, tiny=(3,))
    row = int(np.flatnonzero(labels == 3)[0])
    probs[row] = [0.97, 0.01, 0.01, 0.01]  # confidently not its given class
    with pytest.warns(UserWarning, match=r"May not flag all label issues in classes \[3\]"):
        mask = our_filter.find_label_issues(labels, probs)
    assert not mask[row]
    np.testing.assert_array_equal(mask, both_ways(labels, probs)[1])


def test_class_never_given_warns():
    labels, probs = noisy_problem(3, 200, 4, missing=(2,))
    with pytest.warns(UserWarning, match=r"classes \[2\]"):
        our_filter.find_label_issues(labels, probs)


def test_single_class_warns_and_answers():
    probs = np.tile([0.6, 0.4], (10, 1))
    probs[3] = [0.1, 0.9]
    labels = np.zeros(10, dtype=int)
    # A class never given has threshold 2, so confident learning can count nothing in it;
    # only the argmax-based filter points at row 3.
    with pytest.warns(UserWarning, match="single class"):
        confident = our_filter.find_label_issues(labels, probs, filter_by="confident_learning")
    with pytest.warns(UserWarning, match="single class"):
        argmax = our_filter.find_label_issues(labels, probs, filter_by="predicted_neq_given")
    assert not confident.any()
    np.testing.assert_array_equal(np.flatnonzero(argmax), [3])
    # cleanlab answers for confident_learning; its predicted_neq_given refuses one class.
    np.testing.assert_array_equal(
        confident, both_ways(labels, probs, filter_by="confident_learning")[1]
    )


def test_verbose_prints_the_count(capsys):
    labels, probs = noisy_problem(1, 300, 3)
    mask = our_filter.find_label_issues(labels, probs, verbose=True)
    assert f"Number of label issues found: {mask.sum()}" in capsys.readouterr().out


def test_option_errors_are_named():
    labels, probs = noisy_problem(0, 100, 3)
    with pytest.raises(ValueError, match="filter_by must be one of"):
        our_filter.find_label_issues(labels, probs, filter_by="prune_by_magic")
    with pytest.raises(ValueError, match="return_indices_ranked_by must be one of"):
        our_filter.find_label_issues(labels, probs, return_indices_ranked_by="loss")
    with pytest.raises(ValueError, match=r"frac_noise must be in \(0, 1\]"):
        our_filter.find_label_issues(labels, probs, frac_noise=1.5)
    with pytest.raises(ValueError, match="min_examples_per_class must be >= 0"):
        our_filter.find_label_issues(labels, probs, min_examples_per_class=-1)
    with pytest.raises(TypeError, match="min_examples_per_class must be an int"):
        our_filter.find_label_issues(labels, probs, min_examples_per_class=1.5)
    with pytest.raises(ValueError, match="n_jobs must be None or an int >= 1"):
        our_filter.find_label_issues(labels, probs, n_jobs=0)
    with pytest.raises(ValueError, match="num_to_remove_per_class must have one entry per class"):
        our_filter.find_label_issues(labels, probs, num_to_remove_per_class=[1, 2])
    with pytest.raises(ValueError, match=r"confident_joint must be \(3, 3\)"):
        our_filter.find_label_issues(labels, probs, confident_joint=np.eye(2))
    with pytest.raises(ValueError, match="rank_by_kwargs may only contain"):
        our_filter.find_label_issues(
            labels, probs, return_indices_ranked_by="self_confidence", rank_by_kwargs={"x": 1}
        )
    with (
        pytest.warns(UserWarning, match="only apply to filter_by"),
        pytest.raises(ValueError, match="num_to_remove_per_class is not supported"),
    ):
        our_filter.find_label_issues(
            labels, probs, filter_by="confident_learning", num_to_remove_per_class=[1, 1, 1]
        )
    with pytest.warns(UserWarning, match="confident_joint is ignored"):
        our_filter.find_label_issues(
            labels, probs, filter_by="confident_learning", confident_joint=np.eye(3, dtype=int)
        )
    with (
        pytest.warns(DeprecationWarning, match="multilabel_classification"),
        pytest.raises(TypeError, match="labels must be a list with, per example"),
    ):
        our_filter.find_label_issues(labels, probs, multi_label=True)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("filter_by", ["prune_by_noise_rate", "prune_by_class", "both"])
def test_one_number_to_remove_for_every_class_matches(seed, filter_by):
    labels, pred_probs = noisy_problem(seed, 400, 4)
    ours = our_filter.find_label_issues(
        labels, pred_probs, filter_by=filter_by, num_to_remove_per_class=5
    )
    theirs = cl_filter.find_label_issues(
        labels, pred_probs, filter_by=filter_by, num_to_remove_per_class=5
    )
    np.testing.assert_array_equal(ours, theirs)
    same = our_filter.find_label_issues(
        labels, pred_probs, filter_by=filter_by, num_to_remove_per_class=[5] * 4
    )
    np.testing.assert_array_equal(ours, same)
