"""The routes with Flask's test client: the protocol, every bad input, auth, errors, secrets."""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
import time
from urllib.parse import urljoin

import pytest
from werkzeug.http import parse_options_header

from backend.api import create_app
from backend.service import NO_VERSION
from backend.store import MemoryStore, SavedAudit

TEXT_CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices>
</View>"""
TOKEN = "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed"
PASSWORD = "correct horse battery staple"


class RecordingRunner:
    """A runner that only records what it was asked to run."""

    def __init__(self) -> None:
        self.enqueued: list[tuple[int, str, float]] = []
        self.instant: list[int] = []
        self.started = 0

    def enqueue(self, project: int, ticket: str, countdown: float) -> None:
        self.enqueued.append((project, ticket, countdown))

    def enqueue_instant(self, project: int) -> None:
        self.instant.append(project)

    def queue_depth(self) -> int:
        return len(self.enqueued)

    def start(self) -> None:
        self.started += 1


def make_app(tmp_path, runner=None, store=None, **settings):
    overrides = {
        "model_dir": str(tmp_path),
        "redis_url": "",
        "debounce_seconds": 5.0,
        "projects": "7",  # the tests' project may be audited without /setup
    } | settings
    return create_app(
        {
            "SETTINGS": overrides,
            "RUNNER": runner or RecordingRunner(),
            "STORE": store or MemoryStore(),
            "TESTING": True,
        }
    )


@pytest.fixture
def runner():
    return RecordingRunner()


@pytest.fixture
def app(tmp_path, runner, monkeypatch):
    for name in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY", "BASIC_AUTH_USER", "BASIC_AUTH_PASS"):
        monkeypatch.delenv(name, raising=False)
    return make_app(tmp_path, runner)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    return app.extensions["labelaudit"].store


def audited(store, project=7, version="labelaudit-3"):
    """Store an audit of two tasks (10 flagged, 11 not) as a worker would."""
    answers = {
        task: {
            "result": [
                {
                    "from_name": "sentiment",
                    "to_name": "text",
                    "type": "choices",
                    "value": {"choices": [label]},
                }
            ],
            "score": score,
            "mislabeling": score,
            "model_version": version,
        }
        for task, label, score in ((10, "neg", 0.9), (11, "pos", 0.1))
    }
    store.save_audit(
        project,
        SavedAudit(
            version=version,
            job="job-1",
            answers=answers,
            summary={"counts": {"flagged_tasks": 1}},
            fingerprint="fp",
            flagged=1,
            duration=2.0,
        ),
    )
    return answers


# --------------------------------------------------------------------------- health, setup


@pytest.mark.parametrize("path", ["/", "/health"])
def test_health(client, path):
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.json == {"status": "UP", "model_class": "labelaudit", "mode": "embedded"}


def test_health_reports_an_unreachable_store(tmp_path):
    class DownStore(MemoryStore):
        def ping(self) -> None:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379")

    answer = make_app(tmp_path, store=DownStore()).test_client().get("/health")
    assert answer.status_code == 503
    assert answer.json["status"] == "DOWN"


def test_health_trusts_a_recent_good_ping_only(tmp_path, monkeypatch):
    """/health asks the store at most once per PING_FRESH_SECONDS while it answers (a round
    trip per check cost a third of /health's throughput, issue 16); after a failure, again."""
    import backend.service

    class CountingStore(MemoryStore):
        def __init__(self) -> None:
            super().__init__()
            self.pings = 0
            self.down = True

        def ping(self) -> None:
            self.pings += 1
            if self.down:
                raise ConnectionError("Error 111 connecting to 127.0.0.1:6379")

    store = CountingStore()
    client = make_app(tmp_path, store=store).test_client()
    assert [client.get("/health").status_code for _ in range(3)] == [503] * 3
    assert store.pings == 3  # a failure is never trusted
    store.down = False
    assert [client.get("/health").status_code for _ in range(5)] == [200] * 5
    assert store.pings == 4
    monkeypatch.setattr(backend.service, "PING_FRESH_SECONDS", 0.0)
    store.down = True
    assert client.get("/health").status_code == 503 and store.pings == 5


def test_setup_answers_the_current_version_and_keeps_the_credentials(
    client, store, runner, monkeypatch
):
    import backend.service

    body = {
        "project": "7.1732700000",
        "schema": TEXT_CONFIG,
        "hostname": "http://localhost:8080",
        "access_token": TOKEN,
        "extra_params": None,
    }
    answer = client.post("/setup", json=body)
    assert answer.status_code == 200
    assert answer.json == {"model_version": NO_VERSION}
    assert store.credentials(7) == ("http://localhost:8080", TOKEN)
    assert runner.started == 1
    audited(store)
    # Within SETUP_FRESH_SECONDS this process answers the same /setup from memory (the
    # version it stored then); after it, the store's current version.
    assert client.post("/setup", json=body).json == {"model_version": NO_VERSION}
    monkeypatch.setattr(backend.service, "SETUP_FRESH_SECONDS", 0.0)
    assert client.post("/setup", json=body).json == {"model_version": "labelaudit-3"}
    assert TOKEN not in client.post("/setup", json=body).get_data(as_text=True)


@pytest.mark.parametrize(
    ("project", "expected"), [(7, 7), ("7", 7), (" 12.1700000000 ", 12), ("3.5", 3)]
)
def test_setup_project_references(client, store, project, expected):
    assert client.post("/setup", json={"project": project}).status_code == 200
    assert expected in store.projects()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "project must be a project id"),
        ({"project": None}, "project must be a project id"),
        ({"project": "seven"}, "project must be a project id"),
        ({"project": True}, "project must be a project id"),
        ({"project": [7]}, "project must be a project id"),
        ({"project": "7.x"}, "project must be a project id"),
        ({"project": 0}, "project must be a positive project id"),
        ({"project": -3}, "project must be a positive project id"),
        ({"project": 7, "schema": 5}, "schema must be a string"),
        ({"project": 7, "hostname": ["x"]}, "hostname must be a string"),
        ({"project": 7, "hostname": "ftp://ls"}, "hostname must be an http"),
        ({"project": 7, "hostname": "localhost:8080"}, "hostname must be an http"),
        ({"project": 7, "access_token": 12}, "access_token must be a string"),
        ({"project": 7, "schema": "<View><Text name='t' value='$t'/></View>"}, "no <Choices>"),
        ({"project": 7, "schema": "<View><Choices"}, "not well-formed"),
    ],
)
def test_setup_bad_input(client, body, message):
    answer = client.post("/setup", json=body)
    assert answer.status_code == 400
    assert message in answer.json["error"]


