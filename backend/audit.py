"""The audit: from a dataset of annotations to flagged annotations, suggestions and health.

1. Featurize every annotated row (rows whose input cannot be read are skipped, with why).
2. Out-of-fold predicted probabilities: stratified K folds over *tasks* (all annotations of
   a task fall in the same fold, so a task's input never trains the model that judges it),
   seeded; ground-truth annotations train but are never judged. A class with fewer
   examples than folds still gets one example into every training fold.
3. Confident learning (:mod:`core`) on those probabilities: which annotations are label
   issues, the suggested label, the suspicion score, the noise matrix and the dataset's
   health.

**Suspicion** of an annotation is ``1 - p(given label)``: one minus the out-of-fold
probability the model gives to the label the annotator chose. It is in [0, 1]; 0.9 means
the model, never having seen this task, puts 90% of its belief on other labels. A task's
suspicion is the highest over its annotations. Whether an annotation is *flagged*
(``is_label_issue``) is decided by ``core.filter.find_label_issues`` with the configured
``filter_by``, not by a fixed suspicion cut-off.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from backend.features import featurize, make_model
from backend.labelstudio.dataset import AuditDataset, Skipped, TaskKind
from backend.settings import Settings
from core.count import estimate_py_and_noise_matrices_from_probabilities
from core.dataset import health_summary
from core.filter import find_label_issues

#: progress(step, done, total): called as each long step advances.
Progress = Callable[[str, int, int], None]


class NothingToAudit(ValueError):
    """The dataset holds too little to audit (no annotations, a single class, ...)."""


def _no_progress(step: str, done: int, total: int) -> None:
    """Default progress callback: do nothing."""


@dataclass
class AuditResult:
    """Everything an audit found; rows are the audited annotations, in dataset order."""

    kind: TaskKind
    task_ids: np.ndarray
    annotation_ids: np.ndarray
    annotators: list[str]  # the email where known, else the annotator key
    inputs: list[Any]
    given: np.ndarray  # index into kind.classes
    suggested: np.ndarray  # index into kind.classes
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

    def ranked(self) -> np.ndarray:
        """Row indices, most suspicious first (flagged rows before the rest)."""
        return np.lexsort((-self.suspicion, ~self.is_label_issue))

    def task_verdicts(self) -> list[dict[str, Any]]:
        """One verdict per audited task: suggested label, suspicion, flagged; most suspicious first.

        The task's suspicion and suggestion come from its most suspicious annotation.
        """
        verdicts: dict[int, dict[str, Any]] = {}
        for row in self.ranked():
            task = int(self.task_ids[row])
            entry = verdicts.get(task)
            if entry is None:
                verdicts[task] = {
                    "task_id": task,
                    "suggested_label": self.kind.classes[self.suggested[row]],
                    "suspicion": float(self.suspicion[row]),
                    "is_label_issue": bool(self.is_label_issue[row]),
                }
            elif self.is_label_issue[row]:
                entry["is_label_issue"] = True
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

    @property
    def num_classes(self) -> int:
        return len(self.dataset.kind.classes)


def prepare(
    dataset: AuditDataset,
    settings: Settings,
    *,
    fetch: Callable[[str], bytes] | None = None,
    progress: Progress = _no_progress,
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
    with timed(timings, "features"):
        X, ok, failures = featurize(
            kind,
            dataset.inputs,
            settings,
            fetch=fetch,
            progress=lambda done, total: progress("features", done, total),
        )
    for row, reason in failures:
        skipped.append(Skipped(int(dataset.task_ids[row]), _annotation_id(dataset, row), reason))
    rows = np.flatnonzero(ok)
    if len(rows) == 0:
        raise NothingToAudit(f"no annotated task has a usable input ({len(failures)} failed)")
    labels = dataset.labels[rows].astype(np.intp)
    present = np.unique(labels)
    if len(present) < 2:
        only = kind.classes[int(present[0])]
        raise NothingToAudit(
            f"every usable annotation has the same label ({only!r}); "
            "at least two classes are needed to find wrong labels"
        )
    return Prepared(
        dataset=dataset,
        rows=rows,
        X=X[rows] if len(rows) < len(ok) else X,
        labels=labels,
        groups=dataset.task_ids[rows],
        skipped=skipped,
        timings=timings,
    )


def fold_splits(
    prepared: Prepared, *, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds over tasks (a task's annotations share a fold), seeded."""
    n_splits = max(2, min(folds, len(np.unique(prepared.groups))))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # "The least populated class in y has only 1 members": fit_predict_fold handles it.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        placeholder = np.zeros(len(prepared.labels))
        return list(splitter.split(placeholder, prepared.labels, prepared.groups))


