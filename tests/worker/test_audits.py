"""A real Celery worker on real Redis, against a fake Label Studio API.

One worker (three pool processes) serves the whole module. The web side is the Flask app
in this process, in Redis mode: its webhook enqueues tasks the worker runs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from backend.settings import MAX_NICE, Settings
from tests.worker.support import TOKEN, annotation, numeric_tasks, wait_for

JOB_TIMEOUT = 60.0


def job_of(client, job_id: str) -> dict:
    answer = client.get(f"/jobs/{job_id}")
    assert answer.status_code == 200, answer.json
    return answer.json


def finished(client, job_id: str, timeout: float = JOB_TIMEOUT) -> dict:
    """Wait until a job succeeded or failed; return its record."""

    def done():
        record = job_of(client, job_id)
        return record if record["state"] in {"succeeded", "failed", "superseded"} else None

    return wait_for(done, timeout=timeout, what=f"job {job_id}", every=0.1)


def start_training(client, project: int) -> str:
    answer = client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": project}})
    assert answer.status_code == 200
    return answer.json["job"]


def children(pid: int) -> list[int]:
    """The process ids whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_the_worker_and_its_pool_run_at_the_audits_lower_priority(worker):
    """labelaudit worker adds LABELAUDIT_AUDIT_NICE (default) to its niceness; Celery's pool
    processes inherit it (issue 16: the web processes win the cores during audits)."""
    expected = min(os.nice(0) + Settings().audit_nice, MAX_NICE)
    assert Settings().audit_nice > 0
    pool = wait_for(lambda: children(worker.pid), timeout=10, what="the worker's pool")
    assert len(pool) >= 3  # --concurrency 3
    for pid in [worker.pid, *pool]:
        assert os.getpriority(os.PRIO_PROCESS, pid) == expected, pid


def test_an_audit_fans_out_pushes_and_serves_predict(client, deployment):
    ls = deployment.label_studio
    tasks = numeric_tasks(60, seed=1, flip=0.15)
    unlabeled = {"id": 500, "data": {"x": 8.2, "y": 0.3}}
    ls.add_project(1, [*tasks, unlabeled])

    record = finished(client, start_training(client, 1))
    assert record["state"] == "succeeded", record
    assert record["model_version"] == "labelaudit-1"
    assert record["progress"]["step"] == "done"

    # Pushed: one current prediction per audited task, the project's version, the tab.
    project = ls.projects[1]
    assert project.model_version == "labelaudit-1"
    current = ls.current_predictions(1)
    assert sorted(current) == [t["id"] for t in tasks]
    assert all(len(p) == 1 for p in current.values())
    assert [v["data"]["title"] for v in project.views] == ["Default", "Needs re-review"]
    (item,) = project.views[1]["data"]["filters"]["items"]
    flagged = [int(a) - 10_000 for a in item["value"].split()]  # annotation 10_000 + task id
    assert 0 < len(flagged) == record["flagged_tasks"] < 20
    assert set(flagged) <= {t["id"] for t in tasks}

    # The three folds ran as tasks of their own.
    log = (deployment.logs / "worker.log").read_text()
    assert log.count("labelaudit.audit_fold[") >= 3

    # /predict: audited tasks from the store, the unlabeled one and a new one from the model.
    new_task = {"id": 999, "data": {"x": 0.1, "y": 7.9}}
    results = client.post(
        "/predict", json={"project": "1.1700000000", "tasks": [tasks[0], unlabeled, new_task]}
    ).json["results"]
    stored = current[tasks[0]["id"]][0]
    assert results[0] == {k: v for k, v in stored.items() if k not in ("task", "id")}
    assert results[1]["result"][0]["value"] == {"choices": ["b"]}
    assert results[2]["result"][0]["value"] == {"choices": ["c"]}
    assert "score" not in results[1] and results[2]["model_version"] == "labelaudit-1"

    summary = client.get("/projects/1/audit").json
    assert summary["model_version"] == "labelaudit-1"
    assert summary["summary"]["counts"]["audited_annotations"] == 60
    report = client.get("/projects/1/report")
    assert report.status_code == 200 and b"labelaudit report" in report.data
    assert client.post("/setup", json={"project": 1}).json == {"model_version": "labelaudit-1"}
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'labelaudit_audits_total{outcome="succeeded"}' in metrics


def test_a_burst_of_500_events_gives_one_audit(client, deployment):
    ls = deployment.label_studio
    ls.add_project(2, numeric_tasks(40, seed=2))
    payload = {"action": "ANNOTATION_CREATED", "project": {"id": 2}, "annotation": {"id": 1}}
    jobs = {client.post("/webhook", json=payload).json["job"] for _ in range(500)}
    assert len(jobs) == 1
    record = finished(client, jobs.pop())
    assert record["state"] == "succeeded"
    time.sleep(1.5)  # longer than the debounce: nothing else may start
    assert ls.projects[2].model_version == "labelaudit-1"
    assert client.get("/versions?project=2").json == {"versions": ["labelaudit-1"]}
    assert client.get("/projects/2/audit").json["activity"]["scheduled"] is None