def test_setup_refuses_external_entities(client):
    schema = (
        '<?xml version="1.0"?><!DOCTYPE v [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        "<View><Text name='t' value='$t'/><Header value='&e;'/>"
        "<Choices name='c' toName='t'><Choice value='a'/></Choices></View>"
    )
    answer = client.post("/setup", json={"project": 7, "schema": schema})
    assert answer.status_code == 400
    assert "DOCTYPE" in answer.json["error"]
    assert "root:" not in answer.get_data(as_text=True)


# --------------------------------------------------------------------------- predict


def test_predict_answers_one_result_per_task_in_order(client, store):
    answers = audited(store)
    tasks = [
        {"id": 11, "data": {"text": "fine"}},
        {"id": 99, "data": {"text": "never audited, no model"}},
        {"data": {"text": "no id"}},
        {"id": 10, "data": {"text": "awful"}},
        {"id": 10, "data": {"text": "the same task twice"}},
    ]
    answer = client.post("/predict", json={"tasks": tasks, "project": "7.1732700000"})
    assert answer.status_code == 200
    results = answer.json["results"]
    empty = {"result": [], "score": 0.0, "model_version": "labelaudit-3"}
    assert results == [answers[11], empty, empty, answers[10], answers[10]]
    # The stored answers' JSON is sent as the store keeps it (not decoded and encoded again).
    (stored,) = store.answers_json(7, [11])
    assert stored == json.dumps(answers[11]) and stored in answer.get_data(as_text=True)


