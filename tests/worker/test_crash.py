"""A worker killed (SIGKILL, pool and all) in the middle of an audit: the audit still finishes."""

from __future__ import annotations

from backend.api import create_app
from tests.worker.conftest import wait_ready
from tests.worker.support import numeric_tasks, start_worker, stop_worker, wait_for
from tests.worker.test_audits import finished, job_of, start_training


def test_a_worker_killed_mid_audit_finishes_after_a_restart(deployment):
    ls = deployment.label_studio
    tasks = numeric_tasks(40, seed=7)
    ls.add_project(1, tasks)
    ls.delays["tasks"] = 3.0  # the first read of the project is slow: kill during it
    deployment.logs.mkdir(parents=True, exist_ok=True)
    first_log, second_log = deployment.logs / "worker-1.log", deployment.logs / "worker-2.log"
    first = start_worker(deployment.env(), first_log)
    second = None
    try:
        wait_ready(first_log, first)
        client = create_app({"SETTINGS": deployment.overrides(), "TESTING": True}).test_client()
        job = start_training(client, 1)
        wait_for(lambda: ls.count("tasks") >= 1, timeout=30, what="the audit to read tasks")
        stop_worker(first, hard=True)
        assert job_of(client, job)["state"] == "running"
        assert ls.projects[1].model_version == ""  # nothing was pushed

        ls.delays["tasks"] = 0.0
        second = start_worker(deployment.env(), second_log)
        wait_ready(second_log, second)
        record = finished(client, job, timeout=60)
    finally:
        stop_worker(first, hard=True)
        if second is not None:
            stop_worker(second)
    assert record["state"] == "succeeded", record
    assert ls.count("tasks") >= 2  # the restarted audit read the project again
    assert ls.projects[1].model_version == "labelaudit-1"
    current = ls.current_predictions(1)
    assert sorted(current) == [t["id"] for t in tasks]
    assert all(len(p) == 1 for p in current.values())
    assert "audit_project" in second_log.read_text()
