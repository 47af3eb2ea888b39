"""The workers' Celery app: configured by the backend, the labelaudit tasks registered on it.

``make_celery(settings)`` builds it; ``celery -A worker.celery_app worker`` finds the
module's ``app``, built from the environment on first access (nothing happens at import).
``labelaudit worker`` is the usual way to start a worker (it adds the sweep's beat).
Dependencies point one way: this package imports the backend, never the reverse (the web
process sends the tasks by name, see ``backend.service.runners``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from celery import Celery

from backend.service import Service, build_service
from backend.service.runners import CeleryRunner, celery_app
from backend.settings import Settings, load_settings
from worker.tasks import register


def make_celery(settings: Settings, *, build: Callable[[Celery], Service] | None = None) -> Celery:
    """Return the Celery app of ``settings`` with labelaudit's tasks registered.

    Each worker process builds its service on first use (after any fork) with
    :func:`backend.service.build_service`, or ``build(app)`` when given (tests).
    """
    app = celery_app(settings)

    def default(app: Celery) -> Service:
        return build_service(settings, runner=CeleryRunner(app, settings))

    register(app, functools.cache(lambda: (build or default)(app)))
    return app


_app: Celery | None = None


def __getattr__(name: str) -> Any:
    """``worker.celery_app.app``: the app of the environment's settings, built on first use."""
    global _app
    if name in {"app", "celery"}:
        if _app is None:
            _app = make_celery(load_settings())
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