def test_predict_before_any_audit_gives_empty_results(client):
    answer = client.post("/predict", json={"tasks": [{"id": 1, "data": {}}], "project": 4})
    assert answer.json == {"results": [{"result": [], "score": 0.0, "model_version": NO_VERSION}]}
    assert client.post("/predict", json={"tasks": [], "project": 4}).json == {"results": []}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"project": 7}, "tasks must be a list of task objects; got a JSON null"),
        (
            {"project": 7, "tasks": {"id": 1}},
            "tasks must be a list of task objects; got a JSON object",
        ),
        (
            {"project": 7, "tasks": [{"id": 1}, 5]},
            "tasks[1] must be a task object; got a JSON number",
        ),
        ({"tasks": []}, "project must be a project id"),
        ({"tasks": [], "project": "x.1"}, "project must be a project id"),
    ],
)
def test_predict_bad_input(client, body, message):
    answer = client.post("/predict", json=body)
    assert answer.status_code == 400
    assert answer.json == {"error": answer.json["error"]}
    assert message in answer.json["error"]


# --------------------------------------------------------------------------- webhook


@pytest.mark.parametrize(
    "action",
    ["ANNOTATION_CREATED", "ANNOTATIONS_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"],
)
def test_annotation_events_schedule_one_debounced_audit(client, runner, store, action):
    payload = {"action": action, "project": {"id": 7}, "annotations": [{"id": 17}]}
    jobs = {client.post("/webhook", json=payload).json["job"] for _ in range(500)}
    assert len(jobs) == 1
    (job,) = jobs
    assert runner.enqueued == [(7, job, pytest.approx(5.0, abs=0.5))]
    assert store.get_job(job)["state"] == "scheduled"
    assert store.get_job(job)["reason"] == action


def test_start_training_audits_now(client, runner):
    client.post("/webhook", json={"action": "ANNOTATION_CREATED", "project": {"id": 7}})
    answer = client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 7}})
    assert answer.status_code == 200 and answer.json["status"] == "scheduled"
    # The debounced ticket is reused and enqueued once more, due now.
    assert [(p, t) for p, t, _ in runner.enqueued] == [(7, answer.json["job"])] * 2
    assert runner.enqueued[-1][2] == 0


def test_project_updated_audits_only_when_the_label_config_changed(client, runner):
    client.post("/setup", json={"project": 7, "schema": TEXT_CONFIG})

    def updated(config):
        payload = {"action": "PROJECT_UPDATED", "project": {"id": 7, "label_config": config}}
        return client.post("/webhook", json=payload).json["status"]

    assert updated(TEXT_CONFIG) == "ignored"
    assert updated(TEXT_CONFIG.replace("neg", "negative")) == "scheduled"
    assert updated(TEXT_CONFIG.replace("neg", "negative")) == "ignored"
    assert len(runner.enqueued) == 1
    payload = {"action": "PROJECT_UPDATED", "project": {"id": 7, "title": "renamed"}}
    assert client.post("/webhook", json=payload).json["status"] == "ignored"


def test_project_updated_for_a_project_never_connected_is_404_and_remembers_nothing(
    app, client, runner
):
    payload = {"action": "PROJECT_UPDATED", "project": {"id": 8, "label_config": TEXT_CONFIG}}
    answer = client.post("/webhook", json=payload)
    assert answer.status_code == 404 and "project 8 is not connected" in answer.json["error"]
    assert runner.enqueued == [] and not app.extensions["labelaudit"].store.knows(8)


@pytest.mark.parametrize("action", ["TASKS_CREATED", "PROJECT_DELETED", "SOMETHING_NEW"])
def test_other_events_are_ignored(client, runner, action):
    answer = client.post("/webhook", json={"action": action})
    assert answer.status_code == 200
    assert answer.json == {"status": "ignored", "action": action}
    assert runner.enqueued == []


