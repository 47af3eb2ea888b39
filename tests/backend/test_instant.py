"""Instant feedback and remembered verdicts, in one process (backend.service.instant).

Label Studio is the fake of test_service.py (datasets built here), which also records what
an instant update shows (``show``); audits run the real pipeline. Memory and Redis
stores alike.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import numpy as np
import pytest

from backend.api import create_app
from backend.service import Service
from backend.service import instant as instant_module
from backend.service.changelog import CHANGES_KEPT, log_entry
from backend.service.instant_data import Change, changes_of
from backend.service.runners import ThreadRunner
from backend.settings import load_settings
from backend.store import Artifacts, MemoryStore, RedisStore, SavedAudit
from tests.backend.test_service import TOKEN, FakeLabelStudio, NullRunner, audit
from tests.worker.support import CLASSES, annotation, drop_namespace, numeric_tasks, redis_server

REVIEW = "Needs re-review"


class ShowingLabelStudio(FakeLabelStudio):
    """The fake Label Studio, also recording instant updates (and able to change labels)."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[dict[str, Any]] = []
        self.on_load: list[Any] = []

    def load(
        self, url: str, key: str, project: int, progress: Any, *, keep=None, pages=False
    ) -> Any:
        dataset = super().load(url, key, project, progress, keep=keep, pages=pages)
        while self.on_load:
            self.on_load.pop(0)()  # a person saves while the audit reads the project
        return dataset

    def show(self, url, key, project, *, version, predictions, tabs=None) -> None:
        for task, prediction in predictions.items():
            self.shown.append(
                {"project": project, "version": version, "task": task, "prediction": prediction}
                | ({"tab": sorted(tabs[REVIEW])} if tabs else {})
            )

    def relabel(self, project: int, task: int, label: str) -> dict[str, Any]:
        """Change a task's label in the fake (as Label Studio stores a save)."""
        (entry,) = [t for t in self.tasks[project] if t["id"] == task]
        (old,) = entry["annotations"]
        entry["annotations"] = [annotation(old["id"], label)]
        return entry["annotations"][0]


class RecordingRunner(NullRunner):
    def __init__(self) -> None:
        self.instant: list[int] = []

    def enqueue_instant(self, project: int) -> None:
        self.instant.append(project)


@pytest.fixture(scope="module")
def redis_url():
    with redis_server() as url:
        yield url


@pytest.fixture(params=["memory", "redis"])
def store(request, redis_url):
    if request.param == "memory":
        yield MemoryStore()
        return
    namespace = f"labelaudit-test-{uuid.uuid4().hex[:12]}"
    redis_store = RedisStore(redis_url, namespace=namespace)
    yield redis_store
    drop_namespace(redis_url, namespace)
    redis_store.close()


@pytest.fixture
def ls():
    fake = ShowingLabelStudio()
    fake.tasks[1] = numeric_tasks(150, seed=4, flip=0.15)
    return fake


@pytest.fixture
def service(tmp_path, ls, store):
    settings = load_settings(
        {
            "model_dir": str(tmp_path),
            "folds": 3,
            "label_studio_url": "http://ls:8080",
            "label_studio_api_key": TOKEN,
            "sweep_seconds": 0,
        },
        environ={},
    )
    runner = RecordingRunner()
    return Service(settings, store, Artifacts(tmp_path), runner, io=ls, retry_delays=(0.0, 0.0))


def logged(service: Service, action: str, body: dict[str, Any], at: float | None = None) -> None:
    """Log an annotation webhook's change as the webhook's store step does."""
    entry = log_entry(action, body, at=time.time() if at is None else at)
    service.store.log_change(1, entry, keep=CHANGES_KEPT)


def saved(service, ls, task: int, label: str, *, action="ANNOTATION_UPDATED", at=None) -> None:
    """A person saves ``task`` with ``label`` in the fake: its change logged."""
    stored = ls.relabel(1, task, label)
    body = {"action": action, "annotation": {**stored, "task": task}, "project": {"id": 1}}
    logged(service, action, body, at)


def label_of(ls, task: int) -> str:
    (entry,) = [t for t in ls.tasks[1] if t["id"] == task]
    return entry["annotations"][0]["result"][0]["value"]["choices"][0]


def flagged_tasks(service: Service) -> list[int]:
    record, _ = service.latest_audit(1)
    return record["summary"]["flagged_task_ids"]


def suggestion(service: Service, task: int) -> str:
    (answer,) = service.store.answers(1, [task])
    return answer["result"][0]["value"]["choices"][0]


