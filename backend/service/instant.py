"""Instant feedback: a changed annotation judged again at once, between full audits.

When Label Studio says an annotation of the current audit was created, updated or
deleted, its task is judged again right away from what the audit kept
(:class:`InstantData`, the version's ``instant.pkl``): the row's out-of-fold
probabilities never depended on its own label, so the new label's suspicion is exact and
the task type's one-row rule (:meth:`backend.tasktypes.TaskType.rejudge`) stands in for
confident learning's flag. Then, in this order:

1. the store: the task's /predict answer, whether it is flagged (the review tab's list),
   the annotation's verdict (:mod:`backend.verdicts`: a flagged label kept is
   *confirmed*, a changed one *fixed*) and the change itself (``events``), in one step
   that only lands while the audit it was computed from is current
   (:class:`backend.service.rejudge.Batch`: a run's changes judged in order, written
   in one step);
2. Label Studio: the task's prediction replaced (same model version; the new one created
   before the old one is deleted) and the review tab re-pointed when its list changed.

The debounced full audit still follows every change (the webhook schedules it as
before) and its results win. Instant updates and a full audit's switch (model version,
tabs, saving the audit) take turns on one per-project lock (:meth:`Instant.guard`), so a
tab is never written from a superseded state; a change applied after a full audit began
reading the project is applied again on top of that audit's results when it switches
(:meth:`Instant.reconcile`), since the audit could not have seen it.

The changes come from the project's change log (backend.service.changelog), where each
annotation webhook's one store step put them, not from the message: that step also sets a
per-project *hand-off* flag when the project is judged at once and it was not set, and only
the request that set it sends a message (:meth:`Instant.hand_off`: the project's id) to the
runner, a Celery worker (its own queue, ``<namespace>.instant``) or the embedded runner's
instant thread. :meth:`Instant.run` clears the flag and reads the log from the *instant
position* on in one store step, judges those changes in order, shows them, then records the
new position: a burst of webhooks makes about one message per run, not one each, and a
webhook logged after the clear sets the flag again and sends, so none is left unjudged.
Judging a change twice is harmless (an applied change, or a newer one of the same
annotation, is only shown again). The flag expires after :data:`HAND_OFF_SECONDS`, so a
message that was lost (a send that failed, a run that gave up) delays, never stops, the
next one. Only task types that say so (``TaskType.instant``: single choice) are judged at
once; the others keep the debounced re-audit alone.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from backend.service.cache import Cache
from backend.service.credentials import Credentials, MissingCredentials
from backend.service.instant_data import INSTANT_FILE, Change, InstantData, changes_of
from backend.service.policy import TRANSIENT, describe_error, new_id
from backend.service.rejudge import Batch, Shown
from backend.settings import Settings
from backend.store import Artifacts, Store

if TYPE_CHECKING:
    from backend.publish import LabelStudioIO
    from backend.service.scheduling import Scheduler

logger = logging.getLogger("labelaudit.service")

#: The per-project lock instant updates and a full audit's switch share.
LOCK = "live"
#: How long the lock lives unless released (a holder that died frees it then), seconds.
LOCK_SECONDS = 60.0
#: How long an instant update or a switch waits for the lock before going on without it
#: (a switch) or trying again later (an instant update), seconds; and how often it looks.
LOCK_WAIT_SECONDS = 60.0
LOCK_POLL_SECONDS = 0.02
#: Audits' instant data a process keeps loaded.
INSTANT_CACHED = 4
#: A project's live record (``Store.live``), or None.
Live = dict[str, Any] | None
#: How many audits a change is judged on when newer ones keep becoming current under it.
APPLY_TRIES = 3
#: How long a project's instant hand-off flag lives unless a run clears it, seconds: after
#: it, the next webhook sends again (a message lost or a run given up delays the changes,
#: never drops them; a run still queued then only meets a second one, which finds less).
HAND_OFF_SECONDS = 30.0
#: The least time between two instant runs of a project, seconds (see :meth:`Instant.rest`).
RUN_GAP_SECONDS = 0.25
#: A rest shorter than this is not waited for (the runner's timer is not that fine).
REST_AT_LEAST_SECONDS = 0.005


class Instant:
    """Judges changed annotations at once and shows the result (see the module doc)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        artifacts: Artifacts,
        credentials: Credentials,
        io: LabelStudioIO,
        scheduler: Scheduler,
    ) -> None:
        self.settings = settings
        self.store = store
        self.artifacts = artifacts
        self.credentials = credentials
        self.io = io
        self.scheduler = scheduler  # its runner sends the messages
        self.cache = Cache(INSTANT_CACHED)

    # ------------------------------------------------------------------ the web side

    def hand_off(self, project: int) -> None:
        """Send the project's instant message (the caller's store step set the hand-off
        flag: ``Scheduled.hand_off``)."""
        runner = self.scheduler.runner
        if runner is None:
            raise RuntimeError("the scheduler has no runner (the service sets one)")
        runner.enqueue_instant(project)

    # ------------------------------------------------------------------ the worker side

    def rest(self, project: int) -> float:
        """Seconds the project's next run should wait first (0: none): a run that judged
        changes asks the next one to start no sooner than :data:`RUN_GAP_SECONDS` after it.
        The runner waits it out before :meth:`run` (the hand-off flag still set, so the
        webhooks meanwhile send nothing and the run takes their changes too): a burst
        costs a few runs a second, not one per run's length."""
        rest = min(self.store.instant_rest(project), RUN_GAP_SECONDS)
        return rest if rest >= REST_AT_LEAST_SECONDS else 0.0

    def run(self, project: int, *, again: bool = False) -> bool:
        """Judge, under the project's lock, the logged changes since the instant position
        (clearing the hand-off flag), show them, record the new position; False if the lock
        stayed busy (try later). ``again``: a retry, so Label Studio is told even if the
        store had the changes."""
        owner = new_id()
        started = time.perf_counter()
        if not self._acquire(project, owner):
            return False
        locked = time.perf_counter()
        try:
            end, entries = self.store.instant_changes(project)
            changes = changes_of(entries)
            shown = self._apply(project, changes, push_always=again) if changes else []
            judged = time.perf_counter()
            self._show(project, shown)
            self.store.set_instant_position(project, end, rest=RUN_GAP_SECONDS if changes else 0)
        finally:
            self.store.unlock(project, LOCK, owner)
        logger.info(
            "project %s: %d change(s) of %d log entries judged at once in %.0f ms (%.0f ms "
            "waiting for the lock), Label Studio told in %.0f ms",
            project,
            len(changes),
            len(entries),
            (judged - started) * 1000,
            (locked - started) * 1000,
            (time.perf_counter() - judged) * 1000,
        )
        return True

    @contextlib.contextmanager
    def guard(self, project: int) -> Iterator[None]:
        """Hold the project's lock while a full audit switches (instant updates wait)."""
        owner = new_id()
        held = self._acquire(project, owner)
        if not held:
            logger.warning("project %s: switching without the instant lock (busy)", project)
        try:
            yield
        finally:
            if held:
                self.store.unlock(project, LOCK, owner)

    def _acquire(self, project: int, owner: str) -> bool:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while not self.store.try_lock(project, LOCK, owner, LOCK_SECONDS):
            if time.monotonic() > deadline:
                return False
            time.sleep(LOCK_POLL_SECONDS)
        return True

    def data(self, project: int, version: str) -> InstantData | None:
        """The instant data of a version (cached per process), or None if it has none."""
        path = self.artifacts.version_dir(project, version) / INSTANT_FILE

        def load() -> InstantData | None:
            return self.artifacts.read_pickle(path) if path.exists() else None

        return self.cache.get((project, version), load)

    # ------------------------------------------------------------------ judging

    def _apply(self, project: int, changes: list[Change], *, push_always: bool) -> list[Shown]:
        """Judge ``changes`` in order against the current audit, save them in one store
        step; return what to show. Judged again on a newer audit if one became current
        meanwhile (possible only once the lock ran out: a switch waits for it otherwise)."""
        for _ in range(APPLY_TRIES):
            landed, shown = self._apply_once(
                project, changes, push_always=push_always, live=self.store.live(project)
            )
            if landed:
                return shown
        return []

    def _apply_once(
        self, project: int, changes: list[Change], *, push_always: bool, live: Live
    ) -> tuple[bool, list[Shown]]:
        if not live or not live.get("instant"):
            return True, []
        version = str(live["version"])
        data = self.data(project, version)
        if data is None:
            return True, []
        rows: dict[int, int] = {}  # change's place in ``changes`` -> its row in the audit
        for place, change in enumerate(changes):
            row = data.row_of_annotation(change.annotation)
            if row is None or (change.task is not None and data.task_ids[row] != change.task):
                continue  # not an annotation of the audit (a new one): the audit sees it
            rows[place] = row
        if not rows:
            return True, []
        batch = Batch.read(self.store, project, version, data, rows.values())
        loaded_at = float(live.get("loaded_at") or 0.0)
        shown = [
            self._judge_logged(project, batch, changes[place], row, loaded_at, push_always)
            for place, row in rows.items()
        ]
        return batch.land(self.store, project), [s for s in shown if s is not None]

    def _judge_logged(
        self,
        project: int,
        batch: Batch,
        change: Change,
        row: int,
        loaded_at: float,
        push_always: bool,
    ) -> Shown | None:
        """:meth:`_judge`, an unexpected error logged and the change passed over (the audit
        that follows has it): one change the rule cannot judge never holds up the others
        logged after it."""
        try:
            return self._judge(batch, change, row, loaded_at, push_always)
        except TRANSIENT:
            raise
        except Exception as err:
            logger.warning(
                "project %s: annotation %s not judged at once (%s)",
                project,
                change.annotation,
                self.credentials.scrub(describe_error(err), project),
            )
            return None

    @staticmethod
    def _judge(
        batch: Batch, change: Change, row: int, loaded_at: float, push_always: bool
    ) -> Shown | None:
        """Judge one change of ``row`` in ``batch``; return what to show."""
        from backend import tasktypes

        data = batch.data
        task = int(data.task_ids[row])
        state = batch.state(row)
        if state.event is not None and float(state.event["at"]) >= change.at:
            # This change (a redelivery) or a newer one is applied: only show it again,
            # as the store holds it.
            return Shown(batch.version, task, state.answer, True) if push_always else None
        label: int | None = None
        if not change.deleted:
            try:
                label = tasktypes.get(data.kind.task_type).read_label(change.result, data.kind)
            except ValueError:
                label = None  # unusable now (no choice, several): not audited, as if deleted
        if change.at < loaded_at and label != data.labels[row]:
            return None  # the audit read the project after this change: a newer label
        return batch.judge(
            row,
            label,
            ground_truth=change.ground_truth,
            event={"label": label, "task": task, "at": change.at},
            saved=True,
            push_always=push_always,
        )

    def _show(self, project: int, shown: list[Shown]) -> None:
        """Make Label Studio show what the store says: the review tab first (what people
        wait for), then each task's prediction."""
        from backend.labelstudio.push import REVIEW_TITLE

        if not shown:
            return
        try:
            url, key = self.credentials.of(project)
        except MissingCredentials:
            logger.warning("project %s: no credentials to show an instant update", project)
            return
        tabs = None
        if any(s.tab_changed for s in shown):
            flagged = [int(f["annotation"]) for f in self.store.flags(project).values()]
            tabs = {REVIEW_TITLE: sorted(flagged)}
        for version in dict.fromkeys(s.version for s in shown):
            self.io.show(
                url,
                key,
                project,
                version=version,
                predictions={s.task: s.prediction for s in shown if s.version == version},
                tabs=tabs,
            )
            tabs = None

    # ------------------------------------------------------------------ full audits

    def reconcile(self, project: int, version: str, data: InstantData) -> int:
        """Re-apply, on a full audit that just switched (under :meth:`guard`), the changes
        made after it began reading the project; forget the older ones. Returns how many
        tasks changed."""
        events = self.store.events(project)
        stale = {a: None for a, e in events.items() if float(e["at"]) < data.loaded_at}
        if stale:
            self.store.update_live(project, version, events=stale)
        labels: dict[int, int | None] = {}  # row -> the label its change left
        for annotation, event in events.items():
            row = data.row_of_annotation(annotation)
            if annotation in stale or row is None:
                continue  # older than the audit, or made after it read the project
            label = event.get("label")
            labels[row] = None if label is None else int(label)
        batch = Batch.read(self.store, project, version, data, labels)
        judged = [
            batch.judge(
                row, label, ground_truth=bool(data.ground_truth[row]), event=None, saved=False
            )
            for row, label in labels.items()
        ]
        if not batch.land(self.store, project):
            return 0
        shown = [s for s in judged if s is not None]
        self._show(project, shown)
        return len(shown)

    def fresh_annotations(self, project: int, loaded_at: float) -> set[int]:
        """Annotations changed at once after an audit began reading the project."""
        return {a for a, e in self.store.events(project).items() if float(e["at"]) >= loaded_at}
