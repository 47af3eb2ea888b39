"""What instant feedback works from: the rows an audit kept (:class:`InstantData`, the
version's ``instant.pkl``) and the annotation webhooks, as the small messages that go
through the broker (:func:`event_message`, :func:`changes_of`). :mod:`backend.service.instant`
judges and shows them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from backend.labelstudio.dataset import TaskKind
    from backend.pipeline import AuditResult

__all__ = [
    "INSTANT_ACTIONS",
    "INSTANT_FILE",
    "Change",
    "InstantData",
    "changes_of",
    "event_message",
]

#: Webhook actions judged at once (ANNOTATIONS_CREATED, a bulk import, is left to the audit).
INSTANT_ACTIONS = frozenset({"ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"})
#: What an audit keeps for instant updates, in its version's directory.
INSTANT_FILE = "instant.pkl"
#: Annotations deleted in one webhook that are judged again at once (more: the audit).
MAX_DELETED = 100
#: An annotation result longer than this (as JSON) is left to the audit, not sent through
#: the broker (a single choice takes ~150 bytes).
MAX_RESULT_BYTES = 64 * 1024


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
    """One annotation event as the webhook hands it over (small JSON through the broker)."""

    annotation: int
    task: int | None
    result: Any  # the annotation's result (a list), None when deleted
    ground_truth: bool = False
    deleted: bool = False


def event_message(action: str, body: Mapping[str, Any], at: float) -> dict[str, Any] | None:
    """The message an annotation webhook becomes (None: nothing to judge at once)."""
    if action not in INSTANT_ACTIONS:
        return None
    changes: list[dict[str, Any]] = []
    if action == "ANNOTATIONS_DELETED":
        listed = body.get("annotations")
        for item in listed if isinstance(listed, list) else []:
            ident = item.get("id") if isinstance(item, dict) else None
            if _is_id(ident):
                changes.append({"annotation": ident, "task": None, "deleted": True})
        changes = changes[:MAX_DELETED]
    else:
        annotation = body.get("annotation")
        if not isinstance(annotation, dict) or not _is_id(annotation.get("id")):
            return None
        task = annotation.get("task")
        if isinstance(task, dict):
            task = task.get("id")
        if not _is_id(task):
            payload_task = body.get("task")
            task = payload_task.get("id") if isinstance(payload_task, dict) else None
        cancelled = bool(annotation.get("was_cancelled"))
        if len(json.dumps(annotation.get("result"), default=str)) > MAX_RESULT_BYTES:
            return None
        changes.append(
            {
                "annotation": annotation["id"],
                "task": task if _is_id(task) else None,
                "result": None if cancelled else annotation.get("result"),
                "ground_truth": bool(annotation.get("ground_truth")),
                "deleted": cancelled,  # a cancelled (skipped) annotation is not audited
            }
        )
    if not changes:
        return None
    return {"action": action, "at": at, "changes": changes}


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def changes_of(message: Mapping[str, Any]) -> tuple[float, list[Change]]:
    """The time and changes of a message from :func:`event_message`."""
    at = float(message.get("at") or 0.0)
    changes = [
        Change(
            annotation=int(item["annotation"]),
            task=item.get("task"),
            result=item.get("result"),
            ground_truth=bool(item.get("ground_truth")),
            deleted=bool(item.get("deleted")),
        )
        for item in message.get("changes") or []
    ]
    return at, changes