def test_a_fix_leaves_the_tab_at_once_and_is_counted(service, ls):
    assert audit(service)["state"] == "succeeded"
    flagged = flagged_tasks(service)
    assert len(flagged) >= 5
    assert service.store.live(1)["instant"] is True
    task = flagged[0]
    better = suggestion(service, task)
    saved(service, ls, task, better)
    assert service.instant.run(1)
    assert task not in flagged_tasks(service)
    assert task not in service.store.flags(1)
    (answer,) = service.store.answers(1, [task])
    assert answer["model_version"] == "labelaudit-1" and answer["score"] < 0.5
    # Label Studio is shown the same: the new prediction, the tab without the task.
    (shown,) = ls.shown
    assert shown["task"] == task and shown["prediction"] == answer
    annotations = {f["annotation"] for f in service.store.flags(1).values()}
    assert shown["tab"] == sorted(annotations) and 10_000 + task not in annotations
    record, _ = service.latest_audit(1)
    assert record["summary"]["verdicts"]["fixed"] == 1
    assert record["summary"]["verdicts"]["open"] == len(flagged) - 1
    assert record["summary"]["counts"]["flagged_tasks"] == len(flagged) - 1
    assert record["live"]["instant_updates"] == 1
    # The same entry judged again (the position lost) changes and shows nothing; so does an
    # older change of the annotation logged after it.
    service.store.set_instant_position(1, 0)
    assert service.instant.run(1)
    saved(service, ls, task, better, at=0.0)
    assert service.instant.run(1)
    assert len(ls.shown) == 1 and task not in service.store.flags(1)
    assert service.latest_audit(1)[0]["live"]["instant_updates"] == 1
    # A retried run (a failure after judging) shows it again, as the store holds it.
    service.store.set_instant_position(1, 0)
    assert service.instant.run(1, again=True)
    assert [s["task"] for s in ls.shown[1:]] == [task]  # both entries: one prediction shown
    assert all(s["prediction"] == service.store.answers(1, [task])[0] for s in ls.shown[1:])


def test_a_kept_label_is_confirmed_and_never_flagged_again(service, ls):
    audit(service)
    task = flagged_tasks(service)[0]
    kept = label_of(ls, task)
    saved(service, ls, task, kept)  # pressed Update, unchanged
    assert service.instant.run(1)
    assert task not in flagged_tasks(service)
    verdict = service.store.verdicts(1)[10_000 + task]
    assert verdict["state"] == "confirmed" and verdict["label"] == CLASSES.index(kept)
    for _ in range(2):  # two more full audits: trusted, so never flagged
        job = audit(service)
        assert job["state"] == "succeeded"
        assert task not in flagged_tasks(service)
        assert task not in ls.pushes[-1][2]  # nor in the tab pushed to Label Studio
        summary = service.store.latest_audit(1)["summary"]
        assert summary["verdicts"]["confirmed"] == 1  # summary.json counts it too
        assert summary["counts"]["ground_truth_annotations"] == 1  # trusted like it
        folder = service.artifacts.version_dir(1, summary["model_version"])
        report = (folder / "report.html").read_text()
        assert "What people did with the flags" in report and "<b>1</b> confirmed" in report
    # Changed later (to the suggestion): a fix, and no longer trusted.
    other = suggestion(service, task)
    assert other != kept
    saved(service, ls, task, other)
    assert service.instant.run(1)
    assert service.store.verdicts(1)[10_000 + task]["state"] == "fixed"
    audit(service)
    assert service.store.latest_audit(1)["summary"]["counts"]["ground_truth_annotations"] == 0


def test_a_new_wrong_label_is_flagged_at_once(service, ls):
    audit(service)
    unflagged = [t["id"] for t in ls.tasks[1] if t["id"] not in flagged_tasks(service)]
    # The task the model is surest of: change its label to another one.
    task = min(unflagged, key=lambda t: service.store.answers(1, [t])[0]["score"])
    wrong = next(c for c in CLASSES if c != suggestion(service, task))
    saved(service, ls, task, wrong)
    assert service.instant.run(1)
    assert task in flagged_tasks(service)
    assert service.store.answers(1, [task])[0]["score"] > 0.5
    assert service.store.verdicts(1)[10_000 + task]["state"] == "open"
    assert 10_000 + task in ls.shown[-1]["tab"]


