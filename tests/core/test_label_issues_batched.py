"""core.experimental.label_issues_batched against cleanlab's, side by side, and the
``low_memory=True`` paths that use it (CleanLearning, multi-label, token classification)."""

from __future__ import annotations

import doctest
import warnings

import cleanlab.classification as cl_classification
import cleanlab.experimental.label_issues_batched as cl_batched
import cleanlab.multilabel_classification.filter as cl_ml_filter
import cleanlab.token_classification.filter as cl_tc_filter
import numpy as np
import pytest

import core.experimental._inspector as inspector
import core.experimental.label_issues_batched as batched
from core.classification import CleanLearning
from core.experimental.label_issues_batched import LabelInspector, find_label_issues_batched
from core.filter import find_label_issues
from core.multilabel_classification import filter as ml_filter
from core.rank import get_label_quality_scores
from core.token_classification import filter as tc_filter
from tests.core._cases import CASES, ML_CASES
from tests.core.conftest import noisy_multilabel_problem, noisy_problem

#: The oracle sweep: every case small enough to run many option combinations quickly.
SMALL = [c for c in CASES if c[2] <= 5_000]
QUALITY = [None, {"method": "normalized_margin"}, {"adjust_pred_probs": True}]
NUM_ISSUES = [None, {"estimation_method": "off_diagonal_calibrated"}]


def _cleanlab(**kwargs):
    """cleanlab's function, quiet (its progress bars go to stderr)."""
    return cl_batched.find_label_issues_batched(verbose=False, **kwargs)


