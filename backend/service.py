"""The audit service: when audits run, what one audit does, and /predict's answers.

**When.** Every trigger (a webhook event, START_TRAINING, ``POST /projects/<id>/audit``,
the sweep) calls :meth:`Service.trigger`, which asks the store to *schedule* the
project. A project has at most one pending audit, its *ticket* (the ticket is also the
job id). The first event of a burst creates the ticket and enqueues it with a countdown of
``debounce_seconds``; later events only push its start back (to at most
``debounce_max_seconds`` after the first one), so a burst of 500 events gives one audit.
START_TRAINING and manual audits make the ticket due now. When the ticket's audit starts,
the ticket is consumed atomically with taking the project's lock, so an event that
arrives during an audit creates a new ticket: exactly one more audit, after this one (it
waits, polling every ``poll_seconds``, while the lock is held).

**What.** An audit is three steps so a Celery group can spread the folds over workers:
:meth:`Service.begin` (credentials, load the project from Label Studio, featurize, the
fold splits, all saved under MODEL_DIR), :meth:`Service.fold` (one fold's out-of-fold
probabilities, read and written by ids), :meth:`Service.complete` (confident learning,
the noise-aware final model, push to Label Studio, store predictions, summary and
report). The embedded mode runs the three in one thread (:meth:`Service.run_ticket`).

**Safety.** ``begin`` and ``complete`` run under a *lease* renewed by a heartbeat: a step
delivered twice (Celery redelivers unacknowledged tasks) waits while the first copy is
alive and takes over once it died; a step of an audit that lost its lock to a newer one
stops (*superseded*) and never pushes. Pushing makes a new ``labelaudit-<n>`` version
and removes the older ones, so a repeated push never leaves two current predictions on a
task.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import heapq
import itertools
import json
import logging
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from backend.settings import Settings
from backend.store import VERSIONS_ON_DISK, Artifacts, Claim, SavedAudit, Stage, Store

if TYPE_CHECKING:  # the audit's modules (scikit-learn) load where audits run, not in routes
    from backend.labelstudio.dataset import AuditDataset, TaskKind
    from backend.pipeline import AuditResult, Prepared

logger = logging.getLogger("labelaudit.service")

#: The version /setup answers for a project that was never audited.
NO_VERSION = "labelaudit-0"
#: The placeholder version predictions carry until push_audit names the real one.
PENDING_VERSION = "labelaudit-pending"
#: Failures worth trying again: Label Studio 5xx, timeouts, refused connections.
TRANSIENT = (ConnectionError, TimeoutError)
#: Seconds between attempts of a step that failed transiently (embedded mode).
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)
#: A progress step is written to the store at most this often (except its last update).
PROGRESS_INTERVAL = 0.5
#: How many of each kind of loaded artifact a process keeps in memory: the prepared
#: dataset of the audit it works on, and the final models /predict uses.
CACHE_SIZES = {"work": 1, "model": 4}

#: progress(step, done, total)
Progress = Callable[[str, int, int], None]
#: loader(url, api_key, project_id, progress) -> AuditDataset
Loader = Callable[[str, str, int, Progress], "AuditDataset"]
#: pusher(url, api_key, project_id, predictions, flagged, progress, switched) -> version,
#: where flagged maps each flagged task id to its flagged annotation's id and switched(version)
#: is called once the project shows the new version, before older ones are deleted
Pusher = Callable[
    [str, str, int, list[dict[str, Any]], dict[int, int], Progress, Callable[[str], None]], str
]


class MissingCredentials(ValueError):
    """Neither the environment nor /setup gave a Label Studio URL and key for a project."""


class Superseded(RuntimeError):
    """A newer audit of the project took over; this one stops without pushing."""


class Runner(Protocol):
    """Runs tickets: Celery workers, or a thread of this process."""

    def enqueue(self, project: int, ticket: str, countdown: float) -> None:
        """Start the ticket's audit in ``countdown`` seconds."""
        ...

    def queue_depth(self) -> int:
        """Return how many tasks wait to run."""
        ...

    def start(self) -> None:
        """Start background machinery, if any (idempotent)."""
        ...


