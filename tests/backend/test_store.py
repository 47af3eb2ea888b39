"""The state store: debounced scheduling, one audit per project, leases; memory and Redis alike."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest

from backend.store import Artifacts, MemoryStore, RedisStore, RowState, SavedAudit
from tests.worker.support import drop_namespace, redis_server

LONG = 60.0  # seconds: a TTL that never runs out during a test


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
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


def schedule(store, project=1, *, immediate=False, debounce=LONG, max_wait=LONG):
    return store.schedule(
        project,
        uuid.uuid4().hex,
        immediate=immediate,
        debounce=debounce,
        max_wait=max_wait,
        ttl=LONG,
    )


def claim(store, project, ticket, owner="owner-1", *, lease=LONG):
    return store.claim_begin(project, ticket, owner, lock_ttl=LONG, lease_ttl=lease, ttl=LONG)


def test_a_burst_of_events_keeps_one_ticket(store):
    first = schedule(store)
    assert first.created and first.countdown == pytest.approx(LONG, abs=1)
    later = [schedule(store) for _ in range(200)]
    assert {s.ticket for s in later} == {first.ticket}
    assert not any(s.created for s in later)
    assert store.activity(1)["scheduled"] == first.ticket


def test_debounce_slides_but_never_past_the_max_wait(store):
    first = schedule(store, debounce=0.3, max_wait=0.5)
    assert first.countdown == pytest.approx(0.3, abs=0.05)
    time.sleep(0.35)
    again = schedule(store, debounce=0.3, max_wait=0.5)
    # 0.35 s (or more) after the first event, 0.3 s more would pass the 0.5 s cap.
    assert 0.0 <= again.countdown <= 0.151


def test_immediate_is_due_now_and_stays_due(store):
    schedule(store)
    now = schedule(store, immediate=True)
    assert now.countdown == 0 and not now.created
    assert schedule(store).countdown == 0  # a later event does not postpone it again
    assert claim(store, 1, now.ticket).action == "run"


def test_a_ticket_waits_for_its_due_time_then_runs_once(store):
    ticket = schedule(store, debounce=0.2, max_wait=1).ticket
    deferred = claim(store, 1, ticket)
    assert deferred.action == "defer" and 0 < deferred.delay <= 0.2
    time.sleep(0.25)
    assert claim(store, 1, ticket).action == "run"
    assert store.activity(1) == {"scheduled": None, "running": ticket, "stage": "begin"}
    store.set_stage(1, ticket, "folds")
    assert claim(store, 1, ticket, "owner-2").action == "stale"  # a second copy of it


def test_an_event_during_an_audit_gives_exactly_one_more(store):
    running = schedule(store, immediate=True).ticket
    assert claim(store, 1, running).action == "run"
    store.set_stage(1, running, "folds")
    tickets = {schedule(store, immediate=True).ticket for _ in range(5)}
    assert len(tickets) == 1
    (waiting,) = tickets
    assert waiting != running
    assert claim(store, 1, waiting, "owner-2").action == "wait"
    assert store.release(1, running)
    assert claim(store, 1, waiting, "owner-2").action == "run"
    assert schedule(store).ticket not in {running, waiting}


def test_projects_do_not_block_each_other(store):
    one = schedule(store, 1, immediate=True).ticket
    two = schedule(store, 2, immediate=True).ticket
    assert claim(store, 1, one).action == "run"
    assert claim(store, 2, two, "owner-2").action == "run"
    assert sorted(store.running()) == [1, 2]


def test_a_redelivered_first_step_waits_for_a_live_owner_and_takes_over_a_dead_one(store):
    ticket = schedule(store, immediate=True).ticket
    assert claim(store, 1, ticket, "first", lease=0.2).action == "run"
    assert claim(store, 1, ticket, "second").action == "wait"  # the first copy is alive
    time.sleep(0.3)  # its lease ran out: the worker died
    assert claim(store, 1, ticket, "second").action == "run"


def test_later_steps_need_the_running_ticket_and_one_owner(store):
    ticket = schedule(store, immediate=True).ticket
    claim(store, 1, ticket, "begin")
    store.end_lease(1, "begin")
    common = {"lock_ttl": LONG, "lease_ttl": LONG}
    assert store.claim_step(1, ticket, None, stage="folds", **common).action == "run"
    assert store.claim_step(1, "another", None, stage="folds", **common).action == "stale"
    assert store.claim_step(1, ticket, "finish-1", stage="finish", **common).action == "run"
    assert store.claim_step(1, ticket, "finish-2", stage="finish", **common).action == "wait"
    assert store.renew(1, ticket, "finish-1", **common)
    assert not store.renew(1, ticket, "finish-2", **common)
    assert store.release(1, ticket)
    assert not store.release(1, ticket)
    assert not store.renew(1, ticket, "finish-1", **common)
    assert store.claim_step(1, ticket, "finish-1", stage="finish", **common).action == "stale"


def test_a_lapsed_lock_goes_back_to_its_audit_not_to_another(store):
    ticket = schedule(store, immediate=True).ticket
    store.claim_begin(1, ticket, "owner", lock_ttl=0.1, lease_ttl=0.1, ttl=LONG)
    time.sleep(0.2)
    assert store.renew(1, ticket, None, lock_ttl=LONG, lease_ttl=LONG)  # taken back
    newer = schedule(store, immediate=True).ticket
    assert claim(store, 1, newer, "other").action == "wait"


def test_results_and_history(store, tmp_path):
    assert store.remember_project(3, url="http://ls:8080", token="secret") is None
    assert store.credentials(3) == ("http://ls:8080", "secret")
    assert store.current_version(3) is None and store.latest_audit(3) is None
    for n in (1, 2):
        store.save_audit(
            3,
            SavedAudit(
                version=f"labelaudit-{n}",
                job=f"job-{n}",
                answers={10: {"result": [], "model_version": f"labelaudit-{n}"}},
                summary={"counts": {"flagged_tasks": n}},
                fingerprint=f"fp-{n}",
                flagged=n,
                duration=1.5,
            ),
        )
    assert store.remember_project(3) == "labelaudit-2"
    assert store.versions(3) == ["labelaudit-2", "labelaudit-1"]
    assert store.versions() == ["labelaudit-2"]
    assert store.answers(3, [10, 11]) == [{"result": [], "model_version": "labelaudit-2"}, None]
    assert store.latest_audit(3)["summary"] == {"counts": {"flagged_tasks": 2}}
    assert store.fingerprint(3) == "fp-2"
    store.set_fingerprint(3, None)
    assert store.fingerprint(3) is None
    assert store.projects() == [3]


def test_config_hash_is_remembered_once_then_swapped(store):
    store.remember_project(4, config_hash="one")
    store.remember_project(4, config_hash="two")  # /setup never overwrites it
    assert store.swap_config_hash(4, "three") == "one"
    assert store.swap_config_hash(4, "three") == "three"


def test_jobs_merge_and_metrics_count(store):
    assert store.get_job("nope") is None
    store.put_job("j1", project=1, state="scheduled")
    store.put_job("j1", state="running", progress={"step": "export", "done": 1, "total": 2})
    assert store.get_job("j1") == {
        "id": "j1",
        "project": 1,
        "state": "running",
        "progress": {"step": "export", "done": 1, "total": 2},
    }
    store.record_outcome(1, succeeded=True, duration=3.0, flagged=4)
    store.record_outcome(1, succeeded=False, duration=100.0, flagged=None)
    metrics = store.metrics()
    assert (metrics["audits_succeeded"], metrics["audits_failed"]) == (1, 1)
    assert metrics["duration_count"] == 2 and metrics["duration_sum"] == pytest.approx(103.0)
    assert metrics["duration_buckets"][5.0] == 1 and metrics["duration_buckets"][300.0] == 2
    assert metrics["flagged_tasks"] == {1: 4} and metrics["flagged_tasks_total"] == 4


def test_one_sweep_per_period(store):
    assert store.try_sweep(LONG)
    assert not store.try_sweep(LONG)


def test_artifacts_write_atomically_and_prune(tmp_path):
    artifacts = Artifacts(tmp_path)
    path = artifacts.version_dir(1, "labelaudit-1") / "model.pkl"
    artifacts.write_pickle(path, {"a": 1})
    assert artifacts.read_pickle(path) == {"a": 1}
    newer = artifacts.version_dir(1, "labelaudit-2")
    newer.mkdir(parents=True)
    (newer / "report.html").write_text("<p>")
    artifacts.prune_versions(1, ["labelaudit-2"])
    assert not path.exists()
    work = artifacts.work_dir(1, "t1")
    artifacts.write_pickle(work / "prepared.pkl", 1)
    artifacts.write_pickle(artifacts.work_dir(1, "t2") / "prepared.pkl", 2)
    artifacts.clear_work(1, keep="t2")
    assert not work.exists() and artifacts.work_dir(1, "t2").exists()
    assert [p.name for p in path.parent.parent.iterdir()] == ["labelaudit-2"]
    with pytest.raises(ValueError, match="plain name"):
        artifacts.work_dir(1, "../escape")


# --------------------------------------------------------------------------- live state


def saved(version: str, *, flags=None, instant=True, loaded_at=100.0) -> SavedAudit:
    return SavedAudit(
        version=version,
        job="job",
        answers={10: {"result": [], "score": 0.9}, 11: {"result": [], "score": 0.1}},
        summary={},
        fingerprint="fp",
        flagged=1,
        duration=1.0,
        flags={10: {"annotation": 110, "suspicion": 0.9, "rank": 0}} if flags is None else flags,
        loaded_at=loaded_at,
        instant=instant,
    )


def test_an_audit_saves_its_flags_and_live_record(store):
    assert store.live(5) is None and store.flags(5) == {}
    store.save_audit(5, saved("labelaudit-1"))
    assert store.flags(5) == {10: {"annotation": 110, "suspicion": 0.9, "rank": 0}}
    assert store.live(5) == {
        "version": "labelaudit-1",
        "loaded_at": 100.0,
        "instant": True,
        "updates": 0,
        "updated_at": None,
    }
    store.save_audit(5, saved("labelaudit-2", flags={}, instant=False))
    assert store.flags(5) == {} and store.live(5)["instant"] is False


def test_a_new_audit_replaces_every_answer_of_the_last(store):
    store.save_audit(5, saved("labelaudit-1"))
    newer = {12: {"result": [], "score": 0.4}}
    store.save_audit(5, SavedAudit("labelaudit-2", "job", newer, {}, "fp", 0, 1.0))
    assert store.answers(5, [10, 11, 12]) == [None, None, newer[12]]
    store.save_audit(5, SavedAudit("labelaudit-3", "job", {}, {}, "fp", 0, 1.0))
    assert store.answers(5, [12]) == [None]


def test_answers_come_decoded_or_as_the_json_text_stored(store):
    store.save_audit(5, saved("labelaudit-1"))
    answer = store.answers(5, [10])[0]
    assert answer is not None and store.answers(5, [10, 12]) == [answer, None]
    assert store.answers_json(5, [10, 12]) == [json.dumps(answer), None]
    assert store.answers_json(5, []) == []


def test_scheduling_hands_off_only_while_the_current_audit_judges_changes_at_once(store):
    """The webhook's one round trip reads the live record's instant flag: a project whose
    current audit does not judge changes at once is never handed off."""

    def hand_off(project: int) -> bool:
        return store.schedule(
            project, uuid.uuid4().hex, immediate=False, debounce=LONG, max_wait=LONG, ttl=LONG,
            change={"kind": "upsert"}, keep=100, hand_off=LONG,
        ).hand_off  # fmt: skip

    assert hand_off(5) is False  # never audited
    store.save_audit(5, saved("labelaudit-1", instant=True))
    assert hand_off(5) is True
    assert hand_off(6) is False  # another project
    store.instant_changes(5)  # a run took the flag
    store.save_audit(5, saved("labelaudit-2", instant=False))
    assert hand_off(5) is False


def test_one_hand_off_is_pending_per_project_until_a_run_takes_the_log(store):
    """The instant hand-off flag: set by the scheduling step only for a project judged at
    once and only by the first step while it is pending; cleared by instant_changes, which
    reads the log from the instant position (from the log's start without one) at once."""

    def webhook(project=5, n=0, hand_off=LONG):
        return store.schedule(
            project, uuid.uuid4().hex, immediate=False, debounce=LONG, max_wait=LONG, ttl=LONG,
            change={"kind": "upsert", "n": n}, keep=100, hand_off=hand_off,
        )  # fmt: skip

    assert webhook(n=0).hand_off is False  # never audited: not judged at once
    store.save_audit(5, saved("labelaudit-1", instant=True))
    assert webhook(n=1, hand_off=0).hand_off is False  # not asked (a full entry)
    assert [webhook(n=n).hand_off for n in (2, 3, 4)] == [True, False, False]
    assert webhook(project=6).hand_off is False  # another project, never audited
    assert store.instant_changes(5) == (5, [{"kind": "upsert", "n": n} for n in range(5)])
    assert webhook(n=5).hand_off is True  # cleared: the next webhook sends again
    store.set_instant_position(5, 5)
    assert store.instant_changes(5) == (6, [{"kind": "upsert", "n": 5}])
    assert store.instant_changes(5) == (6, [{"kind": "upsert", "n": 5}])  # not yet recorded
    store.set_instant_position(5, 6)
    assert store.instant_changes(5) == (6, [])
    store.trim_changes(5, 6)
    assert [webhook(n=n).hand_off for n in (6, 7)] == [True, False]
    store.trim_changes(5, 7)  # past the position: from the log's start
    assert store.instant_changes(5) == (8, [{"kind": "upsert", "n": 7}])
    store.set_instant_position(5, 99)  # a position this log never had
    assert store.instant_changes(5) == (8, [{"kind": "upsert", "n": 7}])
    store.save_audit(5, saved("labelaudit-2", instant=False))
    assert webhook(n=8).hand_off is False  # the current audit is not judged at once


def test_a_hand_off_flag_expires(store):
    store.save_audit(5, saved("labelaudit-1", instant=True))
    handed = [
        store.schedule(
            5, uuid.uuid4().hex, immediate=False, debounce=LONG, max_wait=LONG, ttl=LONG,
            change={"kind": "delete"}, keep=10, hand_off=0.05,
        ).hand_off
        for _ in range(2)
    ]  # fmt: skip
    time.sleep(0.1)  # no run cleared it (a lost message): the next webhook sends again
    again = store.schedule(
        5, "t", immediate=False, debounce=LONG, max_wait=LONG, ttl=LONG, change={}, keep=10,
        hand_off=0.05,
    )  # fmt: skip
    assert handed == [True, False] and again.hand_off is True


def test_row_states_are_each_tasks_answer_flag_and_its_annotations_verdict_and_event(store):
    store.save_audit(7, saved("labelaudit-1"))
    verdict = {"state": "open", "label": 1, "task": 10, "annotator": "a", "flagged_label": 1}
    event = {"label": 0, "task": 10, "at": 101.0}
    other = {"state": "fixed", "label": 0, "task": 11, "annotator": "b", "flagged_label": 1}
    assert store.update_live(
        7, "labelaudit-1", verdicts={110: verdict, 111: other}, events={110: event}
    )
    first, second, missing = store.row_states(7, [(10, 110), (11, 111), (12, 112)])
    assert first == RowState(
        {"result": [], "score": 0.9},
        {"annotation": 110, "suspicion": 0.9, "rank": 0},
        verdict,
        event,
    )
    assert (second.answer["score"], second.flag, second.verdict, second.event) == (
        0.1,
        None,
        other,
        None,
    )
    assert missing == RowState(None, None, None, None)
    assert store.row_states(8, [(10, 110)]) == [RowState(None, None, None, None)]  # no project
    assert store.row_states(7, []) == []


def test_row_states_read_many_rows_in_chunks(store):
    store.save_audit(7, saved("labelaudit-1"))
    events = {1000 + n: {"label": n % 3, "task": n, "at": float(n)} for n in range(2500)}
    assert store.update_live(7, "labelaudit-1", events=events)
    rows = [(n, 1000 + n) for n in range(2500)]
    assert [s.event for s in store.row_states(7, rows)] == list(events.values())


def test_instant_rest_counts_down_from_the_last_run(store):
    assert store.instant_rest(5) == 0.0
    store.set_instant_position(5, 3)  # no rest asked
    assert store.instant_rest(5) == 0.0
    store.set_instant_position(5, 4, rest=0.3)
    assert 0.2 < store.instant_rest(5) <= 0.3
    time.sleep(0.35)
    assert store.instant_rest(5) == 0.0


def test_live_updates_land_only_on_the_current_version(store):
    store.save_audit(5, saved("labelaudit-1"))
    verdict = {"state": "confirmed", "label": 0, "task": 10, "annotator": "a", "flagged_label": 0}
    assert store.update_live(
        5,
        "labelaudit-1",
        answers={10: {"result": [], "score": 0.2}, 11: None},
        flags={10: None, 11: {"annotation": 111, "suspicion": 0.5, "rank": None}},
        verdicts={110: verdict},
        events={110: {"label": 0, "task": 10, "at": 101.0}},
        count=2,
    )
    assert store.answers(5, [10, 11]) == [{"result": [], "score": 0.2}, None]
    assert store.flags(5) == {11: {"annotation": 111, "suspicion": 0.5, "rank": None}}
    assert store.verdicts(5) == {110: verdict}
    assert store.events(5) == {110: {"label": 0, "task": 10, "at": 101.0}}
    live = store.live(5)
    assert live["updates"] == 2 and live["updated_at"] > 0
    # Computed from a version that is no longer current: nothing changes.
    store.save_audit(5, saved("labelaudit-2"))
    assert not store.update_live(5, "labelaudit-1", flags={10: None}, verdicts={110: None})
    assert 10 in store.flags(5) and store.verdicts(5) == {110: verdict}
    # Verdicts and events outlive audits (the audit's own switch decides what to forget).
    assert store.events(5) == {110: {"label": 0, "task": 10, "at": 101.0}}
    assert store.update_live(5, "labelaudit-2", verdicts={110: None}, events={110: None})
    assert store.verdicts(5) == {} and store.events(5) == {} and store.live(5)["updates"] == 0


def test_the_live_lock_has_one_holder_and_expires(store):
    assert store.try_lock(6, "live", "one", LONG)
    assert not store.try_lock(6, "live", "two", LONG)
    store.unlock(6, "live", "two")  # not its lock: nothing happens
    assert not store.try_lock(6, "live", "two", LONG)
    store.unlock(6, "live", "one")
    assert store.try_lock(6, "live", "two", 0.05)
    time.sleep(0.1)
    assert store.try_lock(6, "live", "three", LONG)  # the holder died: its lock ran out


def test_verdicts_survive_a_restart(redis_url):
    namespace = f"labelaudit-test-{uuid.uuid4().hex[:12]}"
    first = RedisStore(redis_url, namespace=namespace)
    try:
        first.save_audit(7, saved("labelaudit-1"))
        verdict = {"state": "fixed", "label": 1, "task": 10, "annotator": "a", "flagged_label": 0}
        first.update_live(7, "labelaudit-1", verdicts={110: verdict})
        first.close()
        again = RedisStore(redis_url, namespace=namespace)  # a new process
        assert again.verdicts(7) == {110: verdict}
        assert again.flags(7) == {10: {"annotation": 110, "suspicion": 0.9, "rank": 0}}
        again.close()
    finally:
        drop_namespace(redis_url, namespace)


def test_the_change_log_keeps_absolute_positions_and_drops_the_oldest(store):
    assert store.changes_since(1, 0) == (0, [])
    for i in range(3):
        store.log_change(1, {"kind": "upsert", "i": i}, keep=10)
    assert store.changes_since(1, 1) == (
        3,
        [{"kind": "upsert", "i": 1}, {"kind": "upsert", "i": 2}],
    )
    assert store.changes_since(1, None) == (3, None)
    assert store.changes_since(1, 4) == (3, None)  # a position this log never had
    store.trim_changes(1, 2)
    assert store.changes_since(1, 1) == (3, None)  # dropped: the reader must read whole
    assert store.changes_since(1, 2) == (3, [{"kind": "upsert", "i": 2}])
    for i in range(3, 6):
        store.log_change(1, {"kind": "upsert", "i": i}, keep=2)
    assert store.changes_since(1, 3) == (6, None)
    assert store.changes_since(1, 4) == (
        6,
        [{"kind": "upsert", "i": 4}, {"kind": "upsert", "i": 5}],
    )
    store.trim_changes(1, 100)  # past the end: everything dropped, positions kept
    assert store.changes_since(1, 6) == (6, [])
    assert store.changes_since(2, 0) == (0, [])  # another project's log


def test_scheduling_logs_its_change_first_in_the_same_step(store):
    first = store.schedule(
        1, "t1", immediate=False, debounce=LONG, max_wait=LONG, ttl=LONG, change={"n": 1}, keep=2
    )
    again = store.schedule(
        1, "t2", immediate=True, debounce=LONG, max_wait=LONG, ttl=LONG, change={"n": 2}, keep=2
    )
    assert first.created and again.ticket == "t1"
    schedule(store)  # no change: nothing logged
    assert store.changes_since(1, 0) == (2, [{"n": 1}, {"n": 2}])
    store.schedule(
        1, "t3", immediate=False, debounce=LONG, max_wait=LONG, ttl=LONG, change={"n": 3}, keep=2
    )
    assert store.changes_since(1, 0) == (3, None)  # the oldest dropped past keep
    assert store.changes_since(1, 1) == (3, [{"n": 2}, {"n": 3}])


def test_each_thread_keeps_one_connection_and_a_forked_child_gets_its_own(redis_url):
    """Commands on a thread go over the connection it holds: no checkout from the pool
    (with its readiness poll) per command; a forked child connects anew."""
    import multiprocessing
    import threading

    import redis

    class Counting(redis.Connection):
        checks = 0

        def can_read(self, timeout=0):
            Counting.checks += 1
            return super().can_read(timeout)

    namespace = f"labelaudit-test-{uuid.uuid4().hex[:12]}"
    pool = redis.ConnectionPool.from_url(redis_url, connection_class=Counting)
    store = RedisStore(redis_url, namespace=namespace, client=redis.Redis(connection_pool=pool))
    try:
        store.knows(1)  # this thread takes its connection (one check)
        before = Counting.checks
        for project in range(50):
            store.schedule(project, uuid.uuid4().hex, immediate=False, debounce=LONG,
                           max_wait=LONG, ttl=LONG)  # fmt: skip
            store.knows(project)
        assert Counting.checks == before
        mine = store.redis.connection
        seen = []
        worker = threading.Thread(
            target=lambda: seen.append((store.knows(3), store.redis.connection))
        )
        worker.start()
        worker.join()
        assert seen[0][0] is True and seen[0][1] is not mine
        assert store.redis.connection is mine

        answers = multiprocessing.get_context("fork").SimpleQueue()

        def child() -> None:  # runs in the forked child: the parent's thread-local is copied
            answers.put((store.knows(3), store.redis.connection is not mine))

        forked = multiprocessing.get_context("fork").Process(target=child)
        forked.start()
        forked.join(30)
        assert answers.get() == (True, True)
        assert store.knows(3)  # the parent's connection still answers
        assert store.redis.connection is mine
    finally:
        drop_namespace(redis_url, namespace)
        store.close()
