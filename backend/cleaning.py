"""Error correction for teams that retrain elsewhere: the project's export, cleaned.

Confident learning finds the wrong labels; its other half trains on what is left
(cleanlab's ``CleanLearning``). A team that trains outside Label Studio gets that data as
a Label Studio JSON export, ``cleaned.json``, in one of two modes:

* ``remove``: every flagged annotation is left out of its task. The task stays, with its
  other annotations; a task left with none is unlabelled, as in any export.
* ``relabel``: a flagged annotation whose suggestion is the true label with probability at
  least ``relabel_min_confidence`` (:attr:`AuditResult.confidence`, the calibrated
  posterior) gets the suggestion: its results of the audited control are replaced by
  the prediction's. Every other flagged annotation is left out, as in ``remove``. Task
  types that cannot say how sure a suggestion is (multi-label sets, spans) relabel nothing.

Only the audited control's results change; other controls' results, the annotation's other
fields and every task field stay as exported. Ground truth is never flagged, so never
changed. An annotation is changed only while it still has the label it was flagged with
(one fixed since is kept as it is now), and, in the service, only while its flag is open
(a reviewer who kept the label confirmed it). Annotations without an id cannot be told
apart and stay as they are (counted as ``unmatched``).

The audit writes its :class:`Plan` (``cleaning.json``, flagged annotations only) beside its
outputs; the cleaned export is the plan applied to the tasks: those of the export file
(``labelaudit audit --clean``) or, in the service, the project's tasks read when asked
(``GET /projects/<id>/cleaned``).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend import tasktypes
from backend.labelstudio.dataset import Malformed, TaskKind

if TYPE_CHECKING:
    from backend.pipeline import AuditResult

__all__ = ["CLEANED_FILE", "MODES", "PLAN_FILE", "Cleaned", "Decision", "Plan", "clean", "plan"]

MODES = ("remove", "relabel")
PLAN_FILE = "cleaning.json"
CLEANED_FILE = "cleaned.json"


@dataclass(frozen=True)
class Decision:
    """What cleaning does to one flagged annotation: ``result`` (the suggestion as Label
    Studio results) replaces its label in ``relabel`` mode; None: it is left out."""

    task: int
    given: str  # the label it was flagged with, as label_text writes it
    suggested: str
    confidence: float | None  # P(suggestion is the true label); None: unknown
    result: list[dict[str, Any]] | None


@dataclass
class Plan:
    """An audit's decisions, by annotation id, and the settings they were made with."""

    kind: TaskKind
    min_confidence: float
    decisions: dict[int, Decision] = field(default_factory=dict)
    unmatched: int = 0  # flagged annotations without an id

    def preview(self) -> dict[str, Any]:
        """What each mode would do (summary.json's ``cleaning``)."""
        relabel = sum(d.result is not None for d in self.decisions.values())
        return {
            "flagged_annotations": len(self.decisions) + self.unmatched,
            "relabel_min_confidence": self.min_confidence,
            "confident_suggestions": relabel,
            "modes": {
                "remove": {"left_out": len(self.decisions), "relabelled": 0},
                "relabel": {"left_out": len(self.decisions) - relabel, "relabelled": relabel},
            },
            "unmatched": self.unmatched,
        }

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": asdict(self.kind),
                "min_confidence": self.min_confidence,
                "unmatched": self.unmatched,
                "decisions": {str(a): asdict(d) for a, d in self.decisions.items()},
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        fields = data["kind"]
        kind = TaskKind(**(fields | {key: tuple(fields[key]) for key in ("data_keys", "classes")}))
        return cls(
            kind=kind,
            min_confidence=float(data["min_confidence"]),
            decisions={int(a): Decision(**d) for a, d in data["decisions"].items()},
            unmatched=int(data["unmatched"]),
        )


def plan(result: AuditResult, min_confidence: float) -> Plan:
    """Decide, for every flagged annotation of ``result``, whether it would be relabelled."""
    task_type = tasktypes.get(result.kind.task_type)
    made = Plan(kind=result.kind, min_confidence=min_confidence)
    for row in result.ranked():
        if not result.is_label_issue[row]:
            break  # ranked: the flagged rows come first
        annotation = int(result.annotation_ids[row])
        if annotation < 0:
            made.unmatched += 1
            continue
        sure = float(result.confidence[row]) if len(result.confidence) else math.nan
        confident = not math.isnan(sure) and sure >= min_confidence
        made.decisions[annotation] = Decision(
            task=int(result.task_ids[row]),
            given=result.label_text(result.given[row]),
            suggested=result.label_text(result.suggested[row]),
            confidence=None if math.isnan(sure) else round(sure, 6),
            result=task_type.result(result.kind, result.suggested[row]) if confident else None,
        )
    return made


@dataclass
class Cleaned:
    """What :func:`clean` did (summary.json's ``cleaned``; the service's answer headers)."""

    mode: str
    tasks: int = 0
    left_out: int = 0
    relabelled: int = 0
    changed_since: int = 0  # flagged, but its label is not the flagged one any more
    closed: int = 0  # flagged, but its flag is no longer open (confirmed or fixed)

    def summary(self) -> dict[str, Any]:
        return asdict(self)


def clean(
    tasks: Iterable[Any],
    made: Plan,
    mode: str,
    *,
    still_open: Callable[[int], bool] | None = None,
) -> tuple[Iterator[Any], Cleaned]:
    """Return ``tasks`` cleaned by ``made`` in ``mode`` (lazily) and the counts they fill.

    ``still_open(annotation_id)`` says whether a flag is still open (the service's
    verdicts); without it every flag is. Items that are not task objects pass unchanged.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}; got {mode!r}")
    counts = Cleaned(mode=mode)
    task_type = tasktypes.get(made.kind.task_type)

    def current_label(annotation: dict[str, Any]) -> str | None:
        try:
            label = task_type.read_label(annotation.get("result"), made.kind)
        except Malformed:
            return None
        return task_type.label_text(made.kind, task_type.encode([label], made.kind)[0])

    def one(task: Any) -> Any:
        counts.tasks += 1
        annotations = task.get("annotations") if isinstance(task, dict) else None
        if not isinstance(annotations, list):
            return task
        kept: list[Any] = []
        for annotation in annotations:
            decision = None
            if isinstance(annotation, dict) and isinstance(annotation.get("id"), int):
                decision = made.decisions.get(annotation["id"])
            if decision is None:
                kept.append(annotation)
            elif current_label(annotation) != decision.given:
                counts.changed_since += 1
                kept.append(annotation)
            elif still_open is not None and not still_open(annotation["id"]):
                counts.closed += 1
                kept.append(annotation)
            elif mode == "relabel" and decision.result is not None:
                counts.relabelled += 1
                kept.append(_relabelled(annotation, decision.result, made.kind.control))
            else:
                counts.left_out += 1
        return {**task, "annotations": kept}

    return (one(task) for task in tasks), counts


def _relabelled(
    annotation: dict[str, Any], result: list[dict[str, Any]], control: str
) -> dict[str, Any]:
    """The annotation with its ``control`` results replaced by ``result``."""
    others = [r for r in annotation.get("result") or [] if r.get("from_name") != control]
    return {**annotation, "result": others + [dict(r) for r in result]}


def write_json_list(path: Path, items: Iterable[Any]) -> None:
    """Write ``items`` as a JSON list, one item per line, to a temporary name then renamed
    (a failure leaves the file that was there)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("[")
            for n, item in enumerate(items):
                out.write(",\n" if n else "\n")
                out.write(json.dumps(item, ensure_ascii=False))
            out.write("\n]\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