@pytest.mark.parametrize("action", ["TASKS_CREATED", "TASKS_DELETED"])
def test_task_events_start_no_audit_but_the_next_one_reads_the_whole_project(
    client, runner, store, action
):
    client.post("/setup", json={"project": 7, "schema": TEXT_CONFIG})
    answer = client.post("/webhook", json={"action": action, "project": {"id": 7}})
    assert answer.status_code == 200 and answer.json == {"status": "ignored", "action": action}
    assert runner.enqueued == []
    assert store.changes_since(7, 0) == (1, [{"kind": "full", "why": action}])
    for body in ({"action": action, "project": {"id": 8}}, {"action": action, "project": 3}):
        assert client.post("/webhook", json=body).json["status"] == "ignored"  # never a 4xx
    assert store.changes_since(8, 0) == (0, [])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "action must be a non-empty string"),
        ({"action": ""}, "action must be a non-empty string"),
        ({"action": 3}, "action must be a non-empty string"),
        ({"action": "ANNOTATION_CREATED"}, "project must be an object with an id"),
        ({"action": "ANNOTATION_CREATED", "project": 7}, "project must be an object with an id"),
        ({"action": "START_TRAINING", "project": {}}, "project.id must be a project id"),
        ({"action": "START_TRAINING", "project": {"id": "7"}}, None),
        ({"action": "PROJECT_UPDATED", "project": {"id": -1}}, "project.id must be a positive"),
    ],
)
def test_webhook_bad_input(client, body, message):
    answer = client.post("/webhook", json=body)
    if message is None:
        assert answer.status_code == 200
        return
    assert answer.status_code == 400
    assert message in answer.json["error"]


# --------------------------------------------------------------------------- versions, metrics


def test_versions(client, store):
    assert client.get("/versions").json == {"versions": []}
    audited(store, project=7, version="labelaudit-3")
    audited(store, project=8, version="labelaudit-1")
    assert client.get("/versions").json == {"versions": ["labelaudit-1", "labelaudit-3"]}
    assert client.get("/versions?project=7").json == {"versions": ["labelaudit-3"]}
    assert client.get("/versions?project=7.1732700000").json == {"versions": ["labelaudit-3"]}
    assert client.get("/versions?project=abc").status_code == 400


def test_metrics_are_prometheus_text(client, store):
    audited(store)
    store.record_outcome(7, succeeded=True, duration=2.0, flagged=1)
    store.record_outcome(7, succeeded=False, duration=0.5, flagged=None)
    client.post("/webhook", json={"action": "ANNOTATION_CREATED", "project": {"id": 7}})
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    text = answer.get_data(as_text=True)
    for line in (
        "# TYPE labelaudit_audits_total counter",
        'labelaudit_audits_total{outcome="succeeded"} 1',
        'labelaudit_audits_total{outcome="failed"} 1',
        'labelaudit_audit_duration_seconds_bucket{le="1"} 1',
        'labelaudit_audit_duration_seconds_bucket{le="5"} 2',
        'labelaudit_audit_duration_seconds_bucket{le="+Inf"} 2',
        "labelaudit_audit_duration_seconds_sum 2.5",
        "labelaudit_audit_duration_seconds_count 2",
        "labelaudit_tasks_flagged_total 1",
        'labelaudit_tasks_flagged{project="7"} 1',
        "labelaudit_audits_running 0",
        "labelaudit_queue_depth 1",
    ):
        assert line in text.splitlines()


# --------------------------------------------------------------------------- jobs, audits, reports


def test_jobs(client, store):
    job = client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 7}}).json[
        "job"
    ]
    answer = client.get(f"/jobs/{job}")
    assert answer.status_code == 200
    assert answer.json["state"] == "scheduled" and answer.json["project"] == 7
    assert client.get("/jobs/0123abcd").status_code == 404
    assert client.get("/jobs/" + "x" * 65).status_code == 404
    assert client.get("/jobs/a.b").json == {"error": "no job 'a.b'"}


