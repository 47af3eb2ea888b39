"""The web process stays light: what it imports, and the collector freeze after warm-up."""

from __future__ import annotations

import subprocess
import sys

#: Modules a web process must not load unless a route needs them (audits run elsewhere).
HEAVY = ("sklearn", "scipy", "pandas", "matplotlib", "celery")


def test_a_warmed_up_web_process_loads_no_heavy_module_and_freezes_its_heap(tmp_path):
    script = f"""
import gc, sys
from backend.api import create_app
from backend.serving import _warm_up
app = create_app({{"SETTINGS": {{"model_dir": {str(tmp_path)!r}, "redis_url": ""}}}})
_warm_up(None)
client = app.test_client()
assert client.get("/health").status_code == 200
assert client.post("/setup", json={{"project": 1}}).status_code == 200
assert client.post("/webhook", json={{"action": "PING"}}).status_code == 200
print(sorted(m for m in {HEAVY!r} if m in sys.modules))
print(gc.get_freeze_count())
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split("\n")
    assert out[0] == "[]", out
    assert int(out[1]) > 10_000  # the warm-up's objects are frozen


def test_embedded_audits_run_in_a_child_process_on_the_parent_s_store(tmp_path):
    """The embedded runner hands audits to a spawned process; the web process's memory store
    sees the job, the saved audit and /predict's answers (issue 16)."""
    import multiprocessing
    import time

    from backend.api import create_app
    from backend.service.process_runner import ProcessRunner
    from tests.worker.support import TOKEN, FakeLabelStudio, numeric_tasks

    with FakeLabelStudio() as fake:
        fake.add_project(1, numeric_tasks(60, seed=2))
        settings = {
            "model_dir": str(tmp_path),
            "redis_url": "",
            "label_studio_url": fake.url,
            "label_studio_api_key": TOKEN,
            "projects": "1",
            "folds": 3,
            "sweep_seconds": 0,
        }
        app = create_app({"SETTINGS": settings})
        service = app.extensions["labelaudit"]
        assert isinstance(service.runner, ProcessRunner)
        client = app.test_client()
        before = set(multiprocessing.active_children())
        try:
            job = client.post("/projects/1/audit").json["job"]
            deadline = time.monotonic() + 120
            while (record := client.get(f"/jobs/{job}").json)["state"] not in {
                "succeeded",
                "failed",
            }:
                assert time.monotonic() < deadline, record
                time.sleep(0.1)
            assert record["state"] == "succeeded", record
            started = set(multiprocessing.active_children()) - before
            assert len(started) == 1  # the audit process
            assert fake.projects[1].model_version == "labelaudit-1"
            answer = client.post("/predict", json={"project": 1, "tasks": [{"id": 1}]}).json
            assert answer["results"][0]["model_version"] == "labelaudit-1"
        finally:
            service.runner.stop()


def test_each_label_studio_route_costs_one_redis_round_trip_at_most(tmp_path):
    """Under load a Redis round trip costs more than Flask's own work on a route (issue 16):
    /predict and an annotation /webhook cost one each; /health none within a second of its
    last good ping, /setup none within a second of the same /setup stored by this process,
    one for a new one. Counted on the wire: each command or pipeline sent is one."""
    import uuid

    import redis

    from backend.api import create_app
    from backend.store import RedisStore, SavedAudit
    from tests.backend.test_api import RecordingRunner
    from tests.worker.support import drop_namespace, redis_server

    class Counting(redis.Connection):
        sent = 0

        def send_packed_command(self, command, check_health=True):
            Counting.sent += 1
            super().send_packed_command(command, check_health)

    config = (
        '<View><Text name="t" value="$t"/><Choices name="c" toName="t">'
        '<Choice value="a"/><Choice value="b"/></Choices></View>'
    )
    namespace = f"labelaudit-test-{uuid.uuid4().hex[:12]}"
    with redis_server() as url:
        pool = redis.ConnectionPool.from_url(url, connection_class=Counting)
        store = RedisStore(url, namespace=namespace, client=redis.Redis(connection_pool=pool))
        answer = {"result": [], "score": 0.5, "model_version": "labelaudit-1"}
        audit = SavedAudit("labelaudit-1", "job", {3: answer}, {}, "fp", 0, 1.0, instant=True)
        store.save_audit(1, audit)
        runner = RecordingRunner()
        settings = {"model_dir": str(tmp_path), "redis_url": url, "namespace": namespace}
        app = create_app({"SETTINGS": settings, "STORE": store, "RUNNER": runner})
        client = app.test_client()
        setup = {
            "project": "1.1700000000",
            "schema": config,
            "hostname": "http://127.0.0.1:8080",
            "access_token": "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed",
        }
        calls = {
            "/health": lambda: client.get("/health"),
            "/setup": lambda: client.post("/setup", json=setup),
            "/predict": lambda: client.post("/predict", json={"project": 1, "tasks": [{"id": 3}]}),
            "/webhook": lambda: client.post(
                "/webhook",
                json={
                    "action": "ANNOTATION_CREATED",
                    "project": {"id": 1},
                    "annotation": {"id": 7, "task": 3, "result": []},
                },
            ),
        }
        sent = {}
        try:
            for route, call in calls.items():
                assert call().status_code == 200, route  # first: loads the scripts
                before = Counting.sent
                answer = call()
                assert answer.status_code == 200, (route, answer.json)
                sent[route] = Counting.sent - before
            # Another token (a reconnected project): stored at once, one round trip.
            before = Counting.sent
            other = {**setup, "access_token": "feedf00dfeedf00dfeedf00dfeedf00dfeedf00d"}
            assert client.post("/setup", json=other).status_code == 200
            sent["/setup, another token"] = Counting.sent - before
            stored = store.credentials(1)
        finally:
            drop_namespace(url, namespace)
            pool.disconnect()
    assert sent == {
        "/health": 0,
        "/setup": 0,
        "/predict": 1,
        "/webhook": 1,
        "/setup, another token": 1,
    }
    assert stored == (setup["hostname"], other["access_token"])
    # The first webhook handed the project over; the second found that message pending.
    assert runner.instant == [1]
