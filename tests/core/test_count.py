"""core.count against cleanlab.count, side by side."""

from __future__ import annotations

import warnings

import cleanlab.count as cl_count
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from core import count
from tests.core._cases import CASES
from tests.core.conftest import noisy_problem

SMALL_CASES = [c for c in CASES if c[2] <= 10_000]


def quietly(fn, *args, **kwargs):
    """Call fn with warnings silenced (cleanlab and core both warn on degenerate data)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.mark.parametrize(("name", "seed", "n", "k", "opts"), CASES, ids=[c[0] for c in CASES])
def test_confident_joint_and_off_diagonals_match(name, seed, n, k, opts):
    labels, probs = noisy_problem(seed, n, k, **opts)
    for calibrate in (True, False):
        ours, our_rows = quietly(
            count.compute_confident_joint,
            labels,
            probs,
            calibrate=calibrate,
            return_indices_of_off_diagonals=True,
        )
        theirs, their_rows = quietly(
            cl_count.compute_confident_joint,
            labels,
            probs,
            calibrate=calibrate,
            return_indices_of_off_diagonals=True,
        )
        np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_array_equal(our_rows, their_rows)
    np.testing.assert_array_equal(
        quietly(count.get_confident_thresholds, labels, probs),
        quietly(cl_count.get_confident_thresholds, labels, probs),
    )


@pytest.mark.parametrize(
    ("name", "seed", "n", "k", "opts"), SMALL_CASES, ids=[c[0] for c in SMALL_CASES]
)
@pytest.mark.parametrize("py_method", ["cnt", "eqn", "marginal", "marginal_ps"])
def test_noise_matrices_match(name, seed, n, k, opts, py_method):
    labels, probs = noisy_problem(seed, n, k, **opts)
    for converge in (True, False):
        for calibrate in (True, False):
            kwargs = dict(
                converge_latent_estimates=converge, py_method=py_method, calibrate=calibrate
            )
            try:
                theirs = quietly(
                    cl_count.estimate_py_and_noise_matrices_from_probabilities,
                    labels,
                    probs,
                    **kwargs,
                )
            except np.linalg.LinAlgError:  # 'eqn' inverts the noise matrix; it may be singular
                with pytest.raises(np.linalg.LinAlgError):
                    quietly(
                        count.estimate_py_and_noise_matrices_from_probabilities,
                        labels,
                        probs,
                        **kwargs,
                    )
                continue
            ours = quietly(
                count.estimate_py_and_noise_matrices_from_probabilities, labels, probs, **kwargs
            )
            for mine, cleanlabs in zip(ours, theirs, strict=True):
                np.testing.assert_array_equal(mine, cleanlabs)


@pytest.mark.parametrize(
    ("name", "seed", "n", "k", "opts"), SMALL_CASES, ids=[c[0] for c in SMALL_CASES]
)
def test_joint_calibration_and_num_issues_match(name, seed, n, k, opts):
    labels, probs = noisy_problem(seed, n, k, **opts)
    np.testing.assert_array_equal(
        quietly(count.estimate_joint, labels, probs),
        quietly(cl_count.estimate_joint, labels, probs),
    )
    raw = quietly(count.compute_confident_joint, labels, probs, calibrate=False)
    np.testing.assert_array_equal(
        count.calibrate_confident_joint(raw, labels),
        cl_count.calibrate_confident_joint(raw, labels),
    )
    np.testing.assert_array_equal(
        count.estimate_joint(labels, probs, confident_joint=raw),
        cl_count.estimate_joint(labels, probs, confident_joint=raw),
    )
    for method in ("off_diagonal", "off_diagonal_calibrated"):
        assert quietly(count.num_label_issues, labels, probs, estimation_method=method) == (
            quietly(cl_count.num_label_issues, labels, probs, estimation_method=method)
        )
    assert quietly(
        count.num_label_issues,
        labels,
        probs,
        confident_joint=raw,
        estimation_method="off_diagonal_custom",
    ) == quietly(
        cl_count.num_label_issues,
        labels,
        probs,
        confident_joint=raw,
        estimation_method="off_diagonal_custom",
    )


def test_custom_thresholds_match():
    labels, probs = noisy_problem(3, 500, 4)
    thresholds = np.array([0.3, 0.5, 0.7, 0.9])
    np.testing.assert_array_equal(
        count.compute_confident_joint(labels, probs, thresholds=thresholds),
        cl_count.compute_confident_joint(labels, probs, thresholds=thresholds),
    )


@pytest.mark.parametrize("k", [2, 4])
def test_cross_validated_estimates_match(k):
    X, y = make_classification(
        n_samples=300, n_features=8, n_informative=5, n_classes=k, random_state=k
    )
    rng = np.random.default_rng(k)
    labels = np.where(rng.random(len(y)) < 0.15, rng.integers(0, k, len(y)), y)
    clf = LogisticRegression(max_iter=500)
    ours = count.estimate_py_noise_matrices_and_cv_pred_proba(X, labels, clf, seed=7)
    theirs = cl_count.estimate_py_noise_matrices_and_cv_pred_proba(X, labels, clf, seed=7)
    for mine, cleanlabs in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine, cleanlabs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        count.estimate_cv_predicted_probabilities(X, labels, clf, cv_n_folds=3, seed=1),
        cl_count.estimate_cv_predicted_probabilities(X, labels, clf, cv_n_folds=3, seed=1),
        rtol=0,
        atol=1e-12,
    )
    for mine, cleanlabs in zip(
        count.estimate_noise_matrices(X, labels, clf, seed=2),
        cl_count.estimate_noise_matrices(X, labels, clf, seed=2),
        strict=True,
    ):
        np.testing.assert_allclose(mine, cleanlabs, rtol=0, atol=1e-12)


def test_cross_validation_with_a_class_rarer_than_the_folds():
    X, y = make_classification(
        n_samples=200, n_features=6, n_classes=3, n_informative=4, random_state=0
    )
    labels = y.copy()
    labels[labels == 2] = 0
    labels[:1] = 2  # class 2 has a single example: its fold trains without it
    clf = LogisticRegression(max_iter=500)
    with pytest.warns(UserWarning) as caught:  # sklearn's StratifiedKFold warns too
        ours = count.estimate_cv_predicted_probabilities(X, labels, clf, seed=0)
    assert any("classes [2] have too few examples" in str(w.message) for w in caught)
    theirs = quietly(cl_count.estimate_cv_predicted_probabilities, X, labels, clf, seed=0)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


def test_calibrated_rows_sum_to_label_counts_on_a_hand_example():
    labels = np.array([0, 0, 0, 1, 1, 2])
    probs = np.array(
        [[0.8, 0.1, 0.1], [0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8],
         [0.1, 0.1, 0.8]]
    )  # fmt: skip
    joint = count.compute_confident_joint(labels, probs)
    np.testing.assert_array_equal(joint.sum(axis=1), [3, 2, 1])
    assert joint[0, 1] == 1  # the third example, given 0, is confidently 1


def test_no_confident_example_warns_with_impossible_thresholds():
    labels, probs = noisy_problem(0, 50, 3)
    with pytest.warns(UserWarning, match="no example is confidently in any class"):
        joint = count.compute_confident_joint(
            labels, probs, thresholds=np.full(3, 1.5), calibrate=False
        )
    np.testing.assert_array_equal(joint, np.eye(3, dtype=int))


def test_multi_label_wants_lists_of_class_indices():
    with pytest.raises(TypeError, match=r"labels\[0\] is int"):
        count.compute_confident_joint([0, 1], np.eye(2), multi_label=True)


def test_unknown_options_are_named():
    labels, probs = noisy_problem(0, 50, 3)
    with pytest.raises(ValueError, match="estimation_method must be one of"):
        count.num_label_issues(labels, probs, estimation_method="guess")
    with pytest.raises(ValueError, match="py_method must be one of"):
        count.estimate_py_and_noise_matrices_from_probabilities(labels, probs, py_method="x")
    with pytest.raises(ValueError, match="off_diagonal_custom' needs a confident_joint"):
        count.num_label_issues(labels, probs, estimation_method="off_diagonal_custom")
    with pytest.raises(ValueError, match=r"thresholds must have shape \(3,\)"):
        count.compute_confident_joint(labels, probs, thresholds=[0.5, 0.5])
    with pytest.raises(ValueError, match="confident_joint must be a square"):
        count.calibrate_confident_joint(np.ones((2, 3)), labels)
    with pytest.raises(ValueError, match="X and labels must have the same length"):
        count.estimate_cv_predicted_probabilities(np.ones((3, 2)), labels)
    with pytest.raises(ValueError, match="cv_n_folds must be >= 2"):
        count.estimate_cv_predicted_probabilities(np.ones((50, 2)), labels, cv_n_folds=1)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("k", [2, 3, 7, 20])
@pytest.mark.parametrize("given_ps", [False, True])
def test_inverse_noise_matrix_matches(seed, k, given_ps):
    rng = np.random.default_rng(seed)
    py = rng.dirichlet(np.ones(k))
    noise = rng.dirichlet(np.ones(k) * 0.3, size=k).T + np.eye(k) * 3  # columns: P(s | y)
    noise /= noise.sum(axis=0)
    ps = rng.dirichlet(np.ones(k)) if given_ps else None
    ours = count.compute_inv_noise_matrix(py, noise, ps=ps)
    theirs = cl_count.compute_inv_noise_matrix(py, noise, ps=ps)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("py", "noise", "ps", "match"),
    [
        (np.ones(2) / 2, np.ones((2, 3)), None, "noise_matrix must be a square"),
        (np.ones(3) / 3, np.eye(2), None, "py must have one entry per class"),
        (np.ones(2) / 2, np.eye(2), np.ones(3) / 3, "ps must have one entry per class"),
    ],
)
def test_inverse_noise_matrix_names_the_bad_argument(py, noise, ps, match):
    with pytest.raises(ValueError, match=match):
        count.compute_inv_noise_matrix(py, noise, ps=ps)
