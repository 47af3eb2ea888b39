"""The audit pipeline: prepare -> folds -> finish, written once and knowing no concrete type.

1. **prepare**: read every annotated row's input with its input type and featurize it (rows
   whose input cannot be read are skipped, with why); the task type checks the labels.
2. **folds**: the task type's cross-validation gives out-of-fold probabilities for every
   row; each fold is independent, so the service spreads them over workers.
3. **finish**: the task type's confident learning judges every row (flagged or not,
   suggested label, suspicion, noise matrix, health); this module adds the counts and
   timings every task type shares.

The fourth step, publishing (outputs written here, then pushed to Label Studio), is
:mod:`backend.publish`. :func:`run_audit` runs the three in this process (the CLI); the
service runs them as separate steps (:mod:`backend.service`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backend import cleaning, tasktypes
from backend.evidence import flagged_evidence
from backend.inputs import featurize
from backend.labelstudio.dataset import AuditDataset, Skipped, TaskKind
from backend.models import split_features
from backend.progress import Progress, no_progress
from backend.settings import Settings
from backend.tasktypes import NothingToAudit

__all__ = [
    "AuditResult",
    "NothingToAudit",
    "Prepared",
    "Progress",
    "finish",
    "fit_predict_fold",
    "fold_splits",
    "prepare",
    "run_audit",
    "timed",
]


@dataclass
class AuditResult:
    """Everything an audit found; rows are the audited annotations, in dataset order."""

    kind: TaskKind
    task_ids: np.ndarray
    annotation_ids: np.ndarray
    annotators: list[str]  # the email where known, else the annotator key
    inputs: list[Any]
    given: np.ndarray  # labels as the task type encodes them
    suggested: np.ndarray  # labels as the task type encodes them
    suspicion: np.ndarray
    is_label_issue: np.ndarray
    ground_truth: np.ndarray
    pred_probs: np.ndarray  # (n_rows, len(kind.classes)), out of fold
    noise_matrix: np.ndarray  # P(given = i | true = j), over kind.classes
    health: dict[str, Any]
    skipped: list[Skipped]
    unlabeled: dict[int, Any]
    counts: dict[str, int]
    timings: dict[str, float]  # seconds per step, in the order they ran
    notes: list[str] = field(default_factory=list)
    #: The task type's own tables (``TaskType.tables``): name -> rows.
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Per row, why it is flagged (the model's top labels, similar tasks); "" if not.
    evidence: list[str] = field(default_factory=list)
    #: What people did with the flags, as the service counts them (backend.verdicts.counts);
    #: None for an audit that keeps no verdicts (the CLI's).
    verdicts: dict[str, Any] | None = None
    #: Per row, P(the suggestion is the true label); NaN where the task type cannot say.
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: What ``--clean`` wrote (backend.cleaning.Cleaned.summary); None when not asked.
    cleaned: dict[str, Any] | None = None
    #: The cleaning plan (``cleaning.json``), made once by :func:`finish`.
    cleaning_plan: cleaning.Plan | None = None

    def label_text(self, label: Any) -> str:
        """Return how issues.csv and the report write a label of this result."""
        return tasktypes.get(self.kind.task_type).label_text(self.kind, label)

    def ranked(self) -> np.ndarray:
        """Row indices, most suspicious first (flagged rows before the rest)."""
        return np.lexsort((-self.suspicion, ~self.is_label_issue))

    def task_verdicts(self) -> list[dict[str, Any]]:
        """One verdict per audited task: suggested label, suspicion, flagged; most suspicious first.

        The task's suspicion is the highest of its annotations'; its suggestion comes from
        its most suspicious flagged annotation (else its most suspicious one), ``row``;
        ``suggested`` is the label as the task type encodes it, ``suggested_label`` its text.
        """
        verdicts: dict[int, dict[str, Any]] = {}
        for row in self.ranked():
            task = int(self.task_ids[row])
            entry = verdicts.get(task)
            if entry is None:
                verdicts[task] = {
                    "task_id": task,
                    "row": int(row),  # the annotation the suggestion comes from
                    "suggested": self.suggested[row],
                    "suggested_label": self.label_text(self.suggested[row]),
                    "suspicion": float(self.suspicion[row]),
                    "is_label_issue": bool(self.is_label_issue[row]),
                }
            else:
                # The most suspicious annotation sets the score, flagged or not.
                entry["suspicion"] = max(entry["suspicion"], float(self.suspicion[row]))
                entry["is_label_issue"] = entry["is_label_issue"] or bool(self.is_label_issue[row])
        return sorted(verdicts.values(), key=lambda v: (not v["is_label_issue"], -v["suspicion"]))

    def flagged_task_ids(self) -> list[int]:
        """Ids of tasks with at least one flagged annotation, most suspicious first."""
        return [v["task_id"] for v in self.task_verdicts() if v["is_label_issue"]]

    def flagged_annotations(self) -> dict[int, int]:
        """Flagged task id -> id of its most suspicious flagged annotation, tasks in tab order.

        -1 stands for an annotation without an id (an export may lack them).
        """
        first: dict[int, int] = {}
        for row in self.ranked():
            if self.is_label_issue[row]:
                first.setdefault(int(self.task_ids[row]), int(self.annotation_ids[row]))
        return {task: first[task] for task in self.flagged_task_ids()}


@contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    """Record the seconds the block takes as ``timings[name]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = round(time.perf_counter() - start, 3)


