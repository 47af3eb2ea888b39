"""How tickets get run: a thread of this process (embedded mode) or Celery workers.

The :class:`CeleryRunner` sends tasks *by name* (:data:`AUDIT_TASK`, ...): the web
process never imports ``worker``; the worker package registers tasks of these names on an
app configured by :func:`celery_app`, from the same settings.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from backend.service.policy import RETRY, TRANSIENT, describe_error
from backend.service.steps import Outcome
from backend.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

    from backend.service import Service

logger = logging.getLogger("labelaudit.service")

AUDIT_TASK = "labelaudit.audit_project"
FOLD_TASK = "labelaudit.audit_fold"
FINISH_TASK = "labelaudit.finish_audit"
SWEEP_TASK = "labelaudit.sweep"
CHECK_TASK = "labelaudit.check_project"
INSTANT_TASK = "labelaudit.instant_update"
#: How long Celery keeps task results (the chord's fold results) in Redis.
RESULT_EXPIRES_SECONDS = 24 * 3600


def lower_priority(settings: Settings) -> int:
    """Add ``settings.audit_nice`` to this process's niceness (children inherit it); return
    the niceness now. ``labelaudit worker`` calls it so the web processes win the cores."""
    import os

    return os.nice(settings.audit_nice)


def celery_app(settings: Settings) -> Celery:
    """Return a Celery app using REDIS_URL as broker and result backend (no tasks defined).

    The web process sends tasks by name with it; ``worker.celery_app`` registers the tasks
    on one built the same way.
    """
    from celery import Celery

    if not settings.redis_url:
        raise ValueError("REDIS_URL is empty: the Celery app needs Redis as broker and backend")
    app = Celery(
        "labelaudit", broker=settings.redis_url, backend=settings.redis_url, set_as_current=False
    )
    app.conf.update(
        task_default_queue=settings.namespace,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # An audit whose worker died runs again: tasks are acknowledged after they finish,
        # and a task whose pool process was killed goes back to the queue.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=_transport_options(settings),
        broker_connection_retry_on_startup=True,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        result_expires=RESULT_EXPIRES_SECONDS,
        beat_schedule=(
            {"labelaudit-sweep": {"task": SWEEP_TASK, "schedule": settings.sweep_seconds}}
            if settings.sweep_seconds > 0
            else {}
        ),
    )
    return app


def instant_queue(settings: Settings) -> str:
    """The Celery queue of instant updates: beside the audits' queue, so an instant update
    never waits behind queued audit steps (workers consume both; more can be added that
    consume this one only)."""
    return f"{settings.namespace}.instant"


def _transport_options(settings: Settings) -> dict[str, Any]:
    """Redis transport options: how soon a task whose worker died is handed out again.

    An unacknowledged task goes back to the queue ``visibility_timeout`` seconds after it
    was delivered; kombu looks for such tasks every ``unacked_restore_interval`` seconds
    (x ``unacked_restore_throttle``), so the interval follows the timeout.

    kombu keeps the unacknowledged tasks of *every* queue in one hash per Redis database
    (``unacked``), and any worker restores any entry older than its own timeout: a worker
    of another namespace with a short timeout handed this namespace's long folds out again.
    Each namespace gets its own hash, index and mutex, so only its own workers, with its
    own timeout, restore its tasks.
    """
    timeout = settings.visibility_timeout
    return {
        "visibility_timeout": timeout,
        "unacked_restore_interval": max(1.0, min(10.0, timeout / 10)),
        "unacked_restore_throttle": 1,
        **unacked_keys(settings.namespace),
    }


def unacked_keys(namespace: str) -> dict[str, str]:
    """The Redis keys where kombu keeps ``namespace``'s delivered, unacknowledged tasks."""
    return {
        "unacked_key": f"{namespace}.unacked",
        "unacked_index_key": f"{namespace}.unacked_index",
        "unacked_mutex_key": f"{namespace}.unacked_mutex",
    }


