"""What instant feedback works from: the rows an audit kept (:class:`InstantData`, the
version's ``instant.pkl``) and the annotation webhooks, as the project's change log holds
them (backend.service.changelog; :func:`changes_of`). :mod:`backend.service.instant` judges
and shows them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.service.changelog import is_id

if TYPE_CHECKING:
    from backend.labelstudio.dataset import TaskKind
    from backend.pipeline import AuditResult

__all__ = [
    "INSTANT_FILE",
    "Change",
    "InstantData",
    "changes_of",
    "judged_at_once",
]

#: What an audit keeps for instant updates, in its version's directory.
INSTANT_FILE = "instant.pkl"
#: Annotations deleted in one webhook that are judged again at once (more: the audit).
MAX_DELETED = 100


@dataclass
class InstantData:
    """What an audit keeps for judging its rows again at once (rows as in AuditResult)."""

    kind: TaskKind
    state: Any  # the task type's instant_state
    task_ids: np.ndarray
    annotation_ids: np.ndarray
    labels: np.ndarray  # the labels the audit read
    ground_truth: np.ndarray  # ground truth in Label Studio (confirmed flags are not)
    probs: np.ndarray  # out-of-fold, one column per class
    annotators: list[str]
    loaded_at: float  # when the audit began reading the project
    _by_annotation: dict[int, int] = field(default_factory=dict, repr=False)

    @classmethod
    def of(
        cls, result: AuditResult, state: Any, loaded_at: float, confirmed: np.ndarray
    ) -> InstantData:
        """The instant data of an audit's result (``confirmed``: rows it trusted because a
        person confirmed their flag, not because Label Studio calls them ground truth)."""
        trusted = np.asarray(result.ground_truth, dtype=bool)
        return cls(
            kind=result.kind,
            state=state,
            task_ids=np.asarray(result.task_ids),
            annotation_ids=np.asarray(result.annotation_ids),
            labels=np.asarray(result.given),
            ground_truth=trusted & ~np.asarray(confirmed, dtype=bool),
            probs=np.asarray(result.pred_probs),
            annotators=list(result.annotators),
            loaded_at=loaded_at,
        )

    def row_of_annotation(self, annotation: int) -> int | None:
        """The row of an annotation that is its task's only one, or None.

        A single-choice project may have a few tasks labelled by several people (too few
        to audit it as several annotators per task): a task's suspicion and flag then
        come from all its annotations, so such tasks are left to the re-audit.
        """
        if not self._by_annotation:
            ids = self.annotation_ids.tolist()
            tasks, counts = np.unique(self.task_ids, return_counts=True)
            shared = set(tasks[counts > 1].tolist())
            self._by_annotation = {
                int(a): i
                for i, a in enumerate(ids)
                if a >= 0 and int(self.task_ids[i]) not in shared
            }
        return self._by_annotation.get(int(annotation))


@dataclass(frozen=True)
class Change:
    """One annotation event as the change log holds it (backend.service.changelog)."""

    annotation: int
    task: int | None
    result: Any  # the annotation's result (a list), None when deleted
    ground_truth: bool = False
    deleted: bool = False
    at: float = 0.0  # when the webhook arrived (0: unknown, never newer than an audit)


def judged_at_once(entry: Mapping[str, Any]) -> bool:
    """Whether a change-log entry names annotations instant feedback judges (an annotation
    created, updated or deleted; not ``full``: a bulk import, tasks, the config)."""
    return entry.get("kind") in {"upsert", "delete"}


def changes_of(entries: Iterable[Mapping[str, Any]]) -> list[Change]:
    """The changes instant feedback judges in change-log entries, in order (``full`` entries
    name none; a delete names at most MAX_DELETED annotations, more are left to the audit).
    """
    changes: list[Change] = []
    for entry in entries:
        at = entry.get("at")
        at = float(at) if isinstance(at, int | float) and not isinstance(at, bool) else 0.0
        if entry.get("kind") == "delete":
            listed = entry.get("annotations")
            ids = [i for i in listed if is_id(i)] if isinstance(listed, list) else []
            changes += [Change(i, None, None, deleted=True, at=at) for i in ids[:MAX_DELETED]]
        elif entry.get("kind") == "upsert":
            annotation, task = entry.get("annotation"), entry.get("task")
            if not isinstance(annotation, dict) or not is_id(annotation.get("id")):
                continue
            cancelled = bool(annotation.get("was_cancelled"))  # skipped: not audited
            changes.append(
                Change(
                    annotation=annotation["id"],
                    task=task if is_id(task) else None,
                    result=None if cancelled else annotation.get("result"),
                    ground_truth=bool(annotation.get("ground_truth")),
                    deleted=cancelled,
                    at=at,
                )
            )
    return changes
