"""Reads that follow the change: a re-audit after annotation webhooks builds its dataset
from the last audit's kept tasks and the webhooks' payloads, without reading the project;
anything else reads the whole project (issue 14).

Label Studio is the fake LabelStudioIO of test_service (it counts whole-project reads); the
webhook bodies are shaped as a real Label Studio 1.23 sends them (shared/LABEL_STUDIO.md).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from backend.labelstudio.config import parse_label_config
from backend.labelstudio.dataset import AuditDataset
from backend.service import changelog, reads, steps
from tests.backend.test_service import FakeLabelStudio, make_service, run_ticket
from tests.worker.support import CONFIG, annotation, numeric_tasks


@pytest.fixture
def ls():
    fake = FakeLabelStudio()
    fake.tasks[1] = [*numeric_tasks(60, seed=1, flip=0.15), {"id": 900, "data": {"x": 8, "y": 0}}]
    fake.tasks[1][0]["data"]["note"] = "not read by the audit " * 100
    return fake


@pytest.fixture
def audited(tmp_path, ls, monkeypatch):
    """A service whose project 1 was audited once (a full read), and the datasets its
    audits worked on, in order."""
    service = make_service(tmp_path, ls, debounce_seconds=0.0)
    seen: list[AuditDataset] = []
    reads: list[str] = []
    real = steps.read_tasks

    def spy(*args: Any, **kwargs: Any) -> Any:
        dataset, kept, read = real(*args, **kwargs)
        seen.append(copy.deepcopy(dataset))
        reads.append(read.timing)
        return dataset, kept, read

    monkeypatch.setattr(steps, "read_tasks", spy)
    job = run(service, service.trigger(1, immediate=True, reason="test"))
    assert job["state"] == "succeeded" and ls.loads == 1 and reads == ["read_tasks"]
    service.seen, service.reads = seen, reads  # type: ignore[attr-defined]
    return service


def run(service, ticket: str) -> dict:
    assert run_ticket(service, 1, ticket) is None
    return service.store.get_job(ticket)


def task_of(ls: FakeLabelStudio, task_id: int) -> dict:
    (task,) = [t for t in ls.tasks[1] if t["id"] == task_id]
    return task


def saved(ls: FakeLabelStudio, task_id: int, new: dict, action: str) -> dict:
    """Save ``new`` on a task in the fake and return the webhook body Label Studio sends."""
    task = task_of(ls, task_id)
    others = [a for a in task.get("annotations", []) if a["id"] != new["id"]]
    task["annotations"] = (
        [*others, new]
        if action == "ANNOTATION_CREATED"
        else [new if a["id"] == new["id"] else a for a in task["annotations"]]
    )
    return {
        "action": action,
        "annotation": {**new, "task": task_id, "project": 1, "updated_by": 1, "lead_time": 3.2},
        "task": {
            "id": task_id,
            "data": task["data"],
            "meta": {},
            "is_labeled": True,
            "total_annotations": len(task["annotations"]),
        },
        "project": {"id": 1, "label_config": CONFIG, "model_version": "labelaudit-1"},
    }


def deleted(ls: FakeLabelStudio, task_id: int, annotation_id: int) -> dict:
    task = task_of(ls, task_id)
    task["annotations"] = [a for a in task["annotations"] if a["id"] != annotation_id]
    return {
        "action": "ANNOTATIONS_DELETED",
        "annotations": [{"id": annotation_id}],
        "project": {"id": 1},
    }


def send(service, body: dict) -> str:
    return service.annotation_changed(1, body["action"], body)


def full_read(ls: FakeLabelStudio) -> AuditDataset:
    return ls.load("http://ls:8080", "k", 1, lambda *a: None)


def assert_same(a: AuditDataset, b: AuditDataset) -> None:
    """Two datasets are the same audit input: rows in order, inputs, unlabeled, skipped."""
    assert a.kind == b.kind
    for name in ("task_ids", "annotation_ids", "labels", "ground_truth"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.annotators == b.annotators and a.inputs == b.inputs
    assert a.unlabeled == b.unlabeled and a.skipped == b.skipped
    assert (a.source, a.title) == (b.source, b.title)


def some_changes(ls: FakeLabelStudio, service) -> str:
    """A fix, a new annotation on an unlabeled task, a delete and a skip, as webhooks."""
    send(service, saved(ls, 1, annotation(10_001, "c"), "ANNOTATION_UPDATED"))
    send(service, saved(ls, 900, annotation(20_000, "b", user=2), "ANNOTATION_CREATED"))
    send(service, deleted(ls, 2, 10_002))
    skipped = {**annotation(10_003, "a"), "was_cancelled": True}
    send(service, saved(ls, 3, skipped, "ANNOTATION_UPDATED"))
    return send(service, saved(ls, 4, annotation(10_004, "b"), "ANNOTATION_UPDATED"))


def test_a_webhook_reaudit_reads_nothing_and_audits_what_a_full_read_would(audited, ls):
    job = run(audited, some_changes(ls, audited))
    assert job["state"] == "succeeded", job
    assert ls.loads == 1  # the project was not read again
    assert audited.reads == ["read_tasks", "read_changes"]
    summary = audited.store.latest_audit(1)["summary"]
    assert "read_changes" in summary["timings_seconds"]
    assert any("5 webhook changes applied" in note for note in summary["notes"])
    assert_same(audited.seen[-1], full_read(ls))
    assert audited.store.fingerprint(1) == _fingerprint(full_read(ls))
    kept = reads.kept_tasks(audited.store, audited.artifacts, 1)
    assert kept is not None and len(kept.tasks) == 61
    assert all(set(t["data"]) == {"x", "y"} for t in kept.tasks)  # only what the audit reads
    # the next one starts from this audit's tasks: the log was trimmed to them
    end, entries = audited.store.changes_since(1, 0)
    assert end == 6 and entries is None
    job = run(audited, send(audited, saved(ls, 5, annotation(10_005, "c"), "ANNOTATION_UPDATED")))
    assert job["state"] == "succeeded" and ls.loads == 3  # (2 by full_read above)
    assert audited.reads[-1] == "read_changes"
    assert_same(audited.seen[-1], full_read(ls))


def _fingerprint(dataset: AuditDataset) -> str:
    from backend.service.fingerprint import dataset_fingerprint

    return dataset_fingerprint(dataset)


def _start_training(service, ls) -> str:
    send(service, saved(ls, 1, annotation(10_001, "c"), "ANNOTATION_UPDATED"))
    return service.trigger(1, immediate=True, reason="START_TRAINING")


def _task_created(service, ls) -> str:
    ls.tasks[1].append({"id": 901, "data": {"x": 0, "y": 8}})
    service.tasks_changed(1, "TASKS_CREATED")
    return send(service, saved(ls, 1, annotation(10_001, "c"), "ANNOTATION_UPDATED"))


def _unknown_task(service, ls) -> str:
    ls.tasks[1].append({"id": 901, "data": {"x": 0, "y": 8}, "annotations": []})
    return send(service, saved(ls, 901, annotation(30_000, "c"), "ANNOTATION_CREATED"))


def _malformed(service, ls) -> str:
    ls.tasks[1][0]["annotations"] = [annotation(10_001, "c")]
    return send(service, {"action": "ANNOTATION_UPDATED", "annotation": {"result": []}})


def _bulk(service, ls) -> str:
    ls.tasks[1][0]["annotations"].append(annotation(40_000, "b", user=3))
    return send(service, {"action": "ANNOTATIONS_CREATED", "project": {"id": 1}})


def _nothing_kept(service, ls) -> str:
    version = service.store.current_version(1)
    (service.artifacts.version_dir(1, version) / changelog.TASKS_FILE).unlink()
    return send(service, saved(ls, 1, annotation(10_001, "c"), "ANNOTATION_UPDATED"))


def _log_dropped(service, ls, monkeypatch) -> str:
    import backend.service.scheduling

    monkeypatch.setattr(backend.service.scheduling, "CHANGES_KEPT", 1)
    send(service, saved(ls, 1, annotation(10_001, "c"), "ANNOTATION_UPDATED"))
    return send(service, saved(ls, 2, annotation(10_002, "a"), "ANNOTATION_UPDATED"))


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (_start_training, "START_TRAINING"),
        (_task_created, "TASKS_CREATED"),
        (_unknown_task, "a change to a task the last audit did not read"),
        (_malformed, "without an annotation id"),
        (_bulk, "ANNOTATIONS_CREATED"),
        (_nothing_kept, "no tasks kept"),
        (_log_dropped, "dropped from the log"),
    ],
)
def test_anything_else_reads_the_whole_project(audited, ls, monkeypatch, make, why):
    args = (audited, ls, monkeypatch) if make is _log_dropped else (audited, ls)
    job = run(audited, make(*args))
    assert job["state"] == "succeeded", job
    assert ls.loads == 2 and audited.reads == ["read_tasks", "read_tasks"]
    notes = audited.store.latest_audit(1)["summary"]["notes"]
    assert any("project read whole" in n and why in n for n in notes), notes
    assert_same(audited.seen[-1], full_read(ls))


def test_what_the_read_says_reaches_the_audits_notes(audited, ls, monkeypatch):
    refused = "Label Studio refused the export (HTTP 403): the project was read in task pages"
    load = ls.load

    def refusing(*args, **kwargs):
        dataset = load(*args, **kwargs)
        dataset.read_notes = [refused]
        return dataset

    monkeypatch.setattr(ls, "load", refusing)
    job = run(audited, _nothing_kept(audited, ls))
    assert job["state"] == "succeeded", job
    notes = audited.store.latest_audit(1)["summary"]["notes"]
    assert any("project read whole" in n and n.endswith(refused) for n in notes), notes


def test_the_sweep_reads_whole_and_finds_nothing_after_a_webhook_reaudit(audited, ls):
    run(audited, some_changes(ls, audited))
    assert not audited.scheduler.check_project(1)  # the kept copy matches the project
    (old,) = ls.tasks[1][10]["annotations"]
    other = "a" if old["result"][0]["value"]["choices"] != ["a"] else "b"
    ls.tasks[1][10]["annotations"] = [annotation(10_011, other)]  # a save with no webhook
    assert audited.scheduler.check_project(1)
    job = run(audited, audited.store.activity(1)["scheduled"])
    assert job["state"] == "succeeded" and audited.reads[-1] == "read_tasks"
    assert_same(audited.seen[-1], full_read(ls))


def test_applying_changes_again_changes_nothing():
    kind = parse_label_config(CONFIG)
    tasks = numeric_tasks(6, seed=2)
    kept = changelog.KeptTasks(kind, "s", "t", {}, 0, [changelog.slim_task(t) for t in tasks])
    entries = [
        changelog.log_entry(
            "ANNOTATION_UPDATED", {"annotation": {**annotation(10_001, "c"), "task": 1}}
        ),
        changelog.log_entry(
            "ANNOTATION_CREATED", {"annotation": {**annotation(50, "a", user=4), "task": 2}}
        ),
        changelog.log_entry("ANNOTATIONS_DELETED", {"annotations": [{"id": 10_003}, {"id": 7}]}),
    ]
    once = changelog.apply(kept, entries, 3)
    assert once is not None and once.position == 3
    twice = changelog.apply(once, entries, 3)
    assert twice is not None and twice.tasks == once.tasks
    assert_same(twice.dataset(), once.dataset())
    by_id = {t["id"]: t for t in once.tasks}
    assert [a["id"] for a in by_id[2]["annotations"]] == [10_002, 50]
    assert by_id[3]["annotations"] == [] and kept.tasks[2]["annotations"]  # kept untouched
    assert changelog.apply(kept, [changelog.full_entry("sweep")], 4) is None
