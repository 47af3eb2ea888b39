"""Several annotators per task: labelaudit's audit against majority vote and cleanlab's recipe.

Projects come from ``bench/multiannotator_data.py``: single-choice classification (text
from the Debian package ``fortunes``, or a ``make_classification`` table), ANNOTATORS
annotators of known accuracy (0.55-0.96), 3 per task (variant ``3``) or 1-3 per task
(variant ``1-3``: some tasks have a single annotation), errors going mostly to each
class's look-alike class. On the same project, in the same process:

* **majority**: ``cleanlab.multiannotator.get_majority_vote_label`` (numpy's global seed
  set first: its last tie-break is random). An annotator's quality is its agreement with
  the majority on tasks with 2+ annotations; an annotation is flagged when it differs from
  the majority.
* **recipe**: cleanlab's documented recipe: out-of-fold probabilities from
  ``sklearn.model_selection.cross_val_predict`` (5 shuffled stratified folds over tasks,
  one row per task, so each task's annotations stay in one fold) of TF-IDF +
  LogisticRegression (text) or StandardScaler + LogisticRegression (tabular), trained on
  the majority-vote labels, then ``cleanlab.multiannotator
  .get_label_quality_multiannotator`` (its defaults: best-quality consensus, CROWDLAB).
  Annotator quality: its ``annotator_quality``; an annotation is flagged when it differs
  from cleanlab's ``consensus_label``.
* **labelaudit**: ``backend.pipeline.run_audit`` on ``dataset_from_tasks`` of the export
  with ``parse_label_config`` of its config, ``load_settings({"seed": seed, "folds": 5})``:
  every default, the task type chosen by the audit (several annotations on a task make it
  ``multi_annotator``). Consensus, annotator quality and flags are its own
  (``tables["tasks"]``, ``tables["annotators"]``, ``is_label_issue``).

Per method: consensus accuracy against the true classes (and on tasks with one annotation,
variant ``1-3``), Spearman correlation of annotator quality with each annotator's true
accuracy (the share of its annotations that are right), precision / recall / F1 of the
flagged annotations against the truly wrong ones; average precision (AP) and calibration
(expected calibration error over ECE_BINS equal-width bins) of each method's score read as
P(annotation wrong): labelaudit's ``suspicion``, 1 - CROWDLAB's per-annotation quality
(``detailed_label_quality``) for the recipe, 1 - the share of the task's votes for the
label for the majority; the calibration of each method's P(consensus right):
labelaudit's ``consensus_probability``, CROWDLAB's ``consensus_quality_score``, the
majority's vote share ("consensus ECE"); wall and CPU seconds (this process's
threads and waited-for children) and peak memory: what ``tracemalloc`` sees allocated
during a second, untimed run of the same method (numpy and Python allocations; C buffers
such as liblinear's are not traced). Issue 10's goals: labelaudit's consensus accuracy
above both baselines, Spearman >= 0.9, F1 above the recipe's.

Seeds 0-2 are for tuning, 10-12 are held out (printed apart); the seed draws the data
(which fortunes; the table), the annotators' assignment, their answers and the folds.
With ``--rules`` other flagging rules and consensus labels computed from labelaudit's (and
the recipe's) outputs are scored too, on tuning seeds only.

Run: ``PYTHONPATH=. .venv/bin/python bench/multiannotator.py`` (all seeds, both kinds and
variants); ``--quick`` for 600 tasks, seeds 0 and 10, no memory pass. BLAS runs on one
thread unless ``--blas-threads`` says otherwise (see BLAS_THREADS).
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from multiannotator_data import (
    ACCURACY_RANGE,
    ANNOTATORS,
    KINDS,
    TASKS,
    VARIANTS,
    AnnotatorCase,
    make_case,
)

FOLDS = 5
TUNING_SEEDS = (0, 1, 2)
HELD_OUT_SEEDS = (10, 11, 12)
METHODS = ("majority", "recipe", "labelaudit")
SPEARMAN_GOAL = 0.9
#: BLAS threads during the run. On a shared 2-core machine OpenBLAS's second thread spins
#: while it waits: the recipe's text fits took 15-42 s (10-20 CPU s) under load average 7
#: with the default, 0.6 s with one thread; labelaudit's models use no BLAS threads.
BLAS_THREADS = 1
ECE_BINS = 10
#: Imported before any clock starts, so that no method's time holds imports.
WARM_IMPORTS = (
    "cleanlab.multiannotator",
    "scipy.stats",
    "sklearn.feature_extraction.text",
    "sklearn.linear_model",
    "sklearn.model_selection",
    "sklearn.ensemble",
    "backend.pipeline",
    "backend.labelstudio.export",
    "backend.labelstudio.config",
)


@dataclass
class Outcome:
    """What one method said about one project, aligned with the case's tasks and rows."""

    consensus: np.ndarray  # (n_tasks,) class index
    quality: np.ndarray  # (n_annotators,) in the case's annotator order
    flags: np.ndarray  # (n_annotations,) in the case's row order
    #: (n_annotations,) a score read as P(annotation wrong), for ranking and calibration
    wrongness: np.ndarray | None = None
    #: (n_tasks,) a score read as P(consensus right), for its calibration
    confidence: np.ndarray | None = None
    seconds: np.ndarray = field(default_factory=lambda: np.zeros(2))  # wall, CPU
    peak_mib: float = float("nan")
    extra: dict[str, Any] = field(default_factory=dict)


