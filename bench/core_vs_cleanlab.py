"""core against cleanlab: same process, same arrays, same answers, time and peak memory.

    python bench/core_vs_cleanlab.py                 # the two shapes of bench/RESULTS.md
    python bench/core_vs_cleanlab.py --quick         # small shapes, a smoke run

Times are the best of ``--repeat`` runs. Peak memory is what ``tracemalloc`` sees
allocated during one call beyond its inputs (numpy reports its buffers to tracemalloc);
cleanlab's default ``n_jobs`` forks worker processes whose memory tracemalloc cannot see,
so only its ``n_jobs=1`` memory is comparable.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc
import warnings
from collections.abc import Callable
from functools import partial

import cleanlab
import cleanlab.filter as cl_filter
import numpy as np

import core.filter as our_filter

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


def best_time(fn: Callable[[], np.ndarray], repeat: int) -> tuple[float, np.ndarray]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    assert out is not None
    return min(times), out


def peak_mib(fn: Callable[[], np.ndarray]) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small shapes for a smoke run")
    args = parser.parse_args()
    shapes = [(20_000, 10), (5_000, 50)] if args.quick else [(1_000_000, 10), (100_000, 100)]
    warnings.simplefilter("ignore")  # both libraries warn about tiny classes; not timed
    print(
        f"cleanlab {cleanlab.__version__}, numpy {np.__version__}, python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, best of {args.repeat}"
    )
    print()
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
