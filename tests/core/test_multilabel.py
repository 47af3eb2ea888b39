"""core.multilabel_classification.filter and .rank against cleanlab's, side by side."""

from __future__ import annotations

import warnings

import cleanlab.multilabel_classification.filter as cl_filter
import cleanlab.multilabel_classification.rank as cl_rank
import numpy as np
import pytest

from core.constants import FILTER_BY
from core.multilabel_classification import filter as ml_filter
from core.multilabel_classification import rank as ml_rank
from core.multilabel_classification.scorer import Aggregator, exponential_moving_average, softmin
from tests.core._cases import ML_CASES, ML_MISSING_CASES
from tests.core.conftest import noisy_multilabel_problem

RANK_BY = ["self_confidence", "normalized_margin", "confidence_weighted_entropy"]
PRUNE = ["prune_by_noise_rate", "prune_by_class", "both"]
LOW = ["low_normalized_margin", "low_self_confidence"]
AGGREGATORS = [
    None,
    {"method": "exponential_moving_average"},
    {"method": "exponential_moving_average", "alpha": 0.3},
    {"method": "softmin"},
    {"method": "softmin", "temperature": 0.02},
    {"method": np.min},
    {"method": np.mean},
]


def both_ways(labels, probs, **kwargs):
    """(core's answer, cleanlab's answer) of find_label_issues, cleanlab in one process."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = cl_filter.find_label_issues(labels, probs, n_jobs=1, **kwargs)
        ours = ml_filter.find_label_issues(labels, probs, **kwargs)
    return ours, theirs


def _ids(cases):
    return [case[0] for case in cases]


# --------------------------------------------------------------------------- filter


@pytest.mark.parametrize("filter_by", FILTER_BY)
@pytest.mark.parametrize(("name", "seed", "n", "k", "opts"), ML_CASES, ids=_ids(ML_CASES))
def test_masks_match_cleanlab(name, seed, n, k, opts, filter_by):
    labels, probs = noisy_multilabel_problem(seed, n, k, **opts)
    ours, theirs = both_ways(labels, probs, filter_by=filter_by)
    assert ours.dtype == bool and ours.shape == (n,)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("filter_by", FILTER_BY)
@pytest.mark.parametrize(
    ("name", "seed", "n", "k", "opts"), ML_MISSING_CASES, ids=_ids(ML_MISSING_CASES)
)
def test_a_class_never_given_matches_cleanlab(name, seed, n, k, opts, filter_by):
    labels, probs = noisy_multilabel_problem(seed, n, k, **opts)
    if filter_by != "predicted_neq_given":
        ours, theirs = both_ways(labels, probs, filter_by=filter_by)
        np.testing.assert_array_equal(ours, theirs)
        return
    # cleanlab's predicted_neq_given refuses a binary problem with one class; core
    # answers: the classes nobody has flag examples the model puts in them.
    with pytest.raises(ValueError, match="at least 2 classes"):
        both_ways(labels, probs, filter_by=filter_by)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        per_class = ml_filter.find_multilabel_issues_per_class(labels, probs, filter_by=filter_by)
    for c in opts["missing"]:
        np.testing.assert_array_equal(per_class[:, c], probs[:, c] > (1 - probs[:, c]) + 1e-6)
    present = [c for c in range(k) if c not in opts["missing"]]
    mapping = {c: i for i, c in enumerate(present)}
    kept = [[mapping[c] for c in row if c in mapping] for row in labels]
    _, theirs = both_ways(kept, probs[:, present], filter_by=filter_by)
    np.testing.assert_array_equal(per_class[:, present].any(axis=1), theirs)


@pytest.mark.parametrize("rank_by", RANK_BY)
@pytest.mark.parametrize("filter_by", FILTER_BY)
def test_ranked_indices_match_cleanlab(filter_by, rank_by):
    for seed, (n, k, opts) in enumerate([(300, 4, {"round_to": 2}), (1_000, 12, {})]):
        labels, probs = noisy_multilabel_problem(seed, n, k, **opts)
        settings = [{}]
        if rank_by != "confidence_weighted_entropy":
            settings.append({"rank_by_kwargs": {"adjust_pred_probs": True}})
        for extra in settings:
            ours, theirs = both_ways(
                labels, probs, filter_by=filter_by, return_indices_ranked_by=rank_by, **extra
            )
            if filter_by not in LOW:
                np.testing.assert_array_equal(ours, theirs)
                continue
            # cleanlab ranks the low_* set in a scrambled order (scores of rows in index
            # order paired with rows in score order); core ranks it like the others.
            np.testing.assert_array_equal(np.sort(ours), np.sort(theirs))
            scores = ml_rank.get_label_quality_scores(
                labels,
                probs,
                method=rank_by,
                adjust_pred_probs=extra.get("rank_by_kwargs", {}).get("adjust_pred_probs", False),
            )
            assert np.all(np.diff(scores[ours]) >= 0)


@pytest.mark.parametrize("filter_by", PRUNE)
@pytest.mark.parametrize(
    "options",
    [
        {"frac_noise": 0.5},
        {"frac_noise": 0.13},
        {"min_examples_per_class": 0},
        {"min_examples_per_class": 8},
        {"min_examples_per_class": 60},
    ],
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()),
)
def test_prune_options_match_cleanlab(filter_by, options):
    for seed, (n, k, opts) in enumerate(
        [(400, 3, {}), (900, 8, {"tiny": (2,), "round_to": 2}), (600, 15, {"noise": 0.25})]
    ):
        labels, probs = noisy_multilabel_problem(seed, n, k, **opts)
        ours, theirs = both_ways(labels, probs, filter_by=filter_by, **options)
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("filter_by", PRUNE)
def test_num_to_remove_per_class_matches_cleanlab(filter_by):
    labels, probs = noisy_multilabel_problem(5, 800, 4, noise=0.3)
    for remove in ([10, 5, 20, 0], [1, 1, 1, 1], [50, 60, 40, 30]):
        ours, theirs = both_ways(labels, probs, filter_by=filter_by, num_to_remove_per_class=remove)
        np.testing.assert_array_equal(ours, theirs)
    same = ml_filter.find_label_issues(
        labels, probs, filter_by=filter_by, num_to_remove_per_class=3
    )
    np.testing.assert_array_equal(
        same, both_ways(labels, probs, filter_by=filter_by, num_to_remove_per_class=[3] * 4)[1]
    )


@pytest.mark.parametrize("filter_by", [f for f in FILTER_BY if f != "confident_learning"])
def test_supplied_confident_joint_matches_cleanlab(filter_by):
    labels, probs = noisy_multilabel_problem(2, 700, 5)
    rng = np.random.default_rng(0)
    joint = rng.integers(0, 40, size=(5, 2, 2))
    joint[:, [0, 1], [0, 1]] += 300
    ours, theirs = both_ways(labels, probs, filter_by=filter_by, confident_joint=joint)
    np.testing.assert_array_equal(ours, theirs)
    with pytest.warns(UserWarning, match=r"shape \(5, 5\).*is ignored"):
        square = ml_filter.find_label_issues(
            labels, probs, filter_by=filter_by, confident_joint=np.eye(5, dtype=int)
        )
    np.testing.assert_array_equal(square, both_ways(labels, probs, filter_by=filter_by)[0])


@pytest.mark.parametrize("rank_by", [None, *RANK_BY])
@pytest.mark.parametrize("filter_by", FILTER_BY)
def test_per_class_issues_match_cleanlab(filter_by, rank_by):
    labels, probs = noisy_multilabel_problem(3, 600, 6, round_to=2)
    kwargs = {"filter_by": filter_by, "return_indices_ranked_by": rank_by}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = cl_filter.find_multilabel_issues_per_class(labels, probs, n_jobs=1, **kwargs)
        ours = ml_filter.find_multilabel_issues_per_class(labels, probs, **kwargs)
    if rank_by is None:
        assert ours.shape == (600, 6) and ours.dtype == bool
        np.testing.assert_array_equal(ours, theirs)
        return
    for got, want in zip(ours, theirs, strict=True):
        assert len(got) == len(want) == 6
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype


def test_hand_example_flags_the_wrong_set():
    labels = [[0], [0], [0, 1], [1], [1], [0]]
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.9, 0.8], [0.1, 0.9], [0.2, 0.7], [0.1, 0.9]])
    for filter_by in FILTER_BY:
        mask = ml_filter.find_label_issues(labels, probs, filter_by=filter_by)
        np.testing.assert_array_equal(np.flatnonzero(mask), [5], err_msg=filter_by)


def test_a_class_given_to_everyone_warns_and_answers():
    labels, probs = noisy_multilabel_problem(4, 300, 4, always=(1,))
    with pytest.raises(ValueError, match="at least 2 classes"):
        both_ways(labels, probs)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        mask = ml_filter.find_label_issues(labels, probs)
        per_class = ml_filter.find_multilabel_issues_per_class(labels, probs)
    messages = [str(w.message) for w in record]
    assert sum("classes [1] are given to every example" in m for m in messages) == 2
    assert not per_class[:, 1].any()  # nothing can be judged wrongly missing from class 1
    others = [[c if c == 0 else c - 1 for c in row if c != 1] for row in labels]
    np.testing.assert_array_equal(mask, both_ways(others, probs[:, [0, 2, 3]])[1])


def test_tiny_classes_warn_once_with_their_indices():
    labels, probs = noisy_multilabel_problem(4, 300, 6, tiny=(1, 4), missing=(5,))
    with pytest.warns(UserWarning, match=r"classes \[1, 4, 5\]: each is given to") as record:
        ml_filter.find_label_issues(labels, probs)
    assert len(record) == 1


def test_degenerate_shapes_answer_where_cleanlab_raises():
    probs = np.array([[0.2, 0.9], [0.1, 0.3], [0.6, 0.1]])
    for filter_by in FILTER_BY:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mask = ml_filter.find_label_issues([[], [], []], probs, filter_by=filter_by)
        assert mask.shape == (3,)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ml_filter.find_label_issues([[1]], probs[:1]).shape == (1,)
    # No example has a class: every score is that of "correctly absent".
    np.testing.assert_allclose(
        ml_rank.get_label_quality_scores([[], [], []], probs), [0.24, 0.74, 0.5]
    )
    with pytest.raises(ValueError):
        cl_rank.get_label_quality_scores([[], [], []], probs)
    # One class (K = 1): its column alone.
    one = np.array([[0.9], [0.2], [0.7], [0.1]])
    np.testing.assert_allclose(
        ml_rank.get_label_quality_scores([[0], [0], [], []], one), [0.9, 0.2, 0.3, 0.9]
    )
    with pytest.raises(ValueError, match="multi-label format"):
        cl_rank.get_label_quality_scores([[0], [0], [], []], one)


def test_verbose_prints_the_count(capsys):
    labels, probs = noisy_multilabel_problem(1, 200, 3)
    mask = ml_filter.find_label_issues(labels, probs, verbose=True)
    assert f"Number of label issues found: {mask.sum()}" in capsys.readouterr().out


def test_filter_errors_name_the_argument():
    labels, probs = noisy_multilabel_problem(0, 100, 3)
    find = ml_filter.find_label_issues
    with pytest.raises(TypeError, match=r"labels\[0\] is int"):
        find([0, 1, 2] * 33 + [0], probs)
    with pytest.raises(TypeError, match="got a numpy array of shape"):
        find(np.zeros((100, 3), dtype=int), probs)
    with pytest.raises(ValueError, match=r"labels\[1\] contains 3"):
        find([[0], [3], *labels[2:]], probs)
    with pytest.raises(ValueError, match=r"labels\[2\] contains -1"):
        find([[0], [], [-1], *labels[3:]], probs)
    with pytest.raises(ValueError, match="same length"):
        find(labels[:-1], probs)
    with pytest.raises(ValueError, match=r"pred_probs values must be probabilities"):
        find(labels, probs * 3)
    with pytest.raises(ValueError, match="pred_probs must be 2-D"):
        find(labels, probs[:, 0])
    with pytest.raises(ValueError, match="filter_by must be one of"):
        find(labels, probs, filter_by="magic")
    with pytest.raises(ValueError, match="return_indices_ranked_by must be one of"):
        find(labels, probs, return_indices_ranked_by="loss")
    with pytest.raises(ValueError, match="rank_by_kwargs may only contain"):
        find(labels, probs, return_indices_ranked_by="self_confidence", rank_by_kwargs={"x": 1})
    with pytest.raises(ValueError, match="num_to_remove_per_class must have one entry"):
        find(labels, probs, num_to_remove_per_class=[1, 2])
    with pytest.raises(ValueError, match=r"confident_joint must have shape \(3, 2, 2\)"):
        find(labels, probs, confident_joint=np.ones((3, 3, 2)))
    with pytest.raises(ValueError, match="adjust_pred_probs is not currently supported"):
        find(
            labels,
            probs,
            return_indices_ranked_by="confidence_weighted_entropy",
            rank_by_kwargs={"adjust_pred_probs": True},
        )


# --------------------------------------------------------------------------- rank


@pytest.mark.parametrize("aggregator_kwargs", AGGREGATORS, ids=repr)
@pytest.mark.parametrize("method", RANK_BY)
@pytest.mark.parametrize(
    ("name", "seed", "n", "k", "opts"),
    ML_CASES + ML_MISSING_CASES,
    ids=_ids(ML_CASES + ML_MISSING_CASES),
)
def test_scores_match_cleanlab(name, seed, n, k, opts, method, aggregator_kwargs):
    labels, probs = noisy_multilabel_problem(seed, n, k, **opts)
    adjust = [False] if method == "confidence_weighted_entropy" else [False, True]
    extra = {} if aggregator_kwargs is None else {"aggregator_kwargs": aggregator_kwargs}
    for adjust_pred_probs in adjust:
        kwargs = {"method": method, "adjust_pred_probs": adjust_pred_probs, **extra}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # softmin may underflow in both
            ours = ml_rank.get_label_quality_scores(labels, probs, **kwargs)
            theirs = cl_rank.get_label_quality_scores(labels, probs, **kwargs)
        assert ours.shape == (n,) and ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("method", RANK_BY)
def test_per_class_scores_match_cleanlab(method):
    for seed, (n, k, opts) in enumerate(
        [(300, 4, {"round_to": 1, "float32": True}), (900, 16, {"missing": (3,)})]
    ):
        labels, probs = noisy_multilabel_problem(seed, n, k, **opts)
        for adjust in [False] if method == "confidence_weighted_entropy" else [False, True]:
            ours = ml_rank.get_label_quality_scores_per_class(
                labels, probs, method=method, adjust_pred_probs=adjust
            )
            theirs = cl_rank.get_label_quality_scores_per_class(
                labels, probs, method=method, adjust_pred_probs=adjust
            )
            assert ours.shape == (n, k) and ours.dtype == np.float64
            np.testing.assert_array_equal(ours, theirs)


def test_hand_example_scores():
    labels = [[1], [0, 2]]
    probs = np.array([[0.1, 0.9, 0.1], [0.4, 0.1, 0.9]])
    np.testing.assert_allclose(ml_rank.get_label_quality_scores(labels, probs), [0.9, 0.5])
    np.testing.assert_allclose(
        ml_rank.get_label_quality_scores(labels, probs, aggregator_kwargs={"method": np.min}),
        [0.9, 0.4],
    )
    np.testing.assert_allclose(
        ml_rank.get_label_quality_scores_per_class(labels, probs),
        [[0.9, 0.9, 0.9], [0.4, 0.9, 0.9]],
    )
    upper = ml_rank.get_label_quality_scores(labels, probs, method="NORMALIZED_MARGIN")
    np.testing.assert_array_equal(
        upper, ml_rank.get_label_quality_scores(labels, probs, method="normalized_margin")
    )


def test_rank_errors_name_the_argument():
    labels, probs = noisy_multilabel_problem(0, 50, 3)
    scores = ml_rank.get_label_quality_scores
    with pytest.raises(ValueError, match="Invalid method name: badchoice"):
        scores(labels, probs, method="badchoice")
    with pytest.raises(ValueError, match="Invalid aggregation method specified: 'invalid'"):
        scores(labels, probs, aggregator_kwargs={"method": "invalid"})
    with pytest.raises(TypeError, match="aggregator_kwargs must name its 'method'"):
        scores(labels, probs, aggregator_kwargs={"alpha": 0.5})
    with pytest.raises(TypeError, match="Expected callable method"):
        scores(labels, probs, aggregator_kwargs={"method": 1})
    with pytest.raises(ValueError, match=r"alpha must be in the interval \[0, 1\]"):
        scores(
            labels, probs, aggregator_kwargs={"method": "exponential_moving_average", "alpha": 2}
        )
    with pytest.raises(ValueError, match="adjust_pred_probs is not currently supported"):
        scores(labels, probs, method="confidence_weighted_entropy", adjust_pred_probs=True)
    with pytest.raises(TypeError, match="labels must be a list"):
        scores("abc", probs)
    above_one = probs.copy()
    above_one[0, 0] = 1.0005  # within the float tolerance, but not for an entropy
    with pytest.raises(ValueError, match="entropy"):
        scores(labels, above_one, method="confidence_weighted_entropy")


def test_aggregators_match_cleanlab_on_hand_values():
    from cleanlab.internal import multilabel_scorer as cl_scorer

    s = np.array([[0.6, 0.3, 0.7, 0.1, 0.9], [0.2, 0.2, 0.5, 0.5, 0.4]])
    for alpha in (None, 0.0, 0.5, 1.0):
        np.testing.assert_array_equal(
            exponential_moving_average(s, alpha=alpha),
            cl_scorer.exponential_moving_average(s, alpha=alpha),
        )
    for temperature in (0.1, 1.0, 1e-9):
        np.testing.assert_array_equal(
            softmin(s, temperature=temperature), cl_scorer.softmin(s, temperature=temperature)
        )
    for method in (np.min, np.median, "softmin", "exponential_moving_average"):
        np.testing.assert_array_equal(Aggregator(method)(s), cl_scorer.Aggregator(method)(s))
    ema = Aggregator("exponential_moving_average", alpha=1.0)
    np.testing.assert_allclose(ema(s), s.min(axis=1))
    np.testing.assert_allclose(ema(s, alpha=0.0), s.max(axis=1))
    assert "exponential_moving_average" in repr(ema)
    with pytest.raises(ValueError, match="Expected 2D array"):
        ema(s[0])