def fit_predict_fold(
    prepared: Prepared, settings: Settings, train: np.ndarray, test: np.ndarray
) -> np.ndarray:
    """Fit a fresh model on ``train``; return ``predict_proba`` of ``test`` over all classes.

    A class missing from ``train`` borrows one held-out example of that class (cleanlab's
    rule), whose own prediction is then set to that class.
    """
    labels = prepared.labels
    missing = np.setdiff1d(np.unique(labels), labels[train])
    borrowed = {int(test[labels[test] == cls][0]): int(cls) for cls in missing}
    train_rows = np.concatenate([train, np.array(sorted(borrowed), dtype=train.dtype)])
    model = make_model(prepared.dataset.kind, settings, n_samples=len(labels))
    model.fit(prepared.X[train_rows], labels[train_rows])
    probs = np.zeros((len(test), prepared.num_classes))
    probs[:, model.classes_] = model.predict_proba(prepared.X[test])
    for offset, row in enumerate(test.tolist()):
        if row in borrowed:
            probs[offset] = 0.0
            probs[offset, borrowed[row]] = 1.0
    return probs


def finish(prepared: Prepared, probs: np.ndarray, settings: Settings) -> AuditResult:
    """Confident learning on the out-of-fold ``probs`` (rows aligned with ``prepared``)."""
    timings = dict(prepared.timings)
    notes: list[str] = []
    dataset, kind = prepared.dataset, prepared.dataset.kind
    emails = dataset.annotator_emails
    labels, groups, rows = prepared.labels, prepared.groups, prepared.rows
    present = np.unique(labels)
    num_classes = prepared.num_classes
    with timed(timings, "confident_learning"):
        # core works over the classes present; classes nobody chose get no column.
        local = np.searchsorted(present, labels)
        local_probs = probs[:, present]
        local_probs = local_probs / np.clip(local_probs.sum(axis=1, keepdims=True), 1e-12, None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            issues = find_label_issues(local, local_probs, filter_by=settings.filter_by)
            _, noise_local, _, _ = estimate_py_and_noise_matrices_from_probabilities(
                local, local_probs
            )
            health = health_summary(
                local,
                local_probs,
                class_names=[kind.classes[c] for c in present],
                verbose=False,
            )
        notes.extend(sorted({str(w.message) for w in caught}))
        trusted = dataset.ground_truth[rows]
        issues &= ~trusted
        suspicion = 1.0 - local_probs[np.arange(len(local)), local]
        suggested = present[local_probs.argmax(axis=1)]
        noise_matrix = np.zeros((num_classes, num_classes))
        noise_matrix[np.ix_(present, present)] = noise_local

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
        "classes": num_classes,
        "classes_present": len(present),
    }
    return AuditResult(
        kind=kind,
        task_ids=groups,
        annotation_ids=dataset.annotation_ids[rows],
        annotators=[emails.get(dataset.annotators[i], dataset.annotators[i]) for i in rows],
        inputs=[dataset.inputs[i] for i in rows],
        given=labels,
        suggested=suggested,
        suspicion=suspicion,
        is_label_issue=issues,
        ground_truth=trusted,
        pred_probs=probs,
        noise_matrix=noise_matrix,
        health=_health_dict(health),
        skipped=prepared.skipped,
        unlabeled=dict(dataset.unlabeled),
        counts=counts,
        timings=timings,
        notes=notes,
    )


def run_audit(
    dataset: AuditDataset,
    settings: Settings,
    *,
    fetch: Callable[[str], bytes] | None = None,
    progress: Progress = _no_progress,
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
        probs = np.zeros((len(prepared.labels), prepared.num_classes))
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
