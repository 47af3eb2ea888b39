"""Instant feedback's hand-off (backend.service.instant): one message per run, not per
webhook, and no change left unjudged. The webhook's store step logs the change and sets
the project's hand-off flag; only the request that set it hands the project to the runner;
a run clears the flag and judges the log from its last position. Memory and Redis stores
alike, the fake Label Studio and the real pipeline of test_instant.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from backend.service import Service
from tests.backend import test_instant as shared
from tests.backend.test_instant import flagged_tasks, suggestion
from tests.backend.test_service import audit

# test_instant.py's fixtures: a service on each store, the fake Label Studio.
redis_url, store, ls, service = shared.redis_url, shared.store, shared.ls, shared.service


def webhook(service: Service, ls, task: int, label: str) -> None:
    """A person saves ``task`` with ``label``; Label Studio posts the webhook."""
    stored = ls.relabel(1, task, label)
    body: dict[str, Any] = {
        "action": "ANNOTATION_UPDATED",
        "annotation": {**stored, "task": task},
        "project": {"id": 1},
    }
    service.annotation_changed(1, "ANNOTATION_UPDATED", body)


def fix(service: Service, ls, task: int) -> None:
    webhook(service, ls, task, suggestion(service, task))


def test_webhooks_while_one_is_pending_hand_nothing_over_and_are_judged_by_its_run(
    service, ls, monkeypatch
):
    assert audit(service)["state"] == "succeeded"
    tasks = flagged_tasks(service)[:4]
    for task in tasks:
        fix(service, ls, task)
    assert service.runner.instant == [1]  # the first set the flag; the others found it
    reads = []
    live = service.store.live
    monkeypatch.setattr(service.store, "live", lambda p: reads.append(p) or live(p))
    assert service.instant.run(1)
    assert reads == [1]  # the run read the live record once for its four changes
    assert not set(tasks) & set(flagged_tasks(service))
    assert {s["task"] for s in ls.shown} == set(tasks)
    assert service.latest_audit(1)[0]["live"]["instant_updates"] == 4
    assert service.instant.run(1)  # a message with nothing new: nothing judged or shown
    assert len(ls.shown) == 4


def test_a_webhook_after_a_run_read_the_log_hands_off_again_and_is_judged_next(
    service, ls, monkeypatch
):
    """The race: the run clears the flag and reads the log in one store step, so a webhook
    logged after it (here while the run tells Label Studio) sets the flag again and hands
    the project over; the next run judges it."""
    audit(service)
    first, late = flagged_tasks(service)[:2]
    fix(service, ls, first)
    real_show = ls.show
    during: list[int] = []

    def show_while_a_person_saves(*args, **kwargs) -> None:
        if not during:
            during.append(1)
            fix(service, ls, late)
        real_show(*args, **kwargs)

    monkeypatch.setattr(ls, "show", show_while_a_person_saves)
    assert service.instant.run(1)
    assert during and service.runner.instant == [1, 1]
    assert first not in flagged_tasks(service) and late in flagged_tasks(service)
    assert service.instant.run(1)  # the second message's run
    assert late not in flagged_tasks(service)
    assert [s["task"] for s in ls.shown] == [first, late]


def test_a_full_entry_between_changes_is_passed_over(service, ls):
    """Tasks created and a config change log ``full`` entries (the next audit reads the
    whole project); instant feedback judges the changes around them and hands off nothing
    for them."""
    audit(service)
    before, after = flagged_tasks(service)[:2]
    fix(service, ls, before)
    service.tasks_changed(1, "TASKS_CREATED")
    assert service.config_changed(1, "hash-1") is None  # the first hash seen: no re-audit
    assert service.config_changed(1, "hash-2") is not None  # changed: a full entry
    fix(service, ls, after)
    assert service.runner.instant == [1]
    end, _ = service.store.changes_since(1, None)
    _, entries = service.store.changes_since(1, end - 4)
    assert [e["kind"] for e in entries or []] == ["upsert", "full", "full", "upsert"]
    assert service.instant.run(1)
    assert before not in flagged_tasks(service) and after not in flagged_tasks(service)
    assert [s["task"] for s in ls.shown] == [before, after]


def test_changes_logged_before_an_audit_switches_are_judged_on_its_results(service, ls):
    """A change logged while the next audit reads the project (its message not yet run) is
    judged on that audit's results once it is current: the log is trimmed only to the
    position the audit began reading at. A change logged before it began is in what it read."""
    audit(service)
    early, meanwhile = flagged_tasks(service)[:2]
    fix(service, ls, early)  # hands off; not run before the next audit
    (entry,) = [t for t in ls.tasks[1] if t["id"] == meanwhile]
    old = dict(entry["annotations"][0])

    def save_meanwhile() -> None:
        fix(service, ls, meanwhile)
        entry["annotations"] = [old]  # the audit already read the old label

    ls.on_load.append(save_meanwhile)
    assert audit(service)["model_version"] == "labelaudit-2"
    assert early not in flagged_tasks(service)  # the audit read its fix
    assert meanwhile in flagged_tasks(service)  # it read the old label
    assert service.runner.instant == [1]  # the flag was still set: one message
    assert service.instant.run(1)
    assert meanwhile not in flagged_tasks(service)
    assert ls.shown[-1]["task"] == meanwhile and ls.shown[-1]["version"] == "labelaudit-2"
    assert service.store.verdicts(1)[10_000 + meanwhile]["state"] == "fixed"


def test_a_change_that_cannot_be_judged_holds_up_none_after_it(service, ls, monkeypatch):
    """An unexpected error judging one logged change is logged and that change passed over
    (the audit that follows has it); a transient one (the store, Label Studio) fails the
    run before the position moves, so the next run judges the same changes again."""
    audit(service)
    broken, fine = flagged_tasks(service)[:2]
    fix(service, ls, broken)
    fix(service, ls, fine)
    real_judge = service.instant._judge
    errors = [ConnectionError("Redis went away")]

    def judge(batch, change, *args):
        if errors:
            raise errors.pop()
        if change.annotation == 10_000 + broken:
            raise RuntimeError("a bug in the rule")
        return real_judge(batch, change, *args)

    monkeypatch.setattr(service.instant, "_judge", judge)
    with pytest.raises(ConnectionError):
        service.instant.run(1)
    assert broken in flagged_tasks(service) and fine in flagged_tasks(service)
    assert service.instant.run(1, again=True)  # the retry, from the same position
    assert broken in flagged_tasks(service) and fine not in flagged_tasks(service)
    monkeypatch.setattr(service.instant, "_judge", real_judge)
    assert service.instant.run(1)  # passed over for good: the next audit judges it
    assert broken in flagged_tasks(service)