@dataclass
class Prepared:
    """A featurized dataset, ready for cross-validation (picklable, so workers can share it).

    ``rows`` index the dataset rows whose input could be featurized; ``X``, ``labels`` and
    ``groups`` (task ids) are aligned with them.
    """

    dataset: AuditDataset
    rows: np.ndarray
    X: Any
    labels: np.ndarray
    groups: np.ndarray
    skipped: list[Skipped]
    timings: dict[str, float]
    features: Any = None  # the fitted feature steps that made X from the inputs, or None

    @property
    def num_classes(self) -> int:
        return len(self.dataset.kind.classes)


def prepare(
    dataset: AuditDataset,
    settings: Settings,
    *,
    fetch: Callable[[str], bytes] | None = None,
    progress: Progress = no_progress,
) -> Prepared:
    """Featurize the annotated rows; rows that fail are skipped with their reason.

    Raises
    ------
    NothingToAudit
        When no row can be audited, or the usable rows hold fewer than two classes.
    """
    timings: dict[str, float] = {}
    kind = dataset.kind
    skipped = list(dataset.skipped)
    if len(dataset) == 0:
        raise NothingToAudit(
            f"no usable annotations to audit ({len(skipped)} skipped, "
            f"{len(dataset.unlabeled)} tasks without annotations)"
        )
    # A task's annotations share its input: read and featurize each task once (several
    # annotators would otherwise fetch an image or weigh a text three times).
    _, first, task_of = np.unique(dataset.task_ids, return_index=True, return_inverse=True)
    with timed(timings, "features"):
        X_tasks, task_ok, failures = featurize(
            kind,
            [dataset.inputs[i] for i in first],
            settings,
            fetch=fetch,
            progress=lambda done, total: progress("features", done, total),
        )
    for task, reason in failures:
        for row in np.flatnonzero(task_of == task):
            skipped.append(
                Skipped(int(dataset.task_ids[row]), _annotation_id(dataset, int(row)), reason)
            )
    rows = np.flatnonzero(task_ok[task_of])
    if len(rows) == 0:
        raise NothingToAudit(f"no annotated task has a usable input ({len(failures)} failed)")
    labels = dataset.labels[rows]
    task_type = tasktypes.get(kind.task_type)
    task_type.check(labels, kind)
    usable = np.flatnonzero(task_ok)
    X_tasks = X_tasks[usable] if len(usable) < len(task_ok) else X_tasks
    # The model's feature steps learn nothing from labels: fitted once here on every
    # audited task's input, so each fold fits only the classifier (timed with "features").
    started = time.perf_counter()
    features, _ = split_features(task_type.model(kind, settings, n_samples=len(usable)))
    if features is not None:
        X_tasks = features.fit_transform(X_tasks)
    # Each audited row takes its task's features.
    at = np.searchsorted(usable, task_of[rows])
    X = X_tasks if np.array_equal(at, np.arange(len(at))) else X_tasks[at]
    timings["features"] = round(timings["features"] + time.perf_counter() - started, 3)
    return Prepared(
        dataset=dataset,
        rows=rows,
        X=X,
        labels=labels,
        groups=dataset.task_ids[rows],
        skipped=skipped,
        timings=timings,
        features=features,
    )


