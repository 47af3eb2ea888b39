"""core vs cleanlab: label issues of memory-mapped data, in chunks (issue 15).

    .venv/bin/python bench/batched.py              # the shapes of bench/RESULTS.md
    .venv/bin/python bench/batched.py --quick      # small shapes, a smoke run

``find_label_issues_batched`` of ``core.experimental.label_issues_batched`` and of
``cleanlab.experimental.label_issues_batched``, in one process, on the same ``.npy`` files
memory-mapped read-only (``labels_file``, ``pred_probs_file``), one BLAS/OpenMP thread,
``n_jobs=1`` (cleanlab's default), ``verbose=False``. Times are the best of ``--repeat``
runs. Peak memory is what ``tracemalloc`` sees allocated during one call (numpy reports its
buffers to it; the mapped files are not allocations): the chunk buffers, the scores, and
whatever else each library holds at once. "same" compares the sets of indices and the masks.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cleanlab
import cleanlab.experimental.label_issues_batched as cl_batched
import numpy as np
from threadpoolctl import threadpool_limits

import core.experimental.label_issues_batched as our_batched


def noisy_pred_probs(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A classifier's out-of-sample view of n examples, 10% of labels flipped at random."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)).astype(np.float32)
    logits[np.arange(n), true] += 2.5
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = np.where(rng.random(n) < 0.1, rng.integers(0, k, n), true)
    return labels, probs


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def peak_mib(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    shapes = (
        [(20_000, 10, 1_000)]
        if args.quick
        else [
            (1_000_000, 10, 10_000),
            (1_000_000, 10, 100_000),
            (200_000, 100, 10_000),
        ]
    )
    print(
        f"cleanlab {cleanlab.__version__}, numpy {np.__version__}, python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, best of {args.repeat}, "
        f"load average {os.getloadavg()[0]:.2f}, float32 pred_probs memory-mapped"
    )
    print(
        "| N | K | batch_size | options | core s | cleanlab s | ratio | core peak MiB | "
        "cleanlab peak MiB | same |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    options: list[tuple[str, dict[str, Any]]] = [
        ("default", {}),
        (
            "calibrated, normalized_margin",
            {
                "num_issue_kwargs": {"estimation_method": "off_diagonal_calibrated"},
                "quality_score_kwargs": {"method": "normalized_margin"},
            },
        ),
    ]
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        for n, k, batch_size in shapes:
            labels, probs = noisy_pred_probs(n, k)
            labels_file, probs_file = Path(tmp) / "labels.npy", Path(tmp) / "probs.npy"
            np.save(labels_file, labels)
            np.save(probs_file, probs)
            del labels, probs
            for name, extra in options:
                kwargs = {
                    "labels_file": str(labels_file),
                    "pred_probs_file": str(probs_file),
                    "batch_size": batch_size,
                    "n_jobs": 1,
                    "verbose": False,
                    **extra,
                }

                def ours(kwargs: dict[str, Any] = kwargs, **more: Any) -> np.ndarray:
                    return our_batched.find_label_issues_batched(**kwargs, **more)

                def theirs(kwargs: dict[str, Any] = kwargs, **more: Any) -> np.ndarray:
                    return cl_batched.find_label_issues_batched(**kwargs, **more)

                same = set(ours().tolist()) == set(theirs().tolist()) and bool(
                    np.array_equal(ours(return_mask=True), theirs(return_mask=True))
                )
                t_ours, t_theirs = best_time(ours, args.repeat), best_time(theirs, args.repeat)
                m_ours, m_theirs = peak_mib(ours), peak_mib(theirs)
                print(
                    f"| {n:,} | {k} | {batch_size:,} | {name} | {t_ours:.3f} | {t_theirs:.3f} | "
                    f"{t_theirs / t_ours:.1f}x | {m_ours:.1f} | {m_theirs:.1f} | {same} |",
                    flush=True,
                )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
