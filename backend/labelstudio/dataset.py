"""The dataset an audit works on: one row per usable annotation, from any source."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


class UnsupportedConfig(ValueError):
    """The project's label config is not one labelaudit can audit (names tag and why)."""


def type_name(value: Any) -> str:
    """Return a JSON-ish name of ``value``'s type, for Malformed and Skipped messages."""
    return "null" if value is None else type(value).__name__


def is_number(value: Any) -> bool:
    """Whether ``value`` is an int or float (not a bool), as JSON task data holds numbers."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Malformed(ValueError):
    """A task's data or an annotation's result that cannot be used; the message says why.

    Input types (reading task data) and task types (reading annotation results) raise it;
    the export turns it into a :class:`Skipped` and goes on with the rest.
    """


@dataclass(frozen=True)
class TaskKind:
    """What the label config asks annotators to do, as far as the audit cares.

    ``task_type`` and ``input_type`` name the plug-ins that handle it
    (:mod:`backend.tasktypes`, :mod:`backend.inputs`); ``control``/``object_name`` are the
    ``from_name``/``to_name`` a prediction must carry; ``data_keys`` are the task-data
    fields holding the input (several for tabular); ``classes`` are the control's values in
    label-config order (label ``i`` is ``classes[i]``).
    """

    control: str
    object_name: str
    input_type: str
    data_keys: tuple[str, ...]
    classes: tuple[str, ...]
    task_type: str = "single_choice"


@dataclass(frozen=True)
class Skipped:
    """A task or annotation left out of the audit, and why (counted in the summary)."""

    task_id: int | None
    annotation_id: int | None
    reason: str


@dataclass
class AuditDataset:
    """Rows are annotations; every per-row array has the same length.

    ``inputs[i]`` is the raw input of row i as the input type read it from task data: a
    string for text, a URL or path for images, a list of floats for numeric and embedding
    inputs. ``labels[i]`` is row i's label as the task type encodes it (single choice: an
    index into ``kind.classes``).
    ``unlabeled`` maps task id to the raw input of tasks with no usable annotation (they
    get predictions, not audits). ``annotators[i]`` is a stable key of who made row i (the
    Label Studio user id when known); ``annotator_emails`` maps such keys to the user's
    email where it is known. ``title`` is what a report calls the dataset: the project's
    title, or the export file's name ('' when unknown).
    """

    kind: TaskKind
    task_ids: np.ndarray  # int64
    annotation_ids: np.ndarray  # int64, -1 when the row has no annotation id
    annotators: list[str]
    labels: np.ndarray  # as the task type encodes them (single choice: intp class index)
    ground_truth: np.ndarray  # bool: trusted, used for training, never flagged
    inputs: list[Any]
    unlabeled: dict[int, Any] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    source: str = ""
    title: str = ""
    annotator_emails: dict[str, str] = field(default_factory=dict)
    #: What the read itself has to say (Label Studio refused the export, ...), for notes.
    read_notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)