def fold_splits(
    prepared: Prepared, *, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The task type's folds: (train, test) row indices, a task's rows in one fold, seeded."""
    task_type = tasktypes.get(prepared.dataset.kind.task_type)
    return task_type.fold_splits(prepared, folds=folds, seed=seed)


def fit_predict_fold(
    prepared: Prepared, settings: Settings, train: np.ndarray, test: np.ndarray
) -> np.ndarray:
    """Fit a fresh model on ``train``; return the probabilities of ``test`` (a column per class)."""
    task_type = tasktypes.get(prepared.dataset.kind.task_type)
    return task_type.fit_predict_fold(prepared, settings, train, test)


def finish(prepared: Prepared, probs: np.ndarray, settings: Settings) -> AuditResult:
    """Judge every row on the out-of-fold ``probs`` (rows aligned with ``prepared``)."""
    timings = dict(prepared.timings)
    dataset, kind = prepared.dataset, prepared.dataset.kind
    emails = dataset.annotator_emails
    groups, rows = prepared.groups, prepared.rows
    task_type = tasktypes.get(kind.task_type)
    with timed(timings, "confident_learning"):
        judged = task_type.judge(prepared, probs, settings)
        trusted = dataset.ground_truth[rows]
        issues = judged.is_label_issue & ~trusted
    with timed(timings, "evidence"):
        evidence = flagged_evidence(
            prepared.X,
            probs,
            groups,
            judged.given,
            issues,
            kind.classes,
            lambda label: task_type.label_text(kind, label),
        )

    annotated_tasks = set(dataset.task_ids.tolist())
    counts = {
        "tasks": len(annotated_tasks | set(dataset.unlabeled)),
        "annotated_tasks": len(annotated_tasks),
        "unlabeled_tasks": len(dataset.unlabeled),
        "annotations": len(dataset),
        "audited_annotations": len(rows),
        "ground_truth_annotations": int(trusted.sum()),
        "flagged_annotations": int(issues.sum()),
        "flagged_tasks": len(set(groups[issues].tolist())),
        "skipped": len(prepared.skipped),
        "classes": prepared.num_classes,
        "classes_present": len(task_type.present(prepared.labels)),
    }
    result = AuditResult(
        kind=kind,
        task_ids=groups,
        annotation_ids=dataset.annotation_ids[rows],
        annotators=[emails.get(dataset.annotators[i], dataset.annotators[i]) for i in rows],
        inputs=[dataset.inputs[i] for i in rows],
        given=judged.given,
        suggested=judged.suggested,
        suspicion=judged.suspicion,
        is_label_issue=issues,
        ground_truth=trusted,
        pred_probs=probs,
        noise_matrix=judged.noise_matrix,
        health=_health_dict(judged.health),
        skipped=prepared.skipped,
        unlabeled=dict(dataset.unlabeled),
        counts=counts,
        timings=timings,
        notes=judged.notes,
        tables=judged.tables,
        evidence=evidence,
        confidence=(
            judged.confidence if judged.confidence is not None else np.full(len(rows), np.nan)
        ),
    )
    result.cleaning_plan = cleaning.plan(result, settings.relabel_min_confidence)
    return result


def run_audit(
    dataset: AuditDataset,
    settings: Settings,
    *,
    fetch: Callable[[str], bytes] | None = None,
    progress: Progress = no_progress,
) -> AuditResult:
    """Audit ``dataset`` in this process: prepare, every fold, then confident learning.

    Raises
    ------
    NothingToAudit
        When no row can be audited, or the usable rows hold fewer than two classes.
    """
    prepared = prepare(dataset, settings, fetch=fetch, progress=progress)
    with timed(prepared.timings, "cross_validation"):
        splits = fold_splits(prepared, folds=settings.folds, seed=settings.seed)
        task_type = tasktypes.get(prepared.dataset.kind.task_type)
        probs = task_type.empty_probs(len(prepared.labels), prepared.num_classes)
        for done, (train, test) in enumerate(splits):
            probs[test] = fit_predict_fold(prepared, settings, train, test)
            progress("cross-validation", done + 1, len(splits))
    return finish(prepared, probs, settings)


def _annotation_id(dataset: AuditDataset, row: int) -> int | None:
    value = int(dataset.annotation_ids[row])
    return None if value < 0 else value


def _health_dict(health: dict[str, Any]) -> dict[str, Any]:
    """core.dataset.health_summary's answer with DataFrames as lists of records."""
    out: dict[str, Any] = {}
    for key, value in health.items():
        if hasattr(value, "to_dict"):
            out[key] = value.to_dict(orient="records")
        elif isinstance(value, np.ndarray):
            out[key] = value.tolist()
        elif isinstance(value, np.generic):
            out[key] = value.item()
        else:
            out[key] = value
    return out
