"""A project's token is only ever sent to the Label Studio it came with (issue 9, point 1).

Two real listeners on 127.0.0.1 stand in for Label Studio A and another host B; the app is
the real Flask app with the memory store and with Redis.
"""

from __future__ import annotations

import time

from backend.api import create_app
from tests.backend.test_store import redis_url as redis_url
from tests.backend.test_store import store as store

TOKEN = "7e57ab1e7e57ab1e7e57ab1e7e57ab1e7e57ab1e"
CONFIG = (
    '<View><Text name="t" value="$t"/><Choices name="c" toName="t">'
    '<Choice value="a"/><Choice value="b"/></Choices></View>'
)


def make_app(tmp_path, store, **settings):
    base = {
        "model_dir": str(tmp_path),
        "redis_url": "",
        "debounce_seconds": 0,
        "sweep_seconds": 0,
        "label_studio_url": "",
        "label_studio_api_key": "",
    }
    return create_app({"SETTINGS": base | settings, "STORE": store, "TESTING": True})


def setup(client, project: int, **body) -> None:
    answer = client.post("/setup", json={"project": project, "schema": CONFIG, **body})
    assert answer.status_code == 200, answer.json


def wait_job(app, job: str) -> dict:
    service = app.extensions["labelaudit"]
    deadline = time.monotonic() + 30
    while (record := service.job(job))["state"] not in {"succeeded", "failed"}:
        assert time.monotonic() < deadline, record
        time.sleep(0.05)
    return record


def test_the_token_reaches_the_host_it_came_with(tmp_path, store, listeners):
    a, _ = listeners
    app = make_app(tmp_path, store)
    client = app.test_client()
    setup(client, 1, hostname=a.url, access_token=TOKEN)
    answer = client.post("/projects/1/audit")
    assert answer.status_code == 202
    try:
        wait_job(app, answer.json["job"])  # fails: A is no Label Studio, but it was asked
    finally:
        app.extensions["labelaudit"].runner.stop()
    assert f"Token {TOKEN}" in a.authorizations()


def test_a_new_hostname_without_a_token_does_not_inherit_the_old_one(tmp_path, store, listeners):
    a, b = listeners
    app = make_app(tmp_path, store)
    client = app.test_client()
    setup(client, 1, hostname=a.url, access_token=TOKEN)
    setup(client, 1, hostname=b.url)
    answer = client.post("/projects/1/audit")
    assert answer.status_code == 409
    assert "no Label Studio credentials for project 1" in answer.json["error"]
    service = app.extensions["labelaudit"]
    assert service.scheduler.check_project(1) is False  # the sweep does not use it either
    assert b.seen == [] and a.seen == []
    assert TOKEN not in answer.get_data(as_text=True)


def test_the_same_hostname_again_keeps_the_token(tmp_path, store, listeners):
    a, _ = listeners
    app = make_app(tmp_path, store)
    client = app.test_client()
    setup(client, 1, hostname=a.url, access_token=TOKEN)
    setup(client, 1, hostname=a.url)
    assert app.extensions["labelaudit"].credentials.of(1) == (a.url, TOKEN)


def test_a_token_from_setup_is_never_sent_to_the_environment_s_label_studio(
    tmp_path, store, listeners
):
    a, b = listeners
    app = make_app(tmp_path, store, label_studio_url=b.url)
    client = app.test_client()
    setup(client, 1, hostname=a.url, access_token=TOKEN)
    answer = client.post("/projects/1/audit")
    assert answer.status_code == 409
    assert "came with another Label Studio URL" in answer.json["error"]
    assert b.seen == []
