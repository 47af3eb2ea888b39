"""The audit service: the one object the routes, the Celery tasks and the CLI's server use.

It is built from parts, each a module of this package:

=================  ==========================================================================
``scheduling``     when audits run: tickets, leases, job records, the sweep (:class:`Scheduler`)
``steps``          what one audit does: begin, fold, complete, each guarded by its claim,
                   lease and stage (:class:`AuditSteps`)
``predict``        /predict's answers and the final models (:class:`Predictor`)
``instant``        a changed annotation judged again at once, between audits; the flags'
                   verdicts (:class:`Instant`)
``runners``        who runs tickets: a thread here, or Celery workers by task name
``process_runner`` the embedded mode's audits in a child process (the web threads keep
                   the GIL)
``credentials``    which Label Studio URL and key a project uses; scrubbing secrets
``policy``         the errors the service names and its one retry policy
=================  ==========================================================================

Routes call :class:`Service` methods only; the Celery tasks and the embedded runner call
``service.steps`` and ``service.scheduler``. :func:`build_service` builds it the same way
for the web process and the workers.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.service.cache import Cache
from backend.service.changelog import CHANGES_KEPT, full_entry, log_entry
from backend.service.credentials import Credentials
from backend.service.instant import HAND_OFF_SECONDS, Instant
from backend.service.instant_data import judged_at_once
from backend.service.policy import (
    RETRY,
    TRANSIENT,
    MissingCredentials,
    Superseded,
    describe_error,
)
from backend.service.predict import NO_VERSION, FinalModel, Predictor
from backend.service.scheduling import Runner, Scheduler
from backend.service.steps import AuditSteps, Outcome, WorkItem
from backend.settings import Settings
from backend.store import Artifacts, Store

if TYPE_CHECKING:
    from backend.publish import LabelStudioIO

__all__ = [
    "NO_VERSION",
    "RETRY",
    "TRANSIENT",
    "FinalModel",
    "MissingCredentials",
    "Outcome",
    "Service",
    "Superseded",
    "WorkItem",
    "build_service",
]

#: Work items (prepared datasets) a process keeps loaded: the audit it works on.
WORK_CACHED = 1
#: /health trusts a state-store ping of this process this recent, seconds (a failed one is
#: never trusted): a Redis round trip per health check cost a third of /health's throughput
#: under load (bench/RESULTS.md, issue 16).
PING_FRESH_SECONDS = 1.0
#: A /setup the same as one this process stored less than this long ago (same project,
#: URL, token and config) is answered with the version it got then, without a round trip:
#: Label Studio sends the same /setup again and again (issue 16). Only the version can be
#: this stale.
SETUP_FRESH_SECONDS = 1.0
#: Distinct /setup calls remembered per process (older ones are forgotten).
SETUPS_KEPT = 256

logger = logging.getLogger("labelaudit.service")


class Service:
    """Scheduling, the audit steps and /predict, over one store and one artifact directory."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        artifacts: Artifacts,
        runner: Runner | None = None,
        *,
        io: LabelStudioIO | None = None,
        retry_delays: tuple[float, ...] | None = None,
    ) -> None:
        from backend.publish import LabelStudioIO
        from backend.service.runners import ThreadRunner

        self.settings = settings
        self.store = store
        self.artifacts = artifacts
        self.credentials = Credentials(settings, store)
        # The projects listed in LABELAUDIT_PROJECTS, then each one seen connected.
        self._connected: set[int] = {
            int(p) for p in settings.projects.split(",") if p.strip().isdigit()
        }
        io = io if io is not None else LabelStudioIO(export=settings.read_with_export)
        self.io = io
        work = Cache(WORK_CACHED)
        self.scheduler = Scheduler(settings, store, artifacts, self.credentials, io, work)
        self.predictor = Predictor(settings, store, artifacts, self.credentials)
        self.instant = Instant(settings, store, artifacts, self.credentials, io, self.scheduler)
        self.steps = AuditSteps(
            settings,
            store,
            artifacts,
            self.scheduler,
            self.credentials,
            self.predictor,
            io,
            work,
            self.instant,
        )
        self._pinged_at = -PING_FRESH_SECONDS  # time.monotonic() of the last good store ping
        # /setup calls this process stored: (project, URL, token digest, config) -> (when, version)
        self._setups: dict[tuple[int, str, str, str], tuple[float, str]] = {}
        delays = RETRY.delays() if retry_delays is None else retry_delays
        self.runner = runner if runner is not None else ThreadRunner(self, retry_delays=delays)

    @property
    def runner(self) -> Runner:
        """Who runs this service's tickets (the scheduler enqueues with it)."""
        if self.scheduler.runner is None:
            raise RuntimeError("the service has no runner")
        return self.scheduler.runner

    @runner.setter
    def runner(self, runner: Runner) -> None:
        self.scheduler.runner = runner

    # ------------------------------------------------------------------ what routes ask

    @property
    def mode(self) -> str:
        """``embedded`` (audits in this process) or ``celery`` (Redis and workers)."""
        return "celery" if self.settings.redis_url else "embedded"

    def scrub(self, text: str, project: int | None = None) -> str:
        """Return ``text`` with every secret this service knows replaced by ``***``."""
        return self.credentials.scrub(text, project)

    def ping(self) -> None:
        """Raise if the state store cannot be reached or MODEL_DIR cannot be written.

        The store is asked unless it answered this process's ping less than
        PING_FRESH_SECONDS ago; MODEL_DIR (no round trip) is looked at every time.
        """
        now = time.monotonic()
        if now - self._pinged_at >= PING_FRESH_SECONDS:
            self.store.ping()
            self._pinged_at = now
        self.artifacts.check_writable()

    def setup(self, project: int, *, url: str, token: str, config_hash: str) -> str:
        """Remember a project connected by Label Studio; return its current version (from
        this process's memory for a /setup it stored less than SETUP_FRESH_SECONDS ago)."""
        key = (project, url, hashlib.sha256(token.encode()).hexdigest(), config_hash)
        now = time.monotonic()
        seen = self._setups.get(key)
        if seen is not None and now - seen[0] < SETUP_FRESH_SECONDS:
            return seen[1]
        version = self.store.remember_project(
            project, url=url, token=token, config_hash=config_hash
        )
        self.runner.start()
        answer = version or NO_VERSION
        if len(self._setups) >= SETUPS_KEPT:
            self._setups.clear()
        self._setups[key] = (now, answer)
        return answer

    def connected(self, project: int) -> bool:
        """Whether the project may be audited: it connected through /setup, or is listed in
        LABELAUDIT_PROJECTS (environment credentials never reach other projects)."""
        if project in self._connected:  # a project never disconnects: remembered per process
            return True
        if self.store.knows(project):
            self._connected.add(project)
            return True
        return False

    def trigger(self, project: int, *, immediate: bool, reason: str) -> str:
        """Schedule an audit of ``project`` (debounced unless ``immediate``); return its job id."""
        return self.scheduler.trigger(project, immediate=immediate, reason=reason)

    def annotation_changed(self, project: int, action: str, body: dict[str, Any]) -> str:
        """An annotation webhook: schedule the debounced audit and, where the project's audit
        allows, judge the annotation again at once (off this thread); return the job id.

        One store round trip: the change is logged (backend.service.changelog) and the
        audit scheduled, which also sets the project's instant hand-off flag when it is
        judged at once and no message is pending; only then does this request send one
        (backend.service.instant: the run judges every change logged since the last).
        """
        change = log_entry(action, body, at=time.time())
        hand_off = HAND_OFF_SECONDS if judged_at_once(change) else 0.0
        scheduled = self.scheduler.schedule(
            project, immediate=False, reason=action, change=change, hand_off=hand_off
        )
        if scheduled.hand_off:
            try:
                self.instant.hand_off(project)
            except Exception as err:  # the debounced audit still follows: never fail the webhook
                logger.warning(
                    "project %s: no instant update (%s)", project, self.scrub(describe_error(err))
                )
        return scheduled.ticket

    def tasks_changed(self, project: int, action: str) -> None:
        """Tasks created or deleted: the next audit reads the whole project."""
        self.store.log_change(project, full_entry(action), keep=CHANGES_KEPT)

    def start_audit(self, project: int) -> str:
        """Audit ``project`` now (after the running one); MissingCredentials if it cannot."""
        self.credentials.of(project)
        return self.trigger(project, immediate=True, reason="api")

    def config_changed(self, project: int, config_hash: str) -> str | None:
        """Re-audit if the project's label config changed; return the job id, or None."""
        previous = self.store.swap_config_hash(project, config_hash)
        if previous is None or previous == config_hash:
            return None
        return self.trigger(project, immediate=False, reason="label config changed")

    def predict(self, project: int, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One answer per task, in order: stored verdicts, else the final model, else empty."""
        return self.predictor.predict(project, tasks)

    def predict_json(self, project: int, tasks: list[dict[str, Any]]) -> str:
        """:meth:`predict` as the JSON text of its list (stored answers sent as stored)."""
        return self.predictor.predict_json(project, tasks)

    def versions(self, project: int | None = None) -> list[str]:
        """A project's versions, newest first, or every project's current one."""
        return self.store.versions(project)

    def metrics(self) -> tuple[dict[str, Any], int, int]:
        """Return the store's counters, the queue depth and how many audits run now."""
        return self.store.metrics(), self.runner.queue_depth(), len(self.store.running())

    def job(self, job_id: str) -> dict[str, Any] | None:
        """Return a job record, or None."""
        return self.store.get_job(job_id)

    def latest_audit(self, project: int) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """Return the latest audit's record (or None) and what is scheduled or running.

        For a project judged at once between audits, the summary's flagged tasks and counts
        are those of now, with the verdicts (``verdicts``), and ``live`` says how many
        instant updates there were since the audit.
        """
        record = self.store.latest_audit(project)
        live = self.store.live(project)
        if record is not None and live and live.get("instant"):
            if live.get("version") == record.get("model_version"):
                record = self._with_live(project, record, live)
        return record, self.store.activity(project)

    def _with_live(
        self, project: int, record: dict[str, Any], live: dict[str, Any]
    ) -> dict[str, Any]:
        from backend import verdicts

        flags = self.store.flags(project)
        order = sorted(
            flags,
            key=lambda t: (
                -float(flags[t]["suspicion"]),
                flags[t].get("rank") is None,
                flags[t].get("rank") or 0,
                t,
            ),
        )
        summary = dict(record.get("summary") or {})
        counts = dict(summary.get("counts") or {})
        counts["flagged_tasks"] = counts["flagged_annotations"] = len(flags)
        summary.update(
            flagged_task_ids=order,
            counts=counts,
            verdicts=verdicts.counts(self.store.verdicts(project)),
        )
        updates = {"instant_updates": int(live.get("updates") or 0)}
        return {**record, "summary": summary, "live": updates | {"at": live.get("updated_at")}}

    def cleaned(self, project: int, mode: str) -> tuple[list[Any], dict[str, Any], str] | None:
        """The project's tasks as Label Studio has them now, cleaned by the current audit's
        plan in ``mode`` (backend.cleaning), with only the flags still open applied; what
        was done; the version. None before any audit. Raises MissingCredentials, and the
        client's errors when Label Studio cannot be read."""
        from backend import cleaning

        found = self.audit_file(project, cleaning.PLAN_FILE)
        if found is None:
            return None
        path, version = found
        made = cleaning.Plan.from_json(path.read_text(encoding="utf-8"))
        url, key = self.credentials.of(project)
        verdicts = self.store.verdicts(project)

        def still_open(annotation: int) -> bool:
            return verdicts.get(annotation, {}).get("state", "open") == "open"

        tasks, counts = cleaning.clean(
            self.io.export_tasks(url, key, project), made, mode, still_open=still_open
        )
        return list(tasks), counts.summary(), version

    def audit_file(self, project: int, name: str) -> tuple[Path, str] | None:
        """Return the path and version of a file of the project's current audit, or None."""
        version = self.store.current_version(project)
        if version is None:
            return None
        path = self.artifacts.version_dir(project, version) / name
        return (path, version) if path.is_file() else None


def build_service(
    settings: Settings,
    *,
    store: Store | None = None,
    runner: Runner | None = None,
    io: LabelStudioIO | None = None,
) -> Service:
    """Return the service for ``settings``: embedded without REDIS_URL, Celery with it.

    The web process and the workers build it this way; a worker passes its own runner.
    """
    from backend.store import MemoryStore, RedisStore

    if store is None:
        if settings.redis_url:
            store = RedisStore(settings.redis_url, namespace=settings.namespace)
        else:
            store = MemoryStore()
    if runner is None and settings.redis_url:
        from backend.service.runners import CeleryRunner, celery_app

        runner = CeleryRunner(celery_app(settings), settings)
    artifacts = Artifacts(settings.model_dir, key=settings.signing_key)
    service = Service(settings, store, artifacts, runner, io=io)
    if runner is None and io is None:
        # Embedded, reading a real Label Studio: audits in a child process, off the GIL of
        # the web threads (an injected io is a test's in-process fake: keep the thread).
        from backend.service.process_runner import ProcessRunner

        service.runner = ProcessRunner(service)
    return service
