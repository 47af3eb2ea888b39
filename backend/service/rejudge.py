"""One row of an audit judged again on a new label, and saved (instant feedback).

:func:`settle` is the step :class:`backend.service.instant.Instant` takes for each change
it judges (and, under a full audit's switch, for each one it applies again): the task
type's one-row rule (:meth:`backend.tasktypes.TaskType.rejudge`) on the audit's kept
probabilities, the task's /predict answer, its flag and the annotation's verdict
(:mod:`backend.verdicts`) that follow, written in one store step that only lands while the
audit is current. It answers what Label Studio must then show (:class:`Shown`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backend import verdicts as verdict_rules

if TYPE_CHECKING:
    from backend.service.instant_data import InstantData
    from backend.store import RowState, Store


@dataclass(frozen=True)
class Shown:
    """What Label Studio must show after a change: the task's prediction (None: none of
    ours) and, when the flagged list changed, the review tab's annotation ids."""

    version: str
    task: int
    prediction: dict[str, Any] | None
    tab_changed: bool


def settle(
    store: Store,
    project: int,
    version: str,
    data: InstantData,
    row: int,
    label: int | None,
    *,
    ground_truth: bool,
    event: dict[str, Any] | None,
    saved: bool,
    push_always: bool = False,
    state: RowState | None = None,
) -> tuple[bool, Shown | None]:
    """Judge row ``row`` with ``label`` (None: gone), save; return whether it landed
    (False: ``version`` is no longer current, nothing changed) and what to show.
    ``state``: what the store holds for the row, if the caller read it already.

    ``saved``: a person saved the annotation (a confirmation is possible); otherwise the
    change is re-applied on a newer audit's results (reconcile), and the verdict only
    follows the flag.
    """
    from backend import tasktypes
    from backend.labelstudio.predictions import build_predict_result

    task = int(data.task_ids[row])
    annotation = int(data.annotation_ids[row])
    annotator = data.annotators[row]
    if state is None:
        state = store.row_state(project, task, annotation)
    old_answer, old_flag, previous = state.answer, state.flag, state.verdict
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
        shown = str((old_answer or {}).get("model_version") or version)
        answer = build_predict_result(
            data.kind, judged.suggested, judged.suspicion, shown, mislabeling=judged.suspicion
        )
        if judged.flagged:
            rank = old_flag.get("rank") if old_flag else None
            flag = {"annotation": annotation, "suspicion": judged.suspicion, "rank": rank}
        if saved:
            new_verdict = verdict_rules.after_save(
                previous, label, flagged=judged.flagged, task=task, annotator=annotator
            )
        else:
            row_now = verdict_rules.AuditRow(annotation, task, label, annotator, judged.flagged)
            new_verdict = verdict_rules.after_audit(
                {annotation: previous} if previous else {}, [row_now]
            ).get(annotation, previous)
    changed = answer != old_answer or flag != old_flag
    done = store.update_live(
        project,
        version,
        answers={task: answer} if answer != old_answer else None,
        flags={task: flag} if flag != old_flag else None,
        verdicts={annotation: new_verdict} if new_verdict != previous else None,
        events={annotation: event} if event is not None else None,
        count=changed,
    )
    if not done:
        return False, None  # a newer audit became current meanwhile
    if not changed and not push_always:
        return True, None
    tab_changed = (flag is None) != (old_flag is None) or push_always
    return True, Shown(version, task, answer, tab_changed)
