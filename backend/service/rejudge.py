"""Rows of an audit judged again on new labels, and saved (instant feedback).

:class:`Batch` is the step :class:`backend.service.instant.Instant` takes for the changes
of one run (and, under a full audit's switch, for those it applies again): for each change,
in order, the task type's one-row rule (:meth:`backend.tasktypes.TaskType.rejudge`) on the
audit's kept probabilities, and the task's /predict answer, its flag and the annotation's
verdict (:mod:`backend.verdicts`) that follow; then all of it written in one store step that
only lands while the audit is current. Each change answers what Label Studio must then
show (:class:`Shown`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backend import verdicts as verdict_rules
from backend.store import RowState

if TYPE_CHECKING:
    from backend.service.instant_data import InstantData
    from backend.store import Store


@dataclass(frozen=True)
class Shown:
    """What Label Studio must show after a change: the task's prediction (None: none of
    ours) and, when the flagged list changed, the review tab's annotation ids."""

    version: str
    task: int
    prediction: dict[str, Any] | None
    tab_changed: bool


class Batch:
    """Rows of one audit judged one change after another on what the store held when the
    batch was read (:meth:`read`, one store step), then written in one store step
    (:meth:`land`): a run of many changes costs two round trips, not two per change, and
    judges each change exactly as if the one before it had been written."""

    def __init__(self, version: str, data: InstantData, states: Mapping[int, RowState]) -> None:
        self.version = version
        self.data = data
        self._answers: dict[int, dict[str, Any] | None] = {}  # by task
        self._flags: dict[int, dict[str, Any] | None] = {}
        self._verdicts: dict[int, dict[str, Any] | None] = {}  # by annotation
        self._events: dict[int, dict[str, Any] | None] = {}
        for row, state in states.items():
            task, annotation = self._ids(row)
            self._answers[task], self._flags[task] = state.answer, state.flag
            self._verdicts[annotation], self._events[annotation] = state.verdict, state.event
        self._held = (dict(self._answers), dict(self._flags), dict(self._verdicts))
        self._written_events: set[int] = set()
        self.changed = 0  # changes that changed a task's answer or flag

    @classmethod
    def read(
        cls, store: Store, project: int, version: str, data: InstantData, rows: Iterable[int]
    ) -> Batch:
        """A batch of ``rows`` of ``version``'s audit, as the store holds them now."""
        rows = list(dict.fromkeys(rows))
        found = store.row_states(
            project, [(int(data.task_ids[r]), int(data.annotation_ids[r])) for r in rows]
        )
        return cls(version, data, dict(zip(rows, found, strict=True)))

    def _ids(self, row: int) -> tuple[int, int]:
        return int(self.data.task_ids[row]), int(self.data.annotation_ids[row])

    def state(self, row: int) -> RowState:
        """What the row's task and annotation hold now, this batch's changes included."""
        task, annotation = self._ids(row)
        return RowState(
            self._answers[task],
            self._flags[task],
            self._verdicts[annotation],
            self._events[annotation],
        )

    def judge(
        self,
        row: int,
        label: int | None,
        *,
        ground_truth: bool,
        event: dict[str, Any] | None,
        saved: bool,
        push_always: bool = False,
    ) -> Shown | None:
        """Judge ``row`` (one of the batch's) with ``label`` (None: gone) on top of the
        batch's changes so far; return what Label Studio must show (None: nothing changed,
        unless ``push_always``). Written by :meth:`land`."""
        from backend import tasktypes
        from backend.labelstudio.predictions import build_predict_result

        data = self.data
        task, annotation = self._ids(row)
        old_answer, old_flag = self._answers[task], self._flags[task]
        previous = self._verdicts[annotation]
        answer: dict[str, Any] | None = None
        flag: dict[str, Any] | None = None
        new_verdict: dict[str, Any] | None = None
        if label is not None:
            if saved:
                trusted = verdict_rules.trusted(previous, label)
            else:
                trusted = bool(
                    previous
                    and previous["state"] == verdict_rules.CONFIRMED
                    and previous["label"] == label
                )
            trusted = trusted or ground_truth
            task_type = tasktypes.get(data.kind.task_type)
            judged = task_type.rejudge(data.state, data.probs[row], label, trusted=trusted)
            # In the version Label Studio shows: a project updated in place keeps an older
            # one of ours, which the audit's answers already carry.
            shown = str((old_answer or {}).get("model_version") or self.version)
            answer = build_predict_result(
                data.kind, judged.suggested, judged.suspicion, shown, mislabeling=judged.suspicion
            )
            if judged.flagged:
                rank = old_flag.get("rank") if old_flag else None
                flag = {"annotation": annotation, "suspicion": judged.suspicion, "rank": rank}
            if saved:
                new_verdict = verdict_rules.after_save(
                    previous,
                    label,
                    flagged=judged.flagged,
                    task=task,
                    annotator=data.annotators[row],
                )
            else:
                row_now = verdict_rules.AuditRow(
                    annotation, task, label, data.annotators[row], judged.flagged
                )
                new_verdict = verdict_rules.after_audit(
                    {annotation: previous} if previous else {}, [row_now]
                ).get(annotation, previous)
        changed = answer != old_answer or flag != old_flag
        self._answers[task], self._flags[task] = answer, flag
        self._verdicts[annotation] = new_verdict
        if event is not None:
            self._events[annotation] = event
            self._written_events.add(annotation)
        self.changed += changed
        if not changed and not push_always:
            return None
        tab_changed = (flag is None) != (old_flag is None) or push_always
        return Shown(self.version, task, answer, tab_changed)

    def land(self, store: Store, project: int) -> bool:
        """Write what the batch changed, in one store step, if its version is still current;
        whether it landed (False: a newer audit is current, nothing was written)."""
        held_answers, held_flags, held_verdicts = self._held

        def moved(now: dict[int, Any], held: dict[int, Any]) -> dict[int, Any] | None:
            return {k: v for k, v in now.items() if v != held[k]} or None

        return store.update_live(
            project,
            self.version,
            answers=moved(self._answers, held_answers),
            flags=moved(self._flags, held_flags),
            verdicts=moved(self._verdicts, held_verdicts),
            events={a: self._events[a] for a in self._written_events} or None,
            count=self.changed,
        )
