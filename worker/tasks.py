"""The Celery tasks: a few lines each, passing ids and calling the service's guarded steps.

One audit is ``audit_project`` (claim, load, prepare, split) → a chord of ``audit_fold``
(one task per fold, on any worker) → ``finish_audit`` (finish, final model, publish). Every
step takes ``project`` and ``ticket`` (the job id) and reads what it needs from MODEL_DIR;
nothing but ids and small JSON goes through the broker. ``instant_update`` judges the
annotations changed since its last run again at once (its own queue; the changes are read
from the project's change log, see ``backend.service.instant``). Claims, leases and stages
are the service's (``backend.service.steps``); retries follow its one policy
(``backend.service.policy.RETRY``), for transient I/O only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from celery import Celery, Task, chord, group

from backend.service import RETRY, TRANSIENT, Service
from backend.service.runners import (
    AUDIT_TASK,
    CHECK_TASK,
    FINISH_TASK,
    FOLD_TASK,
    INSTANT_TASK,
    SWEEP_TASK,
    instant_queue,
)

logger = logging.getLogger("labelaudit.worker")

#: Celery's retry options, from the service's one policy.
RETRY_OPTIONS: dict[str, Any] = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": RETRY.backoff,
    "retry_backoff_max": RETRY.backoff_max,
    "max_retries": RETRY.max_retries,
    "retry_jitter": True,
}


def register(app: Celery, service: Callable[[], Service]) -> None:
    """Define labelaudit's tasks on ``app``; ``service()`` returns the process's service."""

    class AuditStep(Task):
        """A step of an audit: late acks, retries on transient I/O, a failed job at the end."""

        abstract = True
        acks_late = True
        reject_on_worker_lost = True
        ignore_result = True

        def on_failure(
            self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any
        ) -> None:
            """Record the failed audit (its error, scrubbed of secrets) and free the project."""
            service().scheduler.fail(kwargs["project"], kwargs["ticket"], exc)

        def on_retry(
            self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any
        ) -> None:
            """Note the transient failure about to be retried in the job record and the log."""
            project, ticket = kwargs["project"], kwargs["ticket"]
            message = service().scheduler.note_retry(project, ticket, exc)
            logger.warning("%s of project %s will retry: %s", self.name, project, message)

        def progress(self, ticket: str) -> Any:
            """Return a progress callback writing the job record and Celery's task state."""

            def mirror(meta: dict[str, Any]) -> None:
                self.update_state(task_id=ticket, state="PROGRESS", meta=meta)

            return service().scheduler.progress_for(ticket, mirror)

    @app.task(bind=True, base=AuditStep, name=AUDIT_TASK, shared=False, **RETRY_OPTIONS)
    def audit_project(self: AuditStep, project: int, ticket: str) -> None:
        """Start (or resume) the ticket's audit; fan its folds out as a chord."""

        def fan_out(folds: int) -> None:
            step = {"project": project, "ticket": ticket, "folds": folds}
            chord(group(audit_fold.s(index=i, **step) for i in range(folds)))(
                finish_audit.s(**step)
            )

        outcome = service().steps.run_begin(project, ticket, self.progress(ticket), then=fan_out)
        if outcome.action == "again":
            self.apply_async(kwargs={"project": project, "ticket": ticket}, countdown=outcome.delay)

    @app.task(
        bind=True,
        base=AuditStep,
        name=FOLD_TASK,
        ignore_result=False,
        shared=False,
        **RETRY_OPTIONS,
    )
    def audit_fold(self: AuditStep, project: int, ticket: str, folds: int, index: int) -> None:
        """Out-of-fold probabilities of one fold, written to MODEL_DIR."""
        outcome = service().steps.run_fold(project, ticket, index)
        if outcome.action == "done":
            self.progress(ticket)("cross-validation", outcome.folds, folds)

    @app.task(bind=True, base=AuditStep, name=FINISH_TASK, shared=False, **RETRY_OPTIONS)
    def finish_audit(self: AuditStep, results: Any, project: int, ticket: str, folds: int) -> None:
        """Finish, the final model, publish (saved here, pushed to Label Studio, current)."""
        outcome = service().steps.run_finish(project, ticket, self.progress(ticket))
        if outcome.action == "again":
            self.apply_async(
                args=[results],
                kwargs={"project": project, "ticket": ticket, "folds": folds},
                countdown=outcome.delay,
            )

    @app.task(name=SWEEP_TASK, ignore_result=True, shared=False)
    def sweep() -> None:
        """Check every known project for changes no webhook announced (once per period)."""
        for project in service().scheduler.sweep():
            check_project.delay(project=project)

    @app.task(name=CHECK_TASK, shared=False, ignore_result=True, acks_late=True, **RETRY_OPTIONS)
    def check_project(project: int) -> None:
        """Schedule an audit if the project's annotations changed since its last audit."""
        service().scheduler.check_project(project)

    @app.task(
        bind=True,
        name=INSTANT_TASK,
        shared=False,
        ignore_result=True,
        acks_late=True,
        **RETRY_OPTIONS,
    )
    def instant_update(self: Task, project: int, message: Any = None) -> None:
        """Judge the project's changed annotations again at once; show them in Label Studio.
        A project whose last run asked for a rest (``Instant.rest``) gets this message again
        once it is over, the hand-off flag still set.

        ``message``: what web processes of older versions sent with each change; those
        changes are in the change log too, so it is not read.
        """
        again = bool(self.request.retries)  # a retry: Label Studio is told even if stored
        instant = service().instant
        rest = 0.0 if again else instant.rest(project)
        if rest > 0 and not self.request.is_eager:
            # Sent again to run later, not slept here: the pool process stays free.
            queue = instant_queue(service().settings)
            self.apply_async(kwargs={"project": project}, countdown=rest, queue=queue)
            return
        time.sleep(rest)  # run in this process (eager): nothing to free
        if not instant.run(project, again=again):
            raise self.retry(countdown=RETRY.backoff)  # the project stayed locked