def test_latest_audit(client, store):
    missing = client.get("/projects/7/audit")
    assert missing.status_code == 404
    assert missing.json["activity"] == {"scheduled": None, "running": None, "stage": None}
    audited(store)
    answer = client.get("/projects/7/audit")
    assert answer.status_code == 200
    assert answer.json["model_version"] == "labelaudit-3"
    assert answer.json["summary"] == {"counts": {"flagged_tasks": 1}}
    assert answer.json["project"] == 7
    assert client.get("/projects/seven/audit").status_code == 404


def test_start_an_audit_needs_credentials(client, runner):
    answer = client.post("/projects/7/audit")
    assert answer.status_code == 409
    assert "LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY" in answer.json["error"]
    client.post("/setup", json={"project": 7, "hostname": "http://ls:8080", "access_token": TOKEN})
    answer = client.post("/projects/7/audit")
    assert answer.status_code == 202
    assert runner.enqueued == [(7, answer.json["job"], 0)]


def test_environment_credentials_win(tmp_path, runner):
    app = make_app(tmp_path, runner, label_studio_url="http://env:8080", label_studio_api_key="k")
    client = app.test_client()
    client.post("/setup", json={"project": 7, "hostname": "http://ls:8080", "access_token": TOKEN})
    assert app.extensions["labelaudit"].credentials.of(7) == ("http://env:8080", "k")
    assert client.post("/projects/7/audit").status_code == 202


def test_report(client, app, store):
    assert client.get("/projects/7/report").status_code == 404
    audited(store)
    artifacts = app.extensions["labelaudit"].artifacts
    folder = artifacts.version_dir(7, "labelaudit-3")
    folder.mkdir(parents=True)
    (folder / "report.html").write_text("<h1>report</h1>")
    answer = client.get("/projects/7/report")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert answer.get_data(as_text=True) == "<h1>report</h1>"


# --------------------------------------------------------------------------- an audit's files

FILES = {  # route -> media type
    "report": "text/html",
    "issues.csv": "text/csv",
    "predictions.json": "application/json",
    "summary.json": "application/json",
}
LS_URL = "http://lsuser:hunter2@ls.example:8080/"  # credentials in the URL: never in a link


@pytest.fixture
def audit_app(tmp_path, runner, monkeypatch):
    """An app whose service audits 60 numeric tasks read by a fake loader (a bit slow)."""
    from tests.backend.test_service import FakeLabelStudio as ServiceFake
    from tests.worker.support import numeric_tasks

    for name in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY", "BASIC_AUTH_USER", "BASIC_AUTH_PASS"):
        monkeypatch.delenv(name, raising=False)
    tasks = numeric_tasks(60, seed=1, flip=0.15)
    for task in tasks:
        task["annotations"][0]["completed_by"] = {"id": 5, "email": "five@example.com"}

    class FakeLabelStudio(ServiceFake):
        def load(self, url, key, project, progress, *, keep=None, pages=False):
            time.sleep(0.05)
            dataset = super().load(url, key, project, progress, keep=keep, pages=pages)
            dataset.title = "Points <&> clusters"
            return dataset

        def push(self, *args, **kwargs):
            time.sleep(0.02)
            super().push(*args, **kwargs)

    fake = FakeLabelStudio()
    fake.tasks[1] = tasks
    settings = {
        "model_dir": str(tmp_path),
        "redis_url": "",
        "folds": 3,
        "sweep_seconds": 0,
        "label_studio_url": LS_URL,
        "label_studio_api_key": TOKEN,
    }
    config = {"SETTINGS": settings, "RUNNER": runner, "IO": fake}
    return create_app(config | {"STORE": MemoryStore(), "TESTING": True})


def run_audit(app, project=1):
    from backend.service.runners import ThreadRunner

    svc = app.extensions["labelaudit"]
    ticket = svc.trigger(project, immediate=True, reason="test")
    assert ThreadRunner(svc).run_ticket(project, ticket) is None
    assert svc.store.get_job(ticket)["state"] == "succeeded"


