"""Fixtures and helpers of the scenario tests: a real backend (serve + worker) next to LS.

``labelaudit serve`` (Redis mode, no basic auth, so the webhook Label Studio creates when
the model is connected works as is) and one ``labelaudit worker``, both subprocesses
started and stopped by their PID through tests/worker/support.py; their logs are printed
after any failing test. Label Studio itself comes from tests/conftest.py.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.worker.conftest import wait_ready
from tests.worker.support import (
    drop_namespace,
    free_port,
    redis_server,
    start_server,
    start_worker,
    stop_worker,
    wait_for,
    worker_env,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
AUDIT_TIMEOUT = 120.0


@dataclass
class Backend:
    """The running backend: its URL, its processes and their logs."""

    url: str
    server: Any
    worker: Any
    env: dict[str, str]
    root: Path

    @property
    def logs(self) -> list[Path]:
        return sorted(self.root.glob("*.log"))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", timeout=10, **kwargs)

    def audit(self, project_id: int) -> dict[str, Any] | None:
        """The latest audit summary of a project, or None before the first one."""
        answer = self.get(f"/projects/{project_id}/audit")
        return answer.json() if answer.status_code == 200 else None

    def wait_audit(self, project_id: int, *, after: str | None, what: str) -> dict[str, Any]:
        """Wait for an audit whose model_version differs from ``after`` and for its job to
        end (the backend shows the version as soon as Label Studio does, then deletes the
        older versions); return its summary (with ``job``: the id of the job that made it)."""

        def done() -> dict[str, Any] | None:
            for proc in (self.server, self.worker):
                if proc.poll() is not None:
                    raise AssertionError(f"a backend process exited with {proc.returncode}")
            record = self.audit(project_id)
            if record is None or record["model_version"] == after:
                return None
            job = self.get(f"/jobs/{record.get('job')}").json()
            if job.get("state") not in {"succeeded", "failed", "superseded"}:
                return None
            # The summary, plus the job that produced it.
            return {**record["summary"], "job": record.get("job")}

        return wait_for(done, timeout=AUDIT_TIMEOUT, what=what, every=0.25)


@pytest.fixture(scope="module")
def ls(label_studio: Any) -> Iterator[Any]:
    """An SDK client of the session's Label Studio, with the admin's legacy token."""
    from backend.labelstudio.client import close, connect

    client = connect(label_studio.url, label_studio.token)
    yield client
    close(client)


@pytest.fixture(scope="module")
def e2e_redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(scope="module")
def backend(e2e_redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """``labelaudit serve`` and one ``labelaudit worker``, without credentials of their own."""
    root = tmp_path_factory.mktemp("scenarios")
    namespace = f"labelaudit-test-{uuid.uuid4().hex[:12]}"
    env = worker_env(
        {
            "REDIS_URL": e2e_redis_url,
            "MODEL_DIR": str(root / "models"),
            "LABELAUDIT_NAMESPACE": namespace,
            "LABELAUDIT_DEBOUNCE_SECONDS": "1",
            "LABELAUDIT_DEBOUNCE_MAX_SECONDS": "5",
            "LABELAUDIT_SWEEP_SECONDS": "0",
            # A worker killed with SIGKILL: its unacknowledged task comes back after this.
            "LABELAUDIT_VISIBILITY_TIMEOUT": "10",
            "LABELAUDIT_LEASE_SECONDS": "2",
        }
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(env, root / "serve.log", port)
    worker = start_worker(env, root / "worker.log", concurrency=2)
    try:
        wait_ready(root / "worker.log", worker)

        def up() -> bool:
            try:
                return httpx.get(f"{url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=30, what="labelaudit serve", every=0.1)
        running = Backend(url, server, worker, env, root)
        yield running
    finally:
        stop_worker(server)
        stop_worker(worker)
        if "running" in locals() and running.worker is not worker:
            stop_worker(running.worker)  # a test replaced the worker (the crash scenario)
        drop_namespace(e2e_redis_url, namespace)


@pytest.fixture(autouse=True)
def _logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a failing test, print the backend's logs (shown with the failure)."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before and "backend" in request.fixturenames:
        backend: Backend = request.getfixturevalue("backend")
        for log in backend.logs:
            text = log.read_text(errors="replace")
            print(f"\n----- {log.name} (last 8000 chars) -----\n{text[-8000:]}")


# --------------------------------------------------------------------------- data


def example(kind: str) -> tuple[str, list[dict[str, Any]], dict[int, str]]:
    """An example project: its label config, its export, and task id -> true label."""
    folder = EXAMPLES / kind
    config = (folder / "config.xml").read_text()
    export = json.loads((folder / "export.json").read_text())
    flips = json.loads((folder / "flips.json").read_text())
    annotator = flips["annotator"]
    truth = {}
    for task in export:
        (first,) = [a for a in task["annotations"] if a["completed_by"] == annotator]
        truth[task["id"]] = first["result"][0]["value"]["choices"][0]
    for flip in flips["flips"]:
        truth[flip["task_id"]] = flip["true_label"]
    return config, export, truth


def given_label(task: Any) -> str | None:
    """The label of a task's first annotation (SDK task object), or None."""
    annotations = task.annotations or []
    if not annotations:
        return None
    return annotations[0]["result"][0]["value"]["choices"][0]


def tasks_by_id(ls: Any, project_id: int) -> dict[int, Any]:
    """Every task of a project with annotations and predictions (``fields=all``)."""
    return {t.id: t for t in ls.tasks.list(project=project_id, fields="all", page_size=100)}


def tab(ls: Any, project_id: int, title: str) -> Any:
    """The project's one Data Manager tab called ``title`` (fails on none or several)."""
    found = [v for v in ls.views.list(project=project_id) if v.data.get("title") == title]
    assert len(found) == 1, f"{len(found)} tabs called {title!r} in project {project_id}"
    return found[0]


def review_tab(ls: Any, project_id: int) -> Any:
    return tab(ls, project_id, "Needs re-review")


class Timer:
    """Print named durations so the test output carries the timings."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = time.perf_counter()

    def done(self, detail: str = "") -> float:
        elapsed = time.perf_counter() - self.started
        print(f"\n[timing] {self.name}: {elapsed:.1f} s {detail}".rstrip())
        return elapsed
