"""A Redis restart mid-audit ends the job with an error that says so (issue 9.7).

Real Redis; the restart is its effect on a store without persistence: every key of the
deployment's namespace is gone while the audit is reading the project.
"""

from __future__ import annotations

import threading
import uuid

from backend.service import Service
from backend.service.runners import ThreadRunner
from backend.service.scheduling import LOST
from backend.settings import load_settings
from backend.store import Artifacts, RedisStore
from tests.backend.test_service import FakeLabelStudio, NullRunner
from tests.security.test_tokens import redis_url as redis_url
from tests.worker.support import drop_namespace, numeric_tasks


def test_an_audit_whose_state_vanished_fails_saying_why_and_pushes_nothing(
    tmp_path,
    redis_url,
):
    namespace = f"labelaudit-test-{uuid.uuid4().hex[:12]}"
    settings = load_settings(
        {
            "model_dir": str(tmp_path),
            "folds": 3,
            "label_studio_url": "http://ls:8080",
            "label_studio_api_key": "k" * 40,
            "sweep_seconds": 0,
            "lease_seconds": 0.3,
            "namespace": namespace,
        },
        environ={},
    )
    store = RedisStore(redis_url, namespace=namespace)
    ls = FakeLabelStudio()
    ls.tasks[1] = numeric_tasks(40, seed=5)
    ls.gate = threading.Event()
    service = Service(settings, store, Artifacts(tmp_path), NullRunner(), io=ls)
    try:
        job = service.trigger(1, immediate=True, reason="test")
        runner = threading.Thread(
            target=ThreadRunner(service, retry_delays=()).run_ticket, args=(1, job)
        )
        runner.start()
        assert ls.loading.wait(10)
        drop_namespace(redis_url, namespace)  # what a restart without persistence leaves
        ls.gate.set()
        runner.join(30)
        assert not runner.is_alive()
        record = service.job(job)
        assert record is not None and record["state"] == "failed" and record["error"] == LOST
        assert ls.pushes == [] and store.current_version(1) is None
    finally:
        drop_namespace(redis_url, namespace)
        store.close()
