"""Only connected projects are audited (issue 9.5); secrets inside URLs never show (9.3)."""

from __future__ import annotations

import json

from backend.api import create_app
from backend.cli import main
from backend.service.runners import ThreadRunner
from backend.store import MemoryStore
from tests.backend.test_service import FakeLabelStudio, NullRunner
from tests.security.test_tokens import CONFIG as TEXT_CONFIG
from tests.worker.support import numeric_tasks

KEY = "0ddba110ddba110ddba110ddba110ddba110ddba"


def test_the_environment_key_reaches_only_connected_projects(tmp_path, listeners):
    ls, _ = listeners
    settings = {
        "model_dir": str(tmp_path),
        "redis_url": "",
        "sweep_seconds": 0,
        "label_studio_url": ls.url,
        "label_studio_api_key": KEY,
    }
    app = create_app({"SETTINGS": settings, "STORE": MemoryStore(), "TESTING": True})
    client = app.test_client()
    for answer in (
        client.post("/projects/99/audit"),
        client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 99}}),
        client.post("/webhook", json={"action": "ANNOTATION_CREATED", "project": {"id": 99}}),
    ):
        assert answer.status_code == 404
        assert "project 99 is not connected to labelaudit" in answer.json["error"]
    assert ls.seen == []
    assert client.post("/setup", json={"project": 99, "schema": TEXT_CONFIG}).status_code == 200
    assert client.post("/projects/99/audit").status_code == 202
    app.extensions["labelaudit"].runner.stop()


def test_a_listed_project_needs_no_setup(tmp_path):
    settings = {"model_dir": str(tmp_path), "redis_url": "", "projects": "3, 99"}
    app = create_app({"SETTINGS": settings, "STORE": MemoryStore(), "TESTING": True})
    answer = app.test_client().post(
        "/webhook", json={"action": "ANNOTATION_CREATED", "project": {"id": 99}}
    )
    assert answer.status_code == 200 and answer.json["status"] == "scheduled"
    app.extensions["labelaudit"].runner.stop()


def test_passwords_inside_urls_never_show_in_answers_reports_or_logs(tmp_path, caplog):
    ls = FakeLabelStudio()
    ls.tasks[1] = numeric_tasks(40, seed=3)
    settings = {
        "model_dir": str(tmp_path),
        "redis_url": "redis://:r3d1spa55w0rd@127.0.0.1:6379/0",
        "label_studio_url": "http://lead:l5pa55w0rd@ls.example:8080",
        "label_studio_api_key": KEY,
        "folds": 3,
        "sweep_seconds": 0,
        "projects": "1",
    }
    parts = {"STORE": MemoryStore(), "IO": ls, "RUNNER": NullRunner()}
    app = create_app({"SETTINGS": settings, "TESTING": True} | parts)
    service = app.extensions["labelaudit"]
    job = service.trigger(1, immediate=True, reason="test")
    ThreadRunner(service, retry_delays=()).run_ticket(1, job)
    assert service.job(job)["state"] == "succeeded", service.job(job)
    client = app.test_client()
    answer = client.get("/projects/1/audit")
    shown = answer.get_data(as_text=True) + "".join(
        client.get(f"/projects/1/{route}").get_data(as_text=True)
        for route in ("report", "summary.json", "issues.csv", "predictions.json")
    )
    shown += client.get(f"/jobs/{job}").get_data(as_text=True) + caplog.text
    for secret in ("r3d1spa55w0rd", "l5pa55w0rd", KEY):
        assert secret not in shown
    recorded = answer.json["summary"]["settings"]
    assert recorded["redis_url"] == "redis://***@127.0.0.1:6379/0"
    assert recorded["label_studio_url"] == "http://***@ls.example:8080"


def test_the_cli_summary_holds_no_password_of_a_url(tmp_path, capsys):
    export = tmp_path / "export.json"
    export.write_text(json.dumps(numeric_tasks(40, seed=4)))
    url = "http://lead:l5pa55w0rd@127.0.0.1:9"
    assert main(["audit", str(export), "--url", url, "--out", str(tmp_path), "--quiet"]) == 0
    written = "".join(p.read_text() for p in tmp_path.iterdir() if p.suffix in {".json", ".html"})
    assert "l5pa55w0rd" not in written and "http://***@127.0.0.1:9" in written
    capsys.readouterr()
