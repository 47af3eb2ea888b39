"""When audits run: tickets, leases, job records, and the sweep.

Every trigger (a webhook event, START_TRAINING, ``POST /projects/<id>/audit``, the sweep)
calls :meth:`Scheduler.trigger`, which asks the store to *schedule* the project. A
project has at most one pending audit, its *ticket* (the ticket is also the job id). The
first event of a burst creates the ticket and enqueues it with a countdown of
``debounce_seconds``; later events only push its start back (to at most
``debounce_max_seconds`` after the first one), so a burst of 500 events gives one audit.
START_TRAINING and manual audits make the ticket due now. When the ticket's audit starts,
the ticket is consumed atomically with taking the project's lock, so an event that
arrives during an audit creates a new ticket: exactly one more audit, after this one (it
waits, polling every ``poll_seconds``, while the lock is held).

Each step of an audit runs under a *lease* renewed by a heartbeat (:meth:`Scheduler.lease`):
a step delivered twice (Celery redelivers unacknowledged tasks) waits while the first
copy is alive and takes over once it died; a step of an audit that lost its lock to a
newer one stops (*superseded*) and never pushes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from backend.progress import Progress, no_progress
from backend.service.cache import Cache
from backend.service.changelog import CHANGES_KEPT, full_entry
from backend.service.credentials import Credentials, MissingCredentials
from backend.service.fingerprint import dataset_fingerprint
from backend.service.policy import TRANSIENT, describe_error, new_id
from backend.settings import Settings
from backend.store import Artifacts, Claim, SavedAudit, Scheduled, Stage, Store

if TYPE_CHECKING:
    from backend.publish import LabelStudioIO

logger = logging.getLogger("labelaudit.service")

#: The error of an audit whose state vanished from the store under it.
LOST = (
    "the state store lost this audit's lock and job record (was Redis restarted?); "
    "nothing was pushed, and the next event or the sweep audits the project again"
)
#: A progress step is written to the store at most this often (except its last update).
PROGRESS_INTERVAL = 0.5


class Runner(Protocol):
    """Runs tickets: Celery workers, or a thread of this process."""

    def enqueue(self, project: int, ticket: str, countdown: float) -> None:
        """Start the ticket's audit in ``countdown`` seconds."""
        ...

    def enqueue_instant(self, project: int) -> None:
        """Judge the project's changes logged since the last instant run, at once
        (backend.service.instant)."""
        ...

    def queue_depth(self) -> int:
        """Return how many tasks wait to run."""
        ...

    def start(self) -> None:
        """Start background machinery, if any (idempotent)."""
        ...


