"""cleanlab 1.x names: core.pruning, core.latent_estimation, LearningWithNoisyLabels."""

from __future__ import annotations

import warnings

import cleanlab.count as cl_count
import cleanlab.filter as cl_filter
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from core import latent_estimation
from core.pruning import MIN_NUM_PER_CLASS, get_noise_indices, order_label_errors
from tests.core.conftest import noisy_problem


def cleanlab_2x(labels, probs, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cl_filter.find_label_issues(
            labels, probs, min_examples_per_class=MIN_NUM_PER_CLASS, n_jobs=1, **kwargs
        )


@pytest.mark.parametrize("prune_method", ["prune_by_noise_rate", "prune_by_class", "both"])
def test_get_noise_indices_is_find_label_issues_with_five_per_class(prune_method):
    for seed, (n, k, opts) in enumerate([(500, 3, {}), (2_000, 15, {"tiny": (4,)})]):
        s, psx = noisy_problem(seed, n, k, **opts)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = get_noise_indices(s, psx, prune_method=prune_method)
            ranked = get_noise_indices(
                s, psx, prune_method=prune_method, sorted_index_method="prob_given_label"
            )
            by_margin = get_noise_indices(
                s=s, psx=psx, prune_method=prune_method, sorted_index_method="normalized_margin"
            )
            partial = get_noise_indices(s, psx, None, None, 0.5, prune_method=prune_method)
        np.testing.assert_array_equal(ours, cleanlab_2x(s, psx, filter_by=prune_method))
        np.testing.assert_array_equal(
            ranked,
            cleanlab_2x(s, psx, filter_by=prune_method, return_indices_ranked_by="self_confidence"),
        )
        np.testing.assert_array_equal(
            by_margin,
            cleanlab_2x(
                s, psx, filter_by=prune_method, return_indices_ranked_by="normalized_margin"
            ),
        )
        np.testing.assert_array_equal(
            partial, cleanlab_2x(s, psx, filter_by=prune_method, frac_noise=0.5)
        )


def test_the_five_per_class_minimum_is_fixed():
    s, psx = noisy_problem(1, 300, 3)
    s[:5] = 2
    s[5:][s[5:] == 2] = 0  # class 2 has exactly five examples: never pruned
    psx[:5] = [0.9, 0.05, 0.05]  # all five confidently class 0
    with pytest.warns(UserWarning, match=r"classes \[2\]: each has at most min_examples"):
        mask = get_noise_indices(s, psx)
    assert not mask[:5].any()


def test_order_label_errors_matches_ranked_output():
    s, psx = noisy_problem(2, 400, 4)
    mask = get_noise_indices(s, psx)
    np.testing.assert_array_equal(
        order_label_errors(mask, psx, s, "prob_given_label"),
        get_noise_indices(s, psx, sorted_index_method="prob_given_label"),
    )


def test_a_classifier_in_place_of_probabilities_says_how_to_get_them():
    s, psx = noisy_problem(0, 100, 3)
    with pytest.raises(TypeError, match=r"not a classifier.*estimate_cv_predicted_probabilities"):
        get_noise_indices(s, psx, LogisticRegression())
    with pytest.raises(TypeError, match="psx is a LogisticRegression"):
        get_noise_indices(s, LogisticRegression())


def test_bad_legacy_options_are_named():
    s, psx = noisy_problem(0, 100, 3)
    with pytest.raises(ValueError, match="prune_method must be one of"):
        get_noise_indices(s, psx, prune_method="confident_learning")
    with pytest.raises(ValueError, match="sorted_index_method must be None or one of"):
        get_noise_indices(s, psx, sorted_index_method="self_confidence")
    with pytest.raises(ValueError, match="inverse_noise_matrix must be a square"):
        get_noise_indices(s, psx, np.ones(3))
    with pytest.raises(NotImplementedError, match="multi_label"):
        get_noise_indices(s, psx, multi_label=True)


def test_latent_estimation_names_match_cleanlab_count():
    s, psx = noisy_problem(3, 800, 5)
    np.testing.assert_array_equal(
        latent_estimation.compute_confident_joint(s, psx),
        cl_count.compute_confident_joint(s, psx),
    )
    for mine, theirs in zip(
        latent_estimation.estimate_py_and_noise_matrices_from_probabilities(s, psx),
        cl_count.estimate_py_and_noise_matrices_from_probabilities(s, psx),
        strict=True,
    ):
        np.testing.assert_array_equal(mine, theirs)
    joint = cl_count.compute_confident_joint(s, psx, calibrate=False)
    np.testing.assert_array_equal(
        latent_estimation.calibrate_confident_joint(joint, s),
        cl_count.calibrate_confident_joint(joint, s),
    )
    np.testing.assert_array_equal(
        latent_estimation.estimate_joint(s, psx), cl_count.estimate_joint(s, psx)
    )
    for mine, theirs in zip(
        latent_estimation.estimate_latent(joint, s, py_method="marginal"),
        cl_count.estimate_latent(joint, s, py_method="marginal"),
        strict=True,
    ):
        np.testing.assert_array_equal(mine, theirs)
    assert latent_estimation.num_label_errors(s, psx) == cl_count.num_label_issues(s, psx)
    with pytest.raises(ValueError, match="K must equal the number of columns of psx"):
        latent_estimation.compute_confident_joint(s, psx, K=3)


def test_latent_estimation_cross_validation_matches_cleanlab():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 4))
    s = (X[:, 0] + 0.3 * rng.normal(size=240) > 0).astype(int)
    clf = LogisticRegression()
    np.testing.assert_allclose(
        latent_estimation.estimate_cv_predicted_probabilities(X, s, clf, 3, 1),
        cl_count.estimate_cv_predicted_probabilities(X, s, clf, cv_n_folds=3, seed=1),
        rtol=0,
        atol=1e-12,
    )
    for mine, theirs in zip(
        latent_estimation.estimate_noise_matrices(X, s, clf, seed=4),
        cl_count.estimate_noise_matrices(X, s, clf, seed=4),
        strict=True,
    ):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-12)
