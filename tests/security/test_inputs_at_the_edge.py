"""What callers send at the edge is bounded and answered with 4xx JSON (issue 9, points 6, 7)."""

from __future__ import annotations

import os
import resource

import pytest

from backend.api import create_app
from backend.api.routes import _CONFIG_PROBLEMS
from backend.store import JOB_TTL_SECONDS, MemoryStore
from tests.security.test_tokens import CONFIG


@pytest.fixture
def app(tmp_path):
    settings = {"model_dir": str(tmp_path / "data"), "redis_url": "", "sweep_seconds": 0}
    return create_app({"SETTINGS": settings, "STORE": MemoryStore(), "TESTING": True})


def test_a_label_config_past_one_megabyte_is_413_and_not_kept(app):
    client = app.test_client()
    huge = CONFIG.replace("<View>", "<View>" + "<Header value='x'/>" * 80_000)
    assert len(huge) > 1 << 20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    answer = client.post("/setup", json={"project": 1, "schema": huge})
    assert answer.status_code == 413 and "a label config is a few KB" in answer.json["error"]
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KB
    webhook = client.post(
        "/webhook",
        json={"action": "PROJECT_UPDATED", "project": {"id": 1, "label_config": huge}},
    )
    assert webhook.status_code == 413


def test_label_configs_are_remembered_by_hash_not_by_text(app):
    client = app.test_client()
    assert client.post("/setup", json={"project": 1, "schema": CONFIG}).status_code == 200
    assert CONFIG not in _CONFIG_PROBLEMS and all(len(k) == 64 for k in _CONFIG_PROBLEMS)


@pytest.mark.parametrize("hostname", ["http://[::1", "http://ls:notaport/", "ftp://ls/"])
def test_a_malformed_hostname_is_400(app, hostname):
    answer = app.test_client().post("/setup", json={"project": 1, "hostname": hostname})
    assert answer.status_code == 400 and "hostname must be an http(s) URL" in answer.json["error"]


@pytest.mark.parametrize("token", ["abc\r\nX-Evil: 1", "two words", "tab\there"])
def test_a_token_that_is_not_one_word_is_400(app, token):
    answer = app.test_client().post(
        "/setup", json={"project": 1, "hostname": "http://ls:8080", "access_token": token}
    )
    assert answer.status_code == 400 and "access_token must be one word" in answer.json["error"]


def test_a_key_with_control_characters_is_a_value_error_not_a_retry():
    from backend.labelstudio.client import connect

    with pytest.raises(ValueError, match="spaces or control characters"):
        connect("http://127.0.0.1:9", "abc\r\nX-Evil: 1")


def test_health_is_down_when_model_dir_cannot_be_written(app, tmp_path):
    client = app.test_client()
    assert client.get("/health").json["status"] == "UP"
    os.chmod(tmp_path, 0o500)
    try:
        if os.access(tmp_path, os.W_OK):
            pytest.skip("running as a user whom file modes do not stop (root)")
        answer = client.get("/health")
    finally:
        os.chmod(tmp_path, 0o700)
    assert answer.status_code == 503 and answer.json["error"] == "MODEL_DIR is not writable"


def test_health_is_down_when_model_dir_is_a_file(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("x")
    settings = {"model_dir": str(blocked), "redis_url": "", "sweep_seconds": 0}
    app = create_app({"SETTINGS": settings, "STORE": MemoryStore(), "TESTING": True})
    answer = app.test_client().get("/health")
    assert answer.status_code == 503 and answer.json["error"] == "MODEL_DIR is not writable"


def test_memory_store_jobs_expire_as_redis_ones_do():
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    store.put_job("old", state="succeeded")
    now[0] += JOB_TTL_SECONDS + 1
    assert store.get_job("old") is None
    for n in range(300):  # new records sweep the expired ones away
        store.put_job(f"new-{n}", state="scheduled")
    assert "old" not in store._jobs and store.get_job("new-1") is not None


def test_a_label_studio_that_does_not_resolve_fails_at_once_not_after_retries(tmp_path):
    import time

    from backend.service.runners import ThreadRunner
    from tests.backend.test_service import NullRunner

    settings = {
        "model_dir": str(tmp_path),
        "redis_url": "",
        "label_studio_url": "http://labelstudio.invalid:8080",
        "label_studio_api_key": "k" * 40,
        "projects": "1",
    }
    app = create_app({"SETTINGS": settings, "STORE": MemoryStore(), "RUNNER": NullRunner()})
    service = app.extensions["labelaudit"]
    job = service.trigger(1, immediate=True, reason="test")
    started = time.monotonic()
    ThreadRunner(service).run_ticket(1, job)  # the real retry policy: 1+2+4+8+16 s if transient
    record = service.job(job)
    assert record["state"] == "failed" and "does not resolve" in record["error"]
    assert time.monotonic() - started < 15


def test_a_chunked_body_past_the_limit_is_413_not_broken_json(tmp_path):
    import io

    settings = {"model_dir": str(tmp_path), "redis_url": "", "max_body_bytes": 1000}
    app = create_app({"SETTINGS": settings, "STORE": MemoryStore(), "TESTING": True})

    def chunked(body: bytes):
        # A chunked request as gunicorn hands it over: no Content-Length, input terminated.
        return app.test_client().post(
            "/setup",
            input_stream=io.BytesIO(body),
            headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
            environ_overrides={"wsgi.input_terminated": True},
        )

    big = chunked(b'{"project": 1, "schema": "' + b"x" * 5000 + b'"}')
    assert big.status_code == 413 and big.json == {
        "error": "request body is larger than 1000 bytes"
    }
    assert chunked(b'{"project": 1}').json == {"model_version": "labelaudit-0"}
