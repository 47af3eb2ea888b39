"""core against cleanlab: same process, same arrays, same answers, time and peak memory.

    python bench/core_vs_cleanlab.py                 # the shapes of bench/RESULTS.md
    python bench/core_vs_cleanlab.py --quick         # small shapes, a smoke run
    python bench/core_vs_cleanlab.py --only multi    # only the multi-label table
    python bench/core_vs_cleanlab.py --only token    # only the token-classification table
    python bench/core_vs_cleanlab.py --only multiannotator   # only the multi-annotator table

Times are the best of ``--repeat`` runs. Peak memory is what ``tracemalloc`` sees
allocated during one call beyond its inputs (numpy reports its buffers to tracemalloc);
cleanlab's default ``n_jobs`` forks worker processes whose memory tracemalloc cannot see,
so only its ``n_jobs=1`` memory is comparable. cleanlab's multi-label dataset functions
have no ``n_jobs``: their "n_jobs=1" column runs them with ``cleanlab.filter``'s
``find_label_issues`` patched to ``n_jobs=1`` (the default starts a process pool per class).
Of the token-classification functions only the filter has ``n_jobs``; the others have one
column of cleanlab times, and the summaries' printed text goes to a string in both libraries.

In the multi-annotator table, cleanlab functions slower than ``--budget`` seconds run once.
Its "same" column says whether core's answer equals cleanlab's; "yes, counts by class" that
it equals cleanlab's once cleanlab's per-example label counts are put in their classes'
columns (2.9 packs float labels into the first columns; see core.multiannotator).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import cleanlab
import cleanlab.count as cl_count
import cleanlab.filter as cl_filter
import cleanlab.internal.multiannotator_utils as cl_multi_utils
import cleanlab.multiannotator as cl_multi
import cleanlab.multilabel_classification.dataset as cl_ml_dataset
import cleanlab.multilabel_classification.filter as cl_ml_filter
import cleanlab.multilabel_classification.rank as cl_ml_rank
import cleanlab.token_classification.filter as cl_tc_filter
import cleanlab.token_classification.rank as cl_tc_rank
import cleanlab.token_classification.summary as cl_tc_summary
import numpy as np
import pandas as pd

import core.count as our_count
import core.filter as our_filter
import core.multiannotator as our_multi
import core.multilabel_classification.dataset as our_ml_dataset
import core.multilabel_classification.filter as our_ml_filter
import core.multilabel_classification.rank as our_ml_rank
import core.token_classification.filter as our_tc_filter
import core.token_classification.rank as our_tc_rank
import core.token_classification.summary as our_tc_summary

FILTERS = ["prune_by_noise_rate", "both", "prune_by_class", "confident_learning"]


def noisy_pred_probs(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A classifier's out-of-sample view of n examples, 10% of labels flipped at random."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), true] += 2.5
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = np.where(rng.random(n) < 0.1, rng.integers(0, k, n), true)
    return labels, probs


def noisy_multilabel(n: int, k: int, seed: int = 0) -> tuple[list[list[int]], np.ndarray]:
    """A model's per-class probabilities for n examples with K classes (each truly present
    with its own prior), 10% of class memberships flipped at random."""
    rng = np.random.default_rng(seed)
    true = rng.random((n, k)) < rng.uniform(0.05, 0.3, size=k)
    probs = 1 / (1 + np.exp(-(rng.normal(size=(n, k)) + 2.0 * (2 * true - 1))))
    given = np.where(rng.random((n, k)) < 0.1, ~true, true)
    return [np.flatnonzero(row).tolist() for row in given], probs


@contextlib.contextmanager
def cleanlab_serial() -> Iterator[None]:
    """cleanlab.filter.find_label_issues forced to n_jobs=1 (for functions without n_jobs)."""
    original = cl_filter.find_label_issues

    def serial(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **{**kwargs, "n_jobs": 1})

    cl_filter.find_label_issues = serial
    try:
        yield
    finally:
        cl_filter.find_label_issues = original


def serially(fn: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with cleanlab_serial():
            return fn()

    return run


def same(a: Any, b: Any) -> bool:
    if isinstance(a, tuple):  # (sentence scores, token Series)
        series = zip(a[1], b[1], strict=True)
        return np.array_equal(a[0], b[0]) and all(x.equals(y) for x, y in series)
    if isinstance(a, pd.DataFrame):
        return bool(a.equals(b))
    return bool(np.array_equal(a, b))


def multilabel_cases(
    labels: list[list[int]], probs: np.ndarray
) -> list[tuple[str, Callable[[], Any], Callable[[], Any], Callable[[], Any]]]:
    """(name, core, cleanlab with n_jobs=1, cleanlab as called by default) per function."""
    cases = []
    for filter_by in ["prune_by_noise_rate", "both", "confident_learning", "low_self_confidence"]:
        cases.append(
            (
                f"filter.find_label_issues {filter_by}",
                partial(our_ml_filter.find_label_issues, labels, probs, filter_by=filter_by),
                partial(
                    cl_ml_filter.find_label_issues, labels, probs, filter_by=filter_by, n_jobs=1
                ),
                partial(cl_ml_filter.find_label_issues, labels, probs, filter_by=filter_by),
            )
        )
    ranked = {"return_indices_ranked_by": "self_confidence"}
    cases.append(
        (
            "filter.find_label_issues ranked by self_confidence",
            partial(our_ml_filter.find_label_issues, labels, probs, **ranked),
            partial(cl_ml_filter.find_label_issues, labels, probs, n_jobs=1, **ranked),
            partial(cl_ml_filter.find_label_issues, labels, probs, **ranked),
        )
    )
    for method in ["self_confidence", "normalized_margin", "confidence_weighted_entropy"]:
        ours = partial(our_ml_rank.get_label_quality_scores, labels, probs, method=method)
        theirs = partial(cl_ml_rank.get_label_quality_scores, labels, probs, method=method)
        cases.append((f"rank.get_label_quality_scores {method}", ours, theirs, theirs))
    ours = partial(our_count.compute_confident_joint, labels, probs, multi_label=True)
    theirs = partial(cl_count.compute_confident_joint, labels, probs, multi_label=True)
    cases.append(("count.compute_confident_joint multi_label", ours, theirs, theirs))
    ours = partial(our_ml_dataset.common_multilabel_issues, labels, probs)
    theirs = partial(cl_ml_dataset.common_multilabel_issues, labels, probs)
    cases.append(("dataset.common_multilabel_issues", ours, serially(theirs), theirs))
    return cases


def multilabel_table(shapes: list[tuple[int, int]], repeat: int) -> None:
    print(
        "| N | K | function | core s | cleanlab n_jobs=1 s | ratio | cleanlab default s | "
        "ratio | core peak MiB | cleanlab n_jobs=1 peak MiB | same |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n, k in shapes:
        labels, probs = noisy_multilabel(n, k)
        for name, ours, theirs_serial, theirs_default in multilabel_cases(labels, probs):
            t_ours, r_ours = best_time(ours, repeat)
            t_serial, r_serial = best_time(theirs_serial, repeat)
            t_default, r_default = best_time(theirs_default, repeat)
            agree = same(r_ours, r_serial) and same(r_ours, r_default)
            print(
                f"| {n:,} | {k} | {name} | {t_ours:.3f} | {t_serial:.3f} | "
                f"{t_serial / t_ours:.1f}x | {t_default:.3f} | {t_default / t_ours:.1f}x | "
                f"{peak_mib(ours):.1f} | {peak_mib(theirs_serial):.1f} | {agree} |",
                flush=True,
            )


# --------------------------------------------------------------------------- token classification


def noisy_sentences(
    n: int, k: int, seed: int = 0
) -> tuple[list[list[int]], list[np.ndarray], list[list[str]]]:
    """n sentences of 1-40 tokens (60% of true labels class 0, NER's "O"), a model's
    per-token probabilities, 10% of given labels redrawn at random, words from a
    vocabulary of 2,000."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 41, n)
    total = int(lengths.sum())
    true = np.where(rng.random(total) < 0.6, 0, rng.integers(1, k, total))
    logits = rng.normal(size=(total, k))
    logits[np.arange(total), true] += 2.5
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    given = np.where(rng.random(total) < 0.1, rng.integers(0, k, total), true)
    vocabulary = [f"w{i}" for i in range(2_000)]
    words = rng.zipf(1.3, total) % len(vocabulary)
    bounds = np.cumsum(lengths)[:-1]
    labels = [part.tolist() for part in np.split(given, bounds)]
    pred_probs = list(np.split(probs, bounds))
    tokens = [[vocabulary[w] for w in part] for part in np.split(words, bounds)]
    return labels, pred_probs, tokens


def quiet(fn: Callable[[], Any], *, text: bool = False) -> Callable[[], Any]:
    """fn with what it prints sent to a string; ``text``: return that string."""

    def run() -> Any:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            result = fn()
        return out.getvalue() if text else result

    return run


def token_cases(
    labels: list[list[int]], probs: list[np.ndarray], tokens: list[list[str]]
) -> list[tuple[str, Callable[[], Any], Callable[[], Any], Callable[[], Any] | None]]:
    """(name, core, cleanlab with n_jobs=1, cleanlab by default or None if no n_jobs)."""
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any], Callable[[], Any] | None]] = []
    for filter_by in ["prune_by_noise_rate", "both", "confident_learning", "low_self_confidence"]:
        ours = partial(our_tc_filter.find_label_issues, labels, probs, filter_by=filter_by)
        theirs = partial(cl_tc_filter.find_label_issues, labels, probs, filter_by=filter_by)
        cases.append(
            (f"filter.find_label_issues {filter_by}", ours, partial(theirs, n_jobs=1), theirs)
        )
    for method in ["min", "softmin"]:
        kwargs = {"sentence_score_method": method}
        cases.append(
            (
                f"rank.get_label_quality_scores {method}",
                partial(our_tc_rank.get_label_quality_scores, labels, probs, **kwargs),
                partial(cl_tc_rank.get_label_quality_scores, labels, probs, **kwargs),
                None,
            )
        )
    scores, token_scores = our_tc_rank.get_label_quality_scores(labels, probs)
    for name, kwargs in [("token_scores", {"token_scores": token_scores}), ("sentences", {})]:
        cases.append(
            (
                f"rank.issues_from_scores {name}",
                partial(our_tc_rank.issues_from_scores, scores, threshold=0.2, **kwargs),
                partial(cl_tc_rank.issues_from_scores, scores, threshold=0.2, **kwargs),
                None,
            )
        )
    issues = our_tc_filter.find_label_issues(labels, probs)
    for name, kwargs in [("labels+pred_probs", {"labels": labels, "pred_probs": probs}), ("", {})]:
        cases.append(
            (
                f"summary.common_label_issues {name}".strip(),
                quiet(partial(our_tc_summary.common_label_issues, issues, tokens, **kwargs)),
                quiet(partial(cl_tc_summary.common_label_issues, issues, tokens, **kwargs)),
                None,
            )
        )
    cases.append(
        (
            "summary.filter_by_token",
            partial(our_tc_summary.filter_by_token, "w1", issues, tokens),
            partial(cl_tc_summary.filter_by_token, "w1", issues, tokens),
            None,
        )
    )
    shown = {"labels": labels, "pred_probs": probs, "top": 1_000}
    cases.append(
        (
            "summary.display_issues top=1000",
            quiet(partial(our_tc_summary.display_issues, issues, tokens, **shown), text=True),
            quiet(partial(cl_tc_summary.display_issues, issues, tokens, **shown), text=True),
            None,
        )
    )
    return cases


