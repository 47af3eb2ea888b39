"""How well labelaudit finds wrong entity spans, against cleanlab's token-classification recipe.

The named-entity sibling of ``bench/detection.py``. Datasets and noise come from
``bench/ner_data.py``: template sentences and free sentences (random filler words with
entities inserted) with five entity types (``--kinds lower``: the template sentences
lower-cased, a shape added after the defaults were tuned, for checking only); each
task, with probability 10%, gets one change: a span's type flipped to a confusable one,
a span dropped, a span's boundary shifted by one word, or a spurious span put on a word
outside every entity. Then, from
the same Label Studio tasks:

* **labelaudit**: ``dataset_from_tasks`` and ``run_audit`` with the ``spans`` task type
  and ``load_settings({"seed": seed, "folds": 5})`` (its defaults otherwise: the token
  model of ``backend.tasktypes.tokens``, its default ``filter_by`` unless ``--filter-by``
  names one; for spans "auto" flags a token whose calibrated probability of being wrong is
  above 1/2); a task is flagged when any of its rows in the ``spans`` table (issues.csv)
  is flagged;
* **cleanlab**: the recipe a cleanlab user writes: the same tokens
  (``backend.tasktypes.tokens.tokenize``), one class per token (IO scheme: "O" or the
  type of the span the token overlaps), a dictionary of word / lower-case / prefix and
  suffix / case / neighbouring-word features per token (``DictVectorizer``), out-of-fold
  probabilities of ``LogisticRegression(max_iter=1000)`` from
  ``cross_val_predict(..., cv=GroupKFold(5), groups=task)``, then
  ``cleanlab.token_classification.filter.find_label_issues(labels, pred_probs)`` with its
  defaults; a task is flagged when any of its tokens is.

Both are timed from the Label Studio tasks to the flags. Each side runs in a forked child
process (so neither inherits the other's heap): wall seconds, CPU seconds (the child's
threads and the processes it waited for: cleanlab's filter forks a pool) and peak memory
(the child's peak resident set size above its size at the start, from ``/proc``'s VmHWM
after resetting it; cleanlab's pool workers are not in it). BLAS runs on one thread in
each child (``--blas-threads``; 0 leaves OpenBLAS's default): on the shared 2-core
machine, with other work running, OpenBLAS's threads made both sides' L-BFGS fits 10-20x
slower (600 template tasks under load 8-9, first imports included: labelaudit 75 s, the
recipe 65 s, against 3.5 s and 4.1 s on one thread), which says more about the machine
than about either method.

Scores are per task: P/R/F1 of the flagged tasks against the changed ones, recall per kind
of change, flags on unchanged tasks, average precision of the rankings (labelaudit's task
``suspicion``; 1 - cleanlab's ``token_classification.rank.get_label_quality_scores``
sentence score), and whether a flag points at the change (a flagged span or token
overlapping the changed characters). Two swaps tell the model from the judging:
cleanlab's filter on labelaudit's out-of-fold token probabilities, and labelaudit's span
judging (``pipeline.finish``) on the recipe's probabilities. Seeds below 10 are
**tuning** seeds (alternatives of labelaudit's settings may be tried on them:
``--alternatives`` prints every ``filter_by`` on the same out-of-fold probabilities);
seeds 10 and above are **held-out**, printed separately and never used to choose.

Run: ``.venv/bin/python bench/detection_ner.py`` (seeds 0 1 2 and 10 11 12, 1,000 tasks
of each kind, about 4 minutes on the 2 cores; ``--quick`` for one seed of each split at 600
tasks; ``--tasks 600 2000``, ``--kinds free``, ``--repeat 3`` keeps each side's best of
three times).
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import multiprocessing
import os
import platform
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from ner_data import CLASSES, CONFIG, MAKERS, NOISE_KINDS, NOISE_RATE, NerCase

FOLDS = 5
#: Seeds below this are tuning seeds; the rest are held out.
HELD_OUT_FROM = 10
DEFAULT_SEEDS = (0, 1, 2, 10, 11, 12)
DEFAULT_TASKS = (1000,)
#: Tasks of the warm-up run (not scored).
WARM_UP_TASKS = 100
#: The issue's goal: labelaudit's task-level F1 this much above the recipe's, in at most
#: this multiple of its time.
GOAL_F1 = 0.05
GOAL_TIME = 2.0
#: labelaudit's name for each kind of change (issues.csv ``issue``).
ISSUE_OF_KIND = {
    "flipped": "wrong label",
    "dropped": "missing",
    "shifted": "boundaries",
    "spurious": "spurious",
}
#: Imported before any clock starts, so that the first row's times hold no imports.
WARM_IMPORTS = (
    "backend.labelstudio.config",
    "backend.labelstudio.export",
    "backend.pipeline",
    "backend.tasktypes.spans",
    "backend.tasktypes.span_verdicts",
    "backend.tasktypes.tokens",
    "cleanlab.token_classification.filter",
    "cleanlab.token_classification.rank",
    "core.token_classification",
    "sklearn.feature_extraction",
    "sklearn.linear_model",
    "sklearn.model_selection",
)


# ---------------------------------------------------------------------------- measuring


def clocks() -> np.ndarray:
    """(wall seconds, CPU seconds of this process's threads and waited-for children)."""
    t = os.times()
    return np.array([time.perf_counter(), t.user + t.system + t.children_user + t.children_system])


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def _reset_peak() -> int:
    """Give freed heap back to the system, reset VmHWM to VmRSS; return VmRSS (KiB)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status_kib("VmRSS:")


def measured(
    fn: Callable[..., Any], *args: Any, blas_threads: int = 1
) -> tuple[Any, np.ndarray, float]:
    """Run ``fn(*args)`` in a forked child; return (its answer, [wall, CPU] s, peak MiB).

    BLAS runs on ``blas_threads`` threads in the child (0: the library's default).

    ``fn`` returns ``(answer, extra)``; ``extra`` is a callable run after the clock and the
    memory are read (work that is not part of the method, such as scoring), whose answer
    is merged into ``answer``.
    """
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def child() -> None:
        from threadpoolctl import threadpool_limits

        try:
            if blas_threads:
                threadpool_limits(limits=blas_threads, user_api="blas")
            start_rss = _reset_peak()
            start = clocks()
            answer, extra = fn(*args)
            spent = clocks() - start
            peak = (_status_kib("VmHWM:") - start_rss) / 1024
            answer.update(extra())
            send.send(("ok", answer, spent, peak))
        except BaseException:  # report it in the parent, whatever it was
            send.send(("error", traceback.format_exc(), None, None))

    process = ctx.Process(target=child)
    process.start()
    status, answer, spent, peak = receive.recv()
    process.join()
    if status != "ok":
        raise RuntimeError(f"{getattr(fn, '__name__', fn)} failed in its child:\n{answer}")
    return answer, spent, peak


def scores(flagged: np.ndarray, wrong: np.ndarray) -> tuple[float, float, float]:
    hits = int((flagged & wrong).sum())
    precision = hits / max(int(flagged.sum()), 1)
    recall = hits / max(int(wrong.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return precision, recall, f1


# ---------------------------------------------------------------------------- labelaudit


def audit(
    tasks: list[dict[str, Any]], seed: int, alternatives: bool, filter_by: str = "auto"
) -> tuple[dict[str, Any], Callable[[], Any]]:
    """labelaudit's audit of the tasks: flags per task (and, after the clock, its span rows,
    suspicion, probabilities, the swap and, with ``alternatives``, every filter_by)."""
    from backend.labelstudio.config import parse_label_config
    from backend.labelstudio.export import dataset_from_tasks
    from backend.pipeline import run_audit
    from backend.settings import load_settings

    dataset = dataset_from_tasks(tasks, parse_label_config(CONFIG), source="bench")
    settings = {"seed": seed, "folds": FOLDS, "filter_by": filter_by}
    result = run_audit(dataset, load_settings(settings, environ={}))
    n = len(tasks)
    flags = np.zeros(n, dtype=bool)
    for row in result.tables["spans"]:
        if row["is_label_issue"]:
            flags[int(row["task_id"]) - 1] = True
    by_annotation = np.zeros(n, dtype=bool)
    by_annotation[np.asarray(result.task_ids, dtype=np.int64) - 1] = result.is_label_issue

    def extra() -> dict[str, Any]:
        suspicion = np.zeros(n)
        suspicion[np.asarray(result.task_ids, dtype=np.int64) - 1] = result.suspicion
        probs = [p.probs for p in result.pred_probs]
        return {
            "suspicion": suspicion,
            "rows": list(result.tables["spans"]),
            "audited": len(result.task_ids),
            "by_annotation": by_annotation,
            "probs": probs,
            "cleanlab_on_ours": cleanlab_filter(token_labels_of(tasks, result.pred_probs), probs),
            "by_filter": by_filter(dataset, result, seed) if alternatives else {},
        }

    return {"flags": flags}, extra


def by_filter(dataset: Any, result: Any, seed: int) -> dict[str, np.ndarray]:
    """Task flags of labelaudit's judging under every filter_by, on the same probabilities."""
    from backend.pipeline import finish, prepare
    from backend.settings import load_settings
    from core.filter import FILTER_BY

    out = {}
    for filter_by in FILTER_BY:
        settings = load_settings({"seed": seed, "folds": FOLDS, "filter_by": filter_by}, environ={})
        judged = finish(prepare(dataset, settings), result.pred_probs, settings)
        out[filter_by] = task_flags(judged, len(result.task_ids))
    return out


def task_flags(result: Any, n: int) -> np.ndarray:
    flags = np.zeros(n, dtype=bool)
    for row in result.tables["spans"]:
        if row["is_label_issue"]:
            flags[int(row["task_id"]) - 1] = True
    return flags


def token_labels_of(tasks: list[dict[str, Any]], token_probs: Any) -> list[np.ndarray]:
    """IO class per token of each task (0 "O", 1 + type) on labelaudit's own tokens."""
    out = []
    for task, p in zip(tasks, token_probs, strict=True):
        out.append(io_labels(p.offsets, task["annotations"][0]["result"]))
    return out


# ---------------------------------------------------------------------------- the recipe


def io_labels(offsets: np.ndarray, result: list[dict[str, Any]]) -> np.ndarray:
    """One class per token: the type of the span it overlaps (1 + index), else 0 ("O")."""
    labels = np.zeros(len(offsets), dtype=np.int64)
    for region in result:
        value = region["value"]
        inside = (offsets[:, 0] < value["end"]) & (offsets[:, 1] > value["start"])
        labels[inside] = 1 + CLASSES.index(value["labels"][0])
    return labels


def word_features(words: list[str], i: int) -> dict[str, Any]:
    """The usual per-token feature dictionary (as in sklearn-crfsuite's tutorial)."""
    word = words[i]
    features: dict[str, Any] = {
        "bias": 1.0,
        "word": word,
        "lower": word.lower(),
        "prefix2": word[:2],
        "prefix3": word[:3],
        "suffix2": word[-2:],
        "suffix3": word[-3:],
        "is_title": word.istitle(),
        "is_upper": word.isupper(),
        "is_digit": word.isdigit(),
    }
    if i > 0:
        features["-1:lower"] = words[i - 1].lower()
        features["-1:is_title"] = words[i - 1].istitle()
    else:
        features["BOS"] = True
    if i < len(words) - 1:
        features["+1:lower"] = words[i + 1].lower()
        features["+1:is_title"] = words[i + 1].istitle()
    else:
        features["EOS"] = True
    return features


def recipe(tasks: list[dict[str, Any]], seed: int) -> tuple[dict[str, Any], Callable[[], Any]]:
    """cleanlab's token-classification recipe on the tasks: flags per task."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_predict

    from backend.tasktypes.tokens import tokenize

    features: list[dict[str, Any]] = []
    labels: list[np.ndarray] = []
    groups: list[int] = []
    for i, task in enumerate(tasks):
        text = task["data"]["text"]
        offsets = tokenize(text)
        words = [text[a:b] for a, b in offsets.tolist()]
        features.extend(word_features(words, j) for j in range(len(words)))
        labels.append(io_labels(offsets, task["annotations"][0]["result"]))
        groups.extend([i] * len(words))
    X = DictVectorizer().fit_transform(features)
    y = np.concatenate(labels)
    probs = cross_val_predict(
        LogisticRegression(max_iter=1000),
        X,
        y,
        groups=groups,
        cv=GroupKFold(n_splits=FOLDS),
        method="predict_proba",
    )
    pred_probs = np.split(probs, np.cumsum([len(t) for t in labels])[:-1])
    issues = cleanlab_issues(labels, pred_probs)
    flags = np.zeros(len(tasks), dtype=bool)
    flags[[sentence for sentence, _ in issues]] = True

    def extra() -> dict[str, Any]:
        from cleanlab.token_classification.rank import get_label_quality_scores

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sentence, _ = get_label_quality_scores(labels, pred_probs)
        return {"quality": np.asarray(sentence), "probs": pred_probs, "issues": issues}

    return {"flags": flags}, extra


def cleanlab_issues(
    labels: list[np.ndarray], pred_probs: list[np.ndarray]
) -> list[tuple[int, int]]:
    """cleanlab's token find_label_issues with its defaults: (sentence, token) pairs."""
    from cleanlab.token_classification.filter import find_label_issues

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab's own chatter
        return list(find_label_issues(labels, pred_probs))


def cleanlab_filter(labels: list[np.ndarray], pred_probs: list[np.ndarray]) -> np.ndarray:
    """Task flags of cleanlab's token filter: a task is flagged when any token is."""
    issues = cleanlab_issues(labels, pred_probs)
    flags = np.zeros(len(labels), dtype=bool)
    flags[[sentence for sentence, _ in issues]] = True
    return flags


def ours_on_recipe(
    tasks: list[dict[str, Any]], probs: list[np.ndarray], seed: int, filter_by: str = "auto"
) -> np.ndarray:
    """Task flags of labelaudit's span judging (pipeline.finish) on the recipe's probabilities."""
    from backend.labelstudio.config import parse_label_config
    from backend.labelstudio.export import dataset_from_tasks
    from backend.pipeline import finish, prepare
    from backend.settings import load_settings
    from backend.tasktypes.tokens import TokenProbs, tokenize

    dataset = dataset_from_tasks(tasks, parse_label_config(CONFIG), source="bench")
    settings = load_settings({"seed": seed, "folds": FOLDS, "filter_by": filter_by}, environ={})
    prepared = prepare(dataset, settings)
    token_probs = np.empty(len(tasks), dtype=object)
    for r, row in enumerate(prepared.rows):
        text = dataset.inputs[row]
        token_probs[r] = TokenProbs(text, tokenize(text), probs[int(dataset.task_ids[row]) - 1])
    return task_flags(finish(prepared, token_probs, settings), len(tasks))


# ---------------------------------------------------------------------------- scoring


def located(case: NerCase, flagged_ranges: dict[int, list[tuple[int, int]]]) -> float:
    """Of the changed tasks flagged, the share with a flagged range over the changed text."""
    hits = total = 0
    for change in case.changes:
        ranges = flagged_ranges.get(change["task"])
        if not ranges:
            continue
        total += 1
        spans = [s for s in (change["true_span"], change["given_span"]) if s]
        hits += any(a < s["end"] and s["start"] < b for a, b in ranges for s in spans)
    return hits / max(total, 1)


def ours_ranges(rows: list[dict[str, Any]]) -> dict[int, list[tuple[int, int]]]:
    out: dict[int, list[tuple[int, int]]] = {}
    for row in rows:
        if row["is_label_issue"]:
            out.setdefault(int(row["task_id"]) - 1, []).append((int(row["start"]), int(row["end"])))
    return out


def recipe_ranges(case: NerCase, issues: list[tuple[int, int]]) -> dict[int, list[tuple[int, int]]]:
    """The character ranges of cleanlab's flagged tokens, per task."""
    from backend.tasktypes.tokens import tokenize

    out: dict[int, list[tuple[int, int]]] = {}
    for sentence, token in issues:
        a, b = tokenize(case.texts[sentence])[token]
        out.setdefault(int(sentence), []).append((int(a), int(b)))
    return out


def span_truth(case: NerCase, rows: list[dict[str, Any]]) -> np.ndarray:
    """Whether each span row is wrong: a given span not among its task's true spans (same
    characters and type); a missing span (given O) over characters some true span covers."""
    out = []
    for row in rows:
        true = case.true[int(row["task_id"]) - 1]
        start, end = int(row["start"]), int(row["end"])
        if row["given_label"] == "O":
            out.append(any(a < end and start < b for a, b, _ in true))
        else:
            out.append((start, end, row["given_label"]) not in true)
    return np.array(out, dtype=bool)


def ece(scores_: np.ndarray, outcomes: np.ndarray) -> float:
    """Expected calibration error over 10 equal-width bins (backend.tasktypes.calibration)."""
    from backend.tasktypes.calibration import expected_calibration_error

    return expected_calibration_error(np.asarray(scores_, dtype=float), outcomes)


def kind_named(case: NerCase, rows: list[dict[str, Any]]) -> float:
    """Of the changed tasks labelaudit flags, the share whose flagged rows name the change
    (flipped: "wrong label", dropped: "missing", shifted: "boundaries", spurious: "spurious")."""
    issues: dict[int, set[str]] = {}
    for row in rows:
        if row["is_label_issue"]:
            issues.setdefault(int(row["task_id"]) - 1, set()).add(row["issue"])
    found = [ISSUE_OF_KIND[c["change"]] in issues[c["task"]] for c in case.changes
             if c["task"] in issues]  # fmt: skip
    return float(np.mean(found)) if found else 0.0


# ---------------------------------------------------------------------------- the run


def run_case(case: NerCase, args: argparse.Namespace, tables: dict[str, list[str]]) -> None:
    """Run both sides on one dataset; add its rows to ``tables``."""
    from sklearn.metrics import average_precision_score

    tasks = case.tasks()
    wrong = case.wrong
    split = "tuning" if case.seed < HELD_OUT_FROM else "held-out"
    alternatives = args.alternatives and split == "tuning"
    blas = {"blas_threads": args.blas_threads}
    ours, ours_t, ours_mem = measured(audit, tasks, case.seed, alternatives, args.filter_by, **blas)
    theirs, theirs_t, theirs_mem = measured(recipe, tasks, case.seed, **blas)
    for _ in range(args.repeat - 1):  # same answers again; keep each side's best times
        ours_t = np.minimum(
            ours_t, measured(audit, tasks, case.seed, False, args.filter_by, **blas)[1]
        )
        theirs_t = np.minimum(theirs_t, measured(recipe, tasks, case.seed, **blas)[1])
    if ours["audited"] != len(tasks):
        print(f"note: {case.name} seed {case.seed}: labelaudit audited {ours['audited']} tasks")
    if (ours["flags"] != ours["by_annotation"]).any():
        print(f"note: {case.name} seed {case.seed}: spans table and is_label_issue disagree")
    p, r, f = scores(ours["flags"], wrong)
    bp, br, bf = scores(theirs["flags"], wrong)
    ratio = ours_t / theirs_t
    label = f"| {case.kind} | {len(tasks)} | {case.seed} |"
    tables.setdefault(f"main {split}", []).append(
        f"{label} {int(wrong.sum())} "
        f"| {p:.3f} | {r:.3f} | **{f:.3f}** | {ours_t[0]:.1f} | {ours_t[1]:.1f} | {ours_mem:.0f} "
        f"| {bp:.3f} | {br:.3f} | **{bf:.3f}** | {theirs_t[0]:.1f} | {theirs_t[1]:.1f} "
        f"| {theirs_mem:.0f} | {f - bf:+.3f} | {ratio[0]:.2f}x | {ratio[1]:.2f}x "
        f"| {ours_mem / max(theirs_mem, 1e-9):.2f}x |"
    )
    tables.setdefault(f"summary {split} {case.kind} {len(tasks)}", []).append(
        f"{f:.3f} {bf:.3f} {ratio[0]:.3f} {ratio[1]:.3f}"
    )
    cells = []
    for code, kind in enumerate(NOISE_KINDS, start=1):
        m = case.noise == code
        n = int(m.sum())
        tables.setdefault(f"kinds {split}", [])
        cells.append(
            f"{n} | {ours['flags'][m].mean() if n else 0:.2f} "
            f"| {theirs['flags'][m].mean() if n else 0:.2f}"
        )
        pooled = tables.setdefault(f"pooled {split} {case.kind} {len(tasks)} {kind}", [])
        pooled.append(f"{n} {int(ours['flags'][m].sum())} {int(theirs['flags'][m].sum())}")
    false_pos = (int((ours["flags"] & ~wrong).sum()), int((theirs["flags"] & ~wrong).sum()))
    tables[f"kinds {split}"].append(
        f"{label} " + " | ".join(cells) + f" | {false_pos[0]} | {false_pos[1]} |"
    )
    pooled_fp = tables.setdefault(f"pooled {split} {case.kind} {len(tasks)} fp", [])
    pooled_fp.append(f"{len(tasks) - int(wrong.sum())} {false_pos[0]} {false_pos[1]}")

    swapped = ours_on_recipe(tasks, theirs["probs"], case.seed, args.filter_by)
    tables.setdefault(f"where {split}", []).append(
        f"{label} {average_precision_score(wrong, ours['suspicion']):.3f} "
        f"| {average_precision_score(wrong, 1 - theirs['quality']):.3f} "
        f"| {located(case, ours_ranges(ours['rows'])):.2f} "
        f"| {located(case, recipe_ranges(case, theirs['issues'])):.2f} "
        f"| {kind_named(case, ours['rows']):.2f} "
        f"| {scores(ours['cleanlab_on_ours'], wrong)[2]:.3f} "
        f"| {scores(swapped, wrong)[2]:.3f} "
        f"| {ece([r['suspicion'] for r in ours['rows']], span_truth(case, ours['rows'])):.3f} "
        f"| {ece(ours['suspicion'], wrong):.3f} |"
    )
    if alternatives:
        tables.setdefault("filter_by", []).append(
            f"{label} "
            + " | ".join(f"{scores(v, wrong)[2]:.3f}" for v in ours["by_filter"].values())
            + " |"
        )
        tables["filter_by names"] = list(ours["by_filter"])
    print(f"  {case.name} seed {case.seed}: F1 {f:.3f} / {bf:.3f}, "
          f"time {ratio[0]:.2f}x (CPU {ratio[1]:.2f}x)", flush=True)  # fmt: skip


MAIN_HEADER = (
    "| data | tasks | seed | wrong | labelaudit P | R | F1 | wall s | CPU s | MiB "
    "| cleanlab P | R | F1 | wall s | CPU s | MiB | F1 gain | time ratio | CPU ratio "
    "| memory ratio |"
)


def table(header: str, rows: list[str]) -> str:
    return "\n".join([header, "|" + "---|" * (header.count("|") - 1), *rows])


def report(tables: dict[str, list[str]], alternatives: bool) -> None:
    for split in ("tuning", "held-out"):
        if f"main {split}" not in tables:
            continue
        print(f"\n## {split} seeds\n")
        print("Task-level scores, seconds (wall, CPU) and peak memory (MiB above the start):\n")
        print(table(MAIN_HEADER, tables[f"main {split}"]))
        kind_cols = " | ".join(f"{k} n | labelaudit R | cleanlab R" for k in NOISE_KINDS)
        print("\nRecall per kind of change; flags on unchanged tasks (false positives):\n")
        print(table(f"| data | tasks | seed | {kind_cols} | labelaudit FP | cleanlab FP |",
                    tables[f"kinds {split}"]))  # fmt: skip
        print(
            "\nRanking (average precision of the task ranking), where the flags point (share of"
            " flagged changed tasks with a flag over the changed text), whether labelaudit"
            " names the change, the swaps (F1), and the calibration of labelaudit's suspicion"
            " (expected calibration error, 10 bins: of every row of its spans table against"
            " whether the span is wrong; of the task suspicion against the changed tasks):\n"
        )
        print(
            table(
                "| data | tasks | seed | labelaudit AP | cleanlab AP | labelaudit located "
                "| cleanlab located | labelaudit names the kind "
                "| cleanlab filter on labelaudit probs F1 "
                "| labelaudit judging on recipe probs F1 "
                "| labelaudit span ECE | labelaudit task ECE |",
                tables[f"where {split}"],
            )
        )
        pooled_rows = []
        for key in sorted(k for k in tables if k.startswith(f"pooled {split} ")):
            _, _, kind, n, what = key.split(" ")
            total, ours, theirs = np.array([r.split() for r in tables[key]], dtype=int).sum(0)
            pooled_rows.append(
                f"| {kind} | {n} | {what} | {total} | {ours} ({ours / max(total, 1):.2f}) "
                f"| {theirs} ({theirs / max(total, 1):.2f}) |"
            )
        print("\nPooled over the seeds: tasks of each kind (fp: unchanged tasks) flagged:\n")
        print(table("| data | tasks | kind | n | labelaudit | cleanlab |", pooled_rows))
    if alternatives and "filter_by" in tables:
        names = tables["filter_by names"]
        print("\nTuning seeds: labelaudit's task F1 under each filter_by, same probabilities:\n")
        print(table("| data | tasks | seed | " + " | ".join(names) + " |", tables["filter_by"]))
    print("\n## Summary: mean over seeds (labelaudit F1 / cleanlab F1, gain, time ratios)\n")
    rows = []
    for key in sorted(k for k in tables if k.startswith("summary ")):
        _, split, kind, n = key.split(" ")
        f, bf, wall, cpu = np.array([r.split() for r in tables[key]], dtype=float).T
        met = "yes" if (f - bf).mean() >= GOAL_F1 and wall.mean() <= GOAL_TIME else "no"
        rows.append(
            f"| {split} | {kind} | {n} | {len(f)} | {f.mean():.3f} / {bf.mean():.3f} "
            f"| {(f - bf).mean():+.3f} [{(f - bf).min():+.3f}, {(f - bf).max():+.3f}] "
            f"| {wall.mean():.2f}x [{wall.min():.2f}x, {wall.max():.2f}x] "
            f"| {cpu.mean():.2f}x [{cpu.min():.2f}x, {cpu.max():.2f}x] | {met} |"
        )
    print(
        table(
            "| split | data | tasks | seeds | F1 labelaudit / cleanlab | gain [min, max] "
            f"| time ratio [min, max] | CPU ratio [min, max] "
            f"| goal (mean gain >= {GOAL_F1}, mean time ratio <= {GOAL_TIME}x) |",
            rows,
        )
    )


def warm_up() -> None:
    """Run both sides and the scoring once on a small set in this process, so that no
    child's clock or memory holds a first import or a first-call cache."""
    from sklearn.metrics import average_precision_score
    from threadpoolctl import threadpool_limits

    tasks = MAKERS["template"](WARM_UP_TASKS, seed=HELD_OUT_FROM - 1).tasks()
    with threadpool_limits(limits=1, user_api="blas"):
        for answer, extra in (audit(tasks, 0, True), recipe(tasks, 0)):
            answer.update(extra())
        ours_on_recipe(tasks, answer["probs"], 0)
    average_precision_score([0, 1], [0.2, 0.8])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS),
                        help=f"data, noise and folds; below {HELD_OUT_FROM}: tuning")  # fmt: skip
    parser.add_argument("--tasks", type=int, nargs="+", default=list(DEFAULT_TASKS))
    parser.add_argument("--kinds", nargs="+", choices=list(MAKERS), default=["template", "free"])
    parser.add_argument("--quick", action="store_true", help="seeds 0 and 10, 600 tasks")
    parser.add_argument(
        "--repeat", type=int, default=1, help="time each side this many times, keep the best"
    )
    parser.add_argument(
        "--alternatives", action="store_true", help="every filter_by, on tuning seeds"
    )
    parser.add_argument(
        "--filter-by", default="auto", help="labelaudit's filter_by setting (default: auto)"
    )
    parser.add_argument(
        "--blas-threads", type=int, default=1, help="BLAS threads per side (0: its default)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.tasks = [0, 10], [600]

    import cleanlab
    import sklearn

    for module in WARM_IMPORTS:
        importlib.import_module(module)
    print(
        f"labelaudit spans vs cleanlab {cleanlab.__version__} token-classification recipe; "
        f"scikit-learn {sklearn.__version__}, python {platform.python_version()}, "
        f"{FOLDS} folds, {NOISE_RATE:.0%} of tasks changed ({', '.join(NOISE_KINDS)}), "
        f"seeds {args.seeds}, tasks {args.tasks}, best time of {args.repeat}, "
        f"BLAS threads {args.blas_threads or 'default'}, labelaudit filter_by {args.filter_by}; "
        f"load average {os.getloadavg()[0]:.1f}\n",
        flush=True,
    )
    warm_up()
    tables: dict[str, list[str]] = {}
    for seed in args.seeds:
        for kind in args.kinds:
            for n in args.tasks:
                run_case(MAKERS[kind](n, seed=seed), args, tables)
    report(tables, args.alternatives)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (1 min), {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