def test_every_file_of_the_audit_is_served(audit_app):
    client = audit_app.test_client()
    for route in FILES:
        before = client.get(f"/projects/1/{route}")
        assert before.status_code == 404 and before.mimetype == "application/json"
        assert before.json == {"error": f"project 1 has no {route} yet"}
    run_audit(audit_app)
    answers = {route: client.get(f"/projects/1/{route}") for route in FILES}
    for route, mimetype in FILES.items():
        assert answers[route].status_code == 200, route
        assert answers[route].mimetype == mimetype, route
    disposition = parse_options_header(answers["issues.csv"].headers["Content-Disposition"])
    assert disposition == ("attachment", {"filename": "project-1-labelaudit-1-issues.csv"})
    assert "Content-Disposition" not in answers["report"].headers

    rows = list(csv.DictReader(io.StringIO(answers["issues.csv"].get_data(as_text=True))))
    assert len(rows) == 60 and {r["annotator"] for r in rows} == {"five@example.com"}
    predictions = answers["predictions.json"].json
    assert len(predictions) == 60 and {p["model_version"] for p in predictions} == {"labelaudit-1"}
    assert answers["summary.json"].json == client.get("/projects/1/audit").json["summary"]

    page = answers["report"].get_data(as_text=True)
    assert "<title>labelaudit report — Points &lt;&amp;&gt; clusters</title>" in page
    for name in ("issues.csv", "predictions.json", "summary.json"):
        assert f'<a href="{name}">' in page
        # The report's relative links resolve beside /projects/1/report, to the routes above.
        assert urljoin("/projects/1/report", name) == f"/projects/1/{name}"
    for task_id in answers["summary.json"].json["flagged_task_ids"][:5]:
        assert f'<a href="http://ls.example:8080/projects/1/data?task={task_id}"' in page
    assert "five@example.com" in page
    for answer in answers.values():
        body = answer.get_data(as_text=True)
        assert "hunter2" not in body and "lsuser" not in body and TOKEN not in body


def test_the_cleaned_export_leaves_out_or_relabels_the_open_flags(audit_app):
    from backend.verdicts import CONFIRMED, verdict

    client = audit_app.test_client()
    assert client.get("/projects/1/cleaned").status_code == 404
    run_audit(audit_app)
    bad = client.get("/projects/1/cleaned?mode=fix")
    assert bad.status_code == 400 and "mode must be 'remove' or 'relabel'" in bad.json["error"]
    rows = list(csv.DictReader(io.StringIO(client.get("/projects/1/issues.csv").get_data(True))))
    flagged = {int(r["annotation_id"]): r for r in rows if r["is_label_issue"] == "True"}
    assert flagged

    removed = client.get("/projects/1/cleaned")
    assert removed.status_code == 200 and len(removed.json) == 60
    kept = {a["id"] for t in removed.json for a in t["annotations"]}
    assert kept == {int(r["annotation_id"]) for r in rows} - set(flagged)
    counts = json.loads(removed.headers["X-Labelaudit-Cleaned"])
    assert counts["left_out"] == len(flagged) and counts["relabelled"] == 0
    disposition = parse_options_header(removed.headers["Content-Disposition"])
    assert disposition[1] == {"filename": "project-1-labelaudit-1-cleaned-remove.json"}

    relabelled = client.get("/projects/1/cleaned?mode=relabel")
    summary = client.get("/projects/1/summary.json").json
    preview = summary["cleaning"]["modes"]["relabel"]
    assert (
        json.loads(relabelled.headers["X-Labelaudit-Cleaned"])["relabelled"]
        == preview["relabelled"]
    )
    changed = 0
    for task in relabelled.json:
        for annotation in task["annotations"]:
            if annotation["id"] in flagged:
                choice = annotation["result"][0]["value"]["choices"]
                assert choice == [flagged[annotation["id"]]["suggested_label"]]
                changed += 1
    assert changed == preview["relabelled"]

    # A reviewer kept one flagged label: it is confirmed, and stays in every cleaned export.
    svc = audit_app.extensions["labelaudit"]
    kept_id, row = next(iter(flagged.items()))
    labels = summary["task_kind"]["classes"]
    confirmed = verdict(
        CONFIRMED,
        labels.index(row["given_label"]),
        task=int(row["task_id"]),
        annotator="5",
        flagged_label=labels.index(row["given_label"]),
    )
    assert svc.store.update_live(1, "labelaudit-1", verdicts={kept_id: confirmed})
    again = client.get("/projects/1/cleaned")
    assert kept_id in {a["id"] for t in again.json for a in t["annotations"]}
    assert json.loads(again.headers["X-Labelaudit-Cleaned"])["closed"] == 1

    svc.io.unreachable = True
    failed = client.get("/projects/1/cleaned")
    assert failed.status_code == 502 and failed.mimetype == "application/json"
    assert "could not read project 1" in failed.json["error"]
    assert "hunter2" not in failed.get_data(as_text=True)