class CeleryRunner:
    """Enqueues tickets for Celery workers (the web service in Redis mode)."""

    def __init__(self, app: Celery, settings: Settings) -> None:
        self.app = app
        self.queue = settings.namespace
        self.instant_queue = instant_queue(settings)
        self._redis: Any = None
        self._url = settings.redis_url

    # Both tasks are declared ignore_result (worker.tasks) and this process never waits for
    # them: sent with ignore_result, the result backend does not SUBSCRIBE (and later
    # UNSUBSCRIBE) to each task's result channel, two sends off a webhook's path.

    def enqueue(self, project: int, ticket: str, countdown: float) -> None:
        """Send ``audit_project(project, ticket)`` to the queue, due in ``countdown`` s."""
        self.app.send_task(
            AUDIT_TASK,
            kwargs={"project": project, "ticket": ticket},
            countdown=countdown if countdown > 0 else None,
            queue=self.queue,
            ignore_result=True,
        )

    def enqueue_instant(self, project: int) -> None:
        """Send ``instant_update(project)`` to the instant queue (the changes are in the
        project's change log, not in the message)."""
        self.app.send_task(
            INSTANT_TASK, kwargs={"project": project}, queue=self.instant_queue, ignore_result=True
        )

    def queue_depth(self) -> int:
        """Return the number of messages waiting in the queue (not counting countdowns)."""
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(self._url)
        return int(self._redis.llen(self.queue))

    def start(self) -> None:
        """Nothing to start: workers run elsewhere."""


class ThreadRunner:
    """The embedded mode's job runner: one background thread, audits one at a time.

    It also runs the sweep every ``sweep_seconds``. Instant updates have a thread of their
    own, so they never wait for an audit. The threads start on first use, so an app
    factory that builds the service starts nothing.
    """

    def __init__(
        self, service: Service, *, retry_delays: tuple[float, ...] = RETRY.delays()
    ) -> None:
        self.service = service
        self.retry_delays = retry_delays
        self._heap: list[tuple[float, int, str, int, str]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._instant: queue.Queue[int | None] = queue.Queue()
        self._instant_thread: threading.Thread | None = None

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
        """Stop the threads after the items they run."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._instant_thread is not None:
            self._instant.put(None)
            self._instant_thread.join(timeout)
        if self._thread is not None:
            self._thread.join(timeout)

    def enqueue_instant(self, project: int) -> None:
        """Judge the project's changes logged since the last instant run, in the instant
        thread."""
        with self._cond:
            if self._instant_thread is None or not self._instant_thread.is_alive():
                self._instant_thread = threading.Thread(
                    target=self._instant_loop, name="labelaudit-instant", daemon=True
                )
                self._instant_thread.start()
        self._instant.put(project)

    def _instant_loop(self) -> None:
        while (project := self._instant.get()) is not None:
            try:
                self.run_instant(project)
            except Exception:
                logger.exception("embedded runner: instant update of project %s failed", project)

    def run_instant(self, project: int) -> None:
        """Run one instant update, retrying as RETRY says while Label Studio is away; first
        rest as the project's last run asked (``Instant.rest``: this thread does nothing
        else)."""
        again = False
        for delay in (*self.retry_delays, None):
            try:
                if not again:
                    time.sleep(self.service.instant.rest(project))
                if self.service.instant.run(project, again=again):
                    return
                reason = "its project stayed locked"
            except TRANSIENT as err:
                reason = type(err).__name__
            if delay is None:
                logger.warning("instant update of project %s given up (%s)", project, reason)
                return
            time.sleep(delay)
            again = True

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
                    delay = self.run_ticket(project, ticket)
                    if delay is not None:
                        with self._cond:
                            self._push(delay, "audit", project, ticket)
                else:
                    self._sweep()
            except Exception:
                logger.exception("embedded runner: %s of project %s failed", kind, project)

    def run_ticket(self, project: int, ticket: str) -> float | None:
        """Run the ticket's whole audit in this thread; return when to look again, or None."""
        steps, sched = self.service.steps, self.service.scheduler
        progress = sched.progress_for(ticket)
        try:
            begun = self._retried(lambda: steps.run_begin(project, ticket, progress))
            if begun.action != "done":
                return begun.delay if begun.action == "again" else None
            for index in range(begun.folds):
                done = self._retried(functools.partial(steps.run_fold, project, ticket, index))
                if done.action == "stop":
                    sched.supersede(ticket, project)
                    return None
                progress("cross-validation", done.folds, begun.folds)
            finish = functools.partial(steps.run_finish, project, ticket, progress)
            while (finished := self._retried(finish)).action == "again":
                time.sleep(finished.delay)
        except Exception as err:
            sched.fail(project, ticket, err)
        return None

    def _retried(self, step: Callable[[], Outcome]) -> Outcome:
        """Run ``step``, retrying transient failures as RETRY says (the Celery tasks' policy)."""
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

    def _sweep(self) -> None:
        service = self.service
        try:
            for project in service.scheduler.sweep():
                try:
                    service.scheduler.check_project(project)
                except Exception as err:
                    message = service.credentials.scrub(describe_error(err), project)
                    logger.warning("sweep of project %s failed: %s", project, message)
        finally:
            with self._cond:
                self._push(service.settings.sweep_seconds, "sweep", 0, "")
