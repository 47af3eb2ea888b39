"""bench/scale_read.py's ``service`` mode: Start Training to the pushed tab, through the service.

What a Label Studio user does: the project is connected to a running ``labelaudit serve``
(Redis mode with one ``labelaudit worker``, or embedded), Start Training posts
``START_TRAINING`` to its /webhook, and the audit's job runs (begin: the whole project read
with the export; the folds; finish; publish: outputs written, one import call, the
project's model_version and the "Needs re-review" tab). Timed from the webhook's POST to
the job's ``succeeded`` (``GET /jobs/<id>``, polled every 0.2 s: the job succeeds once the
project shows the version and its tab), then the summary's own per-phase timings
(``GET /projects/<id>/audit``) and what Label Studio holds (one prediction a task, the tab).
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench import scale
from tests.worker.support import start_server, start_worker, stop_worker, worker_env

#: A 20,000-task first audit took 83-147 s through the CLI's path on this machine.
AUDIT_TIMEOUT = 900.0


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def service_first_audit(
    server: scale.Server, project: int, n: int, *, mode: str, redis_url: str
) -> None:
    """Start Training on the untouched project through a real ``labelaudit serve`` (and a
    real worker in Redis mode); print the wall time and the summary's phases."""
    scratch = Path(tempfile.mkdtemp(prefix="scale-service-"))
    env = {
        "LABEL_STUDIO_URL": server.url,
        "LABEL_STUDIO_API_KEY": server.token,
        "LABELAUDIT_PROJECTS": str(project),
        "MODEL_DIR": str(scratch / "model"),
        "LABELAUDIT_NAMESPACE": f"scale-{uuid.uuid4().hex[:8]}",
        "LABELAUDIT_SWEEP_SECONDS": "0",
    }
    if mode == "redis":
        env["REDIS_URL"] = redis_url
    env = worker_env(env)
    port = scale._free_port()
    web = start_server(env, scratch / "serve.log", port)
    worker = start_worker(env, scratch / "worker.log") if mode == "redis" else None
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: httpx.get(f"{base}/health", timeout=2).status_code == 200, 120, "serve")
        if worker is not None:
            time.sleep(5)  # the worker's Celery consumer connects (its log says "ready")
        load_before = _load()
        started = time.perf_counter()
        answer = httpx.post(
            f"{base}/webhook",
            json={"action": "START_TRAINING", "project": {"id": project}},
            timeout=30,
        ).json()
        job = _wait(lambda: _finished(base, answer["job"]), AUDIT_TIMEOUT, "the audit's job")
        wall = time.perf_counter() - started
        if job["state"] != "succeeded":
            raise SystemExit(f"the audit's job ended {job['state']}: {job.get('error')}")
        audit = httpx.get(f"{base}/projects/{project}/audit", timeout=30).json()
        summary = audit.get("summary", audit)
        timings = summary.get("timings_seconds", {})
        phases = ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
        loads = f"load average before {load_before}, after {_load()}"
        print(f"| {n:,} | {mode} | Start Training to the pushed tab **{wall:.1f} s** | "
              f"{phases} | {loads} |", flush=True)  # fmt: skip
        ls = _client(server)
        check = scale.predictions_check(ls, project, scale.project_tasks(ls, project))
        print(f"  Label Studio: {check}; "
              f"model version {job.get('model_version')}", flush=True)  # fmt: skip
    finally:
        if worker is not None:
            stop_worker(worker)
        stop_worker(web)
        print(f"  logs: {scratch}", flush=True)


def _finished(base: str, job_id: str) -> dict[str, Any] | None:
    job = httpx.get(f"{base}/jobs/{job_id}", timeout=10).json()
    return job if job.get("state") in {"succeeded", "failed", "superseded"} else None


def _client(server: scale.Server) -> Any:
    from backend.labelstudio.client import connect

    return connect(server.url, server.token)


def _wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (httpx.HTTPError, ValueError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)
