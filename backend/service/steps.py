"""What one audit does, as steps a Celery group can spread over workers.

:meth:`AuditSteps.begin` (credentials, the tasks: the last audit's with the webhooks' changes
applied, else the project read from Label Studio (:mod:`backend.service.reads`), prepare, the
fold splits, all saved under MODEL_DIR), :meth:`AuditSteps.fold` (one fold's out-of-fold
probabilities, read and written by ids), :meth:`AuditSteps.complete` (finish, the final
model, then :func:`backend.publish.publish`: outputs saved, pushed to Label Studio, made
current). The pipeline's steps (:mod:`backend.pipeline`) do the work; this module adds what
running them as a service needs, in one place: :meth:`AuditSteps.run_begin`,
:meth:`AuditSteps.run_fold` and :meth:`AuditSteps.run_finish` wrap each step in its claim,
lease and stage, and answer an :class:`Outcome` the runners act on (the Celery tasks and the
embedded thread are a few lines each). What an audit takes from people's verdicts and leaves
for them (the flags, the verdicts, instant feedback's data) is
:mod:`backend.service.audit_verdicts`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from backend import verdicts as verdict_rules
from backend.progress import Progress, no_progress
from backend.service import changelog
from backend.service.audit_verdicts import (
    audit_flags,
    instant_data,
    trust_confirmed,
    verdict_changes,
)
from backend.service.cache import Cache
from backend.service.credentials import Credentials
from backend.service.fingerprint import dataset_fingerprint
from backend.service.instant import Instant
from backend.service.instant_data import INSTANT_FILE
from backend.service.policy import Superseded, new_id
from backend.service.predict import FinalModel, Predictor
from backend.service.reads import read_tasks
from backend.service.scheduling import Scheduler
from backend.settings import Settings
from backend.store import VERSIONS_ON_DISK, Artifacts, SavedAudit, Store

if TYPE_CHECKING:
    from backend.pipeline import Prepared
    from backend.publish import LabelStudioIO


logger = logging.getLogger("labelaudit.service")


@dataclass
class WorkItem:
    """What ``begin`` leaves under MODEL_DIR for the folds and ``complete``.

    ``prepared.timings`` holds the seconds of begin's steps (reading the tasks, features);
    ``complete`` adds the folds' and its own, so the report shows the whole audit.
    ``loaded_at`` is when begin started reading the project; ``confirmed`` marks the
    dataset rows trusted because a person confirmed their flag (backend.verdicts).
    """

    prepared: Prepared
    splits: list[tuple[np.ndarray, np.ndarray]]
    source: str
    fingerprint: str
    loaded_at: float = 0.0
    confirmed: np.ndarray | None = None
    read: str = ""  # how begin read the tasks (Read.how), for the summary's notes
    position: int | None = None  # the change log's position its kept tasks are at


@dataclass(frozen=True)
class Outcome:
    """What a guarded step did: ``done`` (with ``folds`` after begin), ``again`` in ``delay``
    seconds (the project is busy or the ticket is debouncing), or ``stop`` (stale)."""

    action: Literal["done", "again", "stop"]
    delay: float = 0.0
    folds: int = 0


class AuditSteps:
    """The three steps of an audit, and each step guarded by its claim, lease and stage."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        artifacts: Artifacts,
        scheduler: Scheduler,
        credentials: Credentials,
        predictor: Predictor,
        io: LabelStudioIO,
        work_cache: Cache,
        instant: Instant,
    ) -> None:
        self.settings = settings
        self.store = store
        self.artifacts = artifacts
        self.scheduler = scheduler
        self.credentials = credentials
        self.predictor = predictor
        self.io = io
        self.work_cache = work_cache
        self.instant = instant

    # ------------------------------------------------------------------ guarded steps

    def run_begin(
        self,
        project: int,
        ticket: str,
        progress: Progress = no_progress,
        *,
        then: Callable[[int], None] | None = None,
    ) -> Outcome:
        """Claim the ticket and run ``begin`` under a lease; ``then(folds)`` runs before the
        stage moves on (the Celery task sends the folds there)."""
        sched = self.scheduler
        owner = new_id()
        claim = sched.claim_begin(project, ticket, owner)
        if claim.action == "stale":
            return Outcome("stop")
        if claim.action != "run":
            return Outcome("again", sched.delay_of(claim))
        with sched.lease(project, ticket, owner):
            sched.start_job(project, ticket)
            folds = self.begin(project, ticket, progress)
            if then is not None:
                then(folds)
            self.store.set_stage(project, ticket, "folds")
        return Outcome("done", folds=folds)

    def run_fold(self, project: int, ticket: str, index: int) -> Outcome:
        """Run fold ``index`` unless the audit is gone; ``folds`` says how many are done."""
        sched = self.scheduler
        if sched.claim_step(project, ticket, None, "folds").action != "run":
            return Outcome("stop")
        with sched.lease(project, ticket, None):
            done = self.fold(project, ticket, index)
        return Outcome("done", folds=done)

    def run_finish(self, project: int, ticket: str, progress: Progress = no_progress) -> Outcome:
        """Claim the last step and run ``complete`` under a lease; close the job."""
        sched = self.scheduler
        owner = new_id()
        claim = sched.claim_step(project, ticket, owner, "finish")
        if claim.action == "stale":
            sched.supersede(ticket, project)
            return Outcome("stop")
        if claim.action != "run":
            return Outcome("again", sched.delay_of(claim))
        try:
            with sched.lease(project, ticket, owner) as lost:
                saved = self.complete(project, ticket, progress, superseded=lost.is_set)
                sched.succeed(project, ticket, saved)
        except Superseded:
            sched.supersede(ticket, project)
            return Outcome("stop")
        return Outcome("done")

    # ------------------------------------------------------------------ the steps

    def begin(self, project: int, ticket: str, progress: Progress = no_progress) -> int:
        """Load and prepare the project, save the work item; return the number of folds."""
        from backend.pipeline import fold_splits, prepare

        url, key = self.credentials.of(project)
        self.artifacts.clear_work(project, keep=ticket)
        timings: dict[str, float] = {}
        loaded_at = time.time()
        started = time.perf_counter()
        dataset, kept, read = read_tasks(
            self.store, self.artifacts, self.io, (project, url, key), progress
        )
        timings[read.timing] = round(time.perf_counter() - started, 3)
        logger.info("audit %s of project %s: %s", ticket, project, read.how)
        self.artifacts.write_pickle(
            self.artifacts.work_dir(project, ticket) / changelog.TASKS_FILE, kept
        )
        fingerprint = dataset_fingerprint(dataset)
        self.store.set_fingerprint(project, fingerprint)
        confirmed = trust_confirmed(self.store, project, dataset)  # after the fingerprint: ours
        fetch = self.credentials.fetcher(url, key)
        prepared = prepare(dataset, self.settings, fetch=fetch, progress=progress)
        prepared.timings = timings | prepared.timings
        splits = fold_splits(prepared, folds=self.settings.folds, seed=self.settings.seed)
        source = dataset.source or f"project:{project}"
        work = WorkItem(
            prepared, splits, source, fingerprint, loaded_at, confirmed, read.how, kept.position
        )
        self.artifacts.write_pickle(self.artifacts.work_dir(project, ticket) / "prepared.pkl", work)
        self.work_cache.put((project, ticket), work)  # this process's folds need not read it
        return len(splits)

    def fold(self, project: int, ticket: str, index: int) -> int:
        """Compute one fold's out-of-fold probabilities; return how many folds are done."""
        from backend.pipeline import fit_predict_fold, timed

        work = self._work(project, ticket)
        train, test = work.splits[index]
        took: dict[str, float] = {}
        with timed(took, "fold"):
            probs = fit_predict_fold(work.prepared, self.settings, train, test)
        folder = self.artifacts.work_dir(project, ticket)
        self.artifacts.write_pickle(folder / f"fold-{index}.pkl", (probs, took["fold"]))
        return len(list(folder.glob("fold-*.pkl")))

    def complete(
        self,
        project: int,
        ticket: str,
        progress: Progress = no_progress,
        *,
        superseded: Callable[[], bool] = lambda: False,
    ) -> SavedAudit:
        """Finish, fit the final model, then publish: saved here, pushed, made current."""
        from backend import tasktypes
        from backend.labelstudio.client import task_page
        from backend.pipeline import finish, timed
        from backend.publish import Target, publish

        started = time.perf_counter()
        work = self._work(project, ticket)
        probs, fold_seconds = self._out_of_fold(project, ticket, work)
        timings = work.prepared.timings | {"cross_validation": round(fold_seconds, 3)}
        result = finish(replace(work.prepared, timings=timings), probs, self.settings)
        if work.read:
            result.notes.append(f"tasks: {work.read}")
        kind = work.prepared.dataset.kind
        task_type = tasktypes.get(kind.task_type)
        with timed(result.timings, "final_model"):
            model = task_type.final_model(work.prepared, result, self.settings)
        instant = instant_data(work, result) if task_type.instant else None
        if instant is not None:  # the verdicts as this audit leaves them, for its summary
            verdicts: dict[int, dict[str, Any] | None] = dict(self.store.verdicts(project))
            verdicts.update(
                verdict_changes(self.instant, project, work, result, self.store.verdicts(project))
            )
            result.verdicts = verdict_rules.counts({a: v for a, v in verdicts.items() if v})
        url, key = self.credentials.of(project)
        fetch = self.credentials.fetcher(url, key)
        if superseded():
            raise Superseded(f"a newer audit of project {project} took over")
        saved: list[SavedAudit] = []

        def keep(version: str, folder: Path) -> None:
            """Save the final model (and what instant updates need) with the version's
            outputs, before anything is pushed."""
            self.artifacts.write_pickle(folder / "model.pkl", FinalModel(kind, model, version))
            if instant is not None:
                self.artifacts.write_pickle(folder / INSTANT_FILE, instant)
            tasks = self.artifacts.work_dir(project, ticket) / changelog.TASKS_FILE
            if tasks.is_file():  # what the next audit starts from (signed: moved as it is)
                os.replace(tasks, folder / changelog.TASKS_FILE)

        def switched(version: str, summary: dict[str, Any], pushed: list[dict[str, Any]]) -> None:
            """Make the results current the moment Label Studio shows them."""
            # /predict answers what was pushed: the suggestion, score = mislabeling = suspicion,
            # and the final model's suggestion for tasks nobody labelled.
            answers = {p["task"]: {k: v for k, v in p.items() if k != "task"} for p in pushed}
            # A project updated in place keeps showing an older version of ours: /predict
            # answers new tasks in that version, so their predictions count as current.
            shown = str(pushed[0]["model_version"]) if pushed else version
            final = FinalModel(kind, model, shown)
            if shown != version:
                folder = self.artifacts.version_dir(project, version)
                self.artifacts.write_pickle(folder / "model.pkl", final)
            unlabeled = list(work.prepared.dataset.unlabeled.items())
            answers.update(self.predictor.predict_inputs(final, unlabeled, url, key))
            job = self.store.get_job(ticket) or {}
            duration = time.time() - float(job.get("started_at") or time.time())
            saved.append(
                SavedAudit(
                    version=version,
                    job=ticket,
                    answers=answers,
                    summary=summary,
                    fingerprint=work.fingerprint,
                    flagged=len(result.flagged_task_ids()),
                    duration=max(duration, time.perf_counter() - started),
                    flags=audit_flags(result),
                    loaded_at=work.loaded_at,
                    instant=instant is not None,
                )
            )
            self.store.save_audit(project, saved[0])
            if work.position is not None:  # the next audit starts from this one's tasks
                self.store.trim_changes(project, work.position)
            if instant is not None:
                # Verdicts follow this audit; changes made since it read the project are
                # applied again on its results (it could not see them).
                changes = verdict_changes(
                    self.instant, project, work, result, self.store.verdicts(project)
                )
                self.store.update_live(project, version, verdicts=changes)
                self.instant.reconcile(project, version, instant)
            self.artifacts.prune_versions(project, self.store.versions(project)[:VERSIONS_ON_DISK])

        published = publish(
            result,
            folder=lambda version: self.artifacts.version_dir(project, version),
            settings=self.settings.redacted(),
            source=work.source,
            title=work.prepared.dataset.title or f"project {project}",
            target=Target(url, key, project),
            io=self.io,
            fetch=fetch,
            task_url=task_page(url, project),
            progress=progress,
            keep=keep,
            switched=switched,
            guard=lambda: self.instant.guard(project),
            latest=next(iter(self.store.versions(project)), None),
        )
        if not saved or saved[0].version != published.version:
            raise RuntimeError(f"the push of project {project} never reported its switch")
        return saved[0]

    # ------------------------------------------------------------------ helpers

    def _work(self, project: int, ticket: str) -> WorkItem:
        path = self.artifacts.work_dir(project, ticket) / "prepared.pkl"
        return self.work_cache.get((project, ticket), lambda: self.artifacts.read_pickle(path))

    def _out_of_fold(self, project: int, ticket: str, work: WorkItem) -> tuple[np.ndarray, float]:
        """Return the out-of-fold probabilities and the seconds the folds took, summed."""
        from backend import tasktypes

        folder = self.artifacts.work_dir(project, ticket)
        task_type = tasktypes.get(work.prepared.dataset.kind.task_type)
        probs = task_type.empty_probs(len(work.prepared.labels), work.prepared.num_classes)
        seconds = 0.0
        for index, (_, test) in enumerate(work.splits):
            path = folder / f"fold-{index}.pkl"
            if not path.exists():
                raise RuntimeError(f"fold {index} of audit {ticket} has no result")
            probs[test], took = self.artifacts.read_pickle(path)
            seconds += took
        return probs, seconds
