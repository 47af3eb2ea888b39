"""The tables of a several-annotator audit: tasks.csv and annotators.csv rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from backend.labelstudio.dataset import TaskKind
    from backend.tasktypes.multi_annotator import Tasks

TASK_COLUMNS = (
    "task_id",
    "consensus_label",
    "consensus_quality",
    "consensus_probability",
    "annotations",
    "agreement",
    "suspicion",
    "suggested_label",
    "is_label_issue",
    "needs_another_annotator",
    "activelab",
    "ground_truth",
)
ANNOTATOR_COLUMNS = (
    "annotator",
    "annotations",
    "quality",
    "agreement_with_consensus",
    "flagged",
    "worst_class",
    "ground_truth_agreement",
)


@dataclass
class Verdicts:
    """Per task (0..T-1): consensus label, its CROWDLAB quality and calibrated probability,
    whether it needs another annotator, its ActiveLab score, whether ground truth decides."""

    consensus: np.ndarray
    quality: np.ndarray
    probability: np.ndarray
    needs_more: np.ndarray
    activelab: np.ndarray
    anchored: np.ndarray


def task_rows(
    kind: TaskKind,
    tasks: Tasks,
    labels: np.ndarray,
    verdicts: Verdicts,
    suspicion: np.ndarray,
    is_issue: np.ndarray,
) -> list[dict[str, Any]]:
    """tasks.csv: one row per task, most suspicious first."""
    n, v = len(tasks), verdicts
    annotations = np.bincount(tasks.pos, minlength=n)
    agreeing = np.bincount(tasks.pos, weights=labels == v.consensus[tasks.pos], minlength=n)
    worst = np.zeros(n)
    np.maximum.at(worst, tasks.pos, suspicion)
    flagged = np.bincount(tasks.pos, weights=is_issue, minlength=n) > 0
    rows = []
    for t in np.lexsort((-worst, ~flagged)).tolist():
        label = kind.classes[int(v.consensus[t])]
        activelab = float(v.activelab[t])
        rows.append(
            {
                "task_id": int(tasks.ids[t]),
                "consensus_label": label,
                "consensus_quality": round(float(v.quality[t]), 6),
                "consensus_probability": round(float(v.probability[t]), 6),
                "annotations": int(annotations[t]),
                "agreement": round(float(agreeing[t] / annotations[t]), 6),
                "suspicion": round(float(worst[t]), 6),
                "suggested_label": label,
                "is_label_issue": bool(flagged[t]),
                "needs_another_annotator": bool(v.needs_more[t]),
                "activelab": None if np.isnan(activelab) else round(activelab, 6),
                "ground_truth": bool(v.anchored[t]),
            }
        )
    return rows


def annotator_rows(
    kind: TaskKind,
    stats: Any,
    annotators: np.ndarray,
    labels: np.ndarray,
    consensus: np.ndarray,
    is_issue: np.ndarray,
    on_truth: np.ndarray,
    emails: dict[str, str],
) -> list[dict[str, Any]]:
    """annotators.csv: one row per annotator (ground truth set apart), lowest quality first.
    ``consensus`` and ``on_truth`` (the task has ground truth) are per annotation."""
    rows = []
    for key, stat in stats.iterrows():
        mine = annotators == key
        checked = mine & on_truth
        rows.append(
            {
                "annotator": emails.get(str(key), str(key)),
                "annotations": int(mine.sum()),
                "quality": round(float(stat["annotator_quality"]), 6),
                "agreement_with_consensus": _share(labels[mine] == consensus[mine]),
                "flagged": int(is_issue[mine].sum()),
                "worst_class": kind.classes[int(stat["worst_class"])],
                "ground_truth_agreement": (
                    _share(labels[checked] == consensus[checked]) if checked.any() else None
                ),
            }
        )
    return rows


def _share(agrees: np.ndarray) -> float:
    return round(float(agrees.mean()), 6)


def annotator_noise(labels: np.ndarray, consensus: np.ndarray, num_classes: int) -> np.ndarray:
    """P(given = i | consensus = j) over every annotation (columns of absent classes 0)."""
    counts = np.zeros((num_classes, num_classes))
    np.add.at(counts, (labels, consensus), 1.0)
    totals = counts.sum(axis=0, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
