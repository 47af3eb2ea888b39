"""How well labelaudit finds wrong multi-label sets, against cleanlab's multi-label recipe.

The multi-label sibling of ``bench/detection.py``. Datasets and noise come from
``bench/multilabel_data.py``: texts joining 1-3 fortunes of different categories
(the categories are the true set) and ``make_multilabel_classification`` tables; each
task, with probability 12%, has one true label dropped, one wrong label added, or one
true label swapped for a wrong one. Then, on the same given sets:

* **labelaudit**: the whole audit (``backend.pipeline.run_audit``) on an AuditDataset of
  the raw inputs (texts, lists of floats) with ``TaskKind(task_type="multi_choice")``,
  ``load_settings({"seed": seed, "folds": 5})``: its defaults for everything else;
* **cleanlab**: its documented recipe: out-of-fold per-class probabilities from
  ``OneVsRestClassifier(LogisticRegression)`` on TF-IDF (text) or standardised columns
  (tabular), 5 shuffled ``KFold`` folds (seeded), then
  ``cleanlab.multilabel_classification.filter.find_label_issues(labels, pred_probs)``
  with its defaults; its seconds are the folds' fits plus ``find_label_issues``.

Times: wall seconds, and the ratio of CPU seconds too (this process's threads plus the
worker processes cleanlab's ``find_label_issues`` forks), which other work on a shared
machine disturbs less; BLAS/OpenMP at one thread on both sides; the 1-minute load
average after each row.

Scores are per task: P/R/F1 of the flagged tasks against the tasks whose given set
differs from the true set, recall per noise kind, average precision of the rankings
(labelaudit's ``suspicion``; cleanlab's ``multilabel_classification.rank
.get_label_quality_scores``), and the calibration of ``suspicion`` read as P(set is
wrong): ECE over ECE_BINS equal-width bins and a reliability table. For reference the
ECE of the naive 1 - prod_k P(class k as given) is printed, on labelaudit's and on the
recipe's probabilities, and labelaudit's per-class noise rates (which its suspicion
uses) against the injected ones; and, to tell the model from the judging, cleanlab's
``find_label_issues`` and quality scores run on labelaudit's out-of-fold probabilities.
"held-out" datasets played no part in tuning; "tuning" ones may.

Run: ``.venv/bin/python bench/detection_multilabel.py --seeds 0 1 2`` (text rows need
``apt-get install fortunes``; ``--inputs text`` or ``--inputs numeric`` runs only those;
``--repeat 3`` keeps each side's best of three times, for a shared machine).
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import time
import warnings
from typing import Any

import numpy as np
from multilabel_data import NOISE_KINDS, NOISE_RATE, MultiCase, cases, inject_noise

from backend.labelstudio.dataset import AuditDataset, TaskKind
from backend.pipeline import run_audit
from backend.settings import load_settings

FOLDS = 5
ECE_BINS = 10
#: Imported before any clock starts, so that the first row's times hold no imports.
WARM_IMPORTS = (
    "backend.tasktypes.multi_choice",
    "cleanlab.multilabel_classification.filter",
    "cleanlab.multilabel_classification.rank",
    "sklearn.ensemble",
    "sklearn.feature_extraction.text",
    "sklearn.linear_model",
    "sklearn.model_selection",
    "sklearn.multiclass",
)


def clocks() -> np.ndarray:
    """Return (wall seconds, CPU seconds of this process's threads and waited-for children)."""
    t = os.times()
    return np.array([time.perf_counter(), t.user + t.system + t.children_user + t.children_system])


def scores(flagged: np.ndarray, wrong: np.ndarray) -> tuple[float, float, float]:
    hits = int((flagged & wrong).sum())
    precision = hits / max(int(flagged.sum()), 1)
    recall = hits / max(int(wrong.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return precision, recall, f1


def as_lists(given: np.ndarray) -> list[list[int]]:
    return [np.flatnonzero(row).tolist() for row in given]


def audit(case: MultiCase, given: np.ndarray, *, seed: int) -> dict[str, Any]:
    """Run labelaudit's audit; return its flags, suspicion, probabilities and seconds."""
    kind = TaskKind(
        "labels", "input", case.input_type, ("input",), case.classes, task_type="multi_choice"
    )
    n = len(given)
    dataset = AuditDataset(
        kind=kind,
        task_ids=np.arange(1, n + 1, dtype=np.int64),
        annotation_ids=np.arange(1, n + 1, dtype=np.int64),
        annotators=["1"] * n,
        labels=given.copy(),
        ground_truth=np.zeros(n, dtype=bool),
        inputs=case.inputs,
        source=case.name,
    )
    settings = load_settings({"seed": seed, "folds": FOLDS}, environ={})
    start = clocks()
    result = run_audit(dataset, settings)
    seconds = clocks() - start
    if len(result.is_label_issue) != n:
        raise RuntimeError(f"{case.name}: {n - len(result.is_label_issue)} rows were skipped")
    return {
        "flags": np.asarray(result.is_label_issue, dtype=bool),
        "suspicion": np.asarray(result.suspicion, dtype=float),
        "probs": np.asarray(result.pred_probs, dtype=float),
        "noise": np.asarray(result.noise_matrix, dtype=float),  # (K, 2, 2) per class
        "seconds": seconds,
    }


def recipe_model(case: MultiCase) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    first = TfidfVectorizer() if case.input_type == "text" else StandardScaler()
    return make_pipeline(first, OneVsRestClassifier(LogisticRegression(max_iter=1000)))


def baseline(case: MultiCase, given: np.ndarray, *, seed: int) -> dict[str, Any]:
    """Run cleanlab's multi-label recipe; return its flags, quality, probabilities, seconds."""
    from cleanlab.multilabel_classification.filter import find_label_issues
    from cleanlab.multilabel_classification.rank import get_label_quality_scores
    from sklearn.base import clone
    from sklearn.model_selection import KFold

    X = np.asarray(case.inputs, dtype=object if case.input_type == "text" else float)
    labels = as_lists(given)
    model = recipe_model(case)
    probs = np.zeros(given.shape)
    start = clocks()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class absent from a training fold; cleanlab chatter
        for train, test in KFold(FOLDS, shuffle=True, random_state=seed).split(X):
            fitted = clone(model).fit(X[train], given[train].astype(int))
            probs[test] = fitted.predict_proba(X[test])
        flags = find_label_issues(labels, probs)
    seconds = clocks() - start
    quality = get_label_quality_scores(labels, probs)
    return {"flags": np.asarray(flags, dtype=bool), "quality": quality, "probs": probs,
            "seconds": seconds}  # fmt: skip


def cleanlab_on(given: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return cleanlab's multi-label flags and quality scores (its defaults) on ``probs``."""
    from cleanlab.multilabel_classification.filter import find_label_issues
    from cleanlab.multilabel_classification.rank import get_label_quality_scores

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flags = find_label_issues(as_lists(given), probs)
    return np.asarray(flags, dtype=bool), get_label_quality_scores(as_lists(given), probs)


def naive_suspicion(given: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Return 1 - prod_k P(class k as given), the classes taken as independent."""
    p = np.clip(probs, 0.0, 1.0)
    return 1.0 - np.prod(np.where(given, p, 1.0 - p), axis=1)


def reliability(suspicion: np.ndarray, wrong: np.ndarray) -> list[tuple[int, int, float, float]]:
    """Return (bin, count, mean suspicion, wrong rate) of ECE_BINS equal-width bins (non-empty)."""
    bins = np.minimum((np.clip(suspicion, 0.0, 1.0) * ECE_BINS).astype(int), ECE_BINS - 1)
    return [
        (b, int(m.sum()), float(suspicion[m].mean()), float(wrong[m].mean()))
        for b in range(ECE_BINS)
        if (m := bins == b).any()
    ]


def ece(suspicion: np.ndarray, wrong: np.ndarray) -> float:
    """Expected calibration error of ``suspicion`` as P(wrong), over ECE_BINS bins."""
    rows = reliability(suspicion, wrong)
    return sum(count * abs(mean - rate) for _, count, mean, rate in rows) / len(wrong)


def noise_rates(given: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Per class, the (K, 2, 2) matrix P(given = i | true = j), i, j in {absent, chosen}."""
    out = np.zeros((given.shape[1], 2, 2))
    for i in (0, 1):
        for j in (0, 1):
            out[:, i, j] = ((given == i) & (true == j)).sum(axis=0)
    return out / np.maximum(out.sum(axis=1, keepdims=True), 1)


def rates_cell(estimated: np.ndarray, actual: np.ndarray) -> str:
    return (
        f"{estimated.mean():.3f} [{estimated.max():.3f}] | {actual.mean():.3f} [{actual.max():.3f}]"
    )


def run_seed(seed: int, summary: dict[str, list[str]], inputs: list[str], repeat: int) -> None:
    from sklearn.metrics import average_precision_score

    header = (
        "| dataset | split | input | n | K | wrong tasks | labelaudit P | R | F1 | s "
        "| cleanlab P | R | F1 | s | time ratio | CPU ratio | load |"
    )
    print(f"### seed {seed}\n\n{header}\n|" + "---|" * (header.count("|") - 1))
    kinds_rows: list[str] = []
    ranking_rows: list[str] = []
    noise_rows: list[str] = []
    calibration_rows: list[str] = []
    reliability_rows: list[str] = []
    for case in (c for c in cases(seed) if c.input_type in inputs):
        given, kinds = inject_noise(case.true, seed=seed)
        wrong = (given != case.true).any(axis=1)
        ours = audit(case, given, seed=seed)
        theirs = baseline(case, given, seed=seed)
        for _ in range(repeat - 1):  # same answers again; keep each side's best times
            ours["seconds"] = np.minimum(ours["seconds"], audit(case, given, seed=seed)["seconds"])
            theirs["seconds"] = np.minimum(
                theirs["seconds"], baseline(case, given, seed=seed)["seconds"]
            )
        p, r, f = scores(ours["flags"], wrong)
        bp, br, bf = scores(theirs["flags"], wrong)
        ratio, cpu_ratio = ours["seconds"] / theirs["seconds"]
        label = f"| {case.name} | {case.split} |"
        print(
            f"{label} {case.input_type} | {len(given)} | {len(case.classes)} | {int(wrong.sum())} "
            f"| {p:.3f} | {r:.3f} | **{f:.3f}** | {ours['seconds'][0]:.1f} "
            f"| {bp:.3f} | {br:.3f} | **{bf:.3f}** | {theirs['seconds'][0]:.1f} "
            f"| {ratio:.2f}x | {cpu_ratio:.2f}x | {os.getloadavg()[0]:.1f} |",
            flush=True,
        )
        summary.setdefault(label, []).append(f"{f:.3f} / {bf:.3f} ({ratio:.1f}x, {cpu_ratio:.1f}x)")
        cells = []
        for code in range(1, len(NOISE_KINDS) + 1):
            m = kinds == code
            cells.append(
                f"{int(m.sum())} | {ours['flags'][m].mean():.2f} | {theirs['flags'][m].mean():.2f}"
            )
        false = f"{int((ours['flags'] & ~wrong).sum())} | {int((theirs['flags'] & ~wrong).sum())}"
        kinds_rows.append(f"{label} " + " | ".join(cells) + f" | {false} |")
        swap_flags, swap_quality = cleanlab_on(given, ours["probs"])
        actual = noise_rates(given, case.true)
        noise_rows.append(
            f"{label} {rates_cell(ours['noise'][:, 0, 1], actual[:, 0, 1])} "
            f"| {rates_cell(ours['noise'][:, 1, 0], actual[:, 1, 0])} |"
        )
        ranking_rows.append(
            f"{label} {average_precision_score(wrong, ours['suspicion']):.3f} "
            f"| {average_precision_score(wrong, 1 - theirs['quality']):.3f} "
            f"| {average_precision_score(wrong, 1 - swap_quality):.3f} "
            f"| {scores(swap_flags, wrong)[2]:.3f} |"
        )
        calibration_rows.append(
            f"{label} {ece(ours['suspicion'], wrong):.3f} "
            f"| {ece(naive_suspicion(given, ours['probs']), wrong):.3f} "
            f"| {ece(naive_suspicion(given, theirs['probs']), wrong):.3f} |"
        )
        for b, count, mean, rate in reliability(ours["suspicion"], wrong):
            reliability_rows.append(
                f"{label} {b / ECE_BINS:.1f}-{(b + 1) / ECE_BINS:.1f} | {count} "
                f"| {mean:.3f} | {rate:.3f} |"
            )
    kind_cols = " | ".join(f"{k} n | labelaudit R | cleanlab R" for k in NOISE_KINDS)
    print(f"\nRecall per noise kind; flags on right tasks (false positives), seed {seed}:\n")
    print(f"| dataset | split | {kind_cols} | labelaudit FP | cleanlab FP |")
    print("|---|---|" + "---|" * (3 * len(NOISE_KINDS) + 2))
    print("\n".join(kinds_rows))
    print(
        f"\nRanking (average precision of labelaudit's suspicion, of cleanlab's quality "
        f"score) and cleanlab's scoring and filter on labelaudit's probabilities, seed {seed}:\n"
    )
    print(
        "| dataset | split | labelaudit AP | cleanlab AP | cleanlab score on labelaudit probs: AP "
        "| cleanlab filter on labelaudit probs: F1 |"
    )
    print("|---|---|---|---|---|---|")
    print("\n".join(ranking_rows))
    print(
        f"\nlabelaudit's per-class noise rates (its noise_matrix, which suspicion uses) against "
        f"the injected ones: mean over classes [max], seed {seed}:\n"
    )
    print(
        "| dataset | split | P(left out given true): estimated | injected "
        "| P(added given not true): estimated | injected |"
    )
    print("|---|---|---|---|---|---|")
    print("\n".join(noise_rows))
    print(f"\nCalibration of suspicion as P(set wrong), ECE over {ECE_BINS} bins, seed {seed}:\n")
    print(
        "| dataset | split | labelaudit ECE | naive ECE, labelaudit probs "
        "| naive ECE, recipe probs |"
    )
    print("|---|---|---|---|---|")
    print("\n".join(calibration_rows))
    print(f"\nReliability of labelaudit's suspicion (non-empty bins), seed {seed}:\n")
    print("| dataset | split | suspicion bin | tasks | mean suspicion | wrong rate |")
    print("|---|---|---|---|---|---|")
    print("\n".join(reliability_rows) + "\n", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="data, noise, folds")
    parser.add_argument(
        "--inputs", nargs="+", choices=["text", "numeric"], default=["text", "numeric"]
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="time each side this many times, keep the best"
    )
    args = parser.parse_args(argv)

    import cleanlab
    import sklearn
    from threadpoolctl import threadpool_limits

    # One BLAS / OpenMP thread on both sides: the machine is shared, and neither side's
    # math needs it (labelaudit's per-class fits run in joblib threads, cleanlab's
    # find_label_issues in worker processes, as each does by default).
    threadpool_limits(limits=1)

    for module in WARM_IMPORTS:
        importlib.import_module(module)

    print(
        f"labelaudit multi_choice vs cleanlab {cleanlab.__version__} multi-label recipe; "
        f"scikit-learn {sklearn.__version__}, python {platform.python_version()}, "
        f"{FOLDS} folds, {NOISE_RATE:.0%} of tasks changed (dropped/added/swapped), "
        f"seeds {args.seeds}, best time of {args.repeat}; load average {os.getloadavg()[0]:.1f}\n"
    )
    summary: dict[str, list[str]] = {}
    for seed in args.seeds:
        run_seed(seed, summary, args.inputs, args.repeat)
    if len(args.seeds) > 1:
        print("Task-level F1, labelaudit / cleanlab (time ratio, CPU ratio):\n")
        print("| dataset | split | " + " | ".join(f"seed {s}" for s in args.seeds) + " |")
        print("|---|---|" + "---|" * len(args.seeds))
        for label, cells in summary.items():
            print(f"{label} " + " | ".join(cells) + " |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (1 min), {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
