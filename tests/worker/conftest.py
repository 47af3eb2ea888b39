"""Fixtures for the service's integration tests: real Redis, real Celery workers, fake Label Studio.

Each test module gets its own namespace (Redis key prefix and Celery queue), so its worker
only sees its own tasks, and its keys are deleted afterwards. Workers are subprocesses
started with ``labelaudit worker`` in their own process group and stopped by their PID.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.worker.support import (
    TOKEN,
    FakeLabelStudio,
    drop_namespace,
    redis_server,
    start_worker,
    stop_worker,
    wait_for,
    worker_env,
)

#: Settings of the integration tests: short debounce, leases, visibility timeout.
FAST = {
    "folds": "3",
    "debounce_seconds": "1.0",
    "debounce_max_seconds": "5",
    "poll_seconds": "0.2",
    "lease_seconds": "1.5",
    "visibility_timeout": "3",
    "sweep_seconds": "3600",
    # The fake Label Studio's projects, audited with the environment's key without /setup.
    "projects": "1,2,3,4,5,6,7,404",
}
WORKER_START_TIMEOUT = 60.0


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Keep each phase's report on the test item (to print worker logs on failure)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@dataclass
class Deployment:
    """One namespace: its settings as environment variables and as overrides, its logs."""

    redis_url: str
    namespace: str
    model_dir: Path
    label_studio: FakeLabelStudio
    logs: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment a worker or server of this deployment runs with."""
        values = {
            "REDIS_URL": self.redis_url,
            "MODEL_DIR": str(self.model_dir),
            "LABEL_STUDIO_URL": self.label_studio.url,
            "LABEL_STUDIO_API_KEY": TOKEN,
            "LABELAUDIT_NAMESPACE": self.namespace,
        }
        values.update({f"LABELAUDIT_{k.upper()}": v for k, v in FAST.items()})
        values.update(extra)
        return worker_env(values)

    def overrides(self, **extra: Any) -> dict[str, Any]:
        """The same settings for create_app/load_settings in this process."""
        values: dict[str, Any] = {
            "redis_url": self.redis_url,
            "model_dir": str(self.model_dir),
            "label_studio_url": self.label_studio.url,
            "label_studio_api_key": TOKEN,
            "namespace": self.namespace,
            **FAST,
        }
        values.update(extra)
        return values


@pytest.fixture(scope="module")
def deployment(redis_url, tmp_path_factory) -> Iterator[Deployment]:
    namespace = f"labelaudit-test-{uuid.uuid4().hex[:12]}"
    root = tmp_path_factory.mktemp("deployment")
    with FakeLabelStudio() as label_studio:
        yield Deployment(redis_url, namespace, root / "models", label_studio, root / "logs")
    drop_namespace(redis_url, namespace)


def wait_ready(log: Path, proc: Any) -> None:
    """Wait until a worker logs that it is ready (or fail with its log)."""

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(
                f"worker exited with {proc.returncode}:\n{log.read_text()[-4000:]}"
            )
        return log.exists() and " ready." in log.read_text()

    wait_for(ready, timeout=WORKER_START_TIMEOUT, what="the worker to be ready", every=0.1)


@pytest.fixture(scope="module")
def worker(deployment) -> Iterator[Any]:
    deployment.logs.mkdir(parents=True, exist_ok=True)
    log = deployment.logs / "worker.log"
    proc = start_worker(deployment.env(), log, concurrency=3)
    try:
        wait_ready(log, proc)
        yield proc
    finally:
        stop_worker(proc)


@pytest.fixture(scope="module")
def client(deployment, worker):
    from backend.api import create_app

    app = create_app({"SETTINGS": deployment.overrides(), "TESTING": True})
    return app.test_client()