def token_table(shapes: list[tuple[int, int]], repeat: int) -> None:
    print(
        "| sentences | tokens | K | function | core s | cleanlab n_jobs=1 s | ratio | "
        "cleanlab default s | ratio | core peak MiB | cleanlab n_jobs=1 peak MiB | same |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n, k in shapes:
        labels, probs, tokens = noisy_sentences(n, k)
        total = sum(map(len, labels))
        for name, ours, theirs_serial, theirs_default in token_cases(labels, probs, tokens):
            t_ours, r_ours = best_time(ours, repeat)
            t_serial, r_serial = best_time(theirs_serial, repeat)
            agree = same(r_ours, r_serial)
            if theirs_default is None:
                default = "no n_jobs | -"
            else:
                t_default, r_default = best_time(theirs_default, repeat)
                agree = agree and same(r_ours, r_default)
                default = f"{t_default:.3f} | {t_default / t_ours:.1f}x"
            print(
                f"| {n:,} | {total:,} | {k} | {name} | {t_ours:.3f} | {t_serial:.3f} | "
                f"{t_serial / t_ours:.1f}x | {default} | {peak_mib(ours):.1f} | "
                f"{peak_mib(theirs_serial):.1f} | {agree} |",
                flush=True,
            )


# --------------------------------------------------------------------------- timing


def best_time(
    fn: Callable[[], Any], repeat: int, budget: float = float("inf")
) -> tuple[float, Any]:
    """Best of ``repeat`` runs; no more runs once one has taken ``budget`` seconds."""
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
        if times[-1] > budget:
            break
    assert out is not None
    return min(times), out


def peak_mib(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


# --------------------------------------------------------------------------- multi-annotator


def multiannotator_data(n: int, m: int, k: int, seed: int = 0) -> dict[str, Any]:
    """N examples, each labelled by 1-5 of M annotators (accuracy 60-95%), NaN elsewhere;
    two classifiers' probabilities for them and for N/5 unlabelled examples."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    per_example = rng.integers(1, 6, n)
    rank = np.argsort(np.argsort(rng.random((n, m)), axis=1), axis=1)
    correct = rng.random((n, m)) < rng.uniform(0.6, 0.95, m)
    labels = np.where(correct, true[:, None], rng.integers(0, k, (n, m))).astype(float)
    labels[rank >= per_example[:, None]] = np.nan

    def model(rows: np.ndarray, sharpness: float) -> np.ndarray:
        logits = rng.normal(size=(len(rows), k))
        logits[np.arange(len(rows)), rows] += sharpness
        probs = np.exp(logits)
        return probs / probs.sum(axis=1, keepdims=True)

    unseen = rng.integers(0, k, n // 5)
    frame = pd.DataFrame(labels, columns=[f"annotator_{j}" for j in range(m)])
    long = frame.stack().reset_index()
    long.columns = ["task", "annotator", "label"]
    return {
        "labels": labels,
        "long": long,
        "probs": model(true, 2.5),
        "ensemble": np.stack([model(true, 2.5), model(true, 1.5)]),
        "unlabeled": model(unseen, 2.5),
        "ensemble_unlabeled": np.stack([model(unseen, 2.5), model(unseen, 1.5)]),
    }


def _counts_by_class(x: Any, *, num_classes: int | None = None, multi_label: bool = False) -> Any:
    return np.bincount(np.asarray(x).astype(int), minlength=num_classes or 0)


@contextlib.contextmanager
def cleanlab_counting_by_class() -> Iterator[None]:
    """cleanlab.multiannotator with its per-example label counts in their classes' columns."""
    originals = cl_multi.value_counts, cl_multi_utils.value_counts
    cl_multi.value_counts = cl_multi_utils.value_counts = _counts_by_class
    try:
        yield
    finally:
        cl_multi.value_counts, cl_multi_utils.value_counts = originals


def _copies(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
    """``fn`` on fresh copies of its arrays (cleanlab writes calibrated models into them)."""

    def run() -> Any:
        return fn(*[a.copy() if isinstance(a, np.ndarray) else a for a in args], **kwargs)

    return quiet(run)  # the cautions both libraries print stay off the table


def same_results(a: Any, b: Any) -> bool:
    """Equal multi-annotator results: dicts of DataFrames (dtypes too), tuples of arrays."""
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_results(a[key], b[key]) for key in a)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same_results(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, pd.DataFrame):
        return bool(a.equals(b)) and a.dtypes.equals(b.dtypes)
    return bool(np.array_equal(a, b, equal_nan=np.asarray(a).dtype.kind == "f"))


def multiannotator_cases(data: dict[str, Any]) -> list[tuple[str, Callable[..., Any], tuple, dict]]:
    """(name, function name, arguments, options) per row of the table."""
    labels, probs, ensemble = data["labels"], data["probs"], data["ensemble"]
    quality = "get_label_quality_multiannotator"
    return [
        ("label quality, defaults", quality, (labels, probs), {}),
        (
            "label quality, agreement, both consensus methods",
            quality,
            (labels, probs),
            {"quality_method": "agreement", "consensus_method": ["best_quality", "majority_vote"]},
        ),
        ("label quality, calibrate_probs", quality, (labels, probs), {"calibrate_probs": True}),
        ("label quality, ensemble of 2", f"{quality}_ensemble", (labels, ensemble), {}),
        ("majority vote", "get_majority_vote_label", (labels, probs), {}),
        (
            "active learning scores",
            "get_active_learning_scores",
            (labels, probs, data["unlabeled"]),
            {},
        ),
        (
            "active learning scores, ensemble of 2",
            "get_active_learning_scores_ensemble",
            (labels, ensemble, data["ensemble_unlabeled"]),
            {},
        ),
        ("convert long to wide", "convert_long_to_wide_dataset", (data["long"],), {}),
    ]


def multiannotator_table(shapes: list[tuple[int, int, int]], repeat: int, budget: float) -> None:
    print(
        "| N | M | K | function | core s | cleanlab s | ratio | core peak MiB | "
        "cleanlab peak MiB | same |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n, m, k in shapes:
        data = multiannotator_data(n, m, k)
        for name, function, args, options in multiannotator_cases(data):
            ours = _copies(getattr(our_multi, function), *args, **options)
            theirs = _copies(getattr(cl_multi, function), *args, **options)
            t_ours, r_ours = best_time(ours, repeat)
            t_theirs, r_theirs = best_time(theirs, repeat, budget)
            same = "yes" if same_results(r_ours, r_theirs) else "no"
            if same == "no":
                with cleanlab_counting_by_class():
                    same = "yes, counts by class" if same_results(r_ours, theirs()) else "no"
            print(
                f"| {n:,} | {m} | {k} | {name} | {t_ours:.3f} | {t_theirs:.3f} | "
                f"{t_theirs / t_ours:.1f}x | {peak_mib(ours):.1f} | {peak_mib(theirs):.1f} | "
                f"{same} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small shapes for a smoke run")
    parser.add_argument(
        "--only",
        choices=["single", "multi", "token", "multiannotator"],
        help="run one of the tables",
    )
    parser.add_argument(
        "--budget", type=float, default=10.0, help="cleanlab calls slower than this run once"
    )
    args = parser.parse_args()
    shapes = [(20_000, 10), (5_000, 50)] if args.quick else [(1_000_000, 10), (100_000, 100)]
    multi_shapes = [(5_000, 10), (2_000, 50)] if args.quick else [(100_000, 20), (20_000, 100)]
    token_shapes = [(1_000, 9), (300, 30)] if args.quick else [(20_000, 9), (5_000, 30)]
    annotator_shapes = (
        [(2_000, 10, 4), (1_000, 30, 10)] if args.quick else [(50_000, 8, 5), (10_000, 30, 10)]
    )
    warnings.simplefilter("ignore")  # both libraries warn about tiny classes; not timed
    print(
        f"cleanlab {cleanlab.__version__}, numpy {np.__version__}, python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, best of {args.repeat}"
    )
    print()
    tables = ["multi", "token", "multiannotator", "single"] if args.only is None else [args.only]
    if "multi" in tables:
        multilabel_table(multi_shapes, args.repeat)
        print()
    if "token" in tables:
        token_table(token_shapes, args.repeat)
        print()
    if "multiannotator" in tables:
        multiannotator_table(annotator_shapes, args.repeat, args.budget)
        print()
    if "single" not in tables:
        return
    print(
        "| N | K | filter_by | core s | cleanlab n_jobs=1 s | ratio | cleanlab default s | "
        "ratio | core peak MiB | cleanlab n_jobs=1 peak MiB | same mask |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n, k in shapes:
        labels, probs = noisy_pred_probs(n, k)
        for filter_by in FILTERS:
            ours = partial(our_filter.find_label_issues, labels, probs, filter_by=filter_by)
            theirs_serial = partial(
                cl_filter.find_label_issues, labels, probs, filter_by=filter_by, n_jobs=1
            )
            theirs_default = partial(
                cl_filter.find_label_issues, labels, probs, filter_by=filter_by
            )
            t_ours, m_ours = best_time(ours, args.repeat)
            t_serial, m_serial = best_time(theirs_serial, args.repeat)
            t_default, m_default = best_time(theirs_default, args.repeat)
            same = np.array_equal(m_ours, m_serial) and np.array_equal(m_ours, m_default)
            print(
                f"| {n:,} | {k} | {filter_by} | {t_ours:.3f} | {t_serial:.3f} | "
                f"{t_serial / t_ours:.1f}x | {t_default:.3f} | {t_default / t_ours:.1f}x | "
                f"{peak_mib(ours):.1f} | {peak_mib(theirs_serial):.1f} | {same} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
