"""The task bodies called directly (Celery's eager mode): thin glue around the service.

The service they use is injected with an in-memory store and a fake Label Studio, so
these tests need no worker; Redis only holds Celery's task states (update_state).
"""

from __future__ import annotations

import time
import uuid

import pytest

from backend.service import Service
from backend.service.runners import AUDIT_TASK, FINISH_TASK, INSTANT_TASK
from backend.settings import load_settings
from backend.store import Artifacts, MemoryStore
from tests.backend.test_service import FakeLabelStudio, NullRunner
from tests.worker.support import drop_namespace, numeric_tasks
from worker.celery_app import make_celery

pytestmark = pytest.mark.filterwarnings(
    # celery 5.7's Redis result backend stores task states with redis-py 8's deprecated
    # SETEX (celery/backends/redis.py); not ours to change.
    "ignore:Call to deprecated setex:DeprecationWarning"
)


@pytest.fixture
def ls():
    fake = FakeLabelStudio()
    fake.tasks[1] = numeric_tasks(40, seed=1)
    return fake


@pytest.fixture
def app(redis_url, tmp_path, ls):
    namespace = f"labelaudit-test-{uuid.uuid4().hex[:12]}"
    settings = load_settings(
        {
            "redis_url": redis_url,
            "namespace": namespace,
            "model_dir": str(tmp_path),
            "folds": 3,
            "label_studio_url": "http://ls:8080",
            "label_studio_api_key": "k" * 40,
            "debounce_seconds": 30,
        },
        environ={},
    )
    service = Service(settings, MemoryStore(), Artifacts(tmp_path), NullRunner(), io=ls)
    celery = make_celery(settings, build=lambda app: service)
    celery.conf.task_always_eager = True
    SERVICES[id(celery)] = service
    yield celery
    del SERVICES[id(celery)]
    drop_namespace(redis_url, namespace)


#: The service each test's Celery app was built with (make_celery's build=).
SERVICES: dict[int, Service] = {}


def service_of(app) -> Service:
    return SERVICES[id(app)]


class ChordRecorder:
    """Stands in for celery.chord: records the header and body instead of sending them."""

    def __init__(self) -> None:
        self.sent: list[tuple[list, object]] = []

    def __call__(self, header):
        def send(body):
            self.sent.append((list(header.tasks), body))

        return send


@pytest.fixture
def chords(monkeypatch):
    recorder = ChordRecorder()
    monkeypatch.setattr("worker.tasks.chord", recorder)
    return recorder


def run_audit(app, chords, project: int, ticket: str) -> None:
    """audit_project, then (as the chord would) every fold and finish_audit."""
    app.tasks[AUDIT_TASK].apply(kwargs={"project": project, "ticket": ticket})
    for header, body in chords.sent:
        results = [fold.apply().result for fold in header]
        body.clone(args=(results,)).apply()
    chords.sent.clear()


def test_an_audit_fans_out_as_a_chord_of_folds(app, ls, chords):
    service = service_of(app)
    ticket = service.trigger(1, immediate=True, reason="test")
    app.tasks[AUDIT_TASK].apply(kwargs={"project": 1, "ticket": ticket})
    ((header, body),) = chords.sent
    assert [f.name for f in header] == ["labelaudit.audit_fold"] * 3
    assert [f.kwargs for f in header] == [
        {"project": 1, "ticket": ticket, "folds": 3, "index": i} for i in range(3)
    ]
    assert body.name == FINISH_TASK and body.kwargs == {"project": 1, "ticket": ticket, "folds": 3}
    assert service.store.activity(1) == {"scheduled": None, "running": ticket, "stage": "folds"}
    chords.sent.clear()
    for fold in header:
        fold.apply()
    body.clone(args=([None] * 3,)).apply()
    job = service.store.get_job(ticket)
    assert job["state"] == "succeeded", job
    assert len(ls.pushes) == 1
    app.conf.task_always_eager = False  # (Celery reads no task state in eager mode)
    progress = app.AsyncResult(ticket)  # update_state mirrored the progress under the job id
    assert progress.state == "PROGRESS" and progress.info["step"] in {"push", "cross-validation"}