@dataclass
class WorkItem:
    """What ``begin`` leaves under MODEL_DIR for the folds and ``complete``.

    ``prepared.timings`` holds the seconds of begin's steps (reading the tasks, features);
    ``complete`` adds the folds' and its own, so the report shows the whole audit.
    """

    prepared: Prepared
    splits: list[tuple[np.ndarray, np.ndarray]]
    source: str
    fingerprint: str


@dataclass
class FinalModel:
    """The noise-aware model of one version, for tasks that were never audited."""

    kind: TaskKind
    model: Any  # predict_proba columns are class codes 0..K-1 of kind.classes
    version: str


def _no_progress(step: str, done: int, total: int) -> None:
    """Progress callback that does nothing."""


def new_id() -> str:
    """Return a fresh ticket / lease id."""
    return uuid.uuid4().hex


def load_from_label_studio(
    url: str, api_key: str, project: int, progress: Progress
) -> AuditDataset:
    """Read a project through the Label Studio API."""
    from backend.labelstudio.client import load_project

    return load_project(
        url, api_key, project, progress=lambda done, total: progress("export", done, total or done)
    )


def push_to_label_studio(
    url: str,
    api_key: str,
    project: int,
    predictions: list[dict[str, Any]],
    flagged: dict[int, int],
    progress: Progress,
    switched: Callable[[str], None],
) -> str:
    """Push predictions and the review tab; return the new model version."""
    from backend.labelstudio.client import close, connect
    from backend.labelstudio.push import push_audit

    client = connect(url, api_key)
    try:
        return push_audit(
            client,
            project,
            predictions,
            flagged,
            progress=lambda d, t: progress("push", d, t),
            switched=switched,
        )
    finally:
        close(client)


def dataset_fingerprint(dataset: AuditDataset) -> str:
    """Hash what an audit of ``dataset`` depends on: the task kind and every annotation."""
    kind = dataset.kind
    digest = hashlib.sha256()
    head = [
        kind.task_type,
        kind.control,
        kind.object_name,
        kind.input_type,
        list(kind.data_keys),
        list(kind.classes),
    ]
    digest.update(json.dumps(head).encode())
    order = np.lexsort((dataset.annotation_ids, dataset.task_ids))
    for column in (dataset.task_ids, dataset.annotation_ids, dataset.labels, dataset.ground_truth):
        digest.update(np.asarray(column)[order].astype(np.int64).tobytes())
    digest.update(json.dumps([dataset.inputs[i] for i in order], default=str).encode())
    return digest.hexdigest()


def describe_error(err: BaseException) -> str:
    """Return a one-line message for a job record (the errors we raise already hold no secret)."""
    tasktypes = sys.modules.get("backend.tasktypes")  # loaded wherever NothingToAudit was raised
    if tasktypes is not None and isinstance(err, tasktypes.NothingToAudit):
        return f"nothing to audit: {err}"
    if isinstance(err, (ValueError, PermissionError, *TRANSIENT)):
        return str(err) or type(err).__name__
    return f"{type(err).__name__}: {err}"


