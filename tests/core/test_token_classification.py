"""core.token_classification against cleanlab.token_classification, side by side."""

from __future__ import annotations

import contextlib
import io
import warnings

import cleanlab.token_classification.filter as cl_filter
import cleanlab.token_classification.rank as cl_rank
import cleanlab.token_classification.summary as cl_summary
import numpy as np
import pandas as pd
import pytest
from cleanlab.internal.token_classification_utils import color_sentence, get_sentence
from hypothesis import given, settings
from hypothesis import strategies as st

from core.constants import FILTER_BY
from core.token_classification import filter as tc_filter
from core.token_classification import rank as tc_rank
from core.token_classification import summary as tc_summary
from core.token_classification._sentences import Sentences
from core.token_classification._text import highlight, join_words
from tests.core._cases import TOKEN_CASES, TOKEN_EMPTY_CASES
from tests.core.conftest import noisy_token_problem

ALL_CASES = TOKEN_CASES + TOKEN_EMPTY_CASES
RANK_BY = ["self_confidence", "normalized_margin", "confidence_weighted_entropy"]
PRUNE = ["prune_by_noise_rate", "prune_by_class", "both"]
SENTENCE_SCORES = [
    ("min", None),
    ("softmin", None),
    ("softmin", {"temperature": 0}),
    ("softmin", {"temperature": np.inf}),
    ("softmin", {"temperature": 1.0}),
    ("softmin", {"temperature": 1e-9}),  # below cleanlab's floor of 1e-6
]


def _ids(cases):
    return [case[0] for case in cases]


def quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def printed(fn, *args, **kwargs):
    """(what fn returns, what it printed)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = quietly(fn, *args, **kwargs)
    return result, out.getvalue()


def both_find(labels, pred_probs, **kwargs):
    """(core's issues, cleanlab's issues), cleanlab in one process."""
    theirs = quietly(cl_filter.find_label_issues, labels, pred_probs, n_jobs=1, **kwargs)
    ours = quietly(tc_filter.find_label_issues, labels, pred_probs, **kwargs)
    return ours, theirs


def without_empty(labels, pred_probs, tokens):
    kept = [i for i, sentence in enumerate(labels) if sentence]
    return [labels[i] for i in kept], [pred_probs[i] for i in kept], [tokens[i] for i in kept]


def assert_same_scores(ours, theirs):
    """Same sentence scores (values and dtype) and same token Series: all values and
    indexes at once, and every 25th Series whole (assert_series_equal costs ~0.1 ms)."""
    (our_sentences, our_tokens), (their_sentences, their_tokens) = ours, theirs
    np.testing.assert_array_equal(our_sentences, their_sentences)
    assert our_sentences.dtype == their_sentences.dtype
    assert len(our_tokens) == len(their_tokens)
    assert all(isinstance(s, pd.Series) for s in our_tokens)
    our_values = np.concatenate([s.to_numpy() for s in our_tokens])
    their_values = np.concatenate([s.to_numpy() for s in their_tokens])
    np.testing.assert_array_equal(our_values, their_values)
    assert our_values.dtype == their_values.dtype
    assert [s.index.tolist() for s in our_tokens] == [s.index.tolist() for s in their_tokens]
    for a, b in zip(our_tokens[::25], their_tokens[::25], strict=True):
        pd.testing.assert_series_equal(a, b, check_exact=True)


# --------------------------------------------------------------------------- filter


@pytest.mark.parametrize("filter_by", FILTER_BY)
@pytest.mark.parametrize(("name", "seed", "n", "k", "opts"), ALL_CASES, ids=_ids(ALL_CASES))
def test_issues_match_cleanlab(name, seed, n, k, opts, filter_by):
    labels, pred_probs, _ = noisy_token_problem(seed, n, k, **opts)
    ours, theirs = both_find(labels, pred_probs, filter_by=filter_by)
    assert ours == theirs
    assert all(type(i) is int and type(j) is int for i, j in ours)


@pytest.mark.parametrize("rank_by", RANK_BY)
@pytest.mark.parametrize("filter_by", FILTER_BY)
def test_ranked_issues_match_cleanlab(filter_by, rank_by):
    for seed, (n, k, opts) in enumerate([(150, 5, {"round_to": 2}), (300, 9, {"empty": 0.1})]):
        labels, pred_probs, _ = noisy_token_problem(seed, n, k, **opts)
        ours, theirs = both_find(
            labels, pred_probs, filter_by=filter_by, return_indices_ranked_by=rank_by
        )
        assert ours == theirs
        if rank_by != "confidence_weighted_entropy":
            ours, theirs = both_find(
                labels,
                pred_probs,
                filter_by=filter_by,
                return_indices_ranked_by=rank_by,
                rank_by_kwargs={"adjust_pred_probs": True},
            )
            assert ours == theirs


@pytest.mark.parametrize("filter_by", PRUNE)
@pytest.mark.parametrize(
    "options",
    [
        {"frac_noise": 0.5},
        {"frac_noise": 0.13},
        {"min_examples_per_class": 0},
        {"min_examples_per_class": 5},
        {"min_examples_per_class": 80},
        {"num_to_remove_per_class": [10, 5, 20, 0]},
        {"num_to_remove_per_class": [1, 1, 1, 1]},
        {"num_to_remove_per_class": 3},
    ],
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()),
)
def test_prune_options_match_cleanlab(filter_by, options):
    for seed, opts in enumerate([{"noise": 0.3}, {"empty": 0.2, "one_token": 0.4}]):
        labels, pred_probs, _ = noisy_token_problem(seed, 250, 4, **opts)
        ours, theirs = both_find(labels, pred_probs, filter_by=filter_by, **options)
        assert ours == theirs


def test_supplied_confident_joint_and_array_inputs_match_cleanlab():
    labels, pred_probs, _ = noisy_token_problem(3, 300, 5)
    rng = np.random.default_rng(0)
    joint = rng.integers(0, 40, size=(5, 5))
    np.fill_diagonal(joint, 300)
    for filter_by in PRUNE:
        ours, theirs = both_find(labels, pred_probs, filter_by=filter_by, confident_joint=joint)
        assert ours == theirs
    as_arrays = [np.array(sentence) for sentence in labels]
    as_lists = [p.tolist() for p in pred_probs]
    assert both_find(as_arrays, pred_probs)[0] == both_find(labels, as_lists)[1]


def test_return_indices_ranked_by_none_keeps_reading_order():
    # cleanlab indexes its token map with the boolean mask here (a bug); core returns the
    # flagged tokens in reading order.
    labels, pred_probs, _ = noisy_token_problem(4, 200, 6, empty=0.1)
    ranked = quietly(cl_filter.find_label_issues, labels, pred_probs, n_jobs=1)
    ours = quietly(tc_filter.find_label_issues, labels, pred_probs, return_indices_ranked_by=None)
    assert ours == sorted(ranked)


def test_one_token_sentences_and_a_single_class():
    labels = [[0], [0], [0]]
    pred_probs = [np.array([[0.9, 0.1]]), np.array([[0.2, 0.8]]), np.array([[0.4, 0.6]])]
    ours, theirs = both_find(labels, pred_probs)
    assert ours == theirs == []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tc_filter.find_label_issues(labels, pred_probs)
    assert any("single class" in str(w.message) for w in caught)


# --------------------------------------------------------------------------- rank


@pytest.mark.parametrize("token_score_method", RANK_BY)
@pytest.mark.parametrize(("name", "seed", "n", "k", "opts"), TOKEN_CASES, ids=_ids(TOKEN_CASES))
def test_scores_match_cleanlab(name, seed, n, k, opts, token_score_method):
    labels, pred_probs, tokens = noisy_token_problem(seed, n, k, **opts)
    cases = SENTENCE_SCORES if k in (4, 5, 20) else SENTENCE_SCORES[:2]
    for n_case, (method, kwargs) in enumerate(cases):
        options = {
            "tokens": tokens if n_case % 2 else None,
            "token_score_method": token_score_method,
            "sentence_score_method": method,
            "sentence_score_kwargs": kwargs or {},
        }
        assert_same_scores(
            quietly(tc_rank.get_label_quality_scores, labels, pred_probs, **options),
            quietly(cl_rank.get_label_quality_scores, labels, pred_probs, **options),
        )


@pytest.mark.parametrize("method", ["min", "softmin"])
@pytest.mark.parametrize(
    ("name", "seed", "n", "k", "opts"), TOKEN_EMPTY_CASES, ids=_ids(TOKEN_EMPTY_CASES)
)
def test_empty_sentences_score_one_with_a_warning(name, seed, n, k, opts, method):
    # cleanlab fails on a sentence without tokens (a minimum of nothing); core scores it
    # 1.0 and scores the others as cleanlab does without it.
    labels, pred_probs, tokens = noisy_token_problem(seed, n, k, **opts)
    with pytest.warns(UserWarning, match="have no tokens"):
        scores, token_scores = tc_rank.get_label_quality_scores(
            labels, pred_probs, tokens=tokens, sentence_score_method=method
        )
    empty = np.array([len(s) == 0 for s in labels])
    assert empty.any() and np.all(scores[empty] == 1.0)
    assert all(len(token_scores[i]) == 0 for i in np.flatnonzero(empty))
    with pytest.raises(ValueError, match="zero-size array"):
        quietly(cl_rank.get_label_quality_scores, labels, pred_probs, sentence_score_method=method)
    kept = without_empty(labels, pred_probs, tokens)
    theirs = quietly(
        cl_rank.get_label_quality_scores, *kept[:2], tokens=kept[2], sentence_score_method=method
    )
    assert_same_scores((scores[~empty], [s for s in token_scores if len(s)]), theirs)


def test_softmin_helper_matches_cleanlab():
    rng = np.random.default_rng(7)
    nested = [rng.random(int(n)).round(int(n) % 3 + 1).tolist() for n in rng.integers(1, 40, 300)]
    for temperature in (0.05, 0, np.inf, 0.3, 1e-12, 5):
        ours = tc_rank._softmin_sentence_score(nested, temperature=temperature)
        theirs = cl_rank._softmin_sentence_score(nested, temperature=temperature)
        np.testing.assert_array_equal(ours, theirs)
    f32 = [np.asarray(s, dtype=np.float32) for s in nested]
    np.testing.assert_array_equal(
        tc_rank._softmin_sentence_score(f32), cl_rank._softmin_sentence_score(f32)
    )


@pytest.mark.parametrize(("name", "seed", "n", "k", "opts"), TOKEN_CASES, ids=_ids(TOKEN_CASES))
def test_issues_from_scores_match_cleanlab(name, seed, n, k, opts):
    labels, pred_probs, _ = noisy_token_problem(seed, n, k, **opts)
    scores, token_scores = quietly(cl_rank.get_label_quality_scores, labels, pred_probs)
    as_lists = [s.tolist() for s in token_scores]
    for threshold in (0.02, 0.1, 0.3, 0.6):
        for tokens in (token_scores, as_lists):
            ours = tc_rank.issues_from_scores(scores, token_scores=tokens, threshold=threshold)
            theirs = cl_rank.issues_from_scores(scores, token_scores=tokens, threshold=threshold)
            assert ours == theirs
        if scores.max() >= threshold:  # else cleanlab runs off the end of the array
            ours = tc_rank.issues_from_scores(scores, threshold=threshold)
            theirs = cl_rank.issues_from_scores(scores, threshold=threshold)
            np.testing.assert_array_equal(ours, theirs)


def test_issues_from_scores_ties_and_every_sentence_below():
    scores = np.array([0.05, 0.3, 0.05, 0.0, 0.3, 0.05] * 5)
    token_scores = [[0.05, 0.0, 0.05], [], [0.3, 0.05], [0.0]] * 3
    for threshold in (0.05, 0.06, 0.31):
        np.testing.assert_array_equal(
            tc_rank.issues_from_scores(scores, threshold=threshold),
            cl_rank.issues_from_scores(scores, threshold=threshold)
            if threshold < 0.31
            else np.argsort(scores),
        )
        assert tc_rank.issues_from_scores(
            scores, token_scores=token_scores, threshold=threshold
        ) == cl_rank.issues_from_scores(scores, token_scores=token_scores, threshold=threshold)
    with pytest.raises(IndexError):  # cleanlab, when every sentence is below the threshold
        cl_rank.issues_from_scores(scores, threshold=0.31)


# --------------------------------------------------------------------------- summary


def summary_options(labels, pred_probs, k):
    names = [f"C{c}" for c in range(k)]
    both = {"labels": labels, "pred_probs": pred_probs}
    return [
        {},
        {"labels": labels},
        {"pred_probs": pred_probs},
        both,
        {**both, "class_names": names},
        {**both, "top": 3, "exclude": [(0, 1), (1, 0)]},
        {**both, "class_names": names, "exclude": [(1, 0)], "top": 40},
        {**both, "top": 1},
    ]


@pytest.mark.parametrize(("name", "seed", "n", "k", "opts"), ALL_CASES, ids=_ids(ALL_CASES))
def test_common_label_issues_match_cleanlab(name, seed, n, k, opts):
    labels, pred_probs, tokens = noisy_token_problem(seed, n, k, **opts)
    issues = quietly(tc_filter.find_label_issues, labels, pred_probs)
    # Fewer issues than sentences, and more (the two ways rows are looked up).
    for subset in (issues[: len(labels) // 3], issues + issues[::2]):
        for options in summary_options(labels, pred_probs, k):
            ours, our_text = printed(tc_summary.common_label_issues, subset, tokens, **options)
            theirs, their_text = printed(cl_summary.common_label_issues, subset, tokens, **options)
            pd.testing.assert_frame_equal(ours, theirs, check_exact=True)
            assert our_text == their_text


def test_common_label_issues_without_verbose_prints_nothing(capsys):
    labels, pred_probs, tokens = noisy_token_problem(1, 100, 3)
    issues = quietly(tc_filter.find_label_issues, labels, pred_probs)
    for options in ({}, {"labels": labels, "pred_probs": pred_probs}):
        ours = tc_summary.common_label_issues(issues, tokens, verbose=False, **options)
        assert capsys.readouterr().out == ""
        theirs, _ = printed(
            cl_summary.common_label_issues, issues, tokens, verbose=False, **options
        )
        pd.testing.assert_frame_equal(ours, theirs)
    report = io.StringIO()
    tc_summary.common_label_issues(issues, tokens, file=report)
    assert (
        capsys.readouterr().out == ""
        and report.getvalue() == printed(cl_summary.common_label_issues, issues, tokens)[1]
    )


def test_no_issues_match_cleanlab():
    labels, pred_probs, tokens = noisy_token_problem(2, 20, 3)
    for options in summary_options(labels, pred_probs, 3):
        ours, our_text = printed(tc_summary.common_label_issues, [], tokens, **options)
        theirs, their_text = printed(cl_summary.common_label_issues, [], tokens, **options)
        pd.testing.assert_frame_equal(ours, theirs)
        assert our_text == their_text
    assert tc_summary.filter_by_token("a", [], tokens) == []
    assert tc_summary.format_issues([], tokens) == ""  # cleanlab fails (issues[0])


@pytest.mark.parametrize(("name", "seed", "n", "k", "opts"), ALL_CASES, ids=_ids(ALL_CASES))
def test_filter_by_token_matches_cleanlab(name, seed, n, k, opts):
    labels, pred_probs, tokens = noisy_token_problem(seed, n, k, **opts)
    issues = quietly(tc_filter.find_label_issues, labels, pred_probs)
    for token in ("the", "THE", "a", "A", "(", "'s", "paris", "U.S.", "nowhere"):
        assert tc_summary.filter_by_token(token, issues, tokens) == cl_summary.filter_by_token(
            token, issues, tokens
        )


@pytest.mark.parametrize(("name", "seed", "n", "k", "opts"), ALL_CASES, ids=_ids(ALL_CASES))
def test_display_issues_matches_cleanlab(name, seed, n, k, opts):
    labels, pred_probs, tokens = noisy_token_problem(seed, n, k, **opts)
    issues = quietly(tc_filter.find_label_issues, labels, pred_probs)
    for options in summary_options(labels, pred_probs, k):
        _, ours = printed(tc_summary.display_issues, issues, tokens, **options)
        _, theirs = printed(cl_summary.display_issues, issues, tokens, **options)
        assert ours == theirs
        assert tc_summary.format_issues(issues, tokens, **options) == theirs
    sentences = tc_rank.issues_from_scores(
        quietly(tc_rank.get_label_quality_scores, labels, pred_probs)[0], threshold=0.5
    )
    if len(sentences):
        _, ours = printed(tc_summary.display_issues, sentences, tokens, top=7)
        _, theirs = printed(cl_summary.display_issues, sentences, tokens, top=7)
        assert ours == theirs


def test_display_issues_writes_to_a_file(capsys):
    tokens = [["A", "?weird", "sentence"], ["A", "valid", "sentence"], ["An", "typo"]]
    stream = io.StringIO()
    tc_summary.display_issues([(2, 0), (0, 1)], tokens, file=stream)
    assert capsys.readouterr().out == ""
    assert stream.getvalue() == printed(cl_summary.display_issues, [(2, 0), (0, 1)], tokens)[1]


@pytest.mark.parametrize("seed", range(4))
def test_sentences_and_highlights_match_cleanlab(seed):
    _, _, tokens = noisy_token_problem(seed, 60, 2, empty=0.05)
    extra = [["Some", "reason", "(", "Explanation", ")"], ["Heading", "-", "Title"], [""], []]
    extra += [["ab", "ab", "a", "b", "ab"], ["I", "think", "I", "know", "it", "'s", "(", "(", "."]]
    for words in tokens + extra:
        sentence = join_words(words)
        assert sentence == get_sentence(words)
        for word in [*words, "ab a", "I w", "("]:
            assert highlight(sentence, word) == color_sentence(sentence, word)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab_1é٣ .,'(-)$*?", max_size=25), st.data())
def test_highlight_finds_what_cleanlabs_regex_finds(sentence, data):
    # core looks for whole words without a regular expression; re's \b decides in cleanlab.
    start = data.draw(st.integers(0, len(sentence)))
    word = data.draw(
        st.one_of(
            st.just(sentence[start : data.draw(st.integers(start, len(sentence)))]),
            st.text(alphabet="ab_1é٣ .(", max_size=3),
        )
    )
    assert highlight(sentence, word) == color_sentence(sentence, word)


def test_highlight_takes_backslashes_literally():
    # cleanlab hands the coloured word to re.subn as a template: "x\1" fails there.
    assert highlight("x\\1 y", "x\\1") == "\x1b[31mx\\1\x1b[0m y"
    with pytest.raises(Exception, match="invalid group reference"):
        color_sentence("x\\1 y", "x\\1")


# --------------------------------------------------------------------------- errors

P = [np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[0.5, 0.5]])]
L = [[0, 1], [1]]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: tc_filter.find_label_issues([0, 1, 1], P), TypeError, r"labels\[0\] is int"),
        (lambda: tc_filter.find_label_issues("ab", P), TypeError, "labels must be a list"),
        (lambda: tc_filter.find_label_issues(L, P[:1]), ValueError, "one entry per sentence"),
        (lambda: tc_filter.find_label_issues([[0, 1], [1, 0]], P), ValueError, r"pred_probs\[1\]"),
        (
            lambda: tc_filter.find_label_issues(L, [P[0], np.array([[0.2, 0.3, 0.5]])]),
            ValueError,
            r"pred_probs\[1\] has 3 columns",
        ),
        (lambda: tc_filter.find_label_issues([[0, 1], [2]], P), ValueError, "labels must be"),
        (lambda: tc_filter.find_label_issues([[], []], [[], []]), ValueError, "no tokens"),
        (lambda: tc_filter.find_label_issues([[[0], [1]], [1]], P), ValueError, "nested lists"),
        (lambda: tc_filter.find_label_issues(L, P, filter_by="x"), ValueError, "filter_by"),
        (
            lambda: tc_filter.find_label_issues(L, P, return_indices_ranked_by="x"),
            ValueError,
            "return_indices_ranked_by",
        ),
        (
            lambda: tc_filter.find_label_issues(L, [P[0], np.array([[0.5, 0.7]])]),
            ValueError,
            "pred_probs rows must sum to 1",
        ),
        (
            lambda: tc_rank.get_label_quality_scores(L, P, sentence_score_method="max"),
            AssertionError,
            "Select from the following methods:",
        ),
        (
            lambda: tc_rank.get_label_quality_scores(L, P, sentence_score_method="max"),
            ValueError,
            "sentence_score_method",
        ),
        (
            lambda: tc_rank.get_label_quality_scores(L, P, token_score_method="max"),
            ValueError,
            "token_score_method",
        ),
        (
            lambda: tc_rank.get_label_quality_scores(L, P, sentence_score_kwargs={"t": 1}),
            ValueError,
            "sentence_score_kwargs may only",
        ),
        (
            lambda: tc_rank.get_label_quality_scores(
                L, P, sentence_score_kwargs={"temperature": -1}
            ),
            ValueError,
            "temperature",
        ),
        (
            lambda: tc_rank.get_label_quality_scores(
                L, P, sentence_score_kwargs={"temperature": "hot"}
            ),
            TypeError,
            "temperature",
        ),
        (
            lambda: tc_rank.get_label_quality_scores(L, P, tokens=[["a"], ["b"]]),
            ValueError,
            r"tokens\[0\] has 1 words",
        ),
        (
            lambda: tc_rank.get_label_quality_scores(L, P, tokens=[["a", "b"]]),
            ValueError,
            "1 lists for 2 sentences",
        ),
        (lambda: tc_rank.issues_from_scores(np.zeros((2, 2))), ValueError, "sentence_scores"),
        (lambda: tc_rank.issues_from_scores(np.zeros(2), threshold="a"), TypeError, "threshold"),
        (
            lambda: tc_rank.issues_from_scores(np.zeros(2), token_scores=[["a"]]),
            TypeError,
            "token_scores",
        ),
        (lambda: tc_summary.display_issues([(5, 0)], [["a"]]), ValueError, r"issues\[0\]"),
        (lambda: tc_summary.display_issues([(0, 0)], [["a"]], top=0), ValueError, "top"),
        (lambda: tc_summary.common_label_issues([(0, 3)], [["a"]]), ValueError, r"issues\[0\]"),
        (lambda: tc_summary.common_label_issues([(0, 0)], [["a"]], top=-1), ValueError, "top"),
        (
            lambda: tc_summary.common_label_issues(
                [(0, 0)], [["a"]], labels=[[5]], pred_probs=[np.array([[0.5, 0.5]])]
            ),
            ValueError,
            "labels must be class indices",
        ),
        (
            lambda: tc_summary.common_label_issues(
                [(0, 0)], [["a"]], labels=[[0]], pred_probs=[P[1]], exclude=[1]
            ),
            TypeError,
            "exclude",
        ),
        (lambda: tc_summary.filter_by_token("a", [(0, 3)], [["a"]]), ValueError, r"issues\[0\]"),
        (lambda: tc_summary.filter_by_token(3, [(0, 0)], [["a"]]), TypeError, "token"),
    ],
)
def test_errors_name_the_argument(call, error, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=match):
            call()


# --------------------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=30), st.data())
def test_positions_and_split_round_trip(lengths, data):
    sentences = Sentences.from_lengths(np.array(lengths, dtype=np.intp))
    total = sentences.num_tokens
    values = np.arange(total)
    assert [part.tolist() for part in sentences.split(values)] == [
        list(range(start, start + n))
        for start, n in zip(np.cumsum([0, *lengths[:-1]]), lengths, strict=True)
    ]
    if total:
        flat = np.array(data.draw(st.lists(st.integers(0, total - 1), max_size=20)), dtype=int)
        for f, (i, j) in zip(flat.tolist(), sentences.positions(flat), strict=True):
            assert 0 <= j < lengths[i] and sum(lengths[:i]) + j == f


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 8), min_size=1, max_size=12), st.integers(0, 2**31))
def test_min_sentence_score_is_the_worst_token(lengths, seed):
    rng = np.random.default_rng(seed)
    pred_probs = [rng.dirichlet(np.ones(3), size=n) for n in lengths]
    labels = [rng.integers(0, 3, n).tolist() for n in lengths]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one class given, on tiny draws
        scores, token_scores = tc_rank.get_label_quality_scores(labels, pred_probs)
    assert np.array_equal(scores, [s.min() for s in token_scores])
    soft, _ = quietly(
        tc_rank.get_label_quality_scores, labels, pred_probs, sentence_score_method="softmin"
    )
    assert np.all(soft >= scores - 1e-12)  # a weighted mean is never below the minimum
