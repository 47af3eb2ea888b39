"""Reads that follow the change: a re-audit built from the last audit's tasks and the
annotation webhooks received since, instead of reading the whole project again.

An audit that read the project keeps its tasks (:class:`KeptTasks`, ``tasks.pkl`` in its
version's folder: each task's id, data and annotations, as much as the export reads) with
the change log's position when it began reading. Every webhook appends an entry to the
project's change log in the store (:func:`log_entry`): an annotation created or updated
(the annotation and its task's data, as Label Studio sends them), annotations deleted (ids),
or ``full`` for anything a kept copy cannot follow (a task created or deleted, a config
change, START_TRAINING, the sweep, a manual audit, a malformed or oversized message). The
next audit applies the entries from the kept position on (:func:`apply`) and builds its
dataset exactly as a full read would (``dataset_from_tasks``); when anything is missing
(no kept tasks, entries dropped from the log, a ``full`` entry, an annotation of a task it
does not know) it reads the whole project, which reconciles.

Applying is idempotent per annotation (the latest state wins, a delete of an unknown id is
nothing), so entries logged while a full read was under way are safe to apply again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backend.labelstudio.dataset import AuditDataset, TaskKind

__all__ = ["CHANGES_KEPT", "TASKS_FILE", "KeptTasks", "apply", "full_entry", "log_entry"]

#: The kept tasks of an audit, in its version's folder.
TASKS_FILE = "tasks.pkl"
#: Change-log entries a project keeps (older ones dropped: the next audit reads everything).
CHANGES_KEPT = 20_000
#: An annotation larger than this (as JSON) is not logged: the next audit reads everything.
MAX_ENTRY_BYTES = 64 * 1024
#: What of an annotation the export reads (``dataset_from_tasks``).
ANNOTATION_FIELDS = ("id", "result", "was_cancelled", "ground_truth", "completed_by")


def is_id(value: Any) -> bool:
    """Whether ``value`` is a Label Studio id (a positive int, not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def slim_annotation(annotation: Any) -> Any:
    """The fields of an annotation the export reads (anything else is left as it is)."""
    if not isinstance(annotation, dict):
        return annotation
    return {k: annotation[k] for k in ANNOTATION_FIELDS if k in annotation}


def slim_task(task: Any) -> Any:
    """A task as the kept copy holds it: id, data and the annotations' read fields."""
    if not isinstance(task, dict):
        return task
    out = {k: task[k] for k in ("id", "data") if k in task}
    annotations = task.get("annotations")
    out["annotations"] = (
        [slim_annotation(a) for a in annotations] if isinstance(annotations, list) else annotations
    )
    return out


def full_entry(why: str) -> dict[str, Any]:
    """The entry of an event a kept copy cannot follow: the next audit reads everything."""
    return {"kind": "full", "why": why}


def log_entry(action: str, body: Mapping[str, Any], *, at: float | None = None) -> dict[str, Any]:
    """The change-log entry of an annotation webhook (``full`` when it cannot be applied);
    ``at``: when it arrived (``time.time()``), kept in an upsert or delete entry for instant
    feedback (backend.service.instant)."""
    stamp = {} if at is None else {"at": at}
    if action == "ANNOTATIONS_DELETED":
        listed = body.get("annotations")
        ids = (
            [a.get("id") for a in listed if isinstance(a, dict)] if isinstance(listed, list) else []
        )
        if not ids or not all(is_id(i) for i in ids):
            return full_entry(f"{action} without annotation ids")
        return {"kind": "delete", "annotations": ids, **stamp}
    if action not in {"ANNOTATION_CREATED", "ANNOTATION_UPDATED"}:
        return full_entry(action)
    annotation = body.get("annotation")
    if not isinstance(annotation, dict) or not is_id(annotation.get("id")):
        return full_entry(f"{action} without an annotation id")
    task = annotation.get("task")
    task = task.get("id") if isinstance(task, dict) else task
    payload_task = body.get("task")
    if not is_id(task) and isinstance(payload_task, dict):
        task = payload_task.get("id")
    if not is_id(task):
        return full_entry(f"{action} without a task id")
    entry: dict[str, Any] = {
        "kind": "upsert",
        "task": task,
        "annotation": slim_annotation(annotation),
        **stamp,
    }
    if isinstance(payload_task, dict) and payload_task.get("id") == task:
        data = payload_task.get("data")
        if isinstance(data, dict):
            entry["data"] = data
    if len(json.dumps(entry, default=str)) > MAX_ENTRY_BYTES:
        return full_entry(f"{action} larger than {MAX_ENTRY_BYTES} bytes")
    return entry


@dataclass
class KeptTasks:
    """An audit's tasks as read (``tasks``: slim task dicts in the order read) and what a
    dataset needs beyond them; ``position`` is the change log's end when reading began."""

    kind: TaskKind
    source: str
    title: str
    annotator_emails: dict[str, str]
    position: int
    tasks: list[Any] = field(default_factory=list)

    def dataset(self) -> AuditDataset:
        """The dataset of these tasks, built as a full read builds it."""
        from backend.labelstudio.export import dataset_from_tasks

        dataset = dataset_from_tasks(self.tasks, self.kind, source=self.source, title=self.title)
        known = self.annotator_emails
        dataset.annotator_emails = {k: known[k] for k in set(dataset.annotators) if k in known}
        return dataset


def kept_of(dataset: AuditDataset, tasks: Iterable[Any], position: int) -> KeptTasks:
    """What a full read keeps: its dataset's config and names, and the tasks it read."""
    import dataclasses

    from backend.tasktypes.multi_annotator import MultiAnnotator
    from backend.tasktypes.single_choice import SingleChoice

    kind = dataset.kind
    if kind.task_type == MultiAnnotator.name:  # the export chose it; it chooses again
        kind = dataclasses.replace(kind, task_type=SingleChoice.name)
    return KeptTasks(
        kind=kind,
        source=dataset.source,
        title=dataset.title,
        annotator_emails=dict(dataset.annotator_emails),
        position=position,
        tasks=[_with_data(t, t.get("data"), kind) if isinstance(t, dict) else t for t in tasks],
    )


def _with_data(task: dict[str, Any], data: Any, kind: TaskKind) -> dict[str, Any]:
    """``task`` holding only the fields of ``data`` its input type reads (``kind.data_keys``:
    an input type's reader reads no other), so the kept copy is as big as the audit's
    inputs, not the project's task data."""
    if isinstance(data, dict):
        data = {k: data[k] for k in kind.data_keys if k in data}
    return {**task, "data": data} if "data" in task or data is not None else task


def apply(kept: KeptTasks, entries: Iterable[Mapping[str, Any]], position: int) -> KeptTasks | None:
    """``kept`` with ``entries`` applied, at ``position``; None if one cannot be applied."""
    tasks = list(kept.tasks)  # a task changed is copied first (_replace)
    by_id = {t["id"]: i for i, t in enumerate(tasks) if isinstance(t, dict) and is_id(t.get("id"))}
    holder: dict[int, int] = {}  # annotation id -> index of its task
    for index, task in enumerate(tasks):
        for a in task.get("annotations") or [] if isinstance(task, dict) else []:
            if isinstance(a, dict) and is_id(a.get("id")):
                holder[a["id"]] = index
    for entry in entries:
        kind = entry.get("kind")
        if kind == "delete":
            for ident in entry.get("annotations") or []:
                held = holder.pop(ident, None)
                if held is not None:
                    _replace(tasks, held, ident, None)
        elif kind == "upsert":
            found = by_id.get(entry.get("task"))
            annotation = entry.get("annotation")
            if found is None or not isinstance(annotation, dict):
                return None  # a task this copy does not know (created since it was read)
            index, ident = found, annotation["id"]
            previous = holder.get(ident)
            if previous is not None and previous != index:
                _replace(tasks, previous, ident, None)
            _replace(tasks, index, ident, annotation)
            holder[ident] = index
            if isinstance(entry.get("data"), dict):
                tasks[index] = _with_data(tasks[index], entry["data"], kept.kind)
        else:
            return None
    return KeptTasks(kept.kind, kept.source, kept.title, kept.annotator_emails, position, tasks)


def _replace(tasks: list[Any], index: int, ident: int, annotation: dict[str, Any] | None) -> None:
    """Put ``annotation`` (None: nothing) in place of annotation ``ident`` of task ``index``
    (a new one goes last, as Label Studio lists annotations oldest first)."""
    task = tasks[index] = dict(tasks[index])
    listed = task.get("annotations")
    listed = list(listed) if isinstance(listed, list) else []
    at = next(
        (i for i, a in enumerate(listed) if isinstance(a, dict) and a.get("id") == ident), None
    )
    if annotation is None:
        if at is not None:
            del listed[at]
    elif at is None:
        listed.append(annotation)
    else:
        listed[at] = annotation
    task["annotations"] = listed