def test_the_summary_and_report_time_the_whole_audit(audit_app):
    run_audit(audit_app)
    client = audit_app.test_client()
    timings = client.get("/projects/1/summary.json").json["timings_seconds"]
    assert list(timings) == [
        "read_tasks",
        "features",
        "cross_validation",
        "confident_learning",
        "evidence",
        "final_model",
        "push",
    ]
    assert timings["read_tasks"] >= 0.05 and timings["push"] >= 0.02  # the fakes' sleeps
    assert timings["cross_validation"] > 0 and timings["final_model"] > 0
    page = client.get("/projects/1/report").get_data(as_text=True)
    assert f"<b>{sum(timings.values()):.1f} s</b><span>audit time</span>" in page
    assert "<code>read_tasks</code>" in page and "<code>push</code>" in page


def test_only_the_audit_files_are_served(audit_app):
    run_audit(audit_app)
    client = audit_app.test_client()
    folder = audit_app.extensions["labelaudit"].artifacts.version_dir(1, "labelaudit-1")
    assert (folder / "model.pkl").is_file() and (folder / "report.html").is_file()
    for path in (
        "/projects/1/model.pkl",
        "/projects/1/report.html",
        "/projects/1/report/issues.csv",
        "/projects/1/..%2Fversions%2Flabelaudit-1%2Fmodel.pkl",
        "/projects/2/issues.csv",
    ):
        answer = client.get(path)
        assert answer.status_code == 404 and answer.mimetype == "application/json", path


# --------------------------------------------------------------------------- bodies and errors


@pytest.mark.parametrize("path", ["/setup", "/predict", "/webhook"])
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "request body is empty"),
        (b"   ", "request body is empty"),
        (b"{not json", "request body is not valid JSON: Expecting property name"),
        (b"[1, 2]", "request body must be a JSON object; got a JSON array"),
        (b'"text"', "request body must be a JSON object; got a JSON string"),
        (b"null", "request body must be a JSON object; got a JSON null"),
        (b"\xff\xfe{", "request body is not"),
        (b"[" * 100_000 + b"]" * 100_000, "request body is nested too deeply"),
    ],
)
def test_bad_bodies_are_400_json(client, path, data, message):
    answer = client.post(path, data=data, content_type="application/json")
    assert answer.status_code == 400
    assert answer.mimetype == "application/json"
    assert message in answer.json["error"]


@pytest.mark.parametrize("path", ["/setup", "/predict", "/webhook"])
def test_bodies_over_the_limit_are_413(tmp_path, path):
    client = make_app(tmp_path, max_body_bytes=1024).test_client()
    answer = client.post(path, json={"project": 7, "padding": "x" * 2000})
    assert answer.status_code == 413
    assert answer.json == {"error": "request body too large (limit 1024 bytes)"}


def test_unknown_routes_and_methods_are_json(client):
    missing = client.get("/nope")
    assert (missing.status_code, missing.json) == (404, {"error": "not found"})
    wrong = client.get("/predict")
    assert (wrong.status_code, wrong.json) == (405, {"error": "method not allowed"})
    assert "POST" in wrong.headers["Allow"]
    assert client.delete("/health").status_code == 405