def test_events_during_an_audit_give_exactly_one_more_never_two_at_once(client, deployment):
    ls = deployment.label_studio
    project = ls.add_project(3, numeric_tasks(40, seed=3))
    ls.delays["tasks"] = 1.0  # reading the project takes a second
    try:
        first = start_training(client, 3)
        wait_for(lambda: job_of(client, first)["state"] == "running", timeout=20, what="start")
        payload = {"action": "ANNOTATION_UPDATED", "project": {"id": 3}}
        during = {client.post("/webhook", json=payload).json["job"] for _ in range(50)}
        during.add(start_training(client, 3))
        assert len(during) == 1 and first not in during
        # More events for the one waiting audit: still one.
        project.tasks[0]["annotations"][0] = annotation(10_001, "c")
        second = during.pop()
        records = [finished(client, first), finished(client, second)]
    finally:
        ls.delays.pop("tasks")
    assert [r["state"] for r in records] == ["succeeded", "succeeded"]
    assert records[0]["finished_at"] <= records[1]["started_at"]
    # The second audit is written in place: the project keeps showing the first's version.
    assert ls.projects[3].model_version == "labelaudit-1"
    assert all(len(p) == 1 for p in ls.current_predictions(3).values())
    assert len(ls.current_predictions(3)) == len(ls.projects[3].predictions) == 40
    time.sleep(1.5)
    assert client.get("/versions?project=3").json["versions"] == ["labelaudit-2", "labelaudit-1"]


def test_transient_label_studio_errors_are_retried(client, deployment):
    ls = deployment.label_studio
    ls.add_project(4, numeric_tasks(40, seed=4))
    # More 503s in a row than label-studio-sdk retries itself (2), on reading and on pushing.
    ls.fail("tasks", 4)
    ls.fail("import", 4)
    record = finished(client, start_training(client, 4), timeout=90)
    assert record["state"] == "succeeded", record
    assert record["retries"] >= 2
    assert "HTTP 503" in record["last_error"]
    assert ls.count("tasks") >= 5 and ls.count("import") >= 5
    assert ls.projects[4].model_version == "labelaudit-1"


def test_permanent_errors_fail_the_job_at_once_without_secrets(client, deployment):
    ls = deployment.label_studio
    record = finished(client, start_training(client, 404))  # no such project
    assert record["state"] == "failed"
    assert "HTTP 404" in record["error"]
    assert TOKEN not in str(record)
    assert ls.count("project") >= 1
    # The project is free again: the next audit starts (and fails the same way).
    assert finished(client, start_training(client, 404))["state"] == "failed"


def test_the_sweep_reaudits_what_changed_without_a_webhook(client, deployment):
    from backend.service.runners import SWEEP_TASK, celery_app
    from backend.settings import load_settings

    ls = deployment.label_studio
    project = ls.add_project(5, numeric_tasks(30, seed=5))
    finished(client, start_training(client, 5))
    project.tasks[3]["annotations"][0] = annotation(20_000, "a")  # no webhook arrives
    app = celery_app(load_settings(deployment.overrides(), environ={}))  # sends by name
    app.send_task(SWEEP_TASK, queue=deployment.namespace)
    wait_for(
        lambda: client.get("/versions?project=5").json["versions"][0] == "labelaudit-2",
        timeout=JOB_TIMEOUT,
        what="the sweep's audit",
        every=0.2,
    )
    assert ls.projects[5].model_version == "labelaudit-1"  # written in place
    # Unchanged projects were checked, not audited again.
    assert ls.projects[1].model_version == "labelaudit-1"
    assert ls.projects[2].model_version == "labelaudit-1"


@pytest.fixture(autouse=True)
def _show_worker_log_on_failure(request, deployment):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print((deployment.logs / "worker.log").read_text()[-6000:])