class Service:
    """Scheduling, the audit steps and /predict, over one store and one artifact directory."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        artifacts: Artifacts,
        runner: Runner | None = None,
        *,
        loader: Loader = load_from_label_studio,
        pusher: Pusher = push_to_label_studio,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        self.settings = settings
        self.store = store
        self.artifacts = artifacts
        self.runner: Runner = runner if runner is not None else ThreadRunner(self)
        self.loader = loader
        self.pusher = pusher
        self.retry_delays = retry_delays
        self._caches: dict[str, OrderedDict[tuple[str, ...], Any]] = {
            kind: OrderedDict() for kind in CACHE_SIZES
        }
        self._cache_lock = threading.Lock()

    # ------------------------------------------------------------------ secrets

    def secrets(self, project: int | None = None) -> list[str]:
        """Return every secret this service knows (to scrub from messages)."""
        found = [self.settings.label_studio_api_key, self.settings.basic_auth_pass]
        if project is not None:
            found.append(self.store.credentials(project)[1])
        return [s for s in found if s]

    def scrub(self, text: str, project: int | None = None) -> str:
        """Return ``text`` with every known secret replaced by ``***``."""
        for secret in self.secrets(project):
            text = text.replace(secret, "***")
        return text

    def credentials(self, project: int) -> tuple[str, str]:
        """Return the Label Studio (url, key) for a project: environment first, then /setup."""
        stored_url, stored_key = self.store.credentials(project)
        url = self.settings.label_studio_url or stored_url
        key = self.settings.label_studio_api_key or stored_key
        if not url or not key:
            missing = " and ".join(
                name
                for name, value in (("LABEL_STUDIO_URL", url), ("LABEL_STUDIO_API_KEY", key))
                if not value
            )
            raise MissingCredentials(
                f"no Label Studio credentials for project {project}: set {missing}, or connect "
                "the backend to the project in Label Studio (its /setup call carries them)"
            )
        return url, key

    def _fetcher(self, url: str, key: str) -> Callable[[str], bytes]:
        from backend.labelstudio.client import fetch_bytes

        return functools.partial(
            fetch_bytes,
            base_url=url,
            api_key=key,
            timeout=self.settings.image_timeout,
            allow_local=False,
        )

    # ------------------------------------------------------------------ scheduling

    @property
    def ticket_ttl(self) -> float:
        """How long a pending ticket lives without being looked at."""
        return max(self.settings.lock_seconds, 4 * self.settings.debounce_max_seconds)

    def trigger(self, project: int, *, immediate: bool, reason: str) -> str:
        """Schedule an audit of ``project`` (debounced unless ``immediate``); return its job id."""
        s = self.settings
        scheduled = self.store.schedule(
            project,
            new_id(),
            immediate=immediate,
            debounce=s.debounce_seconds,
            max_wait=s.debounce_max_seconds,
            ttl=self.ticket_ttl,
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
            self.runner.enqueue(project, scheduled.ticket, scheduled.countdown)
        return scheduled.ticket

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

    # ------------------------------------------------------------------ the audit

    def start_job(self, project: int, ticket: str) -> None:
        """Mark the ticket's job running (a resumed job keeps its first start time)."""
        job = self.store.get_job(ticket) or {}
        started = job.get("started_at") if job.get("state") == "running" else None
        self.store.put_job(
            ticket, project=project, state="running", started_at=started or time.time(), error=None
        )

    def begin(self, project: int, ticket: str, progress: Progress = _no_progress) -> int:
        """Load and featurize the project, save the work item; return the number of folds."""
        from backend.pipeline import fold_splits, prepare, timed

        url, key = self.credentials(project)
        self.artifacts.clear_work(project, keep=ticket)
        timings: dict[str, float] = {}
        with timed(timings, "read_tasks"):
            dataset = self.loader(url, key, project, progress)
        fingerprint = dataset_fingerprint(dataset)
        self.store.set_fingerprint(project, fingerprint)
        prepared = prepare(dataset, self.settings, fetch=self._fetcher(url, key), progress=progress)
        prepared.timings = timings | prepared.timings
        splits = fold_splits(prepared, folds=self.settings.folds, seed=self.settings.seed)
        work = WorkItem(prepared, splits, dataset.source or f"project:{project}", fingerprint)
        self.artifacts.write_pickle(self.artifacts.work_dir(project, ticket) / "prepared.pkl", work)
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
        progress: Progress = _no_progress,
        *,
        superseded: Callable[[], bool] = lambda: False,
    ) -> SavedAudit:
        """Confident learning, final model, push, then make the results current."""
        from backend import report
        from backend.labelstudio.client import task_page
        from backend.pipeline import finish, timed

        started = time.perf_counter()
        work = self._work(project, ticket)
        probs, fold_seconds = self._out_of_fold(project, ticket, work)
        timings = work.prepared.timings | {"cross_validation": round(fold_seconds, 3)}
        result = finish(replace(work.prepared, timings=timings), probs, self.settings)
        with timed(result.timings, "final_model"):
            final = self._final_model(work.prepared, result)
        url, key = self.credentials(project)
        task_url = task_page(url, project)
        if superseded():
            raise Superseded(f"a newer audit of project {project} took over")
        pushed = report.predictions(result, PENDING_VERSION)
        pushing = time.perf_counter()
        saved: list[SavedAudit] = []

        def record(version: str) -> None:
            """Make the results current the moment Label Studio shows them."""
            result.timings["push"] = round(time.perf_counter() - pushing, 3)
            final.version = version
            summary = report.summary(
                result,
                settings=self.settings.redacted(),
                source=work.source,
                model_version=version,
                title=work.prepared.dataset.title or f"project {project}",
            )
            folder = self.artifacts.version_dir(project, version)
            self.artifacts.write_pickle(folder / "model.pkl", final)
            # The version becomes current (and its files served) only in save_audit below.
            report.write_outputs(
                result, folder, summary, fetch=self._fetcher(url, key), task_url=task_url
            )
            # /predict answers what was pushed: the suggestion, score = mislabeling = suspicion.
            answers = {
                p["task"]: {k: v for k, v in p.items() if k != "task"} | {"model_version": version}
                for p in pushed
            }
            unlabeled = list(work.prepared.dataset.unlabeled.items())
            answers.update(self._predict_inputs(final, unlabeled, url, key))
            job = self.store.get_job(ticket) or {}
            duration = time.time() - float(job.get("started_at") or time.time())
            saved.append(
                SavedAudit(
                    version=version,
                    job=ticket,
                    predictions=answers,
                    summary=summary,
                    fingerprint=work.fingerprint,
                    flagged=len(result.flagged_task_ids()),
                    duration=max(duration, time.perf_counter() - started),
                )
            )
            self.store.save_audit(project, saved[0])
            self.artifacts.prune_versions(project, self.store.versions(project)[:VERSIONS_ON_DISK])

        version = self.pusher(
            url, key, project, pushed, result.flagged_annotations(), progress, record
        )
        if not saved or saved[0].version != version:
            raise RuntimeError(f"the push of project {project} never reported its switch")
        return saved[0]

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
        self.forget("work")
        logger.info(
            "audit %s of project %s: %s, %d tasks flagged",
            ticket,
            project,
            saved.version,
            saved.flagged,
        )

    def fail(self, project: int, ticket: str, err: BaseException) -> None:
        """Close a failed audit: job record with the error, metrics, free the project."""
        message = self.scrub(describe_error(err), project)
        if isinstance(err, TRANSIENT):
            self.store.set_fingerprint(project, None)  # let the sweep try again
        job = self.store.get_job(ticket) or {}
        if self.store.release(project, ticket):
            started = float(job.get("started_at") or time.time())
            self.store.record_outcome(
                project, succeeded=False, duration=time.time() - started, flagged=None
            )
        self.store.put_job(ticket, state="failed", error=message, finished_at=time.time())
        self.forget("work")
        with contextlib.suppress(ValueError, OSError):
            self.artifacts.clear_work(project, keep=self.store.activity(project)["running"])
        logger.warning("audit %s of project %s failed: %s", ticket, project, message)

    def supersede(self, ticket: str) -> None:
        """Mark a job whose audit lost its project to a newer one."""
        job = self.store.get_job(ticket)
        if job is not None and job.get("state") not in {"succeeded", "failed"}:
            self.store.put_job(ticket, state="superseded", finished_at=time.time())

    def run_ticket(self, project: int, ticket: str) -> float | None:
        """Run the ticket's whole audit in this thread; return when to look again, or None."""
        owner = new_id()
        claim = self.claim_begin(project, ticket, owner)
        if claim.action == "stale":
            return None
        if claim.action != "run":
            return self.delay_of(claim)
        progress = self.progress_for(ticket)
        try:
            with self.lease(project, ticket, owner) as lost:
                self.start_job(project, ticket)
                folds = self._with_retries(lambda: self.begin(project, ticket, progress))
                self.store.set_stage(project, ticket, "folds")
                for index in range(folds):
                    progress("cross-validation", self.fold(project, ticket, index), folds)
                self.store.set_stage(project, ticket, "finish")
                saved = self._with_retries(
                    lambda: self.complete(project, ticket, progress, superseded=lost.is_set)
                )
                self.succeed(project, ticket, saved)
        except Superseded:
            self.supersede(ticket)
        except Exception as err:
            self.fail(project, ticket, err)
        return None

    def _with_retries(self, step: Callable[[], Any]) -> Any:
        for delay in (*self.retry_delays, None):
            try:
                return step()
            except TRANSIENT as err:
                if delay is None:
                    raise
                logger.warning(
                    "transient failure (%s); retrying in %.0f s", type(err).__name__, delay
                )
                time.sleep(delay)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ helpers of the steps

    def _cached(self, kind: str, key: tuple[str, ...], load: Callable[[], Any]) -> Any:
        """Return ``load()``, remembered per process (the last CACHE_SIZES[kind]; not None)."""
        cache = self._caches[kind]
        with self._cache_lock:
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
        value = load()
        if value is None:
            return None
        with self._cache_lock:
            cache[key] = value
            while len(cache) > CACHE_SIZES[kind]:
                cache.popitem(last=False)
        return value

    def forget(self, kind: str | None = None) -> None:
        """Drop what this process remembers (of one kind, or all)."""
        with self._cache_lock:
            for name, cache in self._caches.items():
                if kind in (None, name):
                    cache.clear()

    def _work(self, project: int, ticket: str) -> WorkItem:
        path = self.artifacts.work_dir(project, ticket) / "prepared.pkl"
        return self._cached(
            "work", (str(project), ticket), lambda: self.artifacts.read_pickle(path)
        )

    def _out_of_fold(self, project: int, ticket: str, work: WorkItem) -> tuple[np.ndarray, float]:
        """Return the out-of-fold probabilities and the seconds the folds took, summed."""
        folder = self.artifacts.work_dir(project, ticket)
        probs = np.zeros((len(work.prepared.labels), work.prepared.num_classes))
        seconds = 0.0
        for index, (_, test) in enumerate(work.splits):
            path = folder / f"fold-{index}.pkl"
            if not path.exists():
                raise RuntimeError(f"fold {index} of audit {ticket} has no result")
            probs[test], took = self.artifacts.read_pickle(path)
            seconds += took
        return probs, seconds

    def _final_model(self, prepared: Prepared, result: AuditResult) -> FinalModel:
        """Fit the task type's noise-aware model for tasks no audit has seen."""
        from backend import tasktypes

        kind = prepared.dataset.kind
        model = tasktypes.get(kind.task_type).final_model(prepared, result, self.settings)
        return FinalModel(kind=kind, model=model, version="")

    def _predict_inputs(
        self, final: FinalModel, items: list[tuple[int, Any]], url: str, key: str
    ) -> dict[int, dict[str, Any]]:
        """Predict raw task inputs with the final model; keys whose input fails are left out."""
        from backend.inputs import featurize
        from backend.labelstudio.predictions import build_predict_result

        if not items:
            return {}
        keys = [k for k, _ in items]
        fetch = self._fetcher(url, key) if url and key else None
        X, ok, _ = featurize(final.kind, [v for _, v in items], self.settings, fetch=fetch)
        rows = np.flatnonzero(ok)
        if len(rows) == 0:
            return {}
        codes = final.model.predict_proba(X[rows]).argmax(axis=1)
        out = {}
        for row, code in zip(rows.tolist(), codes.tolist(), strict=True):
            answer = build_predict_result(final.kind, code, 0.0, final.version)
            # score is the suspicion of a given label; a task nobody labelled has none.
            answer.pop("score")
            out[keys[row]] = answer
        return out

    def final_model(self, project: int, version: str) -> FinalModel | None:
        """Return the final model of a version (cached per process), or None if absent."""
        path = self.artifacts.version_dir(project, version) / "model.pkl"

        def load() -> FinalModel | None:
            return self.artifacts.read_pickle(path) if path.exists() else None

        return self._cached("model", (str(project), version), load)

    # ------------------------------------------------------------------ /predict

    def predict(self, project: int, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One answer per task, in order: stored verdicts, else the final model, else empty."""
        ids = [_task_id(task) for task in tasks]
        known = [i for i in ids if i is not None]
        stored = dict(zip(known, self.store.predictions(project, known), strict=True))
        answers: list[dict[str, Any] | None] = [
            stored.get(i) if i is not None else None for i in ids
        ]
        missing = [pos for pos, answer in enumerate(answers) if answer is None]
        version = None
        if missing:
            version = self.store.current_version(project)
            fresh = self._predict_new(project, version, [tasks[pos] for pos in missing])
            for pos, answer in zip(missing, fresh, strict=True):
                answers[pos] = answer
        empty = {"result": [], "score": 0.0, "model_version": version or NO_VERSION}
        return [answer if answer is not None else dict(empty) for answer in answers]

    def _predict_new(
        self, project: int, version: str | None, tasks: list[dict[str, Any]]
    ) -> list[dict[str, Any] | None]:
        """Predict tasks no audit has seen with the version's final model (None: cannot)."""
        from backend.labelstudio.export import dataset_from_tasks

        if version is None:
            return [None] * len(tasks)
        try:
            final = self.final_model(project, version)
            if final is None:
                return [None] * len(tasks)
            positioned = [{"id": pos, "data": task.get("data")} for pos, task in enumerate(tasks)]
            inputs = dataset_from_tasks(positioned, final.kind, source="predict").unlabeled
            try:
                url, key = self.credentials(project)
            except MissingCredentials:
                url = key = ""
            found = self._predict_inputs(final, list(inputs.items()), url, key)
        except Exception as err:  # /predict answers something for every task, always
            logger.warning(
                "predicting new tasks of project %s failed: %s",
                project,
                self.scrub(describe_error(err), project),
            )
            return [None] * len(tasks)
        return [found.get(pos) for pos in range(len(tasks))]

    # ------------------------------------------------------------------ the sweep

    def sweep(self) -> list[int]:
        """Return the projects to check now (empty unless this caller won the period)."""
        period = self.settings.sweep_seconds
        if period <= 0 or not self.store.try_sweep(period):
            return []
        return self.store.projects()

    def check_project(self, project: int) -> bool:
        """Schedule an audit if the project's annotations changed since its last audit."""
        activity = self.store.activity(project)
        if activity["scheduled"] or activity["running"]:
            return False
        try:
            url, key = self.credentials(project)
        except MissingCredentials:
            return False
        dataset = self.loader(url, key, project, _no_progress)
        if dataset_fingerprint(dataset) == self.store.fingerprint(project):
            return False
        self.trigger(project, immediate=True, reason="sweep")
        return True


def _task_id(task: Any) -> int | None:
    value = task.get("id") if isinstance(task, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --------------------------------------------------------------------------- embedded runner


class ThreadRunner:
    """The embedded mode's job runner: one background thread, audits one at a time.

    It also runs the sweep every ``sweep_seconds``. The thread starts on first use, so an
    app factory that builds the service starts nothing.
    """

    def __init__(self, service: Service) -> None:
        self.service = service
        self._heap: list[tuple[float, int, str, int, str]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def start(self) -> None:
        """Start the thread (and the sweep) unless running."""
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopped = False
            if self.service.settings.sweep_seconds > 0:
                self._push(self.service.settings.sweep_seconds, "sweep", 0, "")
            self._thread = threading.Thread(
                target=self._loop, name="labelaudit-runner", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread after the item it runs."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def enqueue(self, project: int, ticket: str, countdown: float) -> None:
        """Run the ticket in ``countdown`` seconds."""
        self.start()
        with self._cond:
            self._push(countdown, "audit", project, ticket)
            self._cond.notify_all()

    def queue_depth(self) -> int:
        """Return the number of audits waiting."""
        with self._cond:
            return sum(1 for item in self._heap if item[2] == "audit")

    def _push(self, countdown: float, kind: str, project: int, ticket: str) -> None:
        heapq.heappush(
            self._heap, (time.monotonic() + countdown, next(self._seq), kind, project, ticket)
        )

    def _next(self) -> tuple[str, int, str] | None:
        with self._cond:
            while not self._stopped:
                if self._heap and self._heap[0][0] <= time.monotonic():
                    _, _, kind, project, ticket = heapq.heappop(self._heap)
                    return kind, project, ticket
                timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                self._cond.wait(timeout)
            return None

    def _loop(self) -> None:
        while (item := self._next()) is not None:
            kind, project, ticket = item
            try:
                if kind == "audit":
                    delay = self.service.run_ticket(project, ticket)
                    if delay is not None:
                        with self._cond:
                            self._push(delay, "audit", project, ticket)
                else:
                    self._sweep()
            except Exception:
                logger.exception("embedded runner: %s of project %s failed", kind, project)

    def _sweep(self) -> None:
        try:
            for project in self.service.sweep():
                try:
                    self.service.check_project(project)
                except Exception as err:
                    message = self.service.scrub(describe_error(err), project)
                    logger.warning("sweep of project %s failed: %s", project, message)
        finally:
            with self._cond:
                self._push(self.service.settings.sweep_seconds, "sweep", 0, "")
