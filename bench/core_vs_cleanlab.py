"""core against cleanlab: same process, same arrays, same answers, time and peak memory.

    python bench/core_vs_cleanlab.py                 # the shapes of bench/RESULTS.md
    python bench/core_vs_cleanlab.py --quick         # small shapes, a smoke run
    python bench/core_vs_cleanlab.py --only multiannotator   # only the multi-annotator table

Times are the best of ``--repeat`` runs. Peak memory is what ``tracemalloc`` sees
allocated during one call beyond its inputs (numpy reports its buffers to tracemalloc);
cleanlab's default ``n_jobs`` forks worker processes whose memory tracemalloc cannot see,
so only its ``n_jobs=1`` memory is comparable.

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
import cleanlab.filter as cl_filter
import cleanlab.internal.multiannotator_utils as cl_multi_utils
import cleanlab.multiannotator as cl_multi
import numpy as np
import pandas as pd

import core.filter as our_filter
import core.multiannotator as our_multi

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


def _quiet(fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` with its cautions (printed by both libraries alike) kept off the table."""

    def run() -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            return fn()

    return run


def _copies(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
    """``fn`` on fresh copies of its arrays (cleanlab writes calibrated models into them)."""

    def run() -> Any:
        return fn(*[a.copy() if isinstance(a, np.ndarray) else a for a in args], **kwargs)

    return _quiet(run)


def equal(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return list(a) == list(b) and all(equal(a[key], b[key]) for key in a)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
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
            same = "yes" if equal(r_ours, r_theirs) else "no"
            if same == "no":
                with cleanlab_counting_by_class():
                    same = "yes, counts by class" if equal(r_ours, theirs()) else "no"
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
    parser.add_argument("--only", choices=["single", "multiannotator"], help="run one table")
    parser.add_argument(
        "--budget", type=float, default=10.0, help="cleanlab calls slower than this run once"
    )
    args = parser.parse_args()
    shapes = [(20_000, 10), (5_000, 50)] if args.quick else [(1_000_000, 10), (100_000, 100)]
    multi_shapes = (
        [(2_000, 10, 4), (1_000, 30, 10)] if args.quick else [(50_000, 8, 5), (10_000, 30, 10)]
    )
    warnings.simplefilter("ignore")  # both libraries warn about tiny classes; not timed
    print(
        f"cleanlab {cleanlab.__version__}, numpy {np.__version__}, python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, best of {args.repeat}"
    )
    print()
    if args.only != "single":
        multiannotator_table(multi_shapes, args.repeat, args.budget)
        print()
    if args.only == "multiannotator":
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