@pytest.mark.parametrize(("name", "seed", "n", "k", "opts"), SMALL, ids=[c[0] for c in SMALL])
@pytest.mark.parametrize("quality", QUALITY, ids=["self", "margin", "adjusted"])
@pytest.mark.parametrize("num_issue", NUM_ISSUES, ids=["off_diagonal", "calibrated"])
def test_same_issues_as_cleanlab(name, seed, n, k, opts, quality, num_issue):
    labels, pred_probs = noisy_problem(seed, n, k, **opts)
    for batch_size in (max(1, n // 3 + 1), n + 7):
        kwargs = {
            "labels": labels,
            "pred_probs": pred_probs,
            "batch_size": batch_size,
            "quality_score_kwargs": quality,
            "num_issue_kwargs": num_issue,
        }
        ours = find_label_issues_batched(verbose=False, **kwargs)
        theirs = _cleanlab(**kwargs)
        assert set(ours.tolist()) == set(theirs.tolist())
        mask = find_label_issues_batched(verbose=False, return_mask=True, **kwargs)
        np.testing.assert_array_equal(mask, _cleanlab(return_mask=True, **kwargs))
        np.testing.assert_array_equal(np.flatnonzero(mask), np.sort(ours))
        # ranked by the label quality score it was found with, lowest first
        method = (quality or {}).get("method", "self_confidence")
        adjust = bool((quality or {}).get("adjust_pred_probs", False))
        if not adjust:  # adjusted scores use the batched thresholds; checked below
            scores = get_label_quality_scores(labels, pred_probs, method=method)
            assert np.all(np.diff(scores[ours]) >= 0)


@pytest.mark.parametrize(("name", "seed", "n", "k", "opts"), SMALL, ids=[c[0] for c in SMALL])
def test_inspector_state_equals_cleanlabs(name, seed, n, k, opts):
    labels, pred_probs = noisy_problem(seed, n, k, **opts)
    for quality, num_issue in [(None, None), ({"adjust_pred_probs": True}, NUM_ISSUES[1])]:
        ours = LabelInspector(
            num_class=k, verbose=False, quality_score_kwargs=quality, num_issue_kwargs=num_issue
        )
        theirs = cl_batched.LabelInspector(
            num_class=k, verbose=False, quality_score_kwargs=quality, num_issue_kwargs=num_issue
        )
        step = max(1, n // 4)
        for start in range(0, n, step):
            for lab in (ours, theirs):
                lab.update_confident_thresholds(
                    labels[start : start + step], pred_probs[start : start + step]
                )
        np.testing.assert_allclose(
            ours.get_confident_thresholds(), theirs.get_confident_thresholds(), rtol=1e-12
        )
        for start in range(0, n, step):
            chunk = (labels[start : start + step], pred_probs[start : start + step])
            np.testing.assert_allclose(
                ours.score_label_quality(*chunk), theirs.score_label_quality(*chunk), rtol=1e-12
            )
        assert ours.get_num_issues() == theirs.get_num_issues()
        np.testing.assert_allclose(ours.get_quality_scores(), theirs.get_quality_scores())
        np.testing.assert_array_equal(ours.get_label_issues(), theirs.get_label_issues())


def test_close_to_the_in_memory_filter():
    labels, pred_probs = noisy_problem(3, 4_000, 6, noise=0.2)
    exact = find_label_issues(
        labels,
        pred_probs,
        filter_by="low_self_confidence",
        return_indices_ranked_by="self_confidence",
    )
    approx = find_label_issues_batched(labels, pred_probs, batch_size=500, verbose=False)
    jaccard = len(set(exact) & set(approx)) / len(set(exact) | set(approx))
    assert jaccard > 0.95


def test_memory_mapped_files_give_the_same_answer(tmp_path):
    labels, pred_probs = noisy_problem(4, 3_000, 5, float32=True)
    np.save(tmp_path / "labels.npy", labels)
    np.save(tmp_path / "pred_probs.npy", pred_probs)
    from_files = find_label_issues_batched(
        labels_file=str(tmp_path / "labels.npy"),
        pred_probs_file=tmp_path / "pred_probs.npy",
        batch_size=700,
        verbose=False,
    )
    in_memory = find_label_issues_batched(labels, pred_probs, batch_size=700, verbose=False)
    np.testing.assert_array_equal(from_files, in_memory)
    mapped = np.load(tmp_path / "pred_probs.npy", mmap_mode="r")
    np.testing.assert_array_equal(
        find_label_issues_batched(labels, mapped, batch_size=700, verbose=False), in_memory
    )


def test_batch_size_and_n_jobs_do_not_change_the_answer():
    labels, pred_probs = noisy_problem(5, 600, 4)
    answers = [
        find_label_issues_batched(labels, pred_probs, batch_size=b, n_jobs=j, verbose=False)
        for b, j in [(1, 1), (150, None), (600, 4), (10_000, 1)]
    ]
    for answer in answers[1:]:
        np.testing.assert_array_equal(answer, answers[0])


def test_verbose_prints_progress(capsys):
    labels, pred_probs = noisy_problem(6, 100, 3)
    find_label_issues_batched(labels, pred_probs, batch_size=40)
    out = capsys.readouterr().out
    assert "in chunks of 40" in out and "100" in out


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda L, P: find_label_issues_batched(None, P), ValueError, "labels` or `labels_file"),
        (lambda L, P: find_label_issues_batched(L, None), ValueError, "pred_probs` or"),
        (
            lambda L, P: find_label_issues_batched(L, P, labels_file="x.npy"),
            ValueError,
            "only specify one of",
        ),
        (lambda L, P: find_label_issues_batched(labels_file=3, pred_probs=P), TypeError, "path"),
        (lambda L, P: find_label_issues_batched(L[:-1], P), ValueError, "does not match"),
        (lambda L, P: find_label_issues_batched(L, P[0]), ValueError, "2-D"),
        (lambda L, P: find_label_issues_batched(L, P, batch_size=0), ValueError, "batch_size"),
        (lambda L, P: find_label_issues_batched(L, P, batch_size=2.5), TypeError, "batch_size"),
        (lambda L, P: find_label_issues_batched(L, P, n_jobs=0), ValueError, "n_jobs"),
        (
            lambda L, P: find_label_issues_batched(L, P, quality_score_kwargs={"method": "x"}),
            ValueError,
            "method must be one of",
        ),
        (
            lambda L, P: find_label_issues_batched(L, P, quality_score_kwargs={"top": 3}),
            ValueError,
            "quality_score_kwargs accepts only",
        ),
        (
            lambda L, P: find_label_issues_batched(
                L,
                P,
                quality_score_kwargs={
                    "method": "confidence_weighted_entropy",
                    "adjust_pred_probs": True,
                },
            ),
            ValueError,
            "adjust_pred_probs",
        ),
        (
            lambda L, P: find_label_issues_batched(
                L, P, num_issue_kwargs={"estimation_method": "off_diagonal_custom"}
            ),
            ValueError,
            "not a valid estimation method",
        ),
        (lambda L, P: find_label_issues_batched(L + 5, P), ValueError, "labels must be class"),
        (lambda L, P: find_label_issues_batched(L, P * 2), ValueError, "pred_probs"),
        (lambda L, P: LabelInspector(num_class=0), ValueError, "num_class"),
        (lambda L, P: LabelInspector(num_class=3).get_confident_thresholds(), ValueError, "yet"),
        (lambda L, P: LabelInspector(num_class=3).get_num_issues(), ValueError, "yet"),
        (lambda L, P: LabelInspector(num_class=3).score_label_quality(L, P), ValueError, "yet"),
        (
            lambda L, P: LabelInspector(num_class=4).update_confident_thresholds(L, P),
            ValueError,
            "num_class must equal pred_probs.shape",
        ),
        (
            lambda L, P: LabelInspector(num_class=3).update_confident_thresholds(L[:5], P),
            ValueError,
            "labels and pred_probs must have same length",
        ),
        (
            lambda L, P: LabelInspector(num_class=3, store_results=False).get_quality_scores(),
            ValueError,
            "store_results",
        ),
        (lambda L, P: batched.split_arr(np.arange(4), 0), ValueError, "chunksize"),
    ],
)
def test_errors_name_the_argument(call, error, match):
    labels, pred_probs = noisy_problem(7, 20, 3)
    with pytest.raises(error, match=match):
        call(labels, pred_probs)


def test_split_arr_as_cleanlab():
    arr = np.arange(10)
    for size in (1, 3, 10, 11):
        ours, theirs = batched.split_arr(arr, size), cl_batched.split_arr(arr, size)
        assert [a.tolist() for a in ours] == [t.tolist() for t in theirs]