def test_an_instant_answer_keeps_the_version_a_project_updated_in_place_shows(
    service, ls, monkeypatch
):
    """A re-audit written in place leaves the project showing its first version of ours,
    which the audit's /predict answers carry; an instant update answers in it too (the
    score column counts only the shown version's predictions)."""
    audit(service)
    fake_push = ls.push

    def push_in_place(url, key, project, predictions, flagged, *, version, switched, **kw):
        def shown(audited: str) -> None:  # as push_audit does in place: what is written
            for prediction in predictions:  # carries the version the project still shows
                prediction["model_version"] = "labelaudit-1"
            switched(audited)

        fake_push(url, key, project, predictions, flagged, version=version, switched=shown, **kw)

    monkeypatch.setattr(ls, "push", push_in_place)
    audit(service)
    assert service.store.current_version(1) == "labelaudit-2"
    task = flagged_tasks(service)[0]
    assert service.store.answers(1, [task])[0]["model_version"] == "labelaudit-1"
    saved(service, ls, task, suggestion(service, task))
    assert service.instant.run(1)
    (answer,) = service.store.answers(1, [task])
    assert task not in flagged_tasks(service)
    assert answer["model_version"] == "labelaudit-1" and answer["score"] < 0.5


def test_a_deleted_annotation_leaves_the_tab_and_its_score(service, ls):
    audit(service)
    task = flagged_tasks(service)[0]
    body = {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 10_000 + task}]}
    logged(service, "ANNOTATIONS_DELETED", body)
    assert service.instant.run(1)
    assert task not in flagged_tasks(service)
    assert service.store.answers(1, [task]) == [None]  # /predict asks the final model now
    assert ls.shown[-1]["prediction"] is None and ls.shown[-1]["task"] == task
    assert 10_000 + task not in service.store.verdicts(1)


def test_a_fix_made_while_an_audit_reads_the_project_is_applied_on_its_results(service, ls):
    audit(service)
    task = flagged_tasks(service)[0]
    better = suggestion(service, task)
    (entry,) = [t for t in ls.tasks[1] if t["id"] == task]
    old = dict(entry["annotations"][0])

    def save_meanwhile() -> None:
        saved(service, ls, task, better)
        entry["annotations"] = [old]  # the audit already read the old label
        assert service.instant.run(1)

    ls.on_load.append(save_meanwhile)
    audit(service)  # reads the old label, so flags the task again, then switches
    assert task in ls.pushes[-1][2]  # what the audit itself pushed
    assert task not in flagged_tasks(service)  # the switch applied the fix again
    assert ls.shown[-1]["task"] == task and ls.shown[-1]["version"] == "labelaudit-2"
    assert service.store.answers(1, [task])[0]["model_version"] == "labelaudit-2"
    assert service.store.verdicts(1)[10_000 + task]["state"] == "fixed"


def test_an_update_computed_on_a_superseded_audit_lands_nowhere(service, ls, monkeypatch):
    audit(service)
    task = flagged_tasks(service)[0]
    saved(service, ls, task, suggestion(service, task))
    real = service.store.update_live
    newer = SavedAudit("labelaudit-2", "job-2", {}, {}, "fp", 1, 1.0, flags={task: {}})

    def newer_audit_first(project, version, **changes):
        # A full audit switched between the judging and the saving (its lock ran out).
        if version == "labelaudit-1":
            service.store.save_audit(project, newer)
        return real(project, version, **changes)

    monkeypatch.setattr(service.store, "update_live", newer_audit_first)
    assert service.instant.run(1)
    # Nothing landed on the audit that was superseded; the newer one has no rows to judge
    # again (no instant data here), so its flags stay as it saved them.
    assert service.store.flags(1) == {task: {}}
    assert service.store.events(1) == {} and ls.shown == []


def test_logged_webhooks_become_the_changes_judged_at_once():
    body = {"annotation": {**annotation(5, "a"), "task": 3}, "task": {"id": 3}}
    entry = log_entry("ANNOTATION_UPDATED", body, at=12.5)
    assert changes_of([entry]) == [
        Change(5, 3, body["annotation"]["result"], ground_truth=False, deleted=False, at=12.5)
    ]
    cancelled = {"annotation": {**annotation(5, "a"), "was_cancelled": True, "task": 3}}
    (change,) = changes_of([log_entry("ANNOTATION_UPDATED", cancelled, at=1)])
    assert change.deleted and change.result is None
    deleted = log_entry("ANNOTATIONS_DELETED", {"annotations": [{"id": 5}, {"id": 6}]}, at=2)
    assert [(c.annotation, c.deleted, c.at) for c in changes_of([deleted])] == [
        (5, True, 2.0),
        (6, True, 2.0),
    ]
    many = {"annotations": [{"id": i} for i in range(1, 150)]}
    assert len(changes_of([log_entry("ANNOTATIONS_DELETED", many)])) == 100  # more: the audit
    huge = {"annotation": {**annotation(5, "a"), "result": [{"x": "y" * 70_000}], "task": 3}}
    assert changes_of([log_entry("ANNOTATION_UPDATED", huge)]) == []  # left to the audit
    assert changes_of([log_entry("ANNOTATIONS_CREATED", body)]) == []  # a bulk import: the audit
    assert changes_of([log_entry("ANNOTATION_UPDATED", {"annotation": {"id": "7"}})]) == []
    # In order, a full entry between them naming nothing; no time (an older web process's
    # entry): never newer than anything.
    assert [c.at for c in changes_of([entry, {"kind": "full", "why": "x"}, deleted])] == [
        12.5,
        2.0,
        2.0,
    ]
    assert changes_of([log_entry("ANNOTATION_UPDATED", body)])[0].at == 0.0


