"""``labelaudit serve`` and ``labelaudit worker``: the ML backend service's processes."""

from __future__ import annotations

import argparse
import sys
from typing import Any

#: Gunicorn worker processes in Redis mode when --workers is not given.
DEFAULT_WEB_PROCESSES = 2
#: Threads per gunicorn process (the gthread worker class).
DEFAULT_WEB_THREADS = 8


def _log_to_stderr(level: str) -> None:
    """Send labelaudit's own log records to stderr (gunicorn and Celery log their own)."""
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("labelaudit")
    logger.addHandler(handler)
    logger.setLevel(level.upper())


def _warm_up(worker: Any) -> None:
    """Gunicorn hook: prepare each worker process before it takes requests.

    Then freeze what is loaded so far (``gc.freeze``): the collector never walks those
    objects again. Otherwise a full collection walks every module object at each of its
    periodic runs, tens of milliseconds with the GIL held, and every request thread of the
    process waits (issue 16 measured p99 4-10x a bare Flask app's from this alone).
    """
    import gc

    from backend.api.routes import warm_up

    warm_up()
    gc.collect()
    gc.freeze()


def serve(args: argparse.Namespace) -> int:
    """Run the ML backend under gunicorn (embedded audits without REDIS_URL)."""
    from gunicorn.app.base import BaseApplication

    from backend.api.auth import check_config
    from backend.settings import load_settings

    settings = load_settings()
    check_config(settings)  # fail here, not in every gunicorn worker
    embedded = not settings.redis_url
    workers = args.workers or (1 if embedded else DEFAULT_WEB_PROCESSES)
    if embedded and workers != 1:
        print(
            "labelaudit: without REDIS_URL state lives in one process; serving with 1 worker",
            file=sys.stderr,
        )
        workers = 1
    options = {
        "bind": f"{args.host}:{args.port}",
        "workers": workers,
        "threads": args.threads,
        "worker_class": "gthread",
        "timeout": args.timeout,
        "keepalive": 5,
        "accesslog": "-" if args.access_log else None,
        "errorlog": "-",
        "loglevel": args.log_level,
        "post_worker_init": _warm_up,
    }

    class _Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from backend.api import create_app

            return create_app()

    _log_to_stderr(args.log_level)
    mode = "embedded (audits in this process)" if embedded else "Redis + Celery workers"
    print(f"labelaudit: serving on http://{args.host}:{args.port} ({mode})", file=sys.stderr)
    _Server().run()
    return 0


def worker(args: argparse.Namespace) -> int:
    """Run a Celery worker for audits and folds (with the sweep's beat unless --no-beat).

    The worker is Celery's own command on the app ``worker.celery_app`` (found by name: the
    backend never imports the worker package); this process becomes it.
    """
    import os
    import tempfile

    from backend.service.runners import instant_queue, lower_priority
    from backend.settings import load_settings

    settings = load_settings()
    if not settings.redis_url:
        return fail(
            "REDIS_URL is not set: a worker needs Redis (without it, `labelaudit serve` "
            "runs audits itself)"
        )
    argv = [
        sys.executable,
        "-m",
        "celery",
        "--app",
        "worker.celery_app",
        "worker",
        "--loglevel",  # Celery's spelling of it
        args.log_level.upper(),
        "--concurrency",
        str(args.concurrency or os.cpu_count() or 1),
        "--queues",
        f"{settings.namespace},{instant_queue(settings)}",
        "--hostname",
        f"labelaudit-{os.getpid()}@%h",
        "--without-mingle",
        "--without-gossip",
    ]
    if args.beat and settings.sweep_seconds > 0:
        schedule = os.path.join(tempfile.mkdtemp(prefix="labelaudit-beat-"), "schedule")
        argv += ["--beat", "--schedule", schedule]
    lower_priority(settings)  # Celery's pool processes inherit it
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)  # Celery logs labelaudit's records with its own


def fail(message: str) -> int:
    """Print ``labelaudit: message`` to stderr; return exit code 1."""
    print(f"labelaudit: {message}", file=sys.stderr)
    return 1
