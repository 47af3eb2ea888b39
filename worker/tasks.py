"""The Celery tasks: thin wrappers that pass ids and call backend.service.

One audit is ``audit_project`` (load, featurize, split) → a chord of ``audit_fold``
(one task per fold, on any worker) → ``finish_audit`` (confident learning, final model,
push, store). Every step takes ``project`` and ``ticket`` (the job id) and reads what it
needs from MODEL_DIR; nothing but ids and small JSON goes through the broker.

Retries are declared for transient I/O only (Label Studio 5xx, timeouts, refused
connections: ``ConnectionError``/``TimeoutError``), with exponential backoff. Any other
error fails the audit: the job shows the error and the project is free again.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task, chord, group

from backend.service import TRANSIENT, Superseded, new_id
from worker.celery_app import (
    AUDIT_TASK,
    CHECK_TASK,
    FINISH_TASK,
    FOLD_TASK,
    SWEEP_TASK,
    service_of,
)

logger = logging.getLogger("labelaudit.worker")

#: Attempts after the first for a step that failed on transient I/O.
MAX_RETRIES = 5
#: Longest wait between two attempts, seconds.
RETRY_BACKOFF_MAX = 60


class AuditStep(Task):
    """A step of an audit: late acks, retries on transient I/O, a failed job when it gives up."""

    abstract = True
    autoretry_for = TRANSIENT
    retry_backoff = True
    retry_backoff_max = RETRY_BACKOFF_MAX
    retry_jitter = True
    max_retries = MAX_RETRIES
    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """Record the failed audit (its error, scrubbed of secrets) and free the project."""
        service_of(self.app).fail(kwargs["project"], kwargs["ticket"], exc)

    def on_retry(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """Note the transient failure about to be retried in the job record and the log."""
        service = service_of(self.app)
        project, ticket = kwargs["project"], kwargs["ticket"]
        message = service.scrub(str(exc) or type(exc).__name__, project)
        job = service.store.get_job(ticket) or {}
        service.store.put_job(ticket, retries=int(job.get("retries") or 0) + 1, last_error=message)
        logger.warning("%s of project %s will retry: %s", self.name, project, message)

    def progress(self, ticket: str) -> Any:
        """Return a progress callback writing the job record and Celery's task state."""

        def mirror(meta: dict[str, Any]) -> None:
            self.update_state(task_id=ticket, state="PROGRESS", meta=meta)

        return service_of(self.app).progress_for(ticket, mirror)


def register(app: Celery) -> None:
    """Define labelaudit's tasks on ``app``."""

    @app.task(bind=True, base=AuditStep, name=AUDIT_TASK, shared=False)
    def audit_project(self: AuditStep, project: int, ticket: str) -> None:
        """Start (or resume) the ticket's audit; fan its folds out as a chord."""
        service = service_of(self.app)
        owner = new_id()
        claim = service.claim_begin(project, ticket, owner)
        if claim.action == "stale":
            return
        if claim.action != "run":
            self.apply_async(
                kwargs={"project": project, "ticket": ticket}, countdown=service.delay_of(claim)
            )
            return
        with service.lease(project, ticket, owner):
            service.start_job(project, ticket)
            folds = service.begin(project, ticket, self.progress(ticket))
            step = {"project": project, "ticket": ticket, "folds": folds}
            header = group(audit_fold.s(index=i, **step) for i in range(folds))
            chord(header)(finish_audit.s(**step))
            service.store.set_stage(project, ticket, "folds")

    @app.task(bind=True, base=AuditStep, name=FOLD_TASK, ignore_result=False, shared=False)
    def audit_fold(self: AuditStep, project: int, ticket: str, folds: int, index: int) -> None:
        """Out-of-fold probabilities of one fold, written to MODEL_DIR."""
        service = service_of(self.app)
        if service.claim_step(project, ticket, None, "folds").action != "run":
            return
        with service.lease(project, ticket, None):
            done = service.fold(project, ticket, index)
        self.progress(ticket)("cross-validation", done, folds)

    @app.task(bind=True, base=AuditStep, name=FINISH_TASK, shared=False)
    def finish_audit(self: AuditStep, results: Any, project: int, ticket: str, folds: int) -> None:
        """Confident learning, the final model, push to Label Studio, store the results."""
        service = service_of(self.app)
        owner = new_id()
        claim = service.claim_step(project, ticket, owner, "finish")
        if claim.action == "stale":
            service.supersede(ticket)
            return
        if claim.action != "run":
            self.apply_async(
                args=[results],
                kwargs={"project": project, "ticket": ticket, "folds": folds},
                countdown=service.delay_of(claim),
            )
            return
        try:
            with service.lease(project, ticket, owner) as lost:
                saved = service.complete(
                    project, ticket, self.progress(ticket), superseded=lost.is_set
                )
                service.succeed(project, ticket, saved)
        except Superseded:
            service.supersede(ticket)

    @app.task(name=SWEEP_TASK, ignore_result=True, shared=False)
    def sweep() -> None:
        """Check every known project for changes no webhook announced (once per period)."""
        for project in service_of(app).sweep():
            check_project.delay(project=project)

    @app.task(
        name=CHECK_TASK,
        shared=False,
        ignore_result=True,
        autoretry_for=TRANSIENT,
        retry_backoff=True,
        retry_backoff_max=RETRY_BACKOFF_MAX,
        max_retries=MAX_RETRIES,
        acks_late=True,
    )
    def check_project(project: int) -> None:
        """Schedule an audit if the project's annotations changed since its last audit."""
        service_of(app).check_project(project)
