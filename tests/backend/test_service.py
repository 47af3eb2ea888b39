"""The service in one process: the audit steps, failures, the final model, the thread runner.

Label Studio is replaced by a fake LabelStudioIO given to the Service (the same seam the
worker uses), so these tests run the real pipeline on datasets built here.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backend.labelstudio.config import parse_label_config
from backend.labelstudio.export import dataset_from_tasks
from backend.service import NO_VERSION, Service, Superseded
from backend.service.fingerprint import dataset_fingerprint
from backend.service.runners import ThreadRunner
from backend.settings import load_settings
from backend.store import Artifacts, MemoryStore
from tests.worker.support import CONFIG, annotation, numeric_tasks

TOKEN = "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed"


class FakeLabelStudio:
    """Projects as task lists; records pushes; can fail or block."""

    def __init__(self) -> None:
        self.tasks: dict[int, list[dict]] = {}
        self.pushes: list[tuple[int, list[dict], list[int]]] = []
        self.tab_pushes: list[dict[str, dict[int, int]]] = []  # each push's other tabs
        self.load_errors: list[BaseException] = []
        self.push_errors: list[BaseException] = []
        self.loading = threading.Event()
        self.gate: threading.Event | None = None
        self.active = 0
        self.most_active = 0
        self.lock = threading.Lock()
        self.version_base = 0
        self.config = CONFIG  # the projects' label config
        self.unreachable = False  # export_tasks fails as an unreachable Label Studio would
        self.loads = 0  # projects read whole
        self.paged: list[bool] = []  # per read: task pages asked for (not the export)
        self.states = 0  # state digests asked for (the sweep's first look)

    def load(
        self, url: str, key: str, project: int, progress: Any, *, keep=None, pages=False
    ) -> Any:
        with self.lock:
            self.loads += 1
            self.paged.append(pages)
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            self.loading.set()
            if self.gate is not None:
                self.gate.wait(10)
            if self.load_errors:
                raise self.load_errors.pop(0)
            progress("export", 1, 1)
            kind = parse_label_config(self.config)
            for task in copy.deepcopy(self.tasks[project]) if keep is not None else []:
                keep(task)  # as the client hands each task read
            return dataset_from_tasks(self.tasks[project], kind, source=f"project {project}")
        finally:
            with self.lock:
                self.active -= 1

    def state(self, url: str, key: str, project: int) -> str:
        """What Label Studio's state digest follows: the config, the tasks as they are, and
        the pushes (a saved prediction stamps its task's ``updated_at``)."""
        self.states += 1
        pushed = sum(1 for p, _, _ in self.pushes if p == project)
        found = [self.config, self.tasks.get(project), pushed]
        return hashlib.sha256(json.dumps(found, sort_keys=True, default=str).encode()).hexdigest()

    def export_tasks(self, url, key, project):
        if self.unreachable:
            raise ConnectionError(f"reading tasks of project {project} failed ({url})")
        return iter(copy.deepcopy(self.tasks[project]))

    def next_version(self, url, key, project) -> str:
        done = sum(1 for p in self.pushes if p[0] == project)
        return f"labelaudit-{self.version_base + done + 1}"

    def push(
        self,
        url,
        key,
        project,
        predictions,
        flagged,
        *,
        version,
        progress,
        switched,
        tabs=None,
        guard=None,
        in_place=False,
    ):
        if self.push_errors:
            raise self.push_errors.pop(0)
        self.pushes.append((project, predictions, flagged))
        self.tab_pushes.append(dict(tabs or {}))
        switched(version)  # as push_audit does once the project shows the version


class NullRunner:
    def enqueue(self, project: int, ticket: str, countdown: float) -> None:
        pass

    def enqueue_instant(self, project: int) -> None:
        pass

    def queue_depth(self) -> int:
        return 0

    def start(self) -> None:
        pass


@pytest.fixture
def ls():
    fake = FakeLabelStudio()
    fake.tasks[1] = [*numeric_tasks(60, seed=1, flip=0.15), {"id": 900, "data": {"x": 8, "y": 0}}]
    return fake


def make_service(tmp_path, ls, runner=None, **overrides) -> Service:
    settings = load_settings(
        {
            "model_dir": str(tmp_path),
            "folds": 3,
            "label_studio_url": "http://ls:8080",
            "label_studio_api_key": TOKEN,
            "sweep_seconds": 0,
        }
        | overrides,
        environ={},
    )
    return Service(
        settings,
        MemoryStore(),
        Artifacts(tmp_path),
        runner or NullRunner(),
        io=ls,
        retry_delays=(0.0, 0.0),
    )


@pytest.fixture
def service(tmp_path, ls):
    return make_service(tmp_path, ls)


def run_ticket(service: Service, project: int, ticket: str) -> float | None:
    """Run a ticket's whole audit in this thread, as the embedded runner does."""
    return ThreadRunner(service, retry_delays=(0.0, 0.0)).run_ticket(project, ticket)


def audit(service: Service, project: int = 1) -> dict:
    ticket = service.trigger(project, immediate=True, reason="test")
    assert run_ticket(service, project, ticket) is None
    return service.store.get_job(ticket)


def test_an_audit_pushes_stores_and_frees_the_project(service, ls):
    job = audit(service)
    assert job["state"] == "succeeded", job
    assert job["model_version"] == "labelaudit-1"
    (project, pushed, flagged) = ls.pushes[0]
    assert project == 1 and len(pushed) == 60 and flagged and len(flagged) == job["flagged_tasks"]
    assert {p["model_version"] for p in pushed} == {"labelaudit-1"}
    folder = service.artifacts.version_dir(1, "labelaudit-1")
    assert json.loads((folder / "predictions.json").read_text()) == pushed  # saved as pushed
    store = service.store
    assert store.current_version(1) == "labelaudit-1"
    answers = store.answers(1, [1, 2, 900])
    assert answers[0]["model_version"] == "labelaudit-1" and "mislabeling" in answers[0]
    assert answers[2]["result"][0]["value"] == {"choices": ["b"]} and "score" not in answers[2]
    assert store.activity(1) == {"scheduled": None, "running": None, "stage": None}
    assert store.latest_audit(1)["summary"]["counts"]["audited_annotations"] == 60
    folder = service.artifacts.version_dir(1, "labelaudit-1")
    assert (folder / "model.pkl").is_file() and (folder / "report.html").is_file()
    assert list((service.artifacts.project_dir(1) / "work").iterdir()) == []
    metrics = store.metrics()
    assert metrics["audits_succeeded"] == 1 and metrics["flagged_tasks"] == {1: len(flagged)}


def test_the_final_model_leaves_the_flagged_labels_out_and_weighs_classes(service):
    audit(service)
    final = service.predictor.final_model(1, "labelaudit-1")
    learner = final.model.model.model  # ClassMapped(Featurized(features, CleanLearning))
    counts = service.store.latest_audit(1)["summary"]["counts"]
    assert learner.label_issues_.sum() == counts["flagged_annotations"] > 0
    # The numeric default (extra trees) takes sample weights: 1 / P(given=k | true=k).
    weights = learner.clf_final_kwargs["sample_weight"]
    assert len(weights) == counts["audited_annotations"] - counts["flagged_annotations"]
    assert np.all(weights >= 1.0)


def test_predict_uses_the_final_model_for_tasks_never_audited(service):
    audit(service)
    tasks = [
        {"id": 5000, "data": {"x": 0.2, "y": 8.1}},
        {"id": 5001, "data": {"x": "not a number", "y": 1}},
        {"id": 5002},
        {"id": 1, "data": {"x": 0, "y": 0}},
    ]
    results = service.predict(1, tasks)
    assert results[0]["result"][0]["value"] == {"choices": ["c"]}
    assert results[0]["model_version"] == "labelaudit-1"
    empty = {"result": [], "score": 0.0, "model_version": "labelaudit-1"}
    assert results[1] == empty and results[2] == empty
    assert results[3] == service.store.answers(1, [1])[0]


def test_predict_without_a_model_file_answers_empty_results(service):
    audit(service)
    service.artifacts.prune_versions(1, [])
    service.predictor.models.clear()
    assert service.predict(1, [{"id": 5000, "data": {"x": 1, "y": 1}}]) == [
        {"result": [], "score": 0.0, "model_version": "labelaudit-1"}
    ]
    assert service.predict(2, [{"id": 1}]) == [
        {"result": [], "score": 0.0, "model_version": NO_VERSION}
    ]


def test_nothing_to_audit_fails_the_job_and_frees_the_project(service, ls):
    ls.tasks[2] = [{"id": 1, "data": {"x": 1, "y": 2}}]
    job = audit(service, 2)
    assert job["state"] == "failed" and job["error"].startswith("nothing to audit")
    assert service.store.activity(2)["running"] is None
    assert service.store.metrics()["audits_failed"] == 1
    assert service.store.fingerprint(2) is not None  # the sweep will not retry unchanged data


def test_missing_credentials_fail_the_job(tmp_path, ls):
    service = make_service(tmp_path, ls, label_studio_url="", label_studio_api_key="")
    job = audit(service)
    assert job["state"] == "failed"
    assert "no Label Studio credentials for project 1" in job["error"]
    service.store.remember_project(1, url="http://ls:8080", token=TOKEN)
    assert audit(service)["state"] == "succeeded"


def test_transient_failures_are_retried_then_reported_without_the_secret(service, ls, caplog):
    ls.load_errors = [ConnectionError("503"), TimeoutError("slow")]
    assert audit(service)["state"] == "succeeded"
    ls.push_errors = [ConnectionError(f"refused with key {TOKEN}")] * 3
    job = audit(service)
    assert job["state"] == "failed"
    assert job["error"] == "refused with key ***"
    assert TOKEN not in caplog.text
    assert service.store.current_version(1) == "labelaudit-1"  # the failed audit stored nothing
    assert service.store.fingerprint(1) is None  # so the sweep tries again


def test_the_audit_is_current_as_soon_as_label_studio_shows_it(service, ls, monkeypatch):
    seen: dict[str, object] = {}

    def push(
        url,
        key,
        project,
        predictions,
        flagged,
        *,
        version,
        progress,
        switched,
        tabs=None,
        guard=None,
        in_place=False,
    ):
        switched(version)
        # Older versions are being deleted now (minutes on a big project): the backend
        # already answers with the new version.
        seen["current"] = service.store.current_version(project)
        seen["running"] = service.store.activity(project)["running"]

    ls.version_base = 6
    monkeypatch.setattr(ls, "push", push)
    job = audit(service)
    assert job["state"] == "succeeded" and job["model_version"] == "labelaudit-7"
    assert seen["current"] == "labelaudit-7"
    assert seen["running"] is not None  # the project stays held until the deletes end
    assert service.store.activity(1)["running"] is None


def test_a_pusher_that_never_reports_its_switch_fails_the_job(service, ls, monkeypatch):
    monkeypatch.setattr(ls, "push", lambda *args, **kwargs: None)
    job = audit(service)
    assert job["state"] == "failed" and "never reported its switch" in job["error"]
    assert service.store.current_version(1) is None


def test_a_superseded_audit_never_pushes(service, ls):
    store = service.store
    ticket = service.trigger(1, immediate=True, reason="test")
    assert service.scheduler.claim_begin(1, ticket, "owner").action == "run"
    folds = service.steps.begin(1, ticket)
    for index in range(folds):
        service.steps.fold(1, ticket, index)
    with pytest.raises(Superseded):
        service.steps.complete(1, ticket, superseded=lambda: True)
    assert ls.pushes == [] and store.current_version(1) is None
    service.scheduler.supersede(ticket)
    assert store.get_job(ticket)["state"] == "superseded"


def test_the_process_that_prepared_an_audit_runs_its_folds_without_reading_it_back(
    service, monkeypatch
):
    ticket = service.trigger(1, immediate=True, reason="test")
    assert service.scheduler.claim_begin(1, ticket, "owner").action == "run"
    folds = service.steps.begin(1, ticket)
    read = service.artifacts.read_pickle
    reads: list[str] = []
    monkeypatch.setattr(
        service.artifacts, "read_pickle", lambda path: reads.append(Path(path).name) or read(path)
    )
    for index in range(folds):
        service.steps.fold(1, ticket, index)
    assert "prepared.pkl" not in reads
    service.steps.work_cache.clear()
    service.steps.fold(1, ticket, 0)
    assert reads.count("prepared.pkl") == 1


def test_a_step_of_another_ticket_is_stale(service):
    ticket = service.trigger(1, immediate=True, reason="test")
    assert service.scheduler.claim_step(1, ticket, None, "folds").action == "stale"
    assert run_ticket(service, 1, "never-scheduled") is None


def test_fingerprints_follow_the_annotations(ls):
    kind = parse_label_config(CONFIG)
    tasks = ls.tasks[1]
    first = dataset_fingerprint(dataset_from_tasks(tasks, kind, source="a"))
    assert dataset_fingerprint(dataset_from_tasks(tasks[::-1], kind, source="b")) == first
    changed = [dict(t) for t in tasks]
    changed[0] = {**changed[0], "annotations": [annotation(10_001, "c")]}
    assert dataset_fingerprint(dataset_from_tasks(changed, kind, source="a")) != first


def test_the_sweep_audits_only_changed_projects(service, ls):
    service.store.remember_project(3)  # known, no credentials of its own: env ones apply
    ls.tasks[3] = numeric_tasks(30, seed=3)
    audit(service)
    assert ls.paged == [False]  # the audit read the export
    assert not service.scheduler.check_project(1)
    assert ls.paged == [False, True]  # the sweep's check: task pages (no export file left)
    assert not service.scheduler.check_project(1)
    assert ls.paged == [False, True] and ls.states == 2  # nothing changed: nothing read
    ls.tasks[1][0]["annotations"] = [annotation(10_001, "c")]
    assert service.scheduler.check_project(1)
    assert ls.paged == [False, True, True]
    assert not service.scheduler.check_project(1)  # already scheduled
    assert service.scheduler.check_project(3)  # never audited


def test_the_sweep_runs_once_per_period(tmp_path, ls):
    service = make_service(tmp_path, ls, sweep_seconds=60)
    service.store.remember_project(1)
    assert service.scheduler.sweep() == [1]
    assert service.scheduler.sweep() == []
    assert make_service(tmp_path, ls).scheduler.sweep() == []  # sweep_seconds=0: never


# --------------------------------------------------------------------------- thread runner


@pytest.fixture
def threaded(tmp_path, ls):
    service = make_service(tmp_path, ls, debounce_seconds=0.2, poll_seconds=0.05)
    runner = ThreadRunner(service)
    service.runner = runner
    yield service
    runner.stop()


def wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_thread_runner_debounces_a_burst_into_one_audit(threaded, ls):
    jobs = {threaded.trigger(1, immediate=False, reason="event") for _ in range(500)}
    assert len(jobs) == 1
    wait_until(lambda: threaded.store.get_job(next(iter(jobs)))["state"] == "succeeded")
    time.sleep(0.4)
    assert len(ls.pushes) == 1


def test_the_thread_runner_runs_one_more_audit_after_events_during_one(threaded, ls):
    ls.gate = threading.Event()
    first = threaded.trigger(1, immediate=True, reason="api")
    assert ls.loading.wait(10)
    second = {threaded.trigger(1, immediate=False, reason="event") for _ in range(20)}
    assert len(second) == 1 and first not in second
    ls.gate.set()
    wait_until(lambda: threaded.store.get_job(next(iter(second)))["state"] == "succeeded")
    assert [p[0] for p in ls.pushes] == [1, 1]
    assert ls.most_active == 1


def test_the_thread_runner_starts_lazily_and_stops(tmp_path, ls):
    service = make_service(tmp_path, ls, sweep_seconds=30)
    runner = ThreadRunner(service)
    assert runner.queue_depth() == 0 and runner._thread is None
    runner.start()
    runner.start()
    assert runner._thread.is_alive()
    runner.stop()
    assert not runner._thread.is_alive()


def test_predict_answers_are_independent_of_np_types(service):
    audit(service)
    answer = service.store.answers(1, [1])[0]
    assert isinstance(answer["score"], float)
    assert not any(isinstance(v, np.generic) for v in answer.values())