def test_inspector_without_stored_results_still_counts():
    labels, pred_probs = noisy_problem(8, 300, 3)
    lab = LabelInspector(num_class=3, store_results=False, verbose=False)
    lab.update_confident_thresholds(labels, pred_probs)
    scores = lab.score_label_quality(labels, pred_probs)
    assert scores.shape == (300,)
    theirs = cl_batched.LabelInspector(num_class=3, verbose=False)
    theirs.update_confident_thresholds(labels, pred_probs)
    theirs.score_label_quality(labels, pred_probs)
    assert lab.get_num_issues() == theirs.get_num_issues() > 0


# --------------------------------------------------------------------------- low_memory=True


@pytest.mark.parametrize("seed", range(4))
def test_clean_learning_low_memory_as_cleanlab(seed):
    labels, pred_probs = noisy_problem(seed, 400, 3)
    ours = CleanLearning(low_memory=True).find_label_issues(labels=labels, pred_probs=pred_probs)
    theirs = cl_classification.CleanLearning(low_memory=True).find_label_issues(
        labels=labels, pred_probs=pred_probs
    )
    np.testing.assert_array_equal(ours["is_label_issue"], theirs["is_label_issue"])
    np.testing.assert_allclose(ours["label_quality"], theirs["label_quality"])


def test_clean_learning_low_memory_warns_about_what_it_ignores():
    labels, pred_probs = noisy_problem(1, 200, 3)
    model = CleanLearning(low_memory=True, find_label_issues_kwargs={"frac_noise": 0.5})
    with pytest.warns(UserWarning, match="find_label_issues_kwargs` is not used"):
        model.find_label_issues(labels=labels, pred_probs=pred_probs)
    with pytest.warns(UserWarning, match="thresholds` is not used"):
        CleanLearning(low_memory=True).find_label_issues(
            labels=labels, pred_probs=pred_probs, thresholds=[0.5, 0.5, 0.5]
        )


def test_clean_learning_low_memory_fits_without_noise_weights():
    labels, pred_probs = noisy_problem(2, 300, 3)
    rng = np.random.default_rng(0)
    X = pred_probs + rng.normal(scale=0.05, size=pred_probs.shape)
    model = CleanLearning(low_memory=True, seed=0).fit(X, labels)
    assert model.noise_matrix is None and model.sample_weight is None
    assert model.label_issues_df["is_label_issue"].sum() > 0
    assert set(model.predict(X)) <= {0, 1, 2}


@pytest.mark.parametrize(
    ("name", "seed", "n", "k", "opts"), ML_CASES[:6], ids=[c[0] for c in ML_CASES[:6]]
)
@pytest.mark.parametrize("rank_by", [None, "self_confidence", "normalized_margin"])
def test_multilabel_low_memory_as_cleanlab(name, seed, n, k, opts, rank_by):
    labels, pred_probs = noisy_multilabel_problem(seed, n, k, **opts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class given to every example warns, on both
        ours = ml_filter.find_label_issues(
            labels, pred_probs, return_indices_ranked_by=rank_by, low_memory=True
        )
        theirs = cl_ml_filter.find_label_issues(
            labels, pred_probs, return_indices_ranked_by=rank_by, low_memory=True
        )
        per_class = ml_filter.find_multilabel_issues_per_class(labels, pred_probs, low_memory=True)
        per_class_theirs = cl_ml_filter.find_multilabel_issues_per_class(
            labels, pred_probs, low_memory=True
        )
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(per_class, per_class_theirs)


def test_multilabel_low_memory_warns_about_what_it_ignores():
    labels, pred_probs = noisy_multilabel_problem(0, 60, 3)
    with pytest.warns(UserWarning, match="frac_noise` is not used"):
        ml_filter.find_label_issues(labels, pred_probs, frac_noise=0.5, low_memory=True)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("rank_by", ["self_confidence", "normalized_margin"])
def test_token_classification_low_memory_as_cleanlab(seed, rank_by):
    rng = np.random.default_rng(seed)
    labels, pred_probs = noisy_problem(seed, 600, 4)
    cuts = np.sort(rng.choice(np.arange(1, 600), size=80, replace=False))
    sentence_labels = [s.tolist() for s in np.split(labels, cuts)]
    sentence_probs = np.split(pred_probs, cuts)
    ours = tc_filter.find_label_issues(
        sentence_labels, sentence_probs, return_indices_ranked_by=rank_by, low_memory=True
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = cl_tc_filter.find_label_issues(
            sentence_labels, sentence_probs, return_indices_ranked_by=rank_by, low_memory=True
        )
    assert ours and set(ours) == set(theirs)
    reading_order = tc_filter.find_label_issues(
        sentence_labels, sentence_probs, return_indices_ranked_by=None, low_memory=True
    )
    if rank_by == "self_confidence":  # None searches with the default score, in reading order
        assert reading_order == sorted(ours)
    with pytest.warns(UserWarning, match="n_jobs` is not used"):
        tc_filter.find_label_issues(sentence_labels, sentence_probs, low_memory=True, n_jobs=2)


@pytest.mark.parametrize("module", [batched, inspector], ids=["batched", "inspector"])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
