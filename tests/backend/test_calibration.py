"""Single choice's suspicion: the probability a label is wrong (backend.tasktypes.calibration)."""

from __future__ import annotations

import numpy as np
import pytest

from backend.pipeline import run_audit
from backend.settings import load_settings
from backend.tasktypes.calibration import (
    expected_calibration_error,
    fit_scaling,
    fit_temperature,
    label_error_probability,
    posterior,
    reliability,
)
from tests.backend.test_audit import dataset_from

#: P(given = row | true = column) of the synthetic noisy labels below.
NOISE = np.array(
    [
        [0.85, 0.10, 0.00, 0.05],
        [0.10, 0.80, 0.05, 0.00],
        [0.05, 0.05, 0.90, 0.15],
        [0.00, 0.05, 0.05, 0.80],
    ]
)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def noisy():
    """True classes drawn from softmax(logits), given labels through NOISE; the model
    reports softmax(logits / 2.5), too soft by a temperature of 2.5."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(8000, 4)) * 3
    truth = softmax(logits)
    true = (truth.cumsum(axis=1) > rng.random((8000, 1))).argmax(axis=1)
    given = (NOISE[:, true].T.cumsum(axis=1) > rng.random((8000, 1))).argmax(axis=1)
    return softmax(logits / 2.5), true, given


def test_the_temperature_is_recovered_through_the_noise(noisy):
    probs, true, given = noisy
    assert fit_temperature(probs, given, noise_matrix=NOISE) == pytest.approx(0.4, rel=0.1)
    # Fitted as if the model predicted the noisy labels themselves, it comes out softer:
    # the noise is absorbed into the model and would be counted twice by the posterior.
    assert fit_temperature(probs, given) > 0.45
    # Without noise, the plain fit on the true labels finds the same temperature.
    assert fit_temperature(probs, true) == pytest.approx(0.4, rel=0.1)


def exact(truth: np.ndarray, given: np.ndarray) -> np.ndarray:
    return posterior(truth, given, NOISE, temperature=1.0)


def test_a_temperature_and_a_class_bias_are_recovered_together():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(8000, 4)) * 3
    truth = softmax(logits)
    true = (truth.cumsum(axis=1) > rng.random((8000, 1))).argmax(axis=1)
    given = (NOISE[:, true].T.cumsum(axis=1) > rng.random((8000, 1))).argmax(axis=1)
    # The model under-rates classes 1-3 against class 0 by 1.5 in log-odds, and is too soft:
    # (log model + 0.6) / 0.4 gives the true logits back for classes 1-3.
    shifted = np.array([False, True, True, True])
    model = softmax((logits - 1.5 * shifted) / 2.5)
    temperature, bias = fit_scaling(model, given, noise_matrix=NOISE, shifted=shifted)
    assert temperature == pytest.approx(0.4, rel=0.1)
    assert bias[0] == 0 and bias[1:] == pytest.approx([1.5 / 2.5] * 3, rel=0.1)
    # Temperature alone does not get there.
    alone = fit_temperature(model, given, noise_matrix=NOISE)
    assert (
        np.abs(posterior(model, given, NOISE, temperature=alone) - exact(truth, given)).max() > 0.1
    )
    # Applied, the posterior is the one of the true probabilities.
    fitted = posterior(model, given, NOISE, temperature=temperature, bias=bias)
    assert np.abs(fitted - exact(truth, given)).max() < 0.05
    with pytest.raises(ValueError, match="shifted"):
        fit_scaling(model, given, noise_matrix=NOISE, shifted=shifted[:3])


def test_trusted_labels_count_as_true_labels(noisy):
    probs, true, _ = noisy
    everything = np.ones(len(true), dtype=bool)
    assert fit_temperature(probs, true, noise_matrix=NOISE, trusted=everything) == pytest.approx(
        fit_temperature(probs, true), rel=1e-4
    )


def test_the_posterior_is_bayes_rule_with_the_noise_matrix():
    probs = np.array([[0.8, 0.2], [0.8, 0.2], [0.8, 0.2]])
    noise = np.array([[0.9, 0.3], [0.1, 0.7]])  # P(given | true), columns sum to 1
    labels = np.array([1, 0, 1])
    post = posterior(probs, labels, noise, temperature=1.0)
    # Given 1: P(true = 1) = 0.7 * 0.2 / (0.1 * 0.8 + 0.7 * 0.2) = 0.14 / 0.22.
    assert post[0] == pytest.approx([0.08 / 0.22, 0.14 / 0.22])
    # Given 0: 0.9 * 0.8 / (0.9 * 0.8 + 0.3 * 0.2).
    assert post[1] == pytest.approx([0.72 / 0.78, 0.06 / 0.78])
    # Temperature 0.5 squares the model's probabilities first: 0.64 : 0.04.
    sharp = posterior(probs, labels, noise, temperature=0.5)
    prior = np.array([0.64, 0.04]) / 0.68
    expected = np.array([0.1 * prior[0], 0.7 * prior[1]])
    assert sharp[0] == pytest.approx(expected / expected.sum())
    # A trusted label is its own truth.
    trusted = posterior(probs, labels, noise, temperature=0.5, trusted=np.array([1, 0, 0], bool))
    assert trusted[0] == pytest.approx([0.0, 1.0]) and trusted[2] == pytest.approx(sharp[2])


def test_the_probability_of_a_wrong_label_is_calibrated(noisy):
    probs, true, given = noisy
    suspicion, temperature = label_error_probability(probs, given, NOISE)
    wrong = given != true
    assert temperature == pytest.approx(0.4, rel=0.1)
    assert expected_calibration_error(suspicion, wrong) < 0.02
    # 1 - p(given) of the raw model is far from it.
    raw = 1 - probs[np.arange(len(given)), given]
    assert expected_calibration_error(raw, wrong) > 0.2


def test_reliability_bins_and_calibration_error():
    scores = np.array([0.05, 0.05, 0.15, 0.95, 1.0])
    outcomes = np.array([False, False, True, True, False])
    table = reliability(scores, outcomes)
    assert table == [
        (0.0, 0.1, pytest.approx(0.05), 0.0, 2),
        (0.1, 0.2, pytest.approx(0.15), 1.0, 1),
        (0.9, 1.0, pytest.approx(0.975), 0.5, 2),
    ]
    expected = (2 * 0.05 + 1 * 0.85 + 2 * 0.475) / 5
    assert expected_calibration_error(scores, outcomes) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("probs", "labels", "noise", "match"),
    [
        (np.ones(3) / 3, [0], None, "probs must be 2-D"),
        (np.full((2, 2), 0.5), [0], None, "labels must be 1-D"),
        (np.full((2, 2), 0.5), [0, 2], None, "class indices"),
        (np.full((2, 2), 0.5), [0, 1], np.eye(3), "noise_matrix must be of shape"),
    ],
)
def test_bad_inputs_say_which_argument(probs, labels, noise, match):
    with pytest.raises(ValueError, match=match):
        fit_temperature(probs, np.asarray(labels), noise_matrix=noise)


def test_an_audit_scores_each_label_with_its_probability_of_being_wrong():
    # Four overlapping Gaussian blobs (the default forest gets ~95% right), 12% flipped.
    rng = np.random.default_rng(11)
    true = rng.integers(0, 4, 1000)
    features = rng.normal(scale=2.0, size=(4, 5))[true] + rng.normal(size=(1000, 5))
    flipped = rng.random(1000) < 0.12
    given = np.where(flipped, (true + rng.integers(1, 4, 1000)) % 4, true)
    gt = np.flatnonzero(~flipped)[:40]
    settings = load_settings({"folds": 5, "seed": 0}, environ={})
    result = run_audit(dataset_from(features, given, ground_truth=gt), settings)
    assert expected_calibration_error(result.suspicion, flipped) < 0.05
    raw = 1 - result.pred_probs[np.arange(1000), given]
    assert expected_calibration_error(raw, flipped) > 0.2  # what suspicion was before
    assert np.all(result.suspicion[gt] == 0)  # ground truth is its own truth
    assert 0 < result.health["model_temperature"] < 1  # the forest's votes are too soft
    # Most flagged labels are more likely wrong than right, and the reverse.
    assert (result.suspicion[result.is_label_issue] > 0.5).mean() > 0.8
    assert (result.suspicion[~result.is_label_issue] < 0.5).mean() > 0.95
