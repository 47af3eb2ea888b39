"""A re-audit written in place: only the predictions that changed, under the version shown.

A new version per audit means writing every prediction again and deleting every old one:
on 3,600 tasks the deletes alone took 1,274 s on a busy server (bench/RESULTS.md, issue 14),
whatever the re-audit changed. So once a project shows a version of ours, later audits
keep it (the Data Manager's score column counts only predictions of the project's
model_version) and change what differs, one short write per task:

* a task whose prediction of the shown version differs is PATCHed (result, score): its
  suggestion or flag changed, or its score moved by more than :data:`SCORE_TOLERANCE`
  (a flagged task's evidence text, whose figures move with the score, follows it);
* a task with no prediction of the shown version gets one (one import call for all);
* a task no longer audited, and a second prediction of the shown version on one task,
  lose theirs (one DELETE each).

Every task keeps exactly one current prediction throughout (a PATCH changes it where it
is). What Label Studio shows afterwards, a score that moved by less than the tolerance
kept as it was, is returned, so ``/predict`` answers what the project shows. The plan is
pure (:func:`plan_update`); :func:`write_in_place` carries it out.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from backend.labelstudio.client import sdk_request

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

logger = logging.getLogger("labelaudit.push")

#: A prediction's score is written again only when it moved by more than this: what the
#: project shows stays within this of the audit's score, and a re-audit after one fix
#: rewrites tens of predictions, not the ~3% whose score merely crossed a rounding step
#: (bench/scale.py --offline). The suggestion itself is always kept exact.
SCORE_TOLERANCE = 0.01
#: Seconds the one call listing a project's predictions may take.
LIST_TIMEOUT = 600
#: The fields of a prediction a PATCH writes.
WRITTEN = ("result", "score", "mislabeling")
#: PATCHes sent at once. On a 20,000-task project (Label Studio 1.23.2, SQLite, 2 busy
#: cores) 150 PATCHes took 21-30 s one by one, 15.5 s two at a time and 13.9 s four at a
#: time, every change held (bench/scale_read.py first --patches): two take most of the
#: gain and leave the server's other writers (annotators saving) room.
PATCH_THREADS = 2


@dataclass
class Plan:
    """What to write so the project shows an audit: by prediction id, or per new task."""

    patch: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> fields to write
    create: list[dict[str, Any]] = field(default_factory=list)  # import items
    delete: list[int] = field(default_factory=list)  # prediction ids
    shown: list[dict[str, Any]] = field(default_factory=list)  # per prediction, as shown after

    @property
    def writes(self) -> int:
        """Calls per prediction this plan costs (the import is one call however many)."""
        return len(self.patch) + len(self.delete) + (1 if self.create else 0)


def _score(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _essence(result: Any) -> Any:
    """A result's regions without their ``meta`` text (whether each has one stays)."""
    if not isinstance(result, list):
        return result
    return [
        ({k: v for k, v in r.items() if k != "meta"}, "meta" in r) if isinstance(r, dict) else r
        for r in result
    ]


def differs(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether ``old`` (as Label Studio holds it) must be rewritten to show ``new``: its
    regions differ (a flagged task's evidence text, region ``meta``, only by appearing or
    going: its figures move with the score), or its score moved by more than the tolerance."""
    if _essence(old.get("result")) != _essence(new.get("result")):
        return True
    a, b = _score(old.get("score")), _score(new.get("score"))
    if a is None or b is None:
        return (a is None) != (b is None)
    return abs(a - b) > SCORE_TOLERANCE


def plan_update(
    existing: Mapping[int, Sequence[Mapping[str, Any]]],
    predictions: Sequence[Mapping[str, Any]],
    version: str,
) -> Plan:
    """Plan the writes that make every task of ``predictions`` show its prediction under
    ``version``, given ``existing``: task id -> that version's predictions on the task
    (as Label Studio lists them, with ``id``), oldest first."""
    plan = Plan()
    audited = set()
    for item in predictions:
        task = int(item["task"])
        audited.add(task)
        new = {**item, "model_version": version}
        held = list(existing.get(task, ()))
        if not held:
            plan.create.append(new)
            plan.shown.append(new)
            continue
        keep, extra = held[0], held[1:]
        plan.delete += [int(p["id"]) for p in extra]
        if differs(keep, new):
            plan.patch[int(keep["id"])] = {k: new[k] for k in WRITTEN if k in new}
            plan.shown.append(new)
        else:
            # What the project shows; mislabeling is not shown (and an import stores 0).
            kept = {k: keep[k] for k in ("result", "score") if k in keep}
            plan.shown.append({**new, **kept})
    for task, stale in existing.items():
        if task not in audited:
            plan.delete += [int(p["id"]) for p in stale]
    return plan


def version_predictions(
    ls: LabelStudio, project_id: int, version: str
) -> dict[int, list[dict[str, Any]]]:
    """Return task id -> the project's predictions of ``version``, oldest first (one call)."""
    found = sdk_request(
        ls,
        "GET",
        f"api/predictions/?project={int(project_id)}",
        request_options={"timeout_in_seconds": LIST_TIMEOUT},
    )
    if not isinstance(found, list):
        raise ValueError(f"unexpected answer listing predictions of project {project_id}")
    out: dict[int, list[dict[str, Any]]] = {}
    for item in found:
        if isinstance(item, dict) and item.get("model_version") == version:
            out.setdefault(int(item["task"]), []).append(item)
    for held in out.values():
        held.sort(key=lambda p: int(p["id"]))
    return out


def write_in_place(
    ls: LabelStudio,
    project_id: int,
    plan: Plan,
    *,
    create: Callable[[list[dict[str, Any]]], None],
    retried: Callable[..., bool],
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Carry out ``plan``'s creates and PATCHes, PATCH_THREADS at a time (``create``
    imports; ``retried`` calls a route with short retries); return how many writes failed.
    Deletes are left to :func:`delete_planned`, after the tab points at the new flags."""
    failed = 0
    total = len(plan.patch) + len(plan.create)
    if plan.create:
        create(plan.create)
    done = len(plan.create)

    def patch(prediction: int, body: dict[str, Any]) -> bool:
        return retried(ls, "PATCH", f"api/predictions/{prediction}/", json=body)

    with ThreadPoolExecutor(PATCH_THREADS, thread_name_prefix="labelaudit-patch") as pool:
        sent = [pool.submit(patch, prediction, body) for prediction, body in plan.patch.items()]
        try:
            for future in as_completed(sent):
                failed += not future.result()
                done += 1
                if progress is not None:
                    progress(done, total)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # not the PATCHes still queued
            raise
    if failed:
        logger.warning("project %s: %d predictions could not be updated", project_id, failed)
    return failed


def delete_planned(
    ls: LabelStudio, project_id: int, plan: Plan, *, retried: Callable[..., bool]
) -> int:
    """Delete the plan's stale and duplicate predictions, one short write each; return how
    many are left (best effort: a later push finds them again)."""
    left = 0
    for prediction in plan.delete:
        try:
            if not retried(ls, "DELETE", f"api/predictions/{prediction}/"):
                left += 1
        except (ConnectionError, TimeoutError, ValueError, PermissionError) as err:
            logger.warning("project %s: deleting prediction %s: %s", project_id, prediction, err)
            left += 1
    return left
