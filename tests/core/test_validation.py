"""Bad input to core's public functions: a clear error naming the argument."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.count import compute_confident_joint, get_confident_thresholds
from core.filter import find_label_issues
from core.rank import get_label_quality_scores

PROBS = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
LABELS = np.array([0, 1, 1])


@pytest.mark.parametrize(
    "fn",
    [
        find_label_issues,
        compute_confident_joint,
        get_label_quality_scores,
        get_confident_thresholds,
    ],
)
@pytest.mark.parametrize(
    ("labels", "pred_probs", "error", "match"),
    [
        (LABELS, PROBS[:, 0], ValueError, r"pred_probs must be 2-D .* got shape \(3,\)"),
        (LABELS, PROBS * 0.5, ValueError, "row 0 sums to 0.5"),
        (LABELS, np.array([[np.nan, 1.0], [0.2, 0.8], [0.6, 0.4]]), ValueError, "NaN"),
        (LABELS, PROBS * 2 - 0.5, ValueError, r"probabilities in \[0, 1\]"),
        (LABELS, "probs", TypeError, "pred_probs must be a numpy array"),
        (LABELS, np.array([["a", "b"]] * 3), TypeError, "pred_probs must be numeric"),
        (
            np.array([0, 1, 2]),
            PROBS,
            ValueError,
            r"labels must be class indices 0\.\.1 .* got label 2",
        ),
        (np.array([0, -1, 1]), PROBS, ValueError, "negative label -1"),
        (np.array([0, 1]), PROBS, ValueError, "got 2 labels and 3 rows"),
        (np.array([0.0, 1.5, 1.0]), PROBS, ValueError, "integer class indices"),
        (np.array([0.0, np.nan, 1.0]), PROBS, ValueError, "labels contains NaN"),
        (np.array(["a", "b", "b"]), PROBS, ValueError, "got strings"),
        (np.array([[0, 1, 1]]), PROBS, ValueError, r"labels must be 1-D"),
        ("011", PROBS, TypeError, "labels must be a list"),
        (np.array([], dtype=int), PROBS[:0], ValueError, "empty"),
    ],
    ids=[
        "1d-probs",
        "rows-not-summing",
        "nan-probs",
        "out-of-range",
        "probs-not-array",
        "string-probs",
        "label-too-big",
        "negative-label",
        "length-mismatch",
        "float-label",
        "nan-label",
        "string-labels",
        "2d-labels",
        "labels-string",
        "empty",
    ],
)
def test_bad_input_names_the_problem(fn, labels, pred_probs, error, match):
    with pytest.raises(error, match=match):
        fn(labels, pred_probs)


def test_accepted_forms_agree():
    """Lists, Series, one-column DataFrames, bools and float-valued ints are all labels."""
    base = find_label_issues(LABELS, PROBS, filter_by="predicted_neq_given")
    for labels in (
        [0, 1, 1],
        pd.Series([0, 1, 1]),
        pd.DataFrame({"y": [0, 1, 1]}),
        np.array([0.0, 1.0, 1.0]),
        np.array([False, True, True]),
    ):
        np.testing.assert_array_equal(
            find_label_issues(labels, PROBS, filter_by="predicted_neq_given"), base
        )
    np.testing.assert_array_equal(
        find_label_issues(LABELS, PROBS.tolist(), filter_by="predicted_neq_given"), base
    )


def test_two_column_dataframe_is_refused():
    with pytest.raises(ValueError, match="labels must be 1-D; got a DataFrame with 2 columns"):
        find_label_issues(pd.DataFrame({"a": [0, 1, 1], "b": [1, 0, 0]}), PROBS)


def test_float32_rows_summing_within_tolerance_are_accepted():
    probs = np.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4]], dtype=np.float32) * np.float32(0.999)
    assert find_label_issues(LABELS, probs, filter_by="confident_learning").shape == (3,)


def test_float_rounding_past_the_bounds_is_accepted_and_answers_as_cleanlab_does():
    """float32 softmax output reaches 1.00001 (cleanlab's own IMDb pred_probs do): accepted and
    used as given. cleanlab computes the confident joint and the joint from such values (the
    same answers here); where cleanlab's own check refuses them (its 1e-6), core accepts them
    within PROBABILITY_TOLERANCE, as it says. Values far outside [0, 1] stay refused."""
    from cleanlab.count import compute_confident_joint as cl_compute_confident_joint
    from cleanlab.count import estimate_joint as cl_estimate_joint

    from core.count import estimate_joint

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 300)
    probs = rng.dirichlet(np.ones(3) * 0.7, 300)
    probs[np.arange(300), labels] += 0.6
    probs /= probs.sum(axis=1, keepdims=True)
    probs[0] = [1.00001, 0.0, 0.0]
    probs[1] = [-0.00001, 0.5, 0.50001]
    np.testing.assert_array_equal(
        compute_confident_joint(labels, probs), cl_compute_confident_joint(labels, probs)
    )
    np.testing.assert_allclose(estimate_joint(labels, probs), cl_estimate_joint(labels, probs))
    assert find_label_issues(labels, probs).shape == (300,)
    with pytest.raises(ValueError, match=r"within 0\.001 for float rounding"):
        find_label_issues(labels, np.vstack([[1.01, 0.0, -0.01], probs[1:]]))