def test_only_annotations_of_the_audit_are_judged_at_once(service, ls):
    audit(service)
    body = {
        "action": "ANNOTATION_CREATED",
        "annotation": {**annotation(99_999, "a"), "task": 1},
        "project": {"id": 1},
    }
    logged(service, "ANNOTATION_CREATED", body)
    assert service.instant.run(1)
    assert ls.shown == []  # a second annotation of task 1: the next audit judges it


def test_a_task_labelled_by_two_people_is_left_to_the_audit(service, ls):
    (first,) = [t for t in ls.tasks[1] if t["id"] == 1]
    first["annotations"].append(annotation(20_001, "a", user=2))  # one shared task of 150
    audit(service)
    assert service.store.latest_audit(1)["summary"]["task_kind"]["task_type"] == "single_choice"
    body = {"annotation": {**annotation(20_001, "c", user=2), "task": 1}}
    logged(service, "ANNOTATION_UPDATED", body)
    assert service.instant.run(1)
    assert ls.shown == [] and service.store.events(1) == {}


def test_the_webhook_hands_the_change_over_and_still_schedules_the_audit(service, ls):
    app = create_app({"SERVICE": service, "TESTING": True})
    client = app.test_client()
    service.store.remember_project(1)
    body = {
        "action": "ANNOTATION_UPDATED",
        "annotation": {**annotation(10_001, "b"), "task": 1},
        "project": {"id": 1},
    }
    answer = client.post("/webhook", json=body)
    assert answer.status_code == 200 and answer.json["status"] == "scheduled"
    assert service.runner.instant == []  # never audited: nothing to judge at once
    audit(service)
    answer = client.post("/webhook", json=body)
    assert answer.status_code == 200 and answer.json["status"] == "scheduled"
    assert service.runner.instant == [1]  # the project's id: the change is in its log
    answer = client.post("/webhook", json=body)
    assert answer.status_code == 200 and service.runner.instant == [1]  # one is pending
    audit_view = client.get("/projects/1/audit").json
    assert set(audit_view["summary"]["verdicts"]) == {"confirmed", "fixed", "open", "by_annotator"}


def test_the_embedded_runner_applies_changes_in_its_own_thread(tmp_path, ls):
    settings = load_settings(
        {
            "model_dir": str(tmp_path),
            "folds": 3,
            "label_studio_url": "http://ls:8080",
            "label_studio_api_key": TOKEN,
            "sweep_seconds": 0,
        },
        environ={},
    )
    service = Service(settings, MemoryStore(), Artifacts(tmp_path), io=ls, retry_delays=(0.0,))
    assert isinstance(service.runner, ThreadRunner)
    try:
        audit(service)
        tasks = flagged_tasks(service)[:3]
        for task in tasks:  # webhooks: the memory store's flag hands the project over
            stored = ls.relabel(1, task, suggestion(service, task))
            body = {"annotation": {**stored, "task": task}, "project": {"id": 1}}
            service.annotation_changed(1, "ANNOTATION_UPDATED", body)
        deadline = time.monotonic() + 10
        while set(tasks) & set(service.store.flags(1)):
            assert time.monotonic() < deadline, "the instant thread did not apply the changes"
            time.sleep(0.01)
    finally:
        service.runner.stop()  # type: ignore[attr-defined]


def test_a_busy_project_makes_the_update_wait_then_try_later(service, ls, monkeypatch):
    audit(service)
    monkeypatch.setattr(instant_module, "LOCK_WAIT_SECONDS", 0.1)
    task = flagged_tasks(service)[0]
    saved(service, ls, task, suggestion(service, task))
    assert service.store.try_lock(1, instant_module.LOCK, "an audit switching", 60)
    assert not service.instant.run(1)
    assert task in service.store.flags(1)
    service.store.unlock(1, instant_module.LOCK, "an audit switching")
    assert service.instant.run(1)
    assert task not in service.store.flags(1)


def test_instant_state_is_saved_with_the_version(service, ls):
    audit(service)
    data = service.instant.data(1, "labelaudit-1")
    assert data is not None and len(data.task_ids) == 150
    assert data.probs.shape == (150, 3) and np.all(data.loaded_at > 0)