class Scheduler:
    """Tickets, claims, leases, job records and the sweep, over one store."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        artifacts: Artifacts,
        credentials: Credentials,
        io: LabelStudioIO,
        work_cache: Cache,
    ) -> None:
        self.settings = settings
        self.store = store
        self.artifacts = artifacts
        self.credentials = credentials
        self.io = io
        self.work_cache = work_cache  # the audit steps' loaded work items, dropped at the end
        self.runner: Runner | None = None  # set by the service once its runner exists

    @property
    def ticket_ttl(self) -> float:
        """How long a pending ticket lives without being looked at."""
        return max(self.settings.lock_seconds, 4 * self.settings.debounce_max_seconds)

    def trigger(self, project: int, *, immediate: bool, reason: str) -> str:
        """Schedule an audit of ``project`` (debounced unless ``immediate``); return its job id.

        Not an annotation webhook: the audit reads the whole project (logged first).
        """
        change = full_entry(reason)
        return self.schedule(project, immediate=immediate, reason=reason, change=change).ticket

    def schedule(
        self,
        project: int,
        *,
        immediate: bool,
        reason: str,
        change: dict[str, Any],
        hand_off: float = 0.0,
    ) -> Scheduled:
        """:meth:`trigger`, returning the store's answer (the ticket is the job id);
        ``change`` (backend.service.changelog) is logged first, in the same store step,
        which also sets the instant hand-off flag for ``hand_off`` seconds where it can
        (``Store.schedule``)."""
        s = self.settings
        scheduled = self.store.schedule(
            project,
            new_id(),
            immediate=immediate,
            debounce=s.debounce_seconds,
            max_wait=s.debounce_max_seconds,
            ttl=self.ticket_ttl,
            change=change,
            keep=CHANGES_KEPT,
            hand_off=hand_off,
        )
        if scheduled.created:
            self.store.put_job(
                scheduled.ticket,
                project=project,
                state="scheduled",
                reason=reason,
                created_at=time.time(),
            )
        if scheduled.created or immediate:
            if self.runner is None:
                raise RuntimeError("the scheduler has no runner (the service sets one)")
            self.runner.enqueue(project, scheduled.ticket, scheduled.countdown)
        return scheduled

    def claim_begin(self, project: int, ticket: str, owner: str) -> Claim:
        """Ask the store whether the ticket's audit may start (or resume) now."""
        s = self.settings
        return self.store.claim_begin(
            project,
            ticket,
            owner,
            lock_ttl=s.lock_seconds,
            lease_ttl=s.lease_seconds,
            ttl=self.ticket_ttl,
        )

    def claim_step(self, project: int, ticket: str, owner: str | None, stage: Stage) -> Claim:
        """Ask the store whether a later step of the ticket's audit may run."""
        s = self.settings
        return self.store.claim_step(
            project, ticket, owner, stage=stage, lock_ttl=s.lock_seconds, lease_ttl=s.lease_seconds
        )

    def delay_of(self, claim: Claim) -> float:
        """Return how long to wait before asking again after a defer/wait claim."""
        if claim.action == "defer":
            return max(claim.delay, 0.05)
        return self.settings.poll_seconds

    @contextlib.contextmanager
    def lease(self, project: int, ticket: str, owner: str | None) -> Iterator[threading.Event]:
        """Renew the audit's lock (and the step's lease) while the block runs.

        Yields an event that is set if the audit was superseded meanwhile.
        """
        s = self.settings
        stop, lost = threading.Event(), threading.Event()

        def beat() -> None:
            while not stop.wait(s.lease_seconds / 3):
                try:
                    if not self.store.renew(
                        project, ticket, owner, lock_ttl=s.lock_seconds, lease_ttl=s.lease_seconds
                    ):
                        lost.set()
                        return
                except Exception as err:  # a heartbeat must outlive a Redis hiccup
                    logger.warning(
                        "lease renewal of project %s failed: %s", project, type(err).__name__
                    )

        thread = threading.Thread(target=beat, name=f"labelaudit-lease-{project}", daemon=True)
        thread.start()
        try:
            yield lost
        finally:
            stop.set()
            thread.join()
            if owner is not None:
                self.store.end_lease(project, owner)

    def progress_for(
        self, ticket: str, mirror: Callable[[dict[str, Any]], None] | None = None
    ) -> Progress:
        """Return a progress callback writing the job's progress (throttled) to the store."""
        last: dict[str, float] = {}

        def report(step: str, done: int, total: int) -> None:
            now = time.monotonic()
            if done < total and now - last.get(step, 0.0) < PROGRESS_INTERVAL:
                return
            last[step] = now
            fields = {"step": step, "done": int(done), "total": int(total)}
            self.store.put_job(ticket, progress=fields)
            if mirror is not None:
                mirror(fields)

        return report

    def start_job(self, project: int, ticket: str) -> None:
        """Mark the ticket's job running (a resumed job keeps its first start time)."""
        job = self.store.get_job(ticket) or {}
        started = job.get("started_at") if job.get("state") == "running" else None
        self.store.put_job(
            ticket, project=project, state="running", started_at=started or time.time(), error=None
        )

    def succeed(self, project: int, ticket: str, saved: SavedAudit) -> None:
        """Close a finished audit: job record, metrics, free the project, drop work files."""
        self.store.put_job(
            ticket,
            state="succeeded",
            model_version=saved.version,
            flagged_tasks=saved.flagged,
            finished_at=time.time(),
            progress={"step": "done", "done": 1, "total": 1},
        )
        self.store.record_outcome(
            project, succeeded=True, duration=saved.duration, flagged=saved.flagged
        )
        self.store.release(project, ticket)
        self.artifacts.clear_work(project, keep=self.store.activity(project)["running"])
        self.work_cache.clear()
        logger.info(
            "audit %s of project %s: %s, %d tasks flagged",
            ticket,
            project,
            saved.version,
            saved.flagged,
        )

    def note_retry(self, project: int, ticket: str, err: BaseException) -> str:
        """Count a transient failure about to be retried in the job record; return its message."""
        message = self.credentials.scrub(str(err) or type(err).__name__, project)
        job = self.store.get_job(ticket) or {}
        self.store.put_job(ticket, retries=int(job.get("retries") or 0) + 1, last_error=message)
        return message

    def fail(self, project: int, ticket: str, err: BaseException) -> None:
        """Close a failed audit: job record with the error, metrics, free the project."""
        message = self.credentials.scrub(describe_error(err), project)
        if isinstance(err, TRANSIENT):
            self.store.set_fingerprint(project, None)  # let the sweep try again
        job = self.store.get_job(ticket) or {}
        if self.store.release(project, ticket):
            started = float(job.get("started_at") or time.time())
            self.store.record_outcome(
                project, succeeded=False, duration=time.time() - started, flagged=None
            )
        self.store.put_job(ticket, state="failed", error=message, finished_at=time.time())
        self.work_cache.clear()
        with contextlib.suppress(ValueError, OSError):
            self.artifacts.clear_work(project, keep=self.store.activity(project)["running"])
        logger.warning("audit %s of project %s failed: %s", ticket, project, message)

    def supersede(self, ticket: str, project: int | None = None) -> None:
        """Mark a job whose audit lost its project to a newer one.

        A job whose record holds no state (only progress its steps wrote after the store
        lost everything else: a Redis restart without persistence) is recorded as failed,
        saying so, and the sweep looks at the project again. A ticket nobody knows (a stray
        message) leaves no record.
        """
        job = self.store.get_job(ticket)
        if job is None:
            return
        if "state" not in job:
            self.store.put_job(
                ticket, project=project, state="failed", error=LOST, finished_at=time.time()
            )
            if project is not None:
                self.store.set_fingerprint(project, None)
            logger.warning("audit %s of project %s: %s", ticket, project, LOST)
        elif job.get("state") not in {"succeeded", "failed"}:
            self.store.put_job(ticket, state="superseded", finished_at=time.time())

    def sweep(self) -> list[int]:
        """Return the projects to check now (empty unless this caller won the period)."""
        period = self.settings.sweep_seconds
        if period <= 0 or not self.store.try_sweep(period):
            return []
        return self.store.projects()

    def check_project(self, project: int) -> bool:
        """Schedule an audit if the project's annotations changed since its last audit.

        Label Studio's state digest comes first (two small requests: the label config, the
        counts and the newest task update; ``LabelStudioIO.state``): when it and the
        project's fingerprint are what the last check confirmed, nothing changed and nothing
        more is read. Otherwise the project is read whole and its fingerprint compared.
        """
        activity = self.store.activity(project)
        if activity["scheduled"] or activity["running"]:
            return False
        try:
            url, key = self.credentials.of(project)
        except MissingCredentials:
            return False
        state = self.io.state(url, key, project)  # before the read: a later change shows next
        fingerprint = self.store.fingerprint(project)
        confirmed = f"{state} {fingerprint}"
        if fingerprint is not None and self.store.checked(project) == confirmed:
            return False
        # Task pages, not the export: Label Studio 1.23 keeps a copy of every export in its
        # data dir (~1 KB a task), and this check runs every sweep, changed or not.
        dataset = self.io.load(url, key, project, no_progress, pages=True)
        if fingerprint is not None and dataset_fingerprint(dataset) == fingerprint:
            self.store.set_checked(project, confirmed)
            return False
        self.trigger(project, immediate=True, reason="sweep")
        return True