def test_a_reaudit_after_webhooks_reads_no_tasks_from_label_studio(client, deployment):
    """Issue 14: the web process logs the webhooks' changes in Redis; the worker's re-audit
    applies them to the tasks the last audit kept instead of reading the project."""
    ls = deployment.label_studio
    project = ls.add_project(6, numeric_tasks(40, seed=6))
    assert finished(client, start_training(client, 6))["state"] == "succeeded"
    reads = ls.count("tasks")
    task = project.tasks[5]
    fixed = annotation(task["annotations"][0]["id"], "c")
    task["annotations"][0] = fixed
    gone = project.tasks[6]["annotations"].pop()
    updated = {
        "action": "ANNOTATION_UPDATED",
        "annotation": {**fixed, "task": task["id"], "project": 6},
        "task": {"id": task["id"], "data": task["data"], "is_labeled": True},
        "project": {"id": 6},
    }
    deleted = {
        "action": "ANNOTATIONS_DELETED",
        "annotations": [{"id": gone["id"]}],
        "project": {"id": 6},
    }
    job = client.post("/webhook", json=updated).json["job"]
    assert client.post("/webhook", json=deleted).json["job"] == job
    assert finished(client, job)["state"] == "succeeded"
    assert ls.count("tasks") == reads  # no task page read
    summary = client.get("/projects/6/audit").json["summary"]
    assert any("2 webhook changes applied" in note for note in summary["notes"])
    assert summary["counts"]["audited_annotations"] == 39  # the delete was applied
    assert "read_changes" in summary["timings_seconds"]
    # A START_TRAINING reads the whole project again.
    assert finished(client, start_training(client, 6))["state"] == "succeeded"
    assert ls.count("tasks") > reads


def test_a_burst_of_webhooks_makes_few_instant_sends_and_loses_none(client, deployment):
    """Issue 16: an annotation webhook of a project judged at once sends the Celery instant
    message only when it set the project's hand-off flag; the worker's run judges every
    change logged since its last one. First the project's instant lock is held (as by an
    audit switching) while 32 threads post webhooks: one send, all 32 judged after; then a
    burst with the worker free: fewer sends than webhooks, again none lost."""
    import threading

    from backend.api import create_app
    from backend.service import instant as instant_module

    ls = deployment.label_studio
    project = ls.add_project(7, numeric_tasks(120, seed=7, flip=0.3))
    assert finished(client, start_training(client, 7))["state"] == "succeeded"
    # The webhooks go through a web process whose debounce outlasts the test, so the
    # re-audit they schedule cannot replace the audit being judged at once (it would reset
    # the instant count this test reads, and judge the fixes itself).
    slow = create_app(
        {
            "SETTINGS": deployment.overrides(debounce_seconds=120, debounce_max_seconds=240),
            "TESTING": True,
        }
    )
    service = slow.extensions["labelaudit"]
    sends: list[int] = []
    real_send = service.runner.enqueue_instant

    def counted(project_id: int) -> None:
        sends.append(project_id)
        real_send(project_id)

    service.runner.enqueue_instant = counted
    flagged = client.get("/projects/7/audit").json["summary"]["flagged_task_ids"]
    assert len(flagged) >= 8
    by_id = {t["id"]: t for t in project.tasks}

    def fix(task_id: int) -> dict:
        """A person takes the suggestion in the fake; the webhook Label Studio sends."""
        (answer,) = service.store.answers(7, [task_id])
        label = answer["result"][0]["value"]["choices"][0]
        task = by_id[task_id]
        with ls.lock:
            task["annotations"] = [annotation(task["annotations"][0]["id"], label)]
        return {
            "action": "ANNOTATION_UPDATED",
            "annotation": {**task["annotations"][0], "task": task_id},
            "task": {"id": task_id, "data": task["data"]},
            "project": {"id": 7},
        }

    def burst(bodies: list[dict]) -> None:
        def post(body: dict) -> None:
            answer = slow.test_client().post("/webhook", json=body)
            assert answer.status_code == 200, answer.json

        threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def judged(tasks: list[int]) -> bool:
        now = client.get("/projects/7/audit").json["summary"]["flagged_task_ids"]
        return not set(tasks) & set(now)

    first, second = flagged[: len(flagged) // 2], flagged[len(flagged) // 2 :]
    # 32 webhooks: each fix posted 32 // len(first) (+1) times, as Label Studio re-sends saves.
    bodies = [fix(t) for t in first]
    bodies = [bodies[i % len(bodies)] for i in range(32)]
    assert service.store.try_lock(7, instant_module.LOCK, "a switch", 30)
    try:
        burst(bodies)
        assert sends == [7]  # the first webhook set the flag; 31 found it pending
    finally:
        service.store.unlock(7, instant_module.LOCK, "a switch")
    wait_for(lambda: judged(first), timeout=JOB_TIMEOUT, what="the first burst judged")
    bodies = [fix(t) for t in second]
    burst([bodies[i % len(bodies)] for i in range(32)])
    wait_for(lambda: judged(second), timeout=JOB_TIMEOUT, what="the second burst judged")
    assert len(sends) < 1 + 32  # coalesced: not one send per webhook
    # Label Studio shows every fix: the task's prediction is the label given now.
    shown = ls.current_predictions(7)
    for task_id in flagged:
        label = by_id[task_id]["annotations"][0]["result"][0]["value"]["choices"][0]
        (prediction,) = shown[task_id]
        assert prediction["result"][0]["value"]["choices"] == [label]
    record = client.get("/projects/7/audit").json
    assert record["summary"]["verdicts"]["fixed"] == len(flagged)
    assert record["live"]["instant_updates"] == len(flagged)
