"""An instant run judges its changes as one batch (backend.service.rejudge.Batch) and rests
between runs (backend.service.instant.RUN_GAP_SECONDS): the same answers, flags, verdicts
and events as judging each change in a run of its own, for two store steps per run, and a
burst of webhooks costs a few runs a second. Memory and Redis stores alike, the fake Label
Studio and the real pipeline of test_instant.py.
"""

from __future__ import annotations

import time
from typing import Any

from backend.service import Service
from backend.service.instant import RUN_GAP_SECONDS
from backend.service.runners import ThreadRunner
from tests.backend import test_instant as shared
from tests.backend.test_instant import flagged_tasks, label_of, saved, suggestion
from tests.backend.test_instant_hand_off import fix
from tests.backend.test_service import audit
from tests.worker.support import CLASSES

# test_instant.py's fixtures: a service on each store, the fake Label Studio.
redis_url, store, ls, service = shared.redis_url, shared.store, shared.ls, shared.service
#: The ids of the fake Label Studio's tasks (test_instant.py's ``ls``: 150 tasks).
TASKS = list(range(1, 151))


def saves(service: Service, ls) -> list[tuple[int, str]]:
    """Saves that walk annotations through every verdict: a flagged label kept, then
    changed (confirmed, then fixed); one fixed, then set back to its flagged label; one
    changed to a label the model doubts; one saved three times; one kept."""
    flagged = flagged_tasks(service)
    unflagged = [t["id"] for t in ls.tasks[1] if t["id"] not in flagged]
    first, second, third, fourth = flagged[:4]
    sure = min(unflagged, key=lambda t: service.store.answers(1, [t])[0]["score"])
    wrong = next(c for c in CLASSES if c != suggestion(service, sure))
    kept, fixed = label_of(ls, first), suggestion(service, first)
    back, other = label_of(ls, second), suggestion(service, second)
    return [
        (first, kept),
        (second, other),
        (sure, wrong),
        (first, fixed),
        (second, back),
        (third, suggestion(service, third)),
        (third, label_of(ls, third)),
        (third, suggestion(service, third)),
        (fourth, label_of(ls, fourth)),
    ]


def state_of(service: Service) -> dict[str, Any]:
    store = service.store
    return {
        "answers": store.answers(1, TASKS),
        "flags": store.flags(1),
        "verdicts": store.verdicts(1),
        "events": store.events(1),
        "updates": store.live(1)["updates"],
    }


def test_a_runs_changes_judged_together_leave_what_one_run_each_leaves(
    tmp_path, ls, store, service, monkeypatch
):
    """The same saves, at the same times, judged one run each and all in one run: the
    store ends the same, and the batched run read and wrote the rows once."""
    audit(service)
    plan = saves(service, ls)
    times = [time.time() + n for n in range(len(plan))]
    before = state_of(service)
    for (task, label), at in zip(plan, times, strict=True):
        saved(service, ls, task, label, at=at)
        assert service.instant.run(1)
    one_each = state_of(service)
    verdicts = {v["state"] for v in one_each["verdicts"].values()}
    assert {"confirmed", "fixed", "open"} <= verdicts  # the saves reached every verdict

    # Back to the audit's state, past the log, then the same saves judged in one run.
    _restore(service, before)
    service.store.set_instant_position(1, service.store.changes_since(1, None)[0])
    reads, writes = _count(service, monkeypatch)
    for (task, label), at in zip(plan, times, strict=True):
        saved(service, ls, task, label, at=at)
    assert service.instant.run(1)
    assert (reads, writes) == ([len(set(t for t, _ in plan))], [1])
    batched = state_of(service)
    assert batched["updates"] - one_each["updates"] == one_each["updates"] - before["updates"]
    for key in ("answers", "flags", "verdicts", "events"):
        assert batched[key] == one_each[key], key


def _restore(service: Service, before: dict[str, Any]) -> None:
    """Put the answers, flags, verdicts and events back as ``before`` holds them."""
    store = service.store
    now = {"flags": store.flags(1), "verdicts": store.verdicts(1), "events": store.events(1)}
    back = {
        key: {k: before[key].get(k) for k in {*before[key], *held}} for key, held in now.items()
    }
    answers = dict(zip(TASKS, before["answers"], strict=True))
    assert store.update_live(1, store.live(1)["version"], answers=answers, **back)
    assert {**state_of(service), "updates": before["updates"]} == before  # updates count on


def _count(service: Service, monkeypatch) -> tuple[list[int], list[int]]:
    """Count the rows each ``row_states`` call reads and the ``update_live`` calls."""
    reads: list[int] = []
    writes: list[int] = []
    row_states, update_live = service.store.row_states, service.store.update_live

    def counted_read(project, rows):
        reads.append(len(rows))
        return row_states(project, rows)

    def counted_write(*args, **kwargs):
        writes.append(1)
        return update_live(*args, **kwargs)

    monkeypatch.setattr(service.store, "row_states", counted_read)
    monkeypatch.setattr(service.store, "update_live", counted_write)
    return reads, writes


def test_a_run_right_after_another_rests_and_its_webhooks_send_nothing(service, ls):
    """A run that judged changes asks the next one to rest until RUN_GAP_SECONDS after it;
    meanwhile the hand-off flag stays set, so webhooks send no message, and the next run
    judges them all. A run that judged nothing asks no rest."""
    audit(service)
    first, second, third = flagged_tasks(service)[:3]
    assert service.instant.rest(1) == 0
    fix(service, ls, first)
    assert service.runner.instant == [1]
    assert service.instant.run(1)
    assert 0 < service.instant.rest(1) <= RUN_GAP_SECONDS
    for task in (second, third):  # a burst while the next run rests
        fix(service, ls, task)
    assert service.runner.instant == [1, 1]  # the first set the flag again; one message
    assert service.instant.run(1)
    assert not {first, second, third} & set(flagged_tasks(service))
    assert service.runner.instant == [1, 1]
    time.sleep(RUN_GAP_SECONDS)
    assert service.instant.rest(1) == 0
    assert service.instant.run(1)  # nothing new: no rest asked of the next
    assert service.instant.rest(1) == 0


def test_the_embedded_runner_waits_out_the_rest_before_a_run(service, ls, tmp_path):
    """The embedded runner's instant thread sleeps the rest, then runs: the second of two
    runs in a row starts RUN_GAP_SECONDS after the first."""
    audit(service)
    first, second = flagged_tasks(service)[:2]
    runner = ThreadRunner(service, retry_delays=(0.0,))
    saved(service, ls, first, suggestion(service, first))
    runner.run_instant(1)
    ended = time.perf_counter()
    saved(service, ls, second, suggestion(service, second))
    runner.run_instant(1)
    assert time.perf_counter() - ended >= RUN_GAP_SECONDS * 0.8
    assert not {first, second} & set(flagged_tasks(service))


def test_the_embedded_runner_retries_when_the_rest_cannot_be_read(service, ls, monkeypatch):
    """The rest is read inside the runner's retries: a store that fails the read once is a
    transient error like any other, and the change is still judged."""
    audit(service)
    task = flagged_tasks(service)[0]
    runner = ThreadRunner(service, retry_delays=(0.0,))
    failures = [ConnectionError("Redis went away")]
    real_rest = service.store.instant_rest

    def rest(project: int) -> float:
        if failures:
            raise failures.pop()
        return real_rest(project)

    monkeypatch.setattr(service.store, "instant_rest", rest)
    saved(service, ls, task, suggestion(service, task))
    runner.run_instant(1)
    assert not failures and task not in flagged_tasks(service)
