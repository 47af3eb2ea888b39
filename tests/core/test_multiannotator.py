"""core.multiannotator against cleanlab.multiannotator (2.9.0), side by side.

Results must be equal: DataFrames exactly (values, dtypes, index, columns), arrays bit for
bit, the same warnings and the same cautions printed. Where a result goes through cleanlab's
per-example label counts (quality_method="agreement", calibration, active learning),
cleanlab is run with those counts in their classes' columns (:func:`_class_counts`): 2.9
packs float labels into the first columns, a slip core does not copy (tested on its own
below).
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from typing import Any

import cleanlab.internal.multiannotator_utils as cl_utils
import cleanlab.multiannotator as cl_multi
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import core.multiannotator as ours
from core.multiannotator import utils as our_utils
from tests.core._cases import MA_CASES
from tests.core.conftest import noisy_multiannotator_problem

LQ_OPTIONS: list[dict[str, Any]] = [
    {},
    {"consensus_method": "majority_vote"},
    {"quality_method": "agreement"},
    {"quality_method": "agreement", "consensus_method": ["majority_vote", "best_quality"]},
    {"consensus_method": ["best_quality", "majority_vote"], "return_weights": True},
    {"calibrate_probs": True},
    {"label_quality_score_kwargs": {"method": "normalized_margin"}},
    {"label_quality_score_kwargs": {"method": "confidence_weighted_entropy"}},
    {"label_quality_score_kwargs": {"adjust_pred_probs": True}},
    {"return_detailed_quality": False, "return_weights": True},
    {"return_annotator_stats": False, "verbose": False},
]
ENSEMBLE_OPTIONS: list[dict[str, Any]] = [
    {},
    {"return_weights": True},
    {"calibrate_probs": True},
    {"return_detailed_quality": False},
]


def _ids(cases):
    return [case[0] for case in cases]


def _option_id(options: dict[str, Any]) -> str:
    return "-".join(f"{k}={v}" for k, v in options.items()) or "defaults"


# --------------------------------------------------------------------------- running both


def _class_counts(x, *, num_classes=None, multi_label=False):
    """cleanlab's ``value_counts`` as its docstring describes it: counts in their classes'
    columns (2.9 puts those of float labels in the first columns instead)."""
    return np.bincount(np.asarray(x).astype(int), minlength=num_classes or 0)


@contextlib.contextmanager
def counts_in_their_columns():
    originals = cl_multi.value_counts, cl_utils.value_counts
    cl_multi.value_counts = cl_utils.value_counts = _class_counts
    try:
        yield
    finally:
        cl_multi.value_counts, cl_utils.value_counts = originals


def _uses_label_counts(name: str, kwargs: dict[str, Any]) -> bool:
    return (
        kwargs.get("quality_method") == "agreement"
        or bool(kwargs.get("calibrate_probs"))
        or name.startswith("get_active_learning")
    )


def _copy(value: Any) -> Any:
    return value.copy() if isinstance(value, (np.ndarray, pd.DataFrame)) else value


def _run(function, args, kwargs, seed):
    """(result or exception, [UserWarning messages], printed text) of one call."""
    np.random.seed(seed)
    printed = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed):
        warnings.simplefilter("always")
        try:
            copied = {key: _copy(value) for key, value in kwargs.items()}
            result = function(*[_copy(a) for a in args], **copied)
        except Exception as error:  # compared with the other library's
            result = error
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return result, messages, printed.getvalue()


def side_by_side(name: str, *args: Any, seed: int = 0, fixed: bool | None = None, **kwargs: Any):
    """Call ``name`` in core and in cleanlab (numpy's global random state seeded alike);
    return ``(ours, theirs)``, each ``(result, warnings, printed)``."""
    if fixed is None:
        fixed = _uses_label_counts(name, kwargs)
    with counts_in_their_columns() if fixed else contextlib.nullcontext():
        theirs = _run(getattr(cl_multi, name), args, kwargs, seed)
    return _run(getattr(ours, name), args, kwargs, seed), theirs


def _ints(text: str) -> list[int]:
    return sorted(int(x) for x in re.findall(r"(?:np\.int64\()?(\d+)", text))


def _events(printed: str) -> list[tuple]:
    """The cautions printed, as (kind, detail): which method lost which classes, which
    annotators share no example."""
    events = []
    for line in printed.splitlines():
        if line.startswith("CAUTION"):
            events.append(("caution", re.search(r"consensus method '(\w+)'", line)[1]))
        elif line.startswith("Classes in the original data but not in consensus labels"):
            events.append(("lost", tuple(_ints(line.split(":", 1)[1]))))
        elif line.startswith("Annotator(s)"):
            events.append(("alone", tuple(_ints(line.split("did not")[0]))))
    return events


def _warning_kinds(messages: list[str]) -> list[tuple]:
    kinds = []
    for message in messages:
        if message.startswith("Annotators do not agree"):
            kinds.append(("no agreement",))
        elif message.startswith("breaking ties of examples"):
            kinds.append(("random ties", tuple(_ints(message.split("]")[0]))))
    return kinds


def assert_same(ours_value: Any, theirs_value: Any, where: str = "result") -> None:
    if isinstance(theirs_value, dict):
        assert list(ours_value) == list(theirs_value), where
        for key in theirs_value:
            assert_same(ours_value[key], theirs_value[key], f"{where}[{key!r}]")
    elif isinstance(theirs_value, pd.DataFrame):
        pd.testing.assert_frame_equal(ours_value, theirs_value, check_exact=True, obj=where)
    elif isinstance(theirs_value, tuple):
        assert isinstance(ours_value, tuple) and len(ours_value) == len(theirs_value), where
        for i, (a, b) in enumerate(zip(ours_value, theirs_value, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(theirs_value, np.ndarray):
        assert isinstance(ours_value, np.ndarray), where
        np.testing.assert_array_equal(ours_value, theirs_value, err_msg=where, strict=True)
    else:
        assert isinstance(ours_value, float) == isinstance(theirs_value, float), where
        np.testing.assert_array_equal(ours_value, theirs_value, err_msg=where)


def assert_both_same(ours_run, theirs_run) -> None:
    """Same results (or the same kind of error), warnings and cautions."""
    (ours_result, ours_warned, ours_printed) = ours_run
    (theirs_result, theirs_warned, theirs_printed) = theirs_run
    if isinstance(theirs_result, Exception):
        assert isinstance(ours_result, type(theirs_result)), (ours_result, theirs_result)
        return
    if isinstance(ours_result, Exception):
        raise ours_result
    assert_same(ours_result, theirs_result)
    assert _warning_kinds(ours_warned) == _warning_kinds(theirs_warned)
    assert _events(ours_printed) == _events(theirs_printed)


def problem(case_index: int, *, frame: bool | None = None):
    """A case of MA_CASES: labels (as a DataFrame with named annotators and tasks for
    odd-numbered cases, unless ``frame`` says) and pred_probs."""
    _, seed, n, m, k, opts = MA_CASES[case_index]
    labels, probs = noisy_multiannotator_problem(seed, n, m, k, **opts)
    if frame if frame is not None else case_index % 2:
        annotators = [f"annotator_{j}" for j in range(m)]
        labels = pd.DataFrame(labels, columns=annotators, index=[f"task{i}" for i in range(n)])
    return labels, probs


def second_model(probs: np.ndarray, seed: int) -> np.ndarray:
    """Another model's view of the same examples (a noisier copy, same dtype)."""
    rng = np.random.default_rng(seed + 100)
    other = probs.astype(np.float64) * rng.uniform(0.5, 1.5, size=probs.shape)
    other /= other.sum(axis=1, keepdims=True)
    return other.astype(probs.dtype)


CASE_INDEX = list(range(len(MA_CASES)))


# --------------------------------------------------------------------------- label quality


@pytest.mark.parametrize("options", LQ_OPTIONS, ids=_option_id)
@pytest.mark.parametrize("case", CASE_INDEX, ids=_ids(MA_CASES))
def test_label_quality_matches_cleanlab(case, options):
    labels, probs = problem(case)
    assert_both_same(
        *side_by_side("get_label_quality_multiannotator", labels, probs, seed=case, **options)
    )


@pytest.mark.parametrize("options", ENSEMBLE_OPTIONS, ids=_option_id)
@pytest.mark.parametrize("case", [0, 1, 3, 4, 5, 6, 8], ids=lambda i: MA_CASES[i][0])
def test_ensemble_matches_cleanlab(case, options):
    labels, probs = problem(case)
    ensemble = np.stack([probs, second_model(probs, case)])
    assert_both_same(
        *side_by_side(
            "get_label_quality_multiannotator_ensemble", labels, ensemble, seed=case, **options
        )
    )


@pytest.mark.parametrize("with_probs", [True, False], ids=["pred_probs", "no-pred_probs"])
@pytest.mark.parametrize("verbose", [True, False], ids=["verbose", "quiet"])
@pytest.mark.parametrize("case", CASE_INDEX, ids=_ids(MA_CASES))
def test_majority_vote_matches_cleanlab(case, with_probs, verbose):
    labels, probs = problem(case)
    args = (labels, probs) if with_probs else (labels,)
    assert_both_same(*side_by_side("get_majority_vote_label", *args, seed=case, verbose=verbose))


# --------------------------------------------------------------------------- active learning


@pytest.mark.parametrize("case", CASE_INDEX, ids=_ids(MA_CASES))
def test_active_learning_matches_cleanlab(case):
    labels, probs = problem(case)
    unlabeled = second_model(probs, case)[: len(probs) // 3]
    for args in [(labels, probs, unlabeled), (labels, probs)]:
        assert_both_same(*side_by_side("get_active_learning_scores", *args, seed=case))
    assert_both_same(
        *side_by_side("get_active_learning_scores", pred_probs_unlabeled=unlabeled, seed=case)
    )


@pytest.mark.parametrize("case", [0, 2, 3, 5, 6, 9], ids=lambda i: MA_CASES[i][0])
def test_active_learning_ensemble_matches_cleanlab(case):
    labels, probs = problem(case)
    ensemble = np.stack([probs, second_model(probs, case)])
    unlabeled = ensemble[:, : len(probs) // 3]
    name = "get_active_learning_scores_ensemble"
    for args in [(labels, ensemble, unlabeled), (labels, ensemble)]:
        assert_both_same(*side_by_side(name, *args, seed=case))
    assert_both_same(*side_by_side(name, pred_probs_unlabeled=unlabeled, seed=case))


@pytest.mark.parametrize("frame", [False, True], ids=["array", "frame"])
@pytest.mark.parametrize("case", [1, 4, 6], ids=lambda i: MA_CASES[i][0])
def test_active_learning_with_one_label_per_example_matches_cleanlab(case, frame):
    _, seed, n, m, k, opts = MA_CASES[case]
    labels, probs = noisy_multiannotator_problem(seed, n, m, k, **{**opts, "single": 1.0})
    labels = pd.DataFrame(labels) if frame else labels
    unlabeled = second_model(probs, case)[:20]
    assert_both_same(*side_by_side("get_active_learning_scores", labels, probs, unlabeled))
    assert_both_same(
        *side_by_side(
            "get_active_learning_scores_ensemble",
            labels,
            np.stack([probs, probs]),
            np.stack([unlabeled, unlabeled]),
        )
    )
    one_annotator = np.nanmax(np.asarray(labels, dtype=float), axis=1)[:, None]
    assert_both_same(*side_by_side("get_active_learning_scores", one_annotator, probs, unlabeled))


def test_rounds_of_single_label_active_learning_match_cleanlab():
    # cleanlab's own loop: one annotator, take the lowest-scored unlabelled example each round
    _, probs = noisy_multiannotator_problem(3, 40, 2, 3)
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, size=(15, 1)).astype(float)
    pool_labels = rng.integers(0, 3, size=25)
    labeled, pool = probs[:15], probs[15:]
    for _ in range(5):
        both = side_by_side("get_active_learning_scores", labels, labeled, pool)
        assert_both_same(*both)
        pick = int(np.argmin(both[0][0][1]))
        labels = np.append(labels, pool_labels[pick]).reshape(-1, 1)
        labeled = np.vstack([labeled, pool[pick]])
        pool, pool_labels = np.delete(pool, pick, axis=0), np.delete(pool_labels, pick)
        assert_both_same(
            *side_by_side(
                "get_active_learning_scores_ensemble",
                labels,
                np.stack([labeled, labeled]),
                np.stack([pool, pool]),
            )
        )


def test_one_example_labelled_by_everyone_matches_cleanlab():
    labels, probs = problem(8, frame=False)
    for name, p, u in [
        ("get_active_learning_scores", probs[[0]], probs[[1]]),
        ("get_active_learning_scores_ensemble", np.stack([probs, probs])[:, [0]], None),
    ]:
        assert_both_same(*side_by_side(name, labels[[0]], p, u))


# --------------------------------------------------------------------------- small hand examples

TIEBREAK_LABELS = np.array([[1, 2, 0], [1, 1, 0], [1, 0, 0], [2, 2, 2], [1, 2, 0], [1, 2, 0]])
TIEBREAK_PROBS = np.array(
    [
        [0.4, 0.4, 0.2],
        [0.3, 0.6, 0.1],
        [0.75, 0.2, 0.05],
        [0.1, 0.4, 0.5],
        [0.2, 0.4, 0.4],
        [0.2, 0.4, 0.4],
    ]
)
NON_OVERLAPPING = np.array(
    [
        [1, np.nan, np.nan, 2, np.nan],
        [np.nan, 1, 0, np.nan, np.nan],
        [np.nan, np.nan, 0, np.nan, np.nan],
        [np.nan, 2, np.nan, np.nan, np.nan],
        [2, np.nan, 0, 2, np.nan],
        [np.nan, np.nan, np.nan, 2, 1],
    ]
)
RARE_CLASS = np.array(
    [[1, np.nan, 2], [1, 1, 0], [2, 2, 0], [np.nan, 2, 2], [np.nan, 2, 1], [np.nan, 2, 2]]
)
ALONE = np.array(  # annotator 0 shares no example
    [
        [1, np.nan, np.nan],
        [np.nan, 1, 0],
        [np.nan, 0, 0],
        [np.nan, 2, 2],
        [np.nan, 2, 0],
        [np.nan, 2, 0],
    ]
)


@pytest.mark.parametrize(
    "labels",
    [TIEBREAK_LABELS, NON_OVERLAPPING, RARE_CLASS, ALONE],
    ids=["tiebreaks", "non-overlapping", "rare-class", "annotator-alone"],
)
def test_hand_examples_match_cleanlab(labels):
    probs = TIEBREAK_PROBS
    for seed in range(3):
        for args in [(labels,), (labels, probs)]:
            assert_both_same(*side_by_side("get_majority_vote_label", *args, seed=seed))
        for options in LQ_OPTIONS[:6]:
            assert_both_same(
                *side_by_side(
                    "get_label_quality_multiannotator", labels, probs, seed=seed, **options
                )
            )
        assert_both_same(
            *side_by_side(
                "get_label_quality_multiannotator_ensemble",
                labels,
                np.stack([probs, probs, probs]),
                seed=seed,
            )
        )
    assert ours.get_majority_vote_label(NON_OVERLAPPING).tolist() == [1, 1, 0, 2, 2, 1]


DISAGREEING = np.array([[0, 1, np.nan], [1, np.nan, 2], [np.nan, 0, 1], [2, 0, np.nan]])


def test_disagreeing_annotators_warn_like_cleanlab():
    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=4)
    for seed in range(4):
        both = side_by_side("get_label_quality_multiannotator", DISAGREEING, probs, seed=seed)
        assert ("no agreement",) in _warning_kinds(both[0][1])
        assert_both_same(*both)


def test_ties_nothing_breaks_go_to_random_where_cleanlab_fails():
    # Every example tied and no model: no example without a tie to rate annotators on.
    # cleanlab then draws from an empty list and raises; core draws among the tied classes.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="cannot be empty"):
            cl_multi.get_majority_vote_label(DISAGREEING)
    with pytest.warns(UserWarning, match=r"breaking ties of examples \[0, 2\]"):
        label = ours.get_majority_vote_label(DISAGREEING, verbose=False, random_state=0)
    assert all(label[i] in DISAGREEING[i] for i in range(4))


@st.composite
def small_matrices(draw):
    """Tiny label matrices (many ties), probabilities rounded to tenths (more ties)."""
    n = draw(st.integers(min_value=2, max_value=12))
    m = draw(st.integers(min_value=2, max_value=5))
    k = draw(st.integers(min_value=2, max_value=4))
    rng = np.random.default_rng(draw(st.integers(min_value=0, max_value=2**32 - 1)))
    labels = rng.integers(0, k, size=(n, m)).astype(float)
    labels[rng.random((n, m)) < draw(st.floats(min_value=0.0, max_value=0.7))] = np.nan
    labels[np.arange(n), rng.integers(0, m, n)] = rng.integers(0, k, n)
    labels[rng.integers(0, n, m), np.arange(m)] = rng.integers(0, k, m)
    labels[0, :2] = rng.integers(0, k, 2)  # some example labelled twice
    probs = rng.dirichlet(np.ones(k), size=n).round(1) + 1e-3
    return labels, probs / probs.sum(axis=1, keepdims=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_matrices(), st.sampled_from(LQ_OPTIONS[:6]), st.integers(0, 3))
def test_small_random_matrices_match_cleanlab(data, options, seed):
    labels, probs = data
    for args, function, kwargs in [
        ((labels,), "get_majority_vote_label", {"verbose": False}),
        ((labels, probs), "get_label_quality_multiannotator", options),
    ]:
        run = side_by_side(function, *args, seed=seed, **kwargs)
        if "cannot be empty" in str(run[1][0]):
            # cleanlab fails where no example is free of ties (see the test above); core
            # draws among the tied classes
            assert isinstance(run[0][0], (np.ndarray, dict)), run[0][0]
            continue
        assert_both_same(*run)


# --------------------------------------------------------------------------- input forms


def test_every_form_of_missing_labels_gives_cleanlab_answers():
    labels, probs = problem(1, frame=False)
    given = ~np.isnan(labels)
    as_object = pd.DataFrame(labels.astype(object))
    as_object[~given] = None
    with_na = pd.DataFrame(labels.astype(object))
    with_na[~given] = pd.NA
    nullable = pd.DataFrame(labels).astype("Int64")
    forms = [labels, pd.DataFrame(labels), as_object, with_na, nullable]
    expected, _, _ = _run(ours.get_label_quality_multiannotator, (labels, probs), {}, 0)
    for form in forms:
        run = side_by_side("get_label_quality_multiannotator", form, probs)
        assert_both_same(*run)
        assert_same(run[0][0]["label_quality"], expected["label_quality"])


def test_complete_integer_labels_match_cleanlab_as_is():
    # int matrices without NaN are the one input cleanlab 2.9 counts right: compare unfixed
    labels, probs = noisy_multiannotator_problem(4, 150, 5, 4, coverage=1.0)
    labels = labels.astype(np.int64)
    for options in LQ_OPTIONS:
        name = "get_label_quality_multiannotator"
        assert_both_same(*side_by_side(name, labels, probs, fixed=False, **options))
    assert_both_same(*side_by_side("get_active_learning_scores", labels, probs, fixed=False))


def test_annotator_ids_and_index_carry_over():
    labels, probs = problem(3)
    info = ours.get_label_quality_multiannotator(labels, probs, verbose=False)
    assert list(info["label_quality"].index) == list(labels.index)
    assert list(info["detailed_label_quality"].columns) == [
        f"quality_annotator_{name}" for name in labels.columns
    ]
    assert set(info["annotator_stats"].index) == set(labels.columns)
    assert info["label_quality"].dtypes.to_dict() == {
        "consensus_label": np.dtype(np.int64),
        "consensus_quality_score": np.dtype(np.float64),
        "annotator_agreement": np.dtype(np.float64),
        "num_annotations": np.dtype(np.int64),
    }


# --------------------------------------------------------------------------- formats


def _long(labels: pd.DataFrame) -> pd.DataFrame:
    long = labels.stack().reset_index()
    long.columns = ["task", "annotator", "label"]
    return long


@pytest.mark.parametrize(
    "kind", ["float-missing", "int-complete", "int-missing", "string-keys", "string-labels"]
)
def test_convert_long_to_wide_matches_cleanlab(kind):
    labels, _ = problem(2, frame=True)
    if kind == "int-complete":
        labels = labels.fillna(0).astype(np.int64)
    long = _long(labels).dropna(subset=["label"]).sample(frac=1.0, random_state=0)
    if kind == "int-missing":
        long["label"] = long["label"].astype(np.int64)
    if kind == "float-missing":
        long["task"] = long["task"].str.slice(4).astype(int)
    if kind == "string-labels":
        long["label"] = "class" + long["label"].astype(int).astype(str)
    ours_wide = ours.convert_long_to_wide_dataset(long)
    pd.testing.assert_frame_equal(ours_wide, cl_multi.convert_long_to_wide_dataset(long))
    if kind == "string-keys":
        assert ours_wide.shape == labels.shape


def test_convert_long_to_wide_with_missing_keys_falls_back_to_pandas():
    long = pd.DataFrame({"task": [0, 0, np.nan], "annotator": ["a", "b", "a"], "label": [1, 2, 0]})
    pd.testing.assert_frame_equal(
        ours.convert_long_to_wide_dataset(long), cl_multi.convert_long_to_wide_dataset(long)
    )


def test_convert_long_to_wide_refuses_two_labels_for_one_pair():
    long = pd.DataFrame({"task": [0, 0], "annotator": ["a", "a"], "label": [1, 2]})
    with pytest.raises(ValueError, match="more than one label for some"):
        ours.convert_long_to_wide_dataset(long)
    with pytest.raises(ValueError, match=r"missing \['label'\]"):
        ours.convert_long_to_wide_dataset(long.drop(columns="label"))
    with pytest.raises(TypeError, match="must be a pandas DataFrame"):
        ours.convert_long_to_wide_dataset(long.to_numpy())


def test_format_multiannotator_labels():
    numbers = pd.DataFrame([[3, 2, 1], [1, 2, np.nan], [3, np.nan, 3]])
    formatted, mapping = our_utils.format_multiannotator_labels(numbers)
    theirs, their_mapping = cl_utils.format_multiannotator_labels(numbers)
    pd.testing.assert_frame_equal(formatted, theirs)
    assert mapping == their_mapping
    complete = pd.DataFrame([[3, 2], [1, 2]])
    pd.testing.assert_frame_equal(
        our_utils.format_multiannotator_labels(complete)[0],
        cl_utils.format_multiannotator_labels(complete)[0],
    )
    strings = np.array([["a", "b", "c"], ["b", "b", np.nan], ["z", np.nan, "c"]])
    formatted, mapping = our_utils.format_multiannotator_labels(strings)
    assert mapping == {0: "a", 1: "b", 2: "c", 3: "z"}
    # cleanlab leaves numpy's "nan" strings in place; missing labels come back as NaN here
    expected = [[0, 1, 2], [1, 1, np.nan], [3, np.nan, 2]]
    np.testing.assert_array_equal(formatted.to_numpy(), expected)
    assert our_utils.format_multiannotator_labels(np.array([["x", "y"]]))[0].dtypes.iloc[0] == (
        np.int64
    )
    with pytest.raises(TypeError, match="one sortable kind"):
        our_utils.format_multiannotator_labels(pd.DataFrame([[1, "a"]], dtype=object))
    with pytest.raises(TypeError, match="labels must be 2D numpy array or pandas DataFrame"):
        our_utils.format_multiannotator_labels([[1, 2]])


# --------------------------------------------------------------------------- where core differs


def test_agreement_counts_labels_in_their_classes_columns():
    # cleanlab 2.9 counts the float labels [2, 2] of an example as class 0 (its value_counts
    # packs the counts of non-integer arrays into the first columns), so with
    # quality_method="agreement" its best_quality consensus is a class nobody chose.
    labels = np.array([[2, 2, np.nan], [0, 1, 1], [np.nan, 0, 0], [1, np.nan, 2]])
    probs = np.full((4, 3), 1 / 3) + np.array([0.01, 0, -0.01])
    kwargs = {"quality_method": "agreement", "verbose": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = cl_multi.get_label_quality_multiannotator(labels, probs, **kwargs)
    ours_info = ours.get_label_quality_multiannotator(labels, probs, **kwargs)
    assert theirs["label_quality"]["consensus_label"][0] == 0
    assert ours_info["label_quality"]["consensus_label"].tolist() == [2, 1, 0, 1]
    with counts_in_their_columns():
        fixed = cl_multi.get_label_quality_multiannotator(labels, probs, **kwargs)
    assert_same(ours_info, fixed)


def test_calibration_fits_the_annotators_labels_in_their_columns():
    labels, probs = problem(2, frame=False)
    temperature = our_utils.find_best_temp_scaler(labels, probs)
    with counts_in_their_columns():
        assert temperature == cl_utils.find_best_temp_scaler(labels, probs)
    complete, kept = noisy_multiannotator_problem(2, 200, 4, 5, coverage=1.0)
    complete = complete.astype(np.int64)  # the one input cleanlab 2.9 counts right
    assert our_utils.find_best_temp_scaler(complete, kept) == cl_utils.find_best_temp_scaler(
        complete, kept
    )
    np.testing.assert_array_equal(
        our_utils.temp_scale_pred_probs(probs, temperature),
        cl_utils.temp_scale_pred_probs(probs, temperature),
        strict=True,
    )


def test_ensemble_scores_with_label_quality_score_kwargs_as_cleanlab_means_them(monkeypatch):
    # cleanlab 2.9's ensemble passes label_quality_score_kwargs to an internal function that
    # rejects them (TypeError); routed where the non-ensemble function puts them, cleanlab
    # gives what core gives.
    labels, probs = problem(1)
    ensemble = np.stack([probs, second_model(probs, 1)])
    kwargs = {"label_quality_score_kwargs": {"method": "normalized_margin"}, "verbose": False}
    with pytest.raises(TypeError, match="unexpected keyword argument 'method'"):
        cl_multi.get_label_quality_multiannotator_ensemble(labels, ensemble, **kwargs)
    consensus_stats = cl_multi._get_consensus_stats

    def routed(*args, **options):
        scoring = {k: options.pop(k) for k in ("method", "adjust_pred_probs") if k in options}
        return consensus_stats(*args, label_quality_score_kwargs=scoring, **options)

    monkeypatch.setattr(cl_multi, "_get_consensus_stats", routed)
    theirs = cl_multi.get_label_quality_multiannotator_ensemble(labels, ensemble, **kwargs)
    assert_same(ours.get_label_quality_multiannotator_ensemble(labels, ensemble, **kwargs), theirs)


def test_inputs_are_left_as_they_are():
    labels, probs = problem(6, frame=True)
    ensemble = np.stack([probs, second_model(probs, 6)])
    unlabeled = ensemble[:, :30].copy()
    before = labels.copy(), ensemble.copy(), unlabeled.copy()
    ours.get_label_quality_multiannotator_ensemble(labels, ensemble, calibrate_probs=True)
    ours.get_active_learning_scores_ensemble(labels, ensemble, unlabeled)
    pd.testing.assert_frame_equal(labels, before[0])
    np.testing.assert_array_equal(ensemble, before[1], strict=True)
    np.testing.assert_array_equal(unlabeled, before[2], strict=True)


def test_returned_weights_are_the_last_methods_as_in_cleanlab():
    labels, probs = problem(2)
    methods = ["best_quality", "majority_vote"]
    both = ours.get_label_quality_multiannotator(
        labels, probs, consensus_method=methods, return_weights=True, verbose=False
    )
    last = ours.get_label_quality_multiannotator(
        labels, probs, consensus_method="majority_vote", return_weights=True, verbose=False
    )
    first = ours.get_label_quality_multiannotator(
        labels, probs, consensus_method="best_quality", return_weights=True, verbose=False
    )
    assert both["model_weight"] == last["model_weight"] != first["model_weight"]
    assert_same(both["annotator_stats"], first["annotator_stats"])


# --------------------------------------------------------------------------- random_state


def test_random_state_seeds_the_last_tie_break():
    # tied pairs of every kind, and agreed examples on which both annotators agree alike:
    # no tie-break but the last separates the classes
    pairs = [[0, 1], [1, 0], [2, 1], [1, 2], [0, 2], [2, 0]] * 5
    labels = np.array([*pairs, [0, 0], [1, 1], [2, 2]], dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.random.seed(7)
        theirs = cl_multi.get_majority_vote_label(labels, verbose=False)
        seeded = ours.get_majority_vote_label(labels, verbose=False, random_state=7)
        again = ours.get_majority_vote_label(
            labels, verbose=False, random_state=np.random.RandomState(7)
        )
        generator = ours.get_majority_vote_label(
            labels, verbose=False, random_state=np.random.default_rng(7)
        )
    np.testing.assert_array_equal(seeded, theirs)
    np.testing.assert_array_equal(again, theirs)
    assert all(generator[i] in labels[i] for i in range(len(labels)))
    with pytest.raises(TypeError, match="random_state must be None, an int"):
        ours.get_majority_vote_label(labels, random_state="seven")


# --------------------------------------------------------------------------- errors


def test_errors_name_the_argument():
    labels, probs = problem(1, frame=False)
    lq = ours.get_label_quality_multiannotator
    with pytest.raises(ValueError, match="labels_multiannotator must be a 2D array"):
        lq(labels[:, 0], probs)
    with pytest.raises(ValueError, match="labels_multiannotator must be either a NumPy array"):
        lq("labels", probs)
    with pytest.raises(ValueError, match="Labels cannot be strings"):
        lq(np.array([["a", "b"], ["b", "b"]]), probs[:2])
    with pytest.raises(ValueError, match="Labels cannot be strings"):
        lq(pd.DataFrame({"a": ["x", None], "b": ["y", "y"]}, dtype=object), probs[:2])
    with pytest.raises(TypeError, match="must hold class indices or NaN; column 'b'"):
        lq(pd.DataFrame({"a": [0, 1], "b": [{}, 1]}), probs[:2])
    with pytest.raises(ValueError, match="must hold class indices or NaN; got dtype object"):
        lq(np.array([[0, {}], [1, 1]], dtype=object), probs[:2])  # also a ValueError
    with pytest.raises(ValueError, match="Labels must be zero-indexed integers"):
        lq(np.where(labels == 1, 1.5, labels), probs)
    with pytest.raises(ValueError, match="Labels must be positive integers"):
        lq(np.where(labels == 1, -1, labels), probs)
    empty_row = labels.copy()
    empty_row[3] = np.nan
    with pytest.raises(ValueError, match=r"rows with all NaN.*\n.*Examples \[3\]"):
        lq(empty_row, probs)
    dense, dense_probs = problem(8, frame=False)
    named = pd.DataFrame(dense).add_prefix("anno_")
    named["anno_0"] = pd.NA
    with pytest.raises(ValueError, match=r"Annotators \['anno_0'\] did not label any examples"):
        lq(named, dense_probs)
    with pytest.raises(ValueError, match="must have more than one column"):
        lq(np.zeros((3, 1)), probs[:3])
    with pytest.raises(ValueError, match="Each example only has one label"):
        lq(np.diag([0.0, 1.0, 2.0]) + np.where(np.eye(3), 0, np.nan), probs[:3])
    with pytest.raises(ValueError, match="use the ensemble version of this function"):
        lq(labels, np.stack([probs, probs]))
    with pytest.raises(ValueError, match="use the non-ensemble version of this function"):
        ours.get_label_quality_multiannotator_ensemble(labels, probs)
    with pytest.raises(ValueError, match="pred_probs and labels_multiannotator must have same"):
        lq(labels, probs[1:])
    with pytest.raises(ValueError, match="pred_probs must have at least 3 columns"):
        lq(labels, probs[:, :2] / probs[:, :2].sum(axis=1, keepdims=True))
    with pytest.raises(ValueError, match="pred_probs rows must sum to 1"):
        lq(labels, probs * 2 / 3)
    with pytest.raises(ValueError, match=r"pred_probs\[1\] rows must sum to 1"):
        ours.get_label_quality_multiannotator_ensemble(labels, np.stack([probs, probs / 2]))
    with pytest.raises(TypeError, match="pred_probs must be a numpy array"):
        lq(labels, "probs")
    with pytest.raises(ValueError, match="'magic' is not a valid consensus method"):
        lq(labels, probs, consensus_method="magic")
    with pytest.raises(ValueError, match="'magic' is not a valid consensus method"):
        lq(labels, probs, consensus_method=["best_quality", "magic"])
    with pytest.raises(ValueError, match="consensus_method must name one of"):
        lq(labels, probs, consensus_method=[])
    with pytest.raises(ValueError, match="quality_method must be one of"):
        lq(labels, probs, quality_method="magic")
    with pytest.raises(ValueError, match="weights are only applicable to the crowdlab quality"):
        lq(labels, probs, quality_method="agreement", return_weights=True)
    with pytest.raises(TypeError, match="label_quality_score_kwargs may only hold"):
        lq(labels, probs, label_quality_score_kwargs={"temperature": 2})
    with pytest.raises(ValueError, match=r"label_quality_score_kwargs\['method'\] must be one of"):
        lq(labels, probs, label_quality_score_kwargs={"method": "magic"})
    with pytest.raises(ValueError, match="adjust_pred_probs is not supported"):
        lq(
            labels,
            probs,
            label_quality_score_kwargs={
                "method": "confidence_weighted_entropy",
                "adjust_pred_probs": True,
            },
        )


@pytest.mark.parametrize("case", [0, 1, 4], ids=lambda i: MA_CASES[i][0])
def test_active_learning_scores_rows_of_any_sum_as_cleanlab(case):
    # cleanlab's own suite passes np.random.random arrays: rows in [0, 1] of any sum.
    labels, probs = problem(case)
    rng = np.random.default_rng(case)
    squashed = probs * rng.uniform(0.3, 1.0, size=(len(probs), 1))
    unlabeled = rng.random((7, probs.shape[1]))
    assert_both_same(
        *side_by_side("get_active_learning_scores", labels, squashed, unlabeled, seed=case)
    )


def test_active_learning_errors_name_the_argument():
    labels, probs = problem(1, frame=False)
    al = ours.get_active_learning_scores
    with pytest.raises(ValueError, match="pred_probs and pred_probs_unlabeled cannot both be"):
        al(labels)
    with pytest.raises(ValueError, match="labels_multiannotator cannot be None when passing"):
        al(pred_probs=probs)
    with pytest.raises(ValueError, match="must have the same number of classes"):
        al(labels, probs, probs[:, :-1])  # before checking that rows sum to 1
    with pytest.raises(ValueError, match="pred_probs_unlabeled must be a 2d array"):
        al(labels, probs, np.stack([probs, probs]))
    with pytest.raises(TypeError, match="pred_probs_unlabeled must be a numpy array"):
        al(labels, probs, "probs")
    with pytest.raises(ValueError, match="pred_probs_unlabeled values must be probabilities"):
        al(labels, probs, probs * 3)
    with pytest.raises(ValueError, match="labels_multiannotator must be a 2D array"):
        al(labels[:, 0], probs)
    with pytest.raises(ValueError, match="pred_probs and labels_multiannotator must have same"):
        al(labels, probs[1:])
    with pytest.raises(ValueError, match="pred_probs must have at least 3 columns"):
        al(labels, probs[:, :2] / probs[:, :2].sum(axis=1, keepdims=True))
    with pytest.raises(ValueError, match="pred_probs must hold at least one model"):
        ours.get_active_learning_scores_ensemble(labels, probs[None, :0].reshape(0, 0, 3))
    ensemble = np.stack([probs, probs])
    with pytest.raises(ValueError, match="pred_probs must be a 3d array"):
        ours.get_active_learning_scores_ensemble(labels, probs)
    with pytest.raises(ValueError, match="must hold the same models"):
        ours.get_active_learning_scores_ensemble(labels, ensemble, probs[None])
    with pytest.raises(ValueError, match="labels_multiannotator must have more than one column"):
        # the unlabelled consensus is a majority vote of the models: one model is too few
        ours.get_active_learning_scores_ensemble(pred_probs_unlabeled=probs[None])


def test_majority_vote_checks_only_the_format_when_quiet():
    labels = np.array([[0.0], [1.0], [1.0]])
    np.testing.assert_array_equal(ours.get_majority_vote_label(labels, verbose=False), [0, 1, 1])
    with pytest.raises(ValueError, match="must have more than one column"):
        ours.get_majority_vote_label(labels)
    with pytest.raises(ValueError, match="rows with all NaN"):
        ours.get_majority_vote_label(np.array([[0, 1], [np.nan, np.nan]]), verbose=False)


def test_assert_valid_inputs_multiannotator_warns_as_cleanlab(recwarn):
    disagreeing = np.array([[2, 1, np.nan, 0], [1, 0, 2, np.nan]])
    with pytest.warns(UserWarning, match="do not agree"):
        our_utils.assert_valid_inputs_multiannotator(disagreeing)
    our_utils.assert_valid_inputs_multiannotator(np.array([[1, 3, 3], [1, 4, 2]]))
    our_utils.assert_valid_inputs_multiannotator(np.array([[1], [2]]), allow_single_label=True)
    assert len(recwarn) == 0
    with pytest.raises(ValueError, match=r"Annotators \['b'\]"):
        our_utils.assert_valid_inputs_multiannotator(
            np.array([[1, np.nan], [1, np.nan]]), annotator_ids=pd.Index(["a", "b"])
        )
