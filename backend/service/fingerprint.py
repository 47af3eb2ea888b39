"""The fingerprint of what an audit depends on, so the sweep can tell a project changed."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from backend.labelstudio.dataset import AuditDataset


def dataset_fingerprint(dataset: AuditDataset) -> str:
    """Hash what an audit of ``dataset`` depends on: the task kind and every annotation."""
    kind = dataset.kind
    digest = hashlib.sha256()
    head = [
        kind.task_type,
        kind.control,
        kind.object_name,
        kind.input_type,
        list(kind.data_keys),
        list(kind.classes),
    ]
    digest.update(json.dumps(head).encode())
    order = np.lexsort((dataset.annotation_ids, dataset.task_ids))
    for column in (dataset.task_ids, dataset.annotation_ids, dataset.ground_truth):
        digest.update(np.asarray(column)[order].astype(np.int64).tobytes())
    labels = np.asarray(dataset.labels)[order]
    if labels.dtype == object:  # spans: tuples of Span, hashed as their text form
        digest.update(json.dumps([repr(label) for label in labels]).encode())
    else:
        digest.update(labels.astype(np.int64).tobytes())
    digest.update(json.dumps([dataset.inputs[i] for i in order], default=str).encode())
    return digest.hexdigest()
