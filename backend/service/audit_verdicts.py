"""What an audit takes from people's verdicts and leaves for them and for instant feedback.

:func:`trust_confirmed` (going in: rows whose flag a person confirmed count as ground
truth), then, once the audit is judged, :func:`instant_data` (what instant updates work
from), :func:`verdict_changes` (the verdicts as the audit leaves them,
:mod:`backend.verdicts`) and :func:`audit_flags` (the review tab's list, for the store).
:class:`backend.service.steps.AuditSteps` calls them in ``begin`` and ``complete``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from backend import verdicts as verdict_rules
from backend.service.instant_data import InstantData

if TYPE_CHECKING:
    from backend.labelstudio.dataset import AuditDataset
    from backend.pipeline import AuditResult
    from backend.service.instant import Instant
    from backend.service.steps import WorkItem
    from backend.store import Store


def trust_confirmed(store: Store, project: int, dataset: AuditDataset) -> np.ndarray:
    """Mark the rows whose flag a person confirmed (and whose label is still the one
    confirmed) as trusted, like ground truth; return which rows were marked."""
    from backend import tasktypes

    marked = np.zeros(len(dataset), dtype=bool)
    if not tasktypes.get(dataset.kind.task_type).instant:
        return marked
    confirmed = verdict_rules.confirmed_labels(store.verdicts(project))
    if not confirmed:
        return marked
    for row, annotation in enumerate(dataset.annotation_ids.tolist()):
        label = confirmed.get(int(annotation))
        if label is not None and int(dataset.labels[row]) == label:
            marked[row] = not dataset.ground_truth[row]
    dataset.ground_truth = dataset.ground_truth | marked
    return marked


def instant_data(work: WorkItem, result: AuditResult) -> InstantData | None:
    """What instant updates need of this audit (None: its task type has nothing)."""
    from backend import tasktypes

    state = tasktypes.get(result.kind.task_type).instant_state(result)
    if state is None:
        return None
    rows = work.prepared.rows
    confirmed = work.confirmed[rows] if work.confirmed is not None else np.zeros(len(rows), bool)
    return InstantData.of(result, state, work.loaded_at, confirmed)


def verdict_changes(
    instant: Instant,
    project: int,
    work: WorkItem,
    result: AuditResult,
    verdicts: dict[int, dict[str, Any]],
) -> dict[int, dict[str, Any] | None]:
    """The verdict changes this audit makes (annotations changed at once after it read
    the project are left as they are: :meth:`Instant.reconcile` judges them)."""
    fresh = instant.fresh_annotations(project, work.loaded_at)
    rows = [
        verdict_rules.AuditRow(
            annotation=int(a),
            task=int(t),
            label=int(label),
            annotator=who,
            flagged=bool(flagged),
        )
        for a, t, label, who, flagged in zip(
            result.annotation_ids.tolist(),
            result.task_ids.tolist(),
            result.given.tolist(),
            result.annotators,
            result.is_label_issue.tolist(),
            strict=True,
        )
        if int(a) not in fresh
    ]
    skipped = {s.annotation_id for s in result.skipped if s.annotation_id is not None}
    return verdict_rules.after_audit(verdicts, rows, keep=skipped | fresh)


def audit_flags(result: AuditResult) -> dict[int, dict[str, Any]]:
    """The flagged tasks of an audit for the store: task id -> its flagged annotation (the
    one the tab lists), its suspicion and its place in the tab."""
    suspicion = {v["task_id"]: v["suspicion"] for v in result.task_verdicts()}
    return {
        task: {"annotation": annotation, "suspicion": suspicion[task], "rank": rank}
        for rank, (task, annotation) in enumerate(result.flagged_annotations().items())
    }