def test_unexpected_errors_are_500_json_without_trace_or_secret(tmp_path, caplog):
    secret = "s3cr3t-api-key-value"

    class BrokenStore(MemoryStore):
        def get_job(self, job_id):
            raise RuntimeError(f"boom with {secret} inside")

    app = make_app(tmp_path, store=BrokenStore(), label_studio_api_key=secret)
    with caplog.at_level(logging.DEBUG):
        answer = app.test_client().get("/jobs/abc")
    assert answer.status_code == 500
    assert answer.json == {"error": "internal error (logged on the server)"}
    body = answer.get_data(as_text=True)
    assert "Traceback" not in body and secret not in body and "<html" not in body.lower()
    assert "RuntimeError" in caplog.text and "boom with *** inside" in caplog.text
    assert secret not in caplog.text


def test_secrets_are_never_logged_or_answered(client, caplog):
    with caplog.at_level(logging.DEBUG):
        setup = {"project": 7, "hostname": "http://ls:8080", "access_token": TOKEN}
        answers = [
            client.post("/setup", json=setup),
            client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 7}}),
            client.post("/predict", json={"tasks": [{"id": 1}], "project": 7}),
            client.get("/projects/7/audit"),
            client.get("/metrics"),
        ]
    assert all(TOKEN not in a.get_data(as_text=True) for a in answers)
    assert TOKEN not in caplog.text


# --------------------------------------------------------------------------- auth

ROUTES = [
    ("GET", "/"),
    ("GET", "/health"),
    ("POST", "/setup"),
    ("POST", "/predict"),
    ("POST", "/webhook"),
    ("GET", "/versions"),
    ("GET", "/metrics"),
    ("GET", "/jobs/abc"),
    ("GET", "/projects/7/audit"),
    ("POST", "/projects/7/audit"),
    ("GET", "/projects/7/report"),
    ("GET", "/projects/7/issues.csv"),
    ("GET", "/projects/7/predictions.json"),
    ("GET", "/projects/7/summary.json"),
    ("GET", "/no-such-route"),
]


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def locked(tmp_path, runner):
    app = make_app(tmp_path, runner, basic_auth_user="ls", basic_auth_pass=PASSWORD)
    return app.test_client()


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("ls", "wrong"),
        basic("someone", PASSWORD),
        basic("ls", PASSWORD + "x"),
        basic("", ""),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": f"Bearer {PASSWORD}"},
        {"Authorization": "Basic"},
    ],
)
def test_every_route_needs_basic_auth(locked, method, path, headers):
    answer = locked.open(path, method=method, headers=headers, json={"project": 7})
    assert answer.status_code == 401
    assert answer.json == {"error": "authentication required (HTTP Basic)"}
    assert answer.headers["WWW-Authenticate"].startswith('Basic realm="labelaudit"')
    assert PASSWORD not in answer.get_data(as_text=True)


def test_the_right_credentials_pass(locked):
    headers = basic("ls", PASSWORD)
    assert locked.get("/health", headers=headers).status_code == 200
    assert locked.post("/setup", headers=headers, json={"project": 7}).status_code == 200
    assert locked.get("/no-such-route", headers=headers).status_code == 404


def test_auth_failures_are_checked_before_the_body_is_read(tmp_path):
    client = make_app(
        tmp_path, basic_auth_user="ls", basic_auth_pass=PASSWORD, max_body_bytes=10
    ).test_client()
    assert client.post("/webhook", data=b"x" * 100).status_code == 401


@pytest.mark.parametrize("settings", [{"basic_auth_user": "ls"}, {"basic_auth_pass": PASSWORD}])
def test_half_configured_auth_is_refused(tmp_path, settings):
    with pytest.raises(ValueError, match="set both BASIC_AUTH_USER and BASIC_AUTH_PASS"):
        make_app(tmp_path, **settings)


def test_the_factory_starts_nothing(tmp_path):
    runner = RecordingRunner()
    make_app(tmp_path, runner)
    assert runner.started == 0 and runner.enqueued == []
