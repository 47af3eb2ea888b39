"""Re-audits after k fixes through the service, the webhook way and the full-read way
(issue 14, reads that follow the change); ``bench/scale.py --service`` runs it.

The service is the one ``labelaudit serve`` builds (embedded: a MemoryStore, MODEL_DIR in
the bench's folder), its audits run in this thread as the embedded runner runs them
(``ThreadRunner.run_ticket``). Label Studio's own webhook (``ls.webhooks.create``, payload
on) posts each save to a small HTTP server here; the bench hands those bodies, as Label
Studio sent them, to ``Service.annotation_changed`` (what ``POST /webhook`` calls) and runs
the ticket. The full-read way is the same fixes followed by ``Service.trigger`` (as
START_TRAINING, the sweep and manual audits do).

Per audit: read = seconds in ``LabelStudioIO.load`` (the project read whole; 0 when it was
not called) plus the local ``read_changes`` step when the webhooks' changes were applied;
push = seconds in ``next_version`` + ``push``; math = the rest of the audit.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

#: Annotation webhooks the service applies (and Label Studio sends on a save).
ACTIONS = ["ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"]


@contextmanager
def webhook_catcher() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP server on 127.0.0.1 keeping every JSON body posted to it (its URL, the list)."""
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            bodies.append(json.loads(self.rfile.read(size) or b"{}"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/webhook", bodies
    finally:
        server.shutdown()
        server.server_close()


class _NoRunner:
    """Tickets are run by the bench itself (instant feedback is not measured here)."""

    def enqueue(self, project: int, ticket: str, countdown: float) -> None:
        pass

    def enqueue_instant(self, project: int) -> None:
        pass

    def queue_depth(self) -> int:
        return 0

    def start(self) -> None:
        pass


def _timed_io() -> tuple[Any, dict[str, float]]:
    """A LabelStudioIO adding the seconds of its reads and writes to a dict."""
    from backend.publish import LabelStudioIO

    spent = {"load": 0.0, "push": 0.0}

    class TimedIO(LabelStudioIO):
        def load(self, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return super().load(*args, **kwargs)
            finally:
                spent["load"] += time.perf_counter() - started

        def next_version(self, *args: Any, **kwargs: Any) -> str:
            started = time.perf_counter()
            try:
                return super().next_version(*args, **kwargs)
            finally:
                spent["push"] += time.perf_counter() - started

        def push(self, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return super().push(*args, **kwargs)
            finally:
                spent["push"] += time.perf_counter() - started

    return TimedIO(), spent


class Flagged:
    """The flagged tasks of the service's current audit, as ``scale.fix`` asks a result."""

    def __init__(self, service: Any, project: int) -> None:
        summary = service.store.latest_audit(project)["summary"]
        self.ids = [int(t) for t in summary["flagged_task_ids"]]

    def flagged_task_ids(self) -> list[int]:
        return self.ids


def service_rounds(
    url: str,
    token: str,
    ls: Any,
    project: Any,
    fixes: list[int],
    folder: Path,
    *,
    fix: Callable[[Any, Any, Any, int], int],
    make_run: Callable[[str], Any],
) -> list[Any]:
    """A first audit, then per k: k fixes and the webhook re-audit, k more fixes and the
    full-read re-audit; one ``make_run(label)`` (scale.Run) per audit."""
    from backend.service import Service
    from backend.service.runners import ThreadRunner
    from backend.settings import load_settings
    from backend.store import Artifacts, MemoryStore

    settings = load_settings(
        {
            "model_dir": str(folder),
            "label_studio_url": url,
            "label_studio_api_key": token,
            "sweep_seconds": 0,
            "debounce_seconds": 0.0,
        },
        environ={},
    )
    io, spent = _timed_io()
    service = Service(settings, MemoryStore(), Artifacts(folder), _NoRunner(), io=io)
    runner = ThreadRunner(service, retry_delays=(5.0, 15.0))
    runs: list[Any] = []

    def audit(label: str, ticket: str) -> None:
        before = dict(spent)
        started = time.perf_counter()
        while (again := runner.run_ticket(project.id, ticket)) is not None:
            time.sleep(again)
        took = time.perf_counter() - started
        job = service.store.get_job(ticket) or {}
        if job.get("state") != "succeeded":
            raise RuntimeError(f"{label}: {job.get('state')}: {job.get('error')}")
        summary = service.store.latest_audit(project.id)["summary"]
        timings = summary["timings_seconds"]
        run = make_run(label)
        run.read = spent["load"] - before["load"] + float(timings.get("read_changes", 0.0))
        run.push = spent["push"] - before["push"]
        run.switched = run.push
        run.math = took - run.read - run.push
        run.flagged = int(job.get("flagged_tasks") or 0)
        run.extra["notes"] = [n for n in summary.get("notes", []) if n.startswith("tasks:")]
        run.extra["notes"] += [f"{k} {v} s" for k, v in timings.items() if k.startswith("read_")]
        runs.append(run)

    with webhook_catcher() as (hook_url, bodies):
        hook = ls.webhooks.create(
            url=hook_url,
            project=project.id,
            send_payload=True,
            send_for_all_actions=False,
            actions=ACTIONS,
        )
        try:
            audit(
                "service: first audit", service.trigger(project.id, immediate=True, reason="bench")
            )
            for k in fixes:
                bodies.clear()
                fixed = fix(ls, project, Flagged(service, project.id), k)
                deadline = time.monotonic() + 60
                while len(bodies) < fixed and time.monotonic() < deadline:
                    time.sleep(0.05)
                if len(bodies) < fixed:
                    raise RuntimeError(f"{len(bodies)} of {fixed} webhooks arrived")
                ticket = ""
                for body in list(bodies):
                    ticket = service.annotation_changed(project.id, body["action"], body)
                audit(f"service: after {fixed} fixed, webhooks", ticket)
                fixed = fix(ls, project, Flagged(service, project.id), k)
                audit(
                    f"service: after {fixed} fixed, full read",
                    service.trigger(project.id, immediate=True, reason="START_TRAINING"),
                )
        finally:
            ls.webhooks.delete(id=hook.id)
    return runs
