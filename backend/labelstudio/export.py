"""Label Studio tasks (a JSON export, or tasks read through the API) -> AuditDataset.

One row per usable annotation. A single-choice project where enough tasks were labelled by
two or more people (10% of the tasks, 20 at least; ground truth set apart) becomes a
``multi_annotator`` one (consensus, annotator quality). Cancelled ("skipped") annotations
are left out, and so is anything malformed; each leaves a :class:`Skipped` saying why,
and the rest goes on.
A task's input is read by its input type (:mod:`backend.inputs`), an annotation's label by
the task type (:mod:`backend.tasktypes`); this module only walks tasks and annotations.

Ground truth: Label Studio 1.23 stores every annotation imported with tasks as
``ground_truth: true`` unless the import says otherwise, so a project whose labels were
imported has nothing but "ground truth", and trusting it would leave nothing to audit.
By default (``trust_ground_truth=None``) the flag is honoured only when it is a choice:
when some usable annotations carry it and others do not.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from backend import inputs as inputs_registry
from backend import tasktypes
from backend.labelstudio.config import infer_task_kind, parse_label_config
from backend.labelstudio.dataset import AuditDataset, Malformed, Skipped, TaskKind, type_name
from backend.tasktypes.multi_annotator import MultiAnnotator, has_several_annotators
from backend.tasktypes.single_choice import SingleChoice


def _as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _annotator(annotation: dict[str, Any]) -> str:
    """Return a stable annotator key: the user id if known, else the email, else 'unknown'."""
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        user_id = _as_int(who.get("id"))
        if user_id is not None:
            return str(user_id)
        email = who.get("email")
        return str(email) if email else "unknown"
    user_id = _as_int(who)
    if user_id is not None:
        return str(user_id)
    return str(who) if isinstance(who, str) and who else "unknown"


def _email(annotation: dict[str, Any]) -> str | None:
    """Return the annotator's email when the annotation carries it (``completed_by`` dict)."""
    who = annotation.get("completed_by")
    email = who.get("email") if isinstance(who, dict) else None
    return email if isinstance(email, str) and email else None


def dataset_from_tasks(
    tasks: Iterable[dict],
    kind: TaskKind,
    *,
    source: str,
    title: str = "",
    trust_ground_truth: bool | None = None,
) -> AuditDataset:
    """Build the AuditDataset of ``tasks`` (Label Studio task dicts) for ``kind``.

    ``tasks`` is walked once, so it may be a generator: a project read page by page is
    never held whole (only each task's input and labels are kept).
    """
    if isinstance(tasks, (str, bytes, dict)) or not isinstance(tasks, Iterable):
        raise TypeError(
            f"tasks must be a list (or iterable) of task dicts; got {type(tasks).__name__}"
        )
    read_input = inputs_registry.get(kind.input_type).reader(kind.data_keys)
    task_type = tasktypes.get(kind.task_type)
    task_ids: list[int] = []
    annotation_ids: list[int] = []
    annotators: list[str] = []
    emails: dict[str, str] = {}
    labels: list[Any] = []
    ground_truth: list[bool] = []
    inputs: list[Any] = []
    unlabeled: dict[int, Any] = {}
    skipped: list[Skipped] = []
    seen_tasks: set[int] = set()

    for position, task in enumerate(tasks):
        if not isinstance(task, dict):
            skipped.append(
                Skipped(None, None, f"item {position} is {type_name(task)}, not a task object")
            )
            continue
        task_id = _as_int(task.get("id"))
        if task_id is None:
            skipped.append(Skipped(None, None, f"item {position} has no integer task id"))
            continue
        if task_id in seen_tasks:
            skipped.append(Skipped(task_id, None, "duplicate task id"))
            continue
        seen_tasks.add(task_id)
        data = task.get("data")
        if not isinstance(data, dict):
            skipped.append(
                Skipped(task_id, None, f"task data must be an object; got {type_name(data)}")
            )
            continue
        try:
            value = read_input(data)
        except Malformed as bad:
            skipped.append(Skipped(task_id, None, str(bad)))
            continue
        annotations = task.get("annotations", [])
        if annotations is None:
            annotations = []
        if not isinstance(annotations, list):
            skipped.append(
                Skipped(task_id, None, f"annotations must be a list; got {type_name(annotations)}")
            )
            continue
        used = 0
        for annotation in annotations:
            if not isinstance(annotation, dict):
                skipped.append(Skipped(task_id, None, "annotation is not an object"))
                continue
            annotation_id = _as_int(annotation.get("id"))
            if annotation.get("was_cancelled"):
                skipped.append(
                    Skipped(task_id, annotation_id, "annotation was cancelled (skipped)")
                )
                continue
            try:
                label = task_type.read_label(annotation.get("result"), kind)
            except Malformed as bad:
                skipped.append(Skipped(task_id, annotation_id, str(bad)))
                continue
            task_ids.append(task_id)
            annotation_ids.append(-1 if annotation_id is None else annotation_id)
            annotators.append(_annotator(annotation))
            email = _email(annotation)
            if email is not None and email != annotators[-1]:
                emails[annotators[-1]] = email
            labels.append(label)
            ground_truth.append(bool(annotation.get("ground_truth")))
            inputs.append(value)
            used += 1
        if not used:
            unlabeled[task_id] = value

    trusted = np.asarray(ground_truth, dtype=bool)
    if trust_ground_truth is False or (trust_ground_truth is None and trusted.all()):
        trusted[:] = False  # every annotation marked: Label Studio's import default
    ids = np.asarray(task_ids, dtype=np.int64)
    if kind.task_type == SingleChoice.name and has_several_annotators(ids, annotators, trusted):
        kind = dataclasses.replace(kind, task_type=MultiAnnotator.name)  # several annotators
    return AuditDataset(
        kind=kind,
        task_ids=ids,
        annotation_ids=np.asarray(annotation_ids, dtype=np.int64),
        annotators=annotators,
        labels=task_type.encode(labels, kind),
        ground_truth=trusted,
        inputs=inputs,
        unlabeled=unlabeled,
        skipped=skipped,
        source=source,
        title=title,
        annotator_emails=emails,
    )


def read_export(path: str | Path) -> list[dict]:
    """Read a Label Studio JSON export file: a JSON list of task objects."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ValueError(f"cannot read export {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"export {path} is not UTF-8 text (expected Label Studio JSON)") from None
    try:
        tasks = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"export {path} is not valid JSON ({err.msg} at line {err.lineno} column {err.colno}); "
            "export the project as JSON from Label Studio"
        ) from None
    if not isinstance(tasks, list):
        raise ValueError(
            f"export {path} must be a JSON list of tasks (Label Studio's JSON export); got a "
            f"JSON {'object' if isinstance(tasks, dict) else type(tasks).__name__}"
        )
    if tasks and not any(isinstance(t, dict) and isinstance(t.get("data"), dict) for t in tasks):
        raise ValueError(
            f"export {path}: none of its {len(tasks)} items has a 'data' object; expected "
            "Label Studio's JSON export (not JSON_MIN or CSV)"
        )
    return tasks


def load_export(path: str | Path, *, label_config: str | None = None) -> AuditDataset:
    """Read a Label Studio JSON export; the task kind comes from ``label_config`` or the data."""
    tasks = read_export(path)
    kind = parse_label_config(label_config) if label_config is not None else infer_task_kind(tasks)
    return dataset_from_tasks(tasks, kind, source=str(path), title=Path(path).name)
