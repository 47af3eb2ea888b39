"""The Celery app, built from the same settings as the web service.

``make_celery(settings)`` builds it; ``celery -A worker.celery_app worker`` finds the
module's ``app``, built from the environment on first access (nothing happens at import).
``labelaudit worker`` is the usual way to start a worker (it adds the sweep's beat).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from celery import Celery

from backend.settings import Settings, load_settings

if TYPE_CHECKING:
    from backend.service import Service

AUDIT_TASK = "labelaudit.audit_project"
FOLD_TASK = "labelaudit.audit_fold"
FINISH_TASK = "labelaudit.finish_audit"
SWEEP_TASK = "labelaudit.sweep"
CHECK_TASK = "labelaudit.check_project"
#: How long Celery keeps task results (the chord's fold results) in Redis.
RESULT_EXPIRES_SECONDS = 24 * 3600


def make_celery(settings: Settings) -> Celery:
    """Return a Celery app using REDIS_URL as broker and result backend, tasks registered."""
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
    app.labelaudit_settings = settings  # type: ignore[attr-defined]

    from worker.tasks import register

    register(app)
    return app


def _transport_options(settings: Settings) -> dict[str, Any]:
    """Redis transport options: how soon a task whose worker died is handed out again.

    An unacknowledged task goes back to the queue ``visibility_timeout`` seconds after it
    was delivered; kombu looks for such tasks every ``unacked_restore_interval`` seconds
    (x ``unacked_restore_throttle``), so the interval follows the timeout.
    """
    timeout = settings.visibility_timeout
    return {
        "visibility_timeout": timeout,
        "unacked_restore_interval": max(1.0, min(10.0, timeout / 10)),
        "unacked_restore_throttle": 1,
    }


class CeleryRunner:
    """Enqueues tickets for Celery workers (used by the web service in Redis mode)."""

    def __init__(self, app: Celery, settings: Settings) -> None:
        self.app = app
        self.queue = settings.namespace
        self._redis: Any = None
        self._url = settings.redis_url

    def enqueue(self, project: int, ticket: str, countdown: float) -> None:
        """Send ``audit_project(project, ticket)`` to the queue, due in ``countdown`` s."""
        self.app.send_task(
            AUDIT_TASK,
            kwargs={"project": project, "ticket": ticket},
            countdown=countdown if countdown > 0 else None,
            queue=self.queue,
        )

    def queue_depth(self) -> int:
        """Return the number of messages waiting in the queue (not counting countdowns)."""
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(self._url)
        return int(self._redis.llen(self.queue))

    def start(self) -> None:
        """Nothing to start: workers run elsewhere."""


def service_of(app: Celery) -> Service:
    """Return the worker process's service (built on first use, after any fork)."""
    service = getattr(app, "_labelaudit_service", None)
    if service is None:
        from backend.service import Service
        from backend.store import Artifacts, RedisStore

        settings: Settings = app.labelaudit_settings  # type: ignore[attr-defined]
        service = Service(
            settings,
            RedisStore(settings.redis_url, namespace=settings.namespace),
            Artifacts(settings.model_dir),
            CeleryRunner(app, settings),
        )
        app._labelaudit_service = service  # type: ignore[attr-defined]
    return service


_app: Celery | None = None


def __getattr__(name: str) -> Any:
    """``worker.celery_app.app``: the app of the environment's settings, built on first use."""
    global _app
    if name in {"app", "celery"}:
        if _app is None:
            _app = make_celery(load_settings())
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
