"""Test support for the service: a Redis to use, a fake Label Studio API, worker processes.

``FakeLabelStudio`` answers the Label Studio 1.23 API routes labelaudit calls through
label-studio-sdk (the shapes the e2e tests saw on a real server): read a project and its
tasks page by page, list/delete model versions, import predictions, set the project's
model_version, list/create/update Data Manager tabs. Tests make it fail (HTTP 5xx on the
next N calls of a route) or slow (a delay per route) to exercise retries and crashes; it
records every call, so tests can count loads and pushes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "0123456789abcdef0123456789abcdef01234567"  # a legacy token: 40 hex characters
CONFIG = """<View>
  <Text name="row" value="x=$x y=$y"/>
  <Choices name="label" toName="row">
    <Choice value="a"/><Choice value="b"/><Choice value="c"/>
  </Choices>
</View>"""
CLASSES = ("a", "b", "c")


# --------------------------------------------------------------------------- Redis


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Yield a Redis URL: 127.0.0.1:6379 if it answers, else a private redis-server."""
    if _answers("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/0"
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("no Redis on 127.0.0.1:6379 and no redis-server to start one")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _answers("127.0.0.1", port):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def drop_namespace(redis_url: str, namespace: str) -> None:
    """Delete every key of a test namespace (its state, its Celery queue and bindings)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
    for queue in (namespace, f"{namespace}.instant"):  # the audits' and instant queues
        keys += list(client.scan_iter(match=f"_kombu.binding*.{queue}", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


# --------------------------------------------------------------------------- datasets


def numeric_tasks(n: int, *, seed: int, flip: float = 0.1, first_id: int = 1) -> list[dict]:
    """Tasks of two numeric fields in three well separated clusters, some labels flipped."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, len(CLASSES), n)
    centers = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    points = centers[true] + rng.normal(size=(n, 2))
    flipped = rng.random(n) < flip
    given = np.where(flipped, (true + 1) % len(CLASSES), true)
    tasks = []
    for i in range(n):
        task_id = first_id + i
        tasks.append(
            {
                "id": task_id,
                "data": {"x": float(points[i, 0]), "y": float(points[i, 1])},
                "annotations": [annotation(10_000 + task_id, CLASSES[given[i]])],
            }
        )
    return tasks


def annotation(annotation_id: int, label: str, *, user: int = 1) -> dict[str, Any]:
    """One Choices annotation as Label Studio serialises it."""
    return {
        "id": annotation_id,
        "result": [
            {
                "from_name": "label",
                "to_name": "row",
                "type": "choices",
                "value": {"choices": [label]},
            }
        ],
        "completed_by": user,
        "was_cancelled": False,
        "ground_truth": False,
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2025-01-01T00:00:00Z",
        "lead_time": 1.0,
    }


# --------------------------------------------------------------------------- fake Label Studio


@dataclass
class FakeProject:
    """One project of the fake server."""

    id: int
    label_config: str = CONFIG
    model_version: str = ""
    tasks: list[dict] = field(default_factory=list)
    predictions: list[dict] = field(default_factory=list)
    views: list[dict] = field(default_factory=list)


class FakeLabelStudio:
    """A Label Studio API on 127.0.0.1 for the SDK calls labelaudit makes."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.projects: dict[int, FakeProject] = {}
        self.calls: list[tuple[float, str, str]] = []
        self.failures: dict[str, list[int]] = defaultdict(list)
        self.delays: dict[str, float] = {}
        self.prediction_ids = 0
        self.lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeLabelStudio:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # test controls ----------------------------------------------------------------------

    def add_project(self, project_id: int, tasks: list[dict], **fields: Any) -> FakeProject:
        """Create a project holding ``tasks``."""
        with self.lock:
            project = FakeProject(project_id, tasks=tasks, **fields)
            self.projects[project_id] = project
            return project

    def fail(self, route: str, times: int, status: int = 503) -> None:
        """Answer the next ``times`` calls of ``route`` with ``status``."""
        with self.lock:
            self.failures[route].extend([status] * times)

    def count(self, route: str, method: str | None = None) -> int:
        """Return how many calls ``route`` received (answered or failed)."""
        with self.lock:
            return sum(1 for _, m, r in self.calls if r == route and method in (None, m))

    def times(self, route: str) -> list[float]:
        """Return when ``route`` was called."""
        with self.lock:
            return [t for t, _, r in self.calls if r == route]

    def current_predictions(self, project_id: int) -> dict[int, list[dict]]:
        """Return each task's predictions of the project's current model_version."""
        with self.lock:
            project = self.projects[project_id]
            out: dict[int, list[dict]] = defaultdict(list)
            for p in project.predictions:
                if p["model_version"] == project.model_version:
                    out[p["task"]].append(p)
            return dict(out)

    # routing ----------------------------------------------------------------------------

    def _routes(self) -> list[tuple[str, str, str, Callable[..., Any]]]:
        return [
            ("GET", r"/api/projects/(\d+)/", "project", self._get_project),
            ("PATCH", r"/api/projects/(\d+)/", "project", self._patch_project),
            ("GET", r"/api/projects/(\d+)/model-versions/", "versions", self._versions),
            ("DELETE", r"/api/projects/(\d+)/model-versions/", "versions", self._delete_version),
            ("POST", r"/api/projects/(\d+)/import/predictions", "import", self._import),
            ("GET", r"/api/tasks/", "tasks", self._tasks),
            # The export is a read of the project too: counted, delayed and failed as "tasks".
            ("GET", r"/api/projects/(\d+)/export", "tasks", self._export),
            ("GET", r"/api/dm/views/", "views", self._views),
            ("POST", r"/api/dm/views/", "views", self._create_view),
            ("PATCH", r"/api/dm/views/(\d+)/", "views", self._update_view),
            ("GET", r"/api/dm/columns/?", "columns", self._columns),
            ("GET", r"/api/ml/?", "ml", self._no_models),
            ("GET", r"/api/predictions/", "predictions", self._list_predictions),
            ("PATCH", r"/api/predictions/(\d+)/", "prediction", self._patch_prediction),
            ("DELETE", r"/api/predictions/(\d+)/", "prediction", self._delete_prediction),
        ]

    def _dispatch(
        self, method: str, path: str, query: dict, body: Any, auth: str
    ) -> tuple[int, Any]:
        for verb, pattern, route, action in self._routes():
            match = re.fullmatch(pattern, path)
            if verb != method or match is None:
                continue
            with self.lock:
                self.calls.append((time.time(), method, route))
                pending = self.failures.get(route)
                status = pending.pop(0) if pending else None
                delay = self.delays.get(route, 0.0)
            if delay:
                time.sleep(delay)
            if auth != f"Token {self.token}":
                return 401, {"detail": "Invalid token."}
            if status is not None:
                return status, {"detail": "injected failure"}
            with self.lock:
                return action(*[int(g) for g in match.groups()], query=query, body=body)
        return 404, {"detail": "Not found."}

    def _project(self, project_id: int) -> FakeProject | None:
        return self.projects.get(project_id)

    def _project_json(self, project: FakeProject) -> dict:
        return {
            "id": project.id,
            "title": f"project {project.id}",
            "label_config": project.label_config,
            "model_version": project.model_version,
            "task_number": len(project.tasks),
        }

    def _get_project(self, project_id: int, **_: Any) -> tuple[int, Any]:
        project = self._project(project_id)
        return (
            (404, {"detail": "Not found."})
            if project is None
            else (200, self._project_json(project))
        )

    def _patch_project(self, project_id: int, body: Any, **_: Any) -> tuple[int, Any]:
        project = self._project(project_id)
        if project is None:
            return 404, {"detail": "Not found."}
        if "model_version" in (body or {}) and body["model_version"] is not None:
            project.model_version = body["model_version"]
        return 200, self._project_json(project)

    def _columns(self, **_: Any) -> tuple[int, Any]:
        """Data Manager columns of a text project (1.23.2's shape, cut to a few)."""
        columns = [
            {"id": "text", "parent": "data", "target": "tasks",
             "visibility_defaults": {"explore": True, "labeling": True}},
            {"id": "id", "target": "tasks",
             "visibility_defaults": {"explore": True, "labeling": False}},
            {"id": "inner_id", "target": "tasks",
             "visibility_defaults": {"explore": False, "labeling": False}},
        ]  # fmt: skip
        return 200, {"columns": columns}

    def _no_models(self, **_: Any) -> tuple[int, Any]:
        return 200, []

    def _versions(self, project_id: int, **_: Any) -> tuple[int, Any]:
        project = self._project(project_id)
        counts: dict[str, int] = defaultdict(int)
        for p in project.predictions if project else []:
            counts[p["model_version"]] += 1
        return 200, dict(counts)

    def _delete_version(self, project_id: int, body: Any, **_: Any) -> tuple[int, Any]:
        project = self._project(project_id)
        version = (body or {}).get("model_version")
        before = len(project.predictions)
        project.predictions = [p for p in project.predictions if p["model_version"] != version]
        return 200, {"count": before - len(project.predictions)}

    def _import(self, project_id: int, body: Any, **_: Any) -> tuple[int, Any]:
        project = self._project(project_id)
        for p in body:
            self.prediction_ids += 1
            project.predictions.append({**p, "id": self.prediction_ids})
        return 201, {"created": len(body)}

    def _list_predictions(self, query: dict, **_: Any) -> tuple[int, Any]:
        """Label Studio's unpaginated list, by ?project= or ?task=."""
        found = [
            {**p, "project": project.id}
            for project in self.projects.values()
            for p in project.predictions
        ]
        if "project" in query:
            found = [p for p in found if p["project"] == int(query["project"][0])]
        if "task" in query:
            found = [p for p in found if p["task"] == int(query["task"][0])]
        return 200, found

    def _patch_prediction(self, prediction_id: int, body: Any, **_: Any) -> tuple[int, Any]:
        for project in self.projects.values():
            for p in project.predictions:
                if p["id"] == prediction_id:
                    p.update(body or {})
                    return 200, dict(p)
        return 404, {"detail": "Not found."}

    def _delete_prediction(self, prediction_id: int, **_: Any) -> tuple[int, Any]:
        for project in self.projects.values():
            kept = [p for p in project.predictions if p["id"] != prediction_id]
            if len(kept) < len(project.predictions):
                project.predictions = kept
                return 200, {}
        return 404, {"detail": "Not found."}

    def _tasks(self, query: dict, **_: Any) -> tuple[int, Any]:
        project = self._project(int(query["project"][0]))
        page, size = int(query.get("page", ["1"])[0]), int(query.get("page_size", ["100"])[0])
        tasks = project.tasks if project else []
        chunk = tasks[(page - 1) * size : page * size]
        if page > 1 and not chunk:
            return 404, {"detail": "Invalid page."}
        full = [self._task_json(project, t) for t in chunk]
        total_annotations = sum(len(t.get("annotations", [])) for t in tasks)
        return 200, {
            "tasks": full,
            "total": len(tasks),
            "total_annotations": total_annotations,
            "total_predictions": 0,
        }

    def _export(self, project_id: int, **_: Any) -> tuple[int, Any]:
        """The export API (JSON, all tasks): every task of the project in one list."""
        project = self._project(project_id)
        if project is None:
            return 404, {"detail": "Not found."}
        return 200, [self._task_json(project, t) for t in project.tasks]

    def _task_json(self, project: FakeProject, task: dict) -> dict:
        annotations = [
            dict(a, task=task["id"], project=project.id) for a in task.get("annotations", [])
        ]
        return {
            "id": task["id"],
            "data": task["data"],
            "annotations": annotations,
            "predictions": [],
            "drafts": [],
            "meta": {},
            "project": project.id,
            "is_labeled": bool(annotations),
            "total_annotations": len(annotations),
            "cancelled_annotations": 0,
            "total_predictions": 0,
            "inner_id": task["id"],
            "created_at": "2025-01-01T00:00:00Z",
            "updated_at": "2025-01-01T00:00:00Z",
        }

    def _views(self, query: dict, **_: Any) -> tuple[int, Any]:
        project = self._project(int(query["project"][0]))
        return 200, list(project.views if project else [])

    def _create_view(self, body: Any, **_: Any) -> tuple[int, Any]:
        project = self._project(int(body["project"]))
        view = {"id": 1 + sum(len(p.views) for p in self.projects.values()), "project": project.id}
        view["data"] = body.get("data")
        project.views.append(view)
        return 201, view

    def _update_view(self, view_id: int, body: Any, **_: Any) -> tuple[int, Any]:
        for project in self.projects.values():
            for view in project.views:
                if view["id"] == view_id:
                    view["data"] = body.get("data")
                    return 200, view
        return 404, {"detail": "Not found."}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                status, answer = fake._dispatch(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    body,
                    self.headers.get("Authorization", ""),
                )
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                return None

        return Handler


# --------------------------------------------------------------------------- worker processes


def worker_env(settings_env: dict[str, str]) -> dict[str, str]:
    """The environment of a worker subprocess: this one, cleaned, plus ``settings_env``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("LABELAUDIT_", "LABEL_STUDIO_", "BASIC_AUTH_", "REDIS_URL", "MODEL_DIR")
        )
    }
    env.update(settings_env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return env


def start_worker(env: dict[str, str], log: Path, *, concurrency: int = 2) -> subprocess.Popen:
    """Start ``labelaudit worker`` (a real Celery worker) in its own process group."""
    command = [
        sys.executable,
        "-m",
        "backend.cli",
        "worker",
        "--concurrency",
        str(concurrency),
        "--log-level",
        "INFO",
    ]
    with log.open("ab") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def start_server(env: dict[str, str], log: Path, port: int) -> subprocess.Popen:
    """Start ``labelaudit serve`` (gunicorn) on 127.0.0.1:``port`` in its own process group."""
    command = [sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1"]
    with log.open("ab") as out:
        return subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_worker(proc: subprocess.Popen, *, hard: bool = False, timeout: float = 20.0) -> None:
    """Stop a worker by its process id (its whole process group: the pool too)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL if hard else signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


def wait_for(
    predicate: Callable[[], Any], *, timeout: float, what: str, every: float = 0.05
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)
