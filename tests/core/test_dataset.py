"""core.dataset against cleanlab.dataset, plus hand-checked examples and invariants."""

from __future__ import annotations

import doctest

import cleanlab.count as cl_count
import cleanlab.dataset as cl
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import core.dataset
from core.count import compute_confident_joint, estimate_joint
from core.dataset import (
    find_overlapping_classes,
    health_summary,
    overall_label_health_score,
    rank_classes_by_label_quality,
)

FUNCTIONS = [
    rank_classes_by_label_quality,
    find_overlapping_classes,
    overall_label_health_score,
    health_summary,
]


def _problem(
    seed: int, n: int, k: int, scenario: str = "balanced"
) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, pred_probs)`` of a noisy k-class problem, built from a seeded generator.

    Scenarios: "balanced"; "imbalanced" (geometric class sizes); "tiny" (classes 0 and 1
    given once each); "missing" (the last two classes never given, though pred_probs has
    their columns).
    """
    rng = np.random.default_rng(seed)
    weights = np.exp(-0.35 * np.arange(k)) if scenario == "imbalanced" else np.ones(k)
    true = rng.choice(k, size=n, p=weights / weights.sum())
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), true] += rng.uniform(0.5, 3.0)
    pred_probs = np.exp(logits)
    pred_probs /= pred_probs.sum(axis=1, keepdims=True)
    labels = np.where(rng.random(n) < 0.2, rng.integers(0, k, n), true)
    if scenario == "tiny" and k > 3:
        labels[labels < 2] = rng.integers(2, k, int((labels < 2).sum()))
        labels[:2] = [0, 1]
    if scenario == "missing" and k > 3:
        labels[labels >= k - 2] = rng.integers(0, k - 2, int((labels >= k - 2).sum()))
    return labels, pred_probs


@pytest.fixture
def problem():
    """The :func:`_problem` factory (data is built inside each test, never at import)."""
    return _problem


def _assert_frames(expected: pd.DataFrame, actual: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(actual, expected, check_exact=False, rtol=0, atol=1e-9)


def _assert_summaries(expected: dict, actual: dict) -> None:
    assert list(actual) == list(expected)
    np.testing.assert_allclose(
        actual["overall_label_health_score"],
        expected["overall_label_health_score"],
        rtol=0,
        atol=1e-9,
    )
    np.testing.assert_allclose(actual["joint"], expected["joint"], rtol=0, atol=1e-9)
    _assert_frames(expected["classes_by_label_quality"], actual["classes_by_label_quality"])
    _assert_frames(expected["overlapping_classes"], actual["overlapping_classes"])


# --------------------------------------------------------------------------- oracle


@pytest.mark.parametrize("scenario", ["balanced", "imbalanced", "tiny", "missing"])
@pytest.mark.parametrize("k", [2, 3, 5, 10, 25, 50])
def test_health_summary_matches_cleanlab(problem, k, scenario):
    for seed in range(3):
        n = int(np.random.default_rng(seed).integers(max(40, 4 * k), 1_500))
        labels, pred_probs = problem(seed, n, k, scenario)
        names = [f"class-{c}" for c in range(k)] if seed == 1 else None
        for asymmetric in (False, True):
            kwargs = dict(asymmetric=asymmetric, class_names=names, verbose=False)
            expected = cl.health_summary(labels, pred_probs, **kwargs)
            actual = health_summary(labels, pred_probs, **kwargs)
            _assert_summaries(expected, actual)


@pytest.mark.parametrize("k", [2, 4, 12, 30])
def test_each_input_option_matches_cleanlab(problem, k):
    labels, pred_probs = problem(k, 60 * k, k, "imbalanced")
    cj = cl_count.compute_confident_joint(labels, pred_probs, calibrate=False)
    joint = cl_count.estimate_joint(labels, pred_probs)
    n = len(labels)
    options = [
        dict(labels=labels, pred_probs=pred_probs),
        dict(joint=joint, num_examples=n),
        dict(labels=labels, confident_joint=cj),
        dict(labels=labels, pred_probs=pred_probs, joint=joint),
        dict(confident_joint=cj, num_examples=n),
    ]
    for kwargs in options:
        _assert_frames(
            cl.rank_classes_by_label_quality(**kwargs), rank_classes_by_label_quality(**kwargs)
        )
        for asymmetric in (False, True):
            _assert_frames(
                cl.find_overlapping_classes(asymmetric=asymmetric, **kwargs),
                find_overlapping_classes(asymmetric=asymmetric, **kwargs),
            )
        np.testing.assert_allclose(
            overall_label_health_score(verbose=False, **kwargs),
            cl.overall_label_health_score(verbose=False, **kwargs),
            rtol=0,
            atol=1e-9,
        )
    # confident_joint alone: cleanlab supports it in these two functions
    for fn, cl_fn in [
        (find_overlapping_classes, cl.find_overlapping_classes),
        (overall_label_health_score, cl.overall_label_health_score),
    ]:
        kwargs = dict(confident_joint=cj)
        if fn is overall_label_health_score:
            kwargs["verbose"] = False
        expected, actual = cl_fn(**kwargs), fn(**kwargs)
        if isinstance(expected, pd.DataFrame):
            _assert_frames(expected, actual)
        else:
            np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-9)


def test_our_count_functions_agree_with_cleanlab(problem):
    # dataset builds on core.count: if these disagree, every oracle above fails too.
    labels, pred_probs = problem(3, 900, 7, "missing")
    np.testing.assert_array_equal(
        compute_confident_joint(labels, pred_probs),
        cl_count.compute_confident_joint(labels, pred_probs),
    )
    np.testing.assert_allclose(
        estimate_joint(labels, pred_probs),
        cl_count.estimate_joint(labels, pred_probs),
        rtol=0,
        atol=1e-12,
    )


@pytest.mark.parametrize(
    "class_names",
    [
        ["ant", "bee", "cat", "dog"],
        ("ant", "bee", "cat", "dog"),
        np.array(["ant", "bee", "cat", "dog"]),
        np.array(["ant", "bee", "cat", "dog"], dtype=object),
        [10, 20, 30, 40],
        pd.Series(["ant", "bee", "cat", "dog"]),
    ],
    ids=["list", "tuple", "ndarray-str", "ndarray-object", "ints", "series"],
)
def test_class_names_match_cleanlab(problem, class_names):
    labels, pred_probs = problem(0, 400, 4)
    for fn, cl_fn in [
        (rank_classes_by_label_quality, cl.rank_classes_by_label_quality),
        (find_overlapping_classes, cl.find_overlapping_classes),
    ]:
        expected = cl_fn(labels, pred_probs, class_names=class_names)
        actual = fn(labels, pred_probs, class_names=class_names)
        _assert_frames(expected, actual)
        assert actual.columns[0].startswith("Class Name")


def test_labels_as_list_and_series_match_cleanlab(problem):
    labels, pred_probs = problem(4, 300, 3)
    expected = cl.health_summary(labels, pred_probs, verbose=False)
    for form in (labels.tolist(), pd.Series(labels)):
        _assert_summaries(expected, health_summary(form, pred_probs, verbose=False))


def test_health_summary_with_confident_joint_warns_like_cleanlab(problem):
    labels, pred_probs = problem(5, 500, 4)
    cj = cl_count.compute_confident_joint(labels, pred_probs, calibrate=False)
    with pytest.warns(UserWarning, match="confident_joint"):
        expected = cl.health_summary(labels, pred_probs, confident_joint=cj, verbose=False)
    with pytest.warns(UserWarning, match="confident_joint is not used"):
        actual = health_summary(labels, pred_probs, confident_joint=cj, verbose=False)
    _assert_summaries(expected, actual)


# --------------------------------------------------------------------------- documented fixes


def test_confident_joint_alone_works_where_cleanlab_raises(problem):
    labels, pred_probs = problem(6, 700, 5)
    cj = cl_count.compute_confident_joint(labels, pred_probs)
    n = int(cj.sum())
    # cleanlab's docs allow confident_joint alone, but it cannot count the examples here.
    with pytest.raises(ValueError, match="num_examples is None"):
        cl.rank_classes_by_label_quality(confident_joint=cj)
    with pytest.raises(ValueError, match="num_examples is None"):
        cl.health_summary(confident_joint=cj, verbose=False)
    # Ours takes num_examples from the confident joint, as cleanlab's other functions do.
    _assert_frames(
        cl.rank_classes_by_label_quality(confident_joint=cj, num_examples=n),
        rank_classes_by_label_quality(confident_joint=cj),
    )
    _assert_summaries(
        cl.health_summary(confident_joint=cj, num_examples=n, verbose=False),
        health_summary(confident_joint=cj, verbose=False),
    )


def test_health_summary_from_joint_alone_works_where_cleanlab_fails():
    joint = np.array([[0.30, 0.05, 0.00], [0.02, 0.40, 0.03], [0.00, 0.05, 0.15]])
    with pytest.raises(AttributeError):
        cl.health_summary(joint=joint, num_examples=200, verbose=False)
    summary = health_summary(joint=joint, num_examples=200, verbose=False)
    assert summary["overall_label_health_score"] == pytest.approx(0.85, abs=1e-12)
    _assert_frames(
        cl.rank_classes_by_label_quality(joint=joint, num_examples=200),
        summary["classes_by_label_quality"],
    )
    _assert_frames(
        cl.find_overlapping_classes(joint=joint, num_examples=200),
        summary["overlapping_classes"],
    )


# --------------------------------------------------------------------------- hand examples


def test_rank_classes_hand_example():
    joint = np.array([[0.45, 0.05], [0.10, 0.40]])
    df = rank_classes_by_label_quality(joint=joint, num_examples=100, class_names=["a", "b"])
    expected = pd.DataFrame(
        {
            "Class Name": ["b", "a"],
            "Class Index": [1, 0],
            "Label Issues": [10, 5],  # p(label=1, true=0) * 100, p(label=0, true=1) * 100
            "Inverse Label Issues": [5, 10],
            "Label Noise": [0.2, 0.1],  # 0.10 / 0.50, 0.05 / 0.50
            "Inverse Label Noise": [0.05 / 0.45, 0.10 / 0.55],
            "Label Quality Score": [0.8, 0.9],
        }
    )
    _assert_frames(expected, df)


def test_find_overlapping_classes_hand_example():
    joint = np.array([[0.40, 0.10, 0.00], [0.05, 0.30, 0.00], [0.00, 0.05, 0.10]])
    sym = find_overlapping_classes(joint=joint, num_examples=200)
    assert sym[["Class Index A", "Class Index B"]].values.tolist() == [[0, 1], [1, 2], [0, 2]]
    np.testing.assert_allclose(sym["Joint Probability"], [0.15, 0.05, 0.0], atol=1e-12)
    assert sym["Num Overlapping Examples"].tolist() == [30, 10, 0]
    asym = find_overlapping_classes(joint=joint, num_examples=200, asymmetric=True)
    assert len(asym) == 6
    assert asym.loc[0, ["Class Index A", "Class Index B"]].tolist() == [0, 1]
    np.testing.assert_allclose(asym["Joint Probability"].iloc[:3], [0.10, 0.05, 0.05])


def test_nearly_empty_class_is_clipped_like_cleanlab():
    # Row 0 holds 2e-9 of the mass: its noise is divided by the clip 1e-6, not by 2e-9.
    joint = np.array([[1e-9, 1e-9], [0.3, 0.7 - 2e-9]])
    expected = cl.rank_classes_by_label_quality(joint=joint, num_examples=1_000)
    actual = rank_classes_by_label_quality(joint=joint, num_examples=1_000)
    _assert_frames(expected, actual)
    by_class = actual.set_index("Class Index")
    assert by_class.loc[0, "Label Noise"] == pytest.approx(1e-3)
    assert by_class.loc[0, "Inverse Label Noise"] == pytest.approx(0.3 / (0.3 + 1e-9))


def test_counts_come_from_the_confident_joint_total(capsys):
    cj = np.array([[1, 90], [9, 0]])  # 100 examples
    overlap = find_overlapping_classes(confident_joint=cj, asymmetric=True)
    assert overlap["Num Overlapping Examples"].tolist() == [90, 9]
    ranked = rank_classes_by_label_quality(confident_joint=cj)
    assert ranked.set_index("Class Index").sort_index()["Label Issues"].tolist() == [90, 9]
    overall_label_health_score(confident_joint=cj)
    assert "(99 of the 100)" in capsys.readouterr().out


def test_health_summary_with_joint_and_confident_joint_matches_cleanlab(problem):
    # The tables use the joint given; the score, as in cleanlab, the confident joint's.
    labels, pred_probs = problem(12, 600, 4)
    cj = cl_count.compute_confident_joint(labels, pred_probs)
    other = np.full((4, 4), 1 / 16)
    kwargs = dict(joint=other, confident_joint=cj, num_examples=600, verbose=False)
    expected = cl.health_summary(**kwargs)
    actual = health_summary(**kwargs)
    _assert_summaries(expected, actual)
    assert actual["overall_label_health_score"] == pytest.approx(np.trace(cj) / cj.sum())


def test_overall_score_hand_examples(problem):
    joint = np.array([[0.45, 0.05], [0.10, 0.40]])
    score = overall_label_health_score(joint=joint, num_examples=10, verbose=False)
    assert score == pytest.approx(0.85, abs=1e-12)
    # with labels and pred_probs: 1 - num_label_issues / n
    labels = np.array([0, 0, 0, 1, 1, 1])
    pred_probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.3, 0.7], [0.9, 0.1]])
    score = overall_label_health_score(labels, pred_probs, verbose=False)
    assert score == pytest.approx(1 - 2 / 6)
    assert cl.overall_label_health_score(labels, pred_probs, verbose=False) == score
    # num_examples given explicitly overrides len(labels), as in cleanlab
    assert overall_label_health_score(
        labels, pred_probs, num_examples=12, verbose=False
    ) == pytest.approx(1 - 2 / 12)


def test_single_class_labels_warn_and_match_cleanlab():
    labels = np.zeros(20, dtype=int)
    pred_probs = np.tile([0.7, 0.2, 0.1], (20, 1))
    expected = cl.rank_classes_by_label_quality(labels, pred_probs)
    with pytest.warns(UserWarning, match="single class"):
        actual = rank_classes_by_label_quality(labels, pred_probs)
    _assert_frames(expected, actual)


# --------------------------------------------------------------------------- printing


def test_overall_score_prints_like_cleanlab(problem, capsys):
    labels, pred_probs = problem(8, 500, 4)
    joint = cl_count.estimate_joint(labels, pred_probs)
    for kwargs in (dict(labels=labels, pred_probs=pred_probs), dict(joint=joint, num_examples=500)):
        cl.overall_label_health_score(**kwargs)  # verbose by default
        expected = capsys.readouterr().out
        overall_label_health_score(**kwargs)
        assert capsys.readouterr().out == expected
        assert "labels in your dataset have potential issues" in expected
        overall_label_health_score(verbose=False, **kwargs)
        assert capsys.readouterr().out == ""


def test_health_summary_printing(problem, capsys):
    labels, pred_probs = problem(9, 300, 3)
    health_summary(labels, pred_probs, verbose=False)
    assert capsys.readouterr().out == ""
    summary = health_summary(labels, pred_probs, class_names=["x", "y", "z"])  # verbose default
    out = capsys.readouterr().out
    assert "300 examples, 3 classes" in out
    assert "Class Name" in out and "Class Name A" in out
    assert "overall label health score for this dataset is: " in out
    assert f"{summary['overall_label_health_score']:.2f}." in out


def test_tables_never_print(problem, capsys):
    labels, pred_probs = problem(10, 200, 3)
    rank_classes_by_label_quality(labels, pred_probs)
    find_overlapping_classes(labels, pred_probs)
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------- invariants


@st.composite
def joints(draw):
    k = draw(st.integers(2, 9))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    raw = rng.dirichlet(np.full(k * k, draw(st.floats(0.05, 3.0)))).reshape(k, k)
    raw[np.diag_indices(k)] += draw(st.floats(0.0, 2.0)) / k  # often diagonal-heavy
    if draw(st.booleans()):
        raw[rng.integers(k)] = 0.0  # a class nobody was given
    return raw / raw.sum()


@settings(max_examples=60, deadline=None)
@given(joint=joints(), n=st.integers(1, 10**6), asymmetric=st.booleans())
def test_invariants(joint, n, asymmetric):
    k = len(joint)
    ranked = rank_classes_by_label_quality(joint=joint, num_examples=n)
    assert sorted(ranked["Class Index"]) == list(range(k))
    assert ranked["Label Quality Score"].is_monotonic_increasing
    for col in ("Label Noise", "Inverse Label Noise", "Label Quality Score"):
        assert ranked[col].between(-1e-12, 1 + 1e-12).all()
    by_class = ranked.set_index("Class Index").sort_index()
    row_sums = joint.sum(axis=1)
    given = row_sums > 1e-6
    np.testing.assert_allclose(
        by_class["Label Quality Score"][given],
        joint.diagonal()[given] / row_sums[given],
        atol=1e-9,
    )
    overlap = find_overlapping_classes(joint=joint, num_examples=n, asymmetric=asymmetric)
    assert len(overlap) == (k * (k - 1) if asymmetric else k * (k - 1) // 2)
    assert overlap["Joint Probability"].is_monotonic_decreasing
    # every off-diagonal mass is listed exactly once
    np.testing.assert_allclose(
        overlap["Joint Probability"].sum(), 1 - np.trace(joint), rtol=0, atol=1e-9
    )
    np.testing.assert_array_equal(
        overlap["Num Overlapping Examples"], np.round(overlap["Joint Probability"] * n)
    )
    score = overall_label_health_score(joint=joint, num_examples=n, verbose=False)
    assert score == pytest.approx(np.trace(joint), abs=1e-12)


# --------------------------------------------------------------------------- bad input

_JOINT = np.array([[0.45, 0.05], [0.10, 0.40]])


def _verbose_off(fn):
    return {"verbose": False} if fn in (overall_label_health_score, health_summary) else {}


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({}, ValueError, "provide labels and pred_probs, or joint and num_examples"),
        ({"labels": [0, 1, 1]}, ValueError, "got labels only"),
        ({"joint": _JOINT}, ValueError, "num_examples is required when only joint"),
        ({"joint": np.ones((2, 3)) / 6, "num_examples": 10}, ValueError, "joint must be a square"),
        ({"joint": np.array([[0.6, -0.1], [0.1, 0.4]]), "num_examples": 10}, ValueError, ">= 0"),
        ({"joint": _JOINT * 2, "num_examples": 10}, ValueError, "joint must sum to 1"),
        ({"joint": np.array([[np.nan, 0.5], [0.2, 0.3]]), "num_examples": 10}, ValueError, "NaN"),
        ({"joint": np.array([["a", "b"], ["c", "d"]]), "num_examples": 10}, TypeError, "numeric"),
        ({"joint": _JOINT, "num_examples": 0}, ValueError, "num_examples must be a positive"),
        ({"joint": _JOINT, "num_examples": np.inf}, ValueError, "num_examples must be a posi"),
        ({"joint": _JOINT, "num_examples": "100"}, TypeError, "num_examples must be a positive"),
        ({"joint": _JOINT, "num_examples": True}, TypeError, "num_examples must be a positive"),
        ({"confident_joint": np.ones(3)}, ValueError, "confident_joint must be a square"),
        ({"confident_joint": -np.eye(2)}, ValueError, "confident_joint entries must be >= 0"),
        (
            {"joint": _JOINT, "num_examples": 10, "multi_label": True},
            ValueError,
            "For multilabel data, please instead call: core.multilabel_classification",
        ),
        (
            {"labels": [0, 1, 1], "pred_probs": np.full((4, 2), 0.5)},
            ValueError,
            "labels and pred_probs must have the same length",
        ),
        ({"labels": [0, 2, 1], "pred_probs": np.full((3, 2), 0.5)}, ValueError, "labels must be"),
        ({"labels": [0, 1], "pred_probs": np.full((2, 2), 0.7)}, ValueError, "pred_probs rows"),
    ],
)
def test_bad_input(fn, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fn(**kwargs, **_verbose_off(fn))


@pytest.mark.parametrize(
    "fn", [f for f in FUNCTIONS if f is not find_overlapping_classes], ids=lambda f: f.__name__
)
def test_all_zero_confident_joint_is_refused_where_it_divides(fn):
    with pytest.raises(ValueError, match="confident_joint must count"):
        fn(confident_joint=np.zeros((2, 2)), **_verbose_off(fn))


@pytest.mark.parametrize("asymmetric", [False, True])
def test_all_zero_confident_joint_overlaps_nowhere_as_cleanlab(asymmetric):
    joint = np.zeros((3, 3), dtype=np.int32)
    ours = find_overlapping_classes(confident_joint=joint, asymmetric=asymmetric)
    theirs = cl.find_overlapping_classes(confident_joint=joint, asymmetric=asymmetric)
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)
    assert (ours["Num Overlapping Examples"] == 0).all()


@pytest.mark.parametrize(
    "fn", [rank_classes_by_label_quality, find_overlapping_classes, health_summary]
)
@pytest.mark.parametrize(
    ("class_names", "exc", "match"),
    [
        (["a"], ValueError, r"class_names must have one name per class \(2\); got 1"),
        (["a", "b", "c"], ValueError, "class_names must have one name per class"),
        ("ab", TypeError, "class_names must be a list"),
        (3, TypeError, "class_names must be a list"),
    ],
)
def test_bad_class_names(fn, class_names, exc, match):
    with pytest.raises(exc, match=match):
        fn(joint=_JOINT, num_examples=10, class_names=class_names, **_verbose_off(fn))


def test_docstring_examples():
    result = doctest.testmod(core.dataset, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 4
    assert result.failed == 0