def clocks() -> np.ndarray:
    """Return (wall seconds, CPU seconds of this process's threads and waited-for children)."""
    t = os.times()
    return np.array([time.perf_counter(), t.user + t.system + t.children_user + t.children_system])


def prf(flagged: np.ndarray, wrong: np.ndarray) -> tuple[float, float, float]:
    hits = int((flagged & wrong).sum())
    precision = hits / max(int(flagged.sum()), 1)
    recall = hits / max(int(wrong.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return precision, recall, f1


def labels_frame(case: AnnotatorCase) -> Any:
    import pandas as pd

    return pd.DataFrame(case.labels_matrix(), columns=case.emails)


def agreement_with(case: AnnotatorCase, consensus: np.ndarray) -> np.ndarray:
    """Each annotator's agreement with ``consensus`` over tasks with 2+ annotations."""
    m = len(case.users)
    counts = np.bincount(case.row_task, minlength=len(case.tasks))
    shared = counts[case.row_task] >= 2
    agree = case.row_label == consensus[case.row_task]
    total = np.bincount(case.row_annotator[shared], minlength=m)
    return np.bincount(case.row_annotator[shared], weights=agree[shared], minlength=m) / np.maximum(
        total, 1
    )


def majority(case: AnnotatorCase, seed: int) -> Outcome:
    from cleanlab.multiannotator import get_majority_vote_label

    frame = labels_frame(case)
    np.random.seed(seed)  # noqa: NPY002 - cleanlab breaks its last ties with the global state
    consensus = np.asarray(get_majority_vote_label(frame, verbose=False), dtype=np.intp)
    flags = case.row_label != consensus[case.row_task]
    votes = np.zeros((len(case.tasks), len(case.classes)))
    np.add.at(votes, (case.row_task, case.row_label), 1.0)
    share = votes[np.arange(len(votes)), consensus] / votes.sum(axis=1)
    return Outcome(
        consensus,
        agreement_with(case, consensus),
        flags,
        wrongness=1.0 - vote_share(case),
        confidence=share,
    )


def vote_share(case: AnnotatorCase) -> np.ndarray:
    """(n_annotations,) the share of its task's annotations that chose the same class."""
    votes = np.zeros((len(case.tasks), len(case.classes)))
    np.add.at(votes, (case.row_task, case.row_label), 1.0)
    return votes[case.row_task, case.row_label] / votes.sum(axis=1)[case.row_task]


def recipe_model(case: AnnotatorCase) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    first = TfidfVectorizer() if case.kind == "text" else StandardScaler()
    return make_pipeline(first, LogisticRegression(max_iter=1000))


def recipe(case: AnnotatorCase, seed: int) -> Outcome:
    from cleanlab.multiannotator import get_label_quality_multiannotator, get_majority_vote_label
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    frame = labels_frame(case)
    np.random.seed(seed)  # noqa: NPY002 - cleanlab breaks its last ties with the global state
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab's chatter
        target = np.asarray(get_majority_vote_label(frame, verbose=False), dtype=np.intp)
        X = np.asarray(case.features, dtype=object if case.kind == "text" else float)
        folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
        probs = cross_val_predict(recipe_model(case), X, target, cv=folds, method="predict_proba")
        found = get_label_quality_multiannotator(frame, probs, verbose=False)
    consensus = found["label_quality"]["consensus_label"].to_numpy().astype(np.intp)
    quality = found["annotator_stats"]["annotator_quality"].reindex(case.emails).to_numpy()
    flags = case.row_label != consensus[case.row_task]
    detailed = found["detailed_label_quality"].to_numpy()
    annotation_quality = detailed[case.row_task, case.row_annotator]
    return Outcome(
        consensus,
        quality,
        flags,
        wrongness=1.0 - annotation_quality,
        confidence=found["label_quality"]["consensus_quality_score"].to_numpy(),
        extra={"annotation_quality": annotation_quality, "probs": probs},
    )


def labelaudit(case: AnnotatorCase, seed: int) -> Outcome:
    from backend.labelstudio.config import parse_label_config
    from backend.labelstudio.export import dataset_from_tasks
    from backend.pipeline import run_audit
    from backend.settings import load_settings

    dataset = dataset_from_tasks(case.tasks, parse_label_config(case.config), source="bench")
    settings = load_settings({"seed": seed, "folds": FOLDS}, environ={})
    result = run_audit(dataset, settings)
    if result.kind.task_type != "multi_annotator":
        raise RuntimeError(f"{case.name}: the audit chose task type {result.kind.task_type!r}")
    # Rows: the result's annotations in the case's order.
    position = {int(a): i for i, a in enumerate(result.annotation_ids)}
    missing = [int(a) for a in case.row_annotation_id if int(a) not in position]
    if missing:
        raise RuntimeError(f"{case.name}: {len(missing)} annotations not audited")
    rows = np.array([position[int(a)] for a in case.row_annotation_id])
    flags = np.asarray(result.is_label_issue, dtype=bool)[rows]
    class_index = {c: k for k, c in enumerate(case.classes)}
    by_task = {int(t["task_id"]): t for t in result.tables["tasks"]}
    consensus = np.array(
        [class_index[by_task[int(t["id"])]["consensus_label"]] for t in case.tasks], dtype=np.intp
    )
    # An annotator's key: its email where the export carries it, else its user id.
    key_of = {str(user): a for a, user in enumerate(case.users)}
    key_of.update({email: a for a, email in enumerate(case.emails)})
    quality = np.full(len(case.users), np.nan)
    for row in result.tables["annotators"]:
        quality[key_of[str(row["annotator"])]] = float(row["quality"])
    suspicion = np.asarray(result.suspicion, dtype=float)[rows]
    extra = {
        "suspicion": suspicion,
        "probs": np.asarray(result.pred_probs, dtype=float)[rows],
        "tasks_table": by_task,
        "timings": dict(result.timings),
    }
    probability = np.array([by_task[int(t["id"])]["consensus_probability"] for t in case.tasks])
    return Outcome(
        consensus, quality, flags, wrongness=suspicion, confidence=probability, extra=extra
    )


RUNNERS: dict[str, Callable[[AnnotatorCase, int], Outcome]] = {
    "majority": majority,
    "recipe": recipe,
    "labelaudit": labelaudit,
}


def measure(method: str, case: AnnotatorCase, seed: int, *, memory: bool) -> Outcome:
    """Run one method timed; then, if ``memory``, again under tracemalloc for its peak."""
    runner = RUNNERS[method]
    start = clocks()
    outcome = runner(case, seed)
    outcome.seconds = clocks() - start
    if memory:
        tracemalloc.start()
        try:
            runner(case, seed)
            outcome.peak_mib = tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()
    return outcome


def spearman(quality: np.ndarray, accuracy: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(quality, accuracy).statistic)


@dataclass
class Row:
    """One method's figures on one project."""

    dataset: str
    seed: int
    group: str
    method: str
    accuracy: float
    single_accuracy: float  # on tasks with one annotation; nan when there are none
    rho: float
    flagged: int
    precision: float
    recall: float
    f1: float
    ap: float  # average precision of the wrongness score against the wrong annotations
    ece: float  # expected calibration error of the wrongness score as P(wrong)
    consensus_ece: float  # ECE of the consensus confidence as P(consensus right)
    wall: float
    cpu: float
    peak_mib: float


def score(case: AnnotatorCase, method: str, outcome: Outcome, group: str) -> Row:
    counts = np.bincount(case.row_task, minlength=len(case.tasks))
    single = counts == 1
    right = outcome.consensus == case.true
    p, r, f = prf(outcome.flags, case.wrong)
    ap = ece_value = float("nan")
    if outcome.wrongness is not None:
        from sklearn.metrics import average_precision_score

        ap = float(average_precision_score(case.wrong, outcome.wrongness))
        ece_value = ece(outcome.wrongness, case.wrong)
    consensus_ece = float("nan")
    if outcome.confidence is not None:
        consensus_ece = ece(1.0 - outcome.confidence, ~right)
    return Row(
        case.name,
        case.seed,
        group,
        method,
        float(right.mean()),
        float(right[single].mean()) if single.any() else float("nan"),
        spearman(outcome.quality, case.realised_accuracy()),
        int(outcome.flags.sum()),
        p,
        r,
        f,
        ap,
        ece_value,
        consensus_ece,
        float(outcome.seconds[0]),
        float(outcome.seconds[1]),
        outcome.peak_mib,
    )


def reliability(score: np.ndarray, wrong: np.ndarray) -> list[tuple[int, int, float, float]]:
    """Return (bin, count, mean score, wrong rate) of ECE_BINS equal-width bins (non-empty)."""
    bins = np.minimum((np.clip(score, 0.0, 1.0) * ECE_BINS).astype(int), ECE_BINS - 1)
    return [
        (b, int(m.sum()), float(score[m].mean()), float(wrong[m].mean()))
        for b in range(ECE_BINS)
        if (m := bins == b).any()
    ]


def ece(score: np.ndarray, wrong: np.ndarray) -> float:
    """Expected calibration error of ``score`` read as P(wrong), over ECE_BINS bins."""
    rows = reliability(score, wrong)
    return sum(count * abs(mean - rate) for _, count, mean, rate in rows) / len(wrong)


HEADER = (
    "| dataset | seed | method | consensus acc | acc, 1-annotation tasks | Spearman "
    "| flagged | P | R | F1 | AP | ECE | consensus ECE | wall s | CPU s | peak MiB |"
)


def fmt(value: float, digits: int = 3) -> str:
    return "-" if np.isnan(value) else f"{value:.{digits}f}"


def row_line(row: Row) -> str:
    return (
        f"| {row.dataset} | {row.seed} | {row.method} | {row.accuracy:.3f} "
        f"| {fmt(row.single_accuracy)} | {row.rho:.3f} | {row.flagged} | {row.precision:.3f} "
        f"| {row.recall:.3f} | **{row.f1:.3f}** | {row.ap:.3f} | {row.ece:.3f} "
        f"| {row.consensus_ece:.3f} "
        f"| {row.wall:.2f} | {row.cpu:.2f} "
        f"| {fmt(row.peak_mib, 1)} |"
    )


def calibrated_posterior(case: AnnotatorCase, ours: Outcome) -> np.ndarray:
    """(n_tasks, K) labelaudit's calibrated posterior, recomputed from its outputs with its
    own functions (``backend.tasktypes.consensus``) as its judge does: the temperature and
    each annotator's accuracy fitted to its consensus."""
    from backend.tasktypes.consensus import annotator_accuracy, fit_temperature, posterior

    heads = np.unique(case.row_task, return_index=True)[1]  # every task has an annotation
    model = ours.extra["probs"][heads]
    consensus_rows = ours.consensus[case.row_task]
    accuracy = annotator_accuracy(
        case.row_label, consensus_rows, case.row_annotator, len(case.classes)
    )
    temperature = fit_temperature(model, ours.consensus)
    return posterior(
        model,
        case.row_task,
        case.row_label,
        accuracy[case.row_annotator],
        temperature=temperature,
    )


def alternative_rules(case: AnnotatorCase, outcomes: dict[str, Outcome]) -> dict[str, float]:
    """F1 of other ways to flag annotations, and accuracy of other consensus labels, from
    labelaudit's (and the recipe's) outputs."""
    from core.filter import find_label_issues

    wrong = case.wrong
    single = np.bincount(case.row_task, minlength=len(case.tasks)) == 1
    out: dict[str, float] = {}

    def accuracy(consensus: np.ndarray, name: str) -> None:
        right = consensus == case.true
        out[f"consensus acc: {name}"] = float(right.mean())
        if single.any():
            out[f"consensus acc, 1-annotation tasks: {name}"] = float(right[single].mean())

    ours = outcomes.get("labelaudit")
    if ours is not None:
        suspicion = ours.extra["suspicion"]
        differs = case.row_label != ours.consensus[case.row_task]
        out["F1: labelaudit default (is_label_issue)"] = prf(ours.flags, wrong)[2]
        out["F1: labelaudit, given != consensus"] = prf(differs, wrong)[2]
        for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
            out[f"F1: labelaudit, suspicion > {threshold}"] = prf(suspicion > threshold, wrong)[2]
        post = calibrated_posterior(case, ours)
        argmax = post.argmax(axis=1)
        out["F1: labelaudit, given != calibrated posterior's argmax"] = prf(
            case.row_label != argmax[case.row_task], wrong
        )[2]
        probs = ours.extra["probs"]
        for filter_by in ("prune_by_noise_rate", "both"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                flags = find_label_issues(case.row_label, probs, filter_by=filter_by)
            out[f"F1: confident learning on annotation rows, labelaudit's probs ({filter_by})"] = (
                prf(flags, wrong)[2]
            )
        accuracy(ours.consensus, "labelaudit (CROWDLAB best_quality)")
        accuracy(argmax, "labelaudit's calibrated posterior, argmax")
        heads = np.unique(case.row_task, return_index=True)[1]
        accuracy(ours.extra["probs"][heads].argmax(axis=1), "labelaudit's model alone")
    theirs = outcomes.get("recipe")
    if theirs is not None:
        out["F1: recipe, given != consensus"] = prf(theirs.flags, wrong)[2]
        for threshold in (0.3, 0.5):
            out[f"F1: recipe, CROWDLAB annotation quality < {threshold}"] = prf(
                theirs.extra["annotation_quality"] < threshold, wrong
            )[2]
        accuracy(theirs.consensus, "recipe")
        accuracy(theirs.extra["probs"].argmax(axis=1), "recipe's model alone")
    mv = outcomes.get("majority")
    if mv is not None:
        accuracy(mv.consensus, "majority")
    return out


def summarise(rows: list[Row], group: str) -> None:
    """Print the mean over seeds per dataset and method, and the issue's goals."""
    chosen = [r for r in rows if r.group == group]
    if not chosen:
        return
    seeds = sorted({r.seed for r in chosen})
    print(f"\n### {group} seeds {seeds}: mean over seeds [min-max]\n")
    print(
        "| dataset | method | consensus acc | acc, 1-annotation tasks | Spearman | P | R | F1 "
        "| AP | ECE | consensus ECE | wall s | CPU s | peak MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    datasets = list(dict.fromkeys(r.dataset for r in chosen))
    for dataset in datasets:
        for method in METHODS:
            mine = [r for r in chosen if r.dataset == dataset and r.method == method]
            if not mine:
                continue

            def cell(name: str, digits: int = 3, rows: list[Row] = mine) -> str:
                values = np.array([getattr(r, name) for r in rows], dtype=float)
                if np.isnan(values).all():
                    return "-"
                lo, hi = np.nanmin(values), np.nanmax(values)
                return f"{np.nanmean(values):.{digits}f} [{lo:.{digits}f}-{hi:.{digits}f}]"

            print(
                f"| {dataset} | {method} | {cell('accuracy')} | {cell('single_accuracy')} "
                f"| {cell('rho')} | {cell('precision')} | {cell('recall')} | {cell('f1')} "
                f"| {cell('ap')} | {cell('ece')} | {cell('consensus_ece')} "
                f"| {cell('wall', 2)} | {cell('cpu', 2)} | {cell('peak_mib', 1)} |"
            )
    if not any(r.method == "labelaudit" for r in chosen):
        return
    print(f"\nIssue 10's goals, {group} seeds (labelaudit, per dataset and seed):\n")
    print("| dataset | seed | acc > majority | acc > recipe | Spearman >= 0.9 | F1 > recipe's |")
    print("|---|---|---|---|---|---|")
    for dataset in datasets:
        for seed in seeds:
            by = {r.method: r for r in chosen if r.dataset == dataset and r.seed == seed}
            if not {"labelaudit", "majority", "recipe"} <= set(by):
                continue
            ours, mv, rec = by["labelaudit"], by["majority"], by["recipe"]

            def above(mine: float, theirs: float) -> str:
                return f"{'yes' if mine > theirs else '**no**'} ({mine:.3f} / {theirs:.3f})"

            rho = f"{'yes' if ours.rho >= SPEARMAN_GOAL else '**no**'} ({ours.rho:.3f})"
            print(
                f"| {dataset} | {seed} | {above(ours.accuracy, mv.accuracy)} "
                f"| {above(ours.accuracy, rec.accuracy)} | {rho} | {above(ours.f1, rec.f1)} |"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[*TUNING_SEEDS, *HELD_OUT_SEEDS],
        help=f"seeds < 10 are tuning seeds, the rest held out (default {TUNING_SEEDS} and "
        f"{HELD_OUT_SEEDS})",
    )  # fmt: skip
    parser.add_argument("--tasks", type=int, default=TASKS, help="tasks per project")
    parser.add_argument(
        "--annotators", type=int, default=ANNOTATORS,
        help=f"annotators, accuracies spread evenly over {ACCURACY_RANGE}",
    )  # fmt: skip
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    parser.add_argument(
        "--blas-threads", type=int, default=BLAS_THREADS,
        help="threads BLAS / OpenMP may use (threadpoolctl; 0: their own default)",
    )  # fmt: skip
    parser.add_argument(
        "--rules", action="store_true", help="score other flagging rules (tuning seeds only)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="600 tasks, seeds 0 and 10, no memory pass"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.seeds, args.no_memory = 600, [0, 10], True

    import cleanlab
    import sklearn

    for module in WARM_IMPORTS:
        importlib.import_module(module)
    if args.blas_threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads)
    print(
        f"several annotators per task: labelaudit vs majority vote vs cleanlab "
        f"{cleanlab.__version__}'s recipe; scikit-learn {sklearn.__version__}, python "
        f"{platform.python_version()}, {FOLDS} folds, {args.tasks} tasks, "
        f"{args.annotators} annotators, seeds {args.seeds}, BLAS threads "
        f"{args.blas_threads or 'default'}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n",
        flush=True,
    )
    accuracies = tuple(np.linspace(*ACCURACY_RANGE, args.annotators).round(3))
    rows: list[Row] = []
    rules: dict[str, dict[str, list[float]]] = {}
    for seed in args.seeds:
        group = "tuning" if seed < 10 else "held-out"
        print(f"### seed {seed} ({group})\n\n{HEADER}\n|" + "---|" * (HEADER.count("|") - 1))
        for kind in args.kinds:
            for variant in args.variants:
                case = make_case(
                    kind, seed=seed, tasks=args.tasks, variant=variant, accuracies=accuracies
                )
                outcomes = {
                    method: measure(method, case, seed, memory=not args.no_memory)
                    for method in args.methods
                }
                for method, outcome in outcomes.items():
                    row = score(case, method, outcome, group)
                    rows.append(row)
                    print(row_line(row), flush=True)
                if args.rules and group == "tuning":
                    for rule, f1 in alternative_rules(case, outcomes).items():
                        rules.setdefault(case.name, {}).setdefault(rule, []).append(f1)
        print()
    summarise(rows, "tuning")
    summarise(rows, "held-out")
    if rules:
        print(
            "\nOther flagging rules (F1) and consensus labels (accuracy), tuning seeds only "
            "(mean over seeds [min-max]):\n"
        )
        names = list(dict.fromkeys(rule for by in rules.values() for rule in by))
        print("| rule | " + " | ".join(rules) + " |")
        print("|---|" + "---|" * len(rules))
        for rule in names:
            cells = []
            for by in rules.values():
                values = by.get(rule)
                cells.append(
                    "-"
                    if not values
                    else f"{np.mean(values):.3f} [{min(values):.3f}-{max(values):.3f}]"
                )
            print(f"| {rule} | " + " | ".join(cells) + " |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (1 min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