def test_a_debounced_ticket_is_put_back_with_its_countdown(app, monkeypatch):
    service = service_of(app)
    ticket = service.trigger(1, immediate=False, reason="event")
    task = app.tasks[AUDIT_TASK]
    sent = []
    monkeypatch.setattr(task, "apply_async", lambda **kw: sent.append(kw))
    task.apply(kwargs={"project": 1, "ticket": ticket})
    ((call,),) = [sent]
    assert call["kwargs"] == {"project": 1, "ticket": ticket}
    assert 25 < call["countdown"] <= 30
    assert service.store.get_job(ticket)["state"] == "scheduled"


def test_a_stale_ticket_does_nothing(app, ls, chords):
    app.tasks[AUDIT_TASK].apply(kwargs={"project": 1, "ticket": "gone"})
    app.tasks[FINISH_TASK].apply(args=[[None]], kwargs={"project": 1, "ticket": "gone", "folds": 1})
    assert ls.pushes == []
    assert service_of(app).store.get_job("gone") is None


def test_transient_errors_are_retried_and_counted(app, ls, chords):
    service = service_of(app)
    ls.load_errors = [ConnectionError("HTTP 503"), TimeoutError("timed out")]
    ticket = service.trigger(1, immediate=True, reason="test")
    run_audit(app, chords, 1, ticket)
    job = service.store.get_job(ticket)
    assert job["state"] == "succeeded" and job["retries"] == 2
    assert job["last_error"] == "timed out"


def test_other_errors_fail_the_job_at_once(app, ls, chords):
    service = service_of(app)
    ls.load_errors = [PermissionError("Label Studio rejected the API key (HTTP 401)")]
    ticket = service.trigger(1, immediate=True, reason="test")
    result = app.tasks[AUDIT_TASK].apply(kwargs={"project": 1, "ticket": ticket})
    assert isinstance(result.result, PermissionError)
    job = service.store.get_job(ticket)
    assert job["state"] == "failed" and "HTTP 401" in job["error"]
    assert "retries" not in job
    assert service.store.activity(1)["running"] is None


def test_an_instant_update_is_applied_and_shown_again_after_a_transient_failure(
    app, ls, chords, monkeypatch
):
    from backend.service.changelog import CHANGES_KEPT, log_entry
    from tests.worker.support import annotation

    service = service_of(app)
    run_audit(app, chords, 1, service.trigger(1, immediate=True, reason="test"))
    record, _ = service.latest_audit(1)
    task = record["summary"]["flagged_task_ids"][0]
    (answer,) = service.store.answers(1, [task])
    better = answer["result"][0]["value"]["choices"][0]
    shown: list[dict] = []
    failures = [ConnectionError("HTTP 502")]

    def show(url, key, project, **what):
        if failures:
            raise failures.pop()
        shown.append(what)

    monkeypatch.setattr(ls, "show", show, raising=False)
    body = {"annotation": {**annotation(10_000 + task, better), "task": task}}
    service.store.log_change(1, log_entry("ANNOTATION_UPDATED", body, at=1e12), keep=CHANGES_KEPT)
    app.tasks[INSTANT_TASK].apply(kwargs={"project": 1})
    # The store took the change once; the retry showed it (the tab too) all the same.
    assert task not in service.store.flags(1)
    ((what,),) = [shown]
    assert list(what["predictions"]) == [task] and what["tabs"] is not None


def test_an_instant_update_asked_to_rest_is_sent_again_for_later(
    app, ls, chords, redis_url, monkeypatch
):
    """A run right after the project's last one does not sleep in the pool process: the
    task sends itself again, due when the rest is over, and judges nothing now."""
    import json

    import redis

    from backend.service.changelog import CHANGES_KEPT, log_entry
    from backend.service.runners import instant_queue
    from tests.worker.support import annotation

    service = service_of(app)
    run_audit(app, chords, 1, service.trigger(1, immediate=True, reason="test"))
    first, second = service.latest_audit(1)[0]["summary"]["flagged_task_ids"][:2]

    def fix(task: int) -> None:
        (answer,) = service.store.answers(1, [task])
        better = answer["result"][0]["value"]["choices"][0]
        body = {"annotation": {**annotation(10_000 + task, better), "task": task}}
        entry = log_entry("ANNOTATION_UPDATED", body, at=time.time())
        service.store.log_change(1, entry, keep=CHANGES_KEPT)

    monkeypatch.setattr(ls, "show", lambda url, key, project, **what: None, raising=False)
    fix(first)
    app.tasks[INSTANT_TASK].apply(kwargs={"project": 1})
    assert first not in service.store.flags(1) and service.instant.rest(1) > 0
    fix(second)
    app.conf.task_always_eager = False
    task = app.tasks[INSTANT_TASK]
    task.push_request(retries=0, is_eager=False)
    try:
        task.run(project=1)
    finally:
        task.pop_request()
    assert second in service.store.flags(1)  # not judged now
    client = redis.Redis.from_url(redis_url)
    try:
        (raw,) = client.lrange(instant_queue(service.settings), 0, -1)
    finally:
        client.close()
    message = json.loads(raw)
    assert message["headers"]["task"] == INSTANT_TASK and message["headers"]["eta"]


def test_the_celery_app_follows_the_settings(app):
    settings = service_of(app).settings
    conf = app.conf
    assert conf.broker_url == conf.result_backend == settings.redis_url
    assert conf.task_default_queue == settings.namespace
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.broker_transport_options["visibility_timeout"] == settings.visibility_timeout
    assert conf.beat_schedule["labelaudit-sweep"]["schedule"] == settings.sweep_seconds
    assert "labelaudit.audit_fold" in app.tasks and "labelaudit.check_project" in app.tasks


def test_a_celery_app_needs_redis():
    with pytest.raises(ValueError, match="REDIS_URL is empty"):
        make_celery(load_settings({"redis_url": ""}, environ={}))


def test_the_web_side_sends_tasks_without_waiting_for_results_or_carrying_annotations(redis_url):
    """CeleryRunner's messages, read off the real queues: sent with ignore_result (no result
    channel subscription per webhook, issue 16), the instant one naming only the project
    (its changes are in the project's change log)."""
    import base64
    import json

    import redis

    from backend.service.runners import CeleryRunner, celery_app, instant_queue

    namespace = f"labelaudit-test-{uuid.uuid4().hex[:12]}"
    settings = load_settings({"redis_url": redis_url, "namespace": namespace}, environ={})
    runner = CeleryRunner(celery_app(settings), settings)
    client = redis.Redis.from_url(redis_url)
    try:
        runner.enqueue_instant(1)
        runner.enqueue(1, "ticket-1", 0)
        (instant,) = [json.loads(raw) for raw in client.lrange(instant_queue(settings), 0, -1)]
        (audit,) = [json.loads(raw) for raw in client.lrange(namespace, 0, -1)]
    finally:
        drop_namespace(redis_url, namespace)
        client.close()
    assert instant["headers"]["task"] == INSTANT_TASK and audit["headers"]["task"] == AUDIT_TASK
    assert instant["headers"]["ignore_result"] is True and audit["headers"]["ignore_result"] is True
    _, kwargs, _ = json.loads(base64.b64decode(instant["body"]))
    assert kwargs == {"project": 1}


def test_each_namespace_restores_only_its_own_unacknowledged_tasks(redis_url):
    """kombu's unacknowledged-task hash is per namespace: a worker of another namespace with
    a short visibility timeout no longer hands this namespace's running tasks out again."""
    import time

    import redis

    from backend.service.runners import celery_app, unacked_keys

    ours, theirs = (f"labelaudit-test-{uuid.uuid4().hex[:12]}" for _ in range(2))
    settings = {
        name: load_settings(
            {"redis_url": redis_url, "namespace": name, "visibility_timeout": "1"}, environ={}
        )
        for name in (ours, theirs)
    }
    apps = {name: celery_app(s) for name, s in settings.items()}
    client = redis.Redis.from_url(redis_url)
    try:
        apps[ours].send_task(AUDIT_TASK, kwargs={"project": 1, "ticket": "t"}, queue=ours)
        with (
            apps[ours].connection_for_read() as ours_conn,
            apps[theirs].connection_for_read() as theirs_conn,
        ):
            delivered = ours_conn.default_channel.basic_get(ours, no_ack=False)
            assert delivered is not None and client.llen(ours) == 0
            tag = delivered.delivery_tag
            assert client.hexists(unacked_keys(ours)["unacked_key"], tag)
            assert not client.hexists("unacked", tag)
            time.sleep(1.5)  # older than both namespaces' visibility timeout
            theirs_conn.default_channel.qos.restore_visible()
            assert client.llen(ours) == 0  # the other namespace left it alone
            ours_conn.default_channel.qos.restore_visible()
            assert client.llen(ours) == 1  # its own namespace hands it out again
    finally:
        for name in (ours, theirs):
            drop_namespace(redis_url, name)
        client.close()
