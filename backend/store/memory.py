"""The state store of one process (the embedded mode): :class:`MemoryStore`.

Its scheduling (tickets, claims, leases, stages, on expiring per-project keys) is
:class:`backend.store.memory_scheduling.MemoryScheduling`; its change log is
:class:`backend.store.changes.MemoryChanges`.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from backend.store import JOB_TTL_SECONDS, VERSION_HISTORY, RowState, SavedAudit, Store
from backend.store._records import _audit_record, _bucket_hits, _empty_metrics, _live_record
from backend.store.changes import MemoryChanges
from backend.store.memory_scheduling import MemoryScheduling

#: Job records are looked over for expired ones every this many new records.
JOB_PRUNE_EVERY = 256


class MemoryStore(MemoryScheduling, MemoryChanges, Store):
    """The state of one process (embedded mode): the same semantics as RedisStore.

    Its methods are those of :class:`Store` (documented there, inherited by ``help``).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self._projects: dict[int, dict[str, Any]] = {}
        self._keys: dict[tuple[int, str], tuple[Any, float | None]] = {}
        self._jobs: dict[str, dict[str, Any]] = {}
        self._job_times: dict[str, float] = {}  # job id -> last update
        self._metrics = _empty_metrics()
        self._sweep_until = 0.0
        self._changes: dict[int, list[Any]] = {}  # project -> [base position, entries]

    # projects -------------------------------------------------------------------------

    def _project(self, project: int) -> dict[str, Any]:
        return self._projects.setdefault(
            project,
            {
                "url": "",
                "token": "",
                "config_hash": None,
                "versions": [],
                "answers": {},
                "flags": {},
                "verdicts": {},
                "events": {},
            },
        )

    def remember_project(
        self, project: int, *, url: str = "", token: str = "", config_hash: str = ""
    ) -> str | None:
        with self._lock:
            entry = self._project(project)
            # A token is kept with the URL it came with: a new URL without a token drops it.
            if token:
                entry["url"], entry["token"] = url, token
            elif url and url != entry["url"]:
                entry["url"], entry["token"] = url, ""
            if config_hash and entry["config_hash"] is None:
                entry["config_hash"] = config_hash
            return entry.get("version")

    def credentials(self, project: int) -> tuple[str, str]:
        with self._lock:
            entry = self._projects.get(project, {})
            return entry.get("url", ""), entry.get("token", "")

    def projects(self) -> list[int]:
        with self._lock:
            return sorted(self._projects)

    def knows(self, project: int) -> bool:
        with self._lock:
            return project in self._projects

    def swap_config_hash(self, project: int, config_hash: str) -> str | None:
        with self._lock:
            entry = self._project(project)
            previous, entry["config_hash"] = entry["config_hash"], config_hash
            return previous

    def current_version(self, project: int) -> str | None:
        with self._lock:
            return self._projects.get(project, {}).get("version")

    def versions(self, project: int | None = None) -> list[str]:
        with self._lock:
            if project is not None:
                return list(self._projects.get(project, {}).get("versions", []))
            return sorted({e["version"] for e in self._projects.values() if e.get("version")})

    def answers(self, project: int, task_ids: list[int]) -> list[dict[str, Any] | None]:
        with self._lock:
            stored = self._projects.get(project, {}).get("answers", {})
            return [stored.get(t) for t in task_ids]

    def answers_json(self, project: int, task_ids: list[int]) -> list[str | None]:
        return [None if a is None else json.dumps(a) for a in self.answers(project, task_ids)]

    def save_audit(self, project: int, saved: SavedAudit) -> None:
        with self._lock:
            entry = self._project(project)
            entry["version"] = saved.version
            entry["versions"] = [saved.version, *entry["versions"]][:VERSION_HISTORY]
            entry["answers"] = {int(t): a for t, a in saved.answers.items()}
            entry["audit"] = _audit_record(saved, self._clock())
            entry["fingerprint"] = saved.fingerprint
            entry["flags"] = {int(t): dict(f) for t, f in saved.flags.items()}
            entry["live"] = _live_record(saved)

    def latest_audit(self, project: int) -> dict[str, Any] | None:
        with self._lock:
            return self._projects.get(project, {}).get("audit")

    def live(self, project: int) -> dict[str, Any] | None:
        with self._lock:
            record = self._projects.get(project, {}).get("live")
            return None if record is None else dict(record)

    def flags(self, project: int) -> dict[int, dict[str, Any]]:
        return self._copy(project, "flags")

    def verdicts(self, project: int) -> dict[int, dict[str, Any]]:
        return self._copy(project, "verdicts")

    def events(self, project: int) -> dict[int, dict[str, Any]]:
        return self._copy(project, "events")

    def row_states(self, project: int, rows: Sequence[tuple[int, int]]) -> list[RowState]:
        with self._lock:
            held = self._projects.get(project, {})

            def one(name: str, key: int) -> dict[str, Any] | None:
                return copy.deepcopy(held.get(name, {}).get(key))

            return [
                RowState(one("answers", t), one("flags", t), one("verdicts", a), one("events", a))
                for t, a in rows
            ]

    def _copy(self, project: int, name: str) -> dict[int, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._projects.get(project, {}).get(name, {}))

    def update_live(
        self,
        project: int,
        version: str,
        *,
        answers: Mapping[int, dict[str, Any] | None] | None = None,
        flags: Mapping[int, dict[str, Any] | None] | None = None,
        verdicts: Mapping[int, dict[str, Any] | None] | None = None,
        events: Mapping[int, dict[str, Any] | None] | None = None,
        count: int = 0,
    ) -> bool:
        with self._lock:
            entry = self._projects.get(project)
            if entry is None or entry.get("version") != version:
                return False
            for name, changes in (
                ("answers", answers),
                ("flags", flags),
                ("verdicts", verdicts),
                ("events", events),
            ):
                for key, value in (changes or {}).items():
                    if value is None:
                        entry[name].pop(int(key), None)
                    else:
                        entry[name][int(key)] = copy.deepcopy(value)
            if count > 0 and entry.get("live") is not None:
                entry["live"]["updates"] += int(count)
                entry["live"]["updated_at"] = self._clock()
            return True

    def try_lock(self, project: int, name: str, owner: str, ttl: float) -> bool:
        with self._lock:
            if self._get(project, f"lock:{name}") is not None:
                return False
            self._set(project, f"lock:{name}", owner, ttl)
            return True

    def unlock(self, project: int, name: str, owner: str) -> None:
        with self._lock:
            if self._get(project, f"lock:{name}") == owner:
                self._delete(project, f"lock:{name}")

    def fingerprint(self, project: int) -> str | None:
        with self._lock:
            return self._projects.get(project, {}).get("fingerprint")

    def set_fingerprint(self, project: int, fingerprint: str | None) -> None:
        with self._lock:
            self._project(project)["fingerprint"] = fingerprint

    def checked(self, project: int) -> str | None:
        with self._lock:
            return self._projects.get(project, {}).get("checked")

    def set_checked(self, project: int, checked: str) -> None:
        with self._lock:
            self._project(project)["checked"] = checked

    # jobs and metrics -----------------------------------------------------------------

    def put_job(self, job_id: str, **fields: Any) -> None:
        with self._lock:
            now = self._clock()
            if len(self._jobs) % JOB_PRUNE_EVERY == 0:  # as Redis expires them
                for stale in [j for j, t in self._job_times.items() if t + JOB_TTL_SECONDS <= now]:
                    self._jobs.pop(stale, None)
                    self._job_times.pop(stale, None)
            record = self._jobs.setdefault(job_id, {"id": job_id})
            record.update(json.loads(json.dumps(fields, default=str)))
            self._job_times[job_id] = now

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._jobs.get(job_id)
            if record is None or self._job_times[job_id] + JOB_TTL_SECONDS <= self._clock():
                return None
            return dict(record)

    def record_outcome(
        self, project: int, *, succeeded: bool, duration: float, flagged: int | None
    ) -> None:
        with self._lock:
            m = self._metrics
            m["audits_succeeded" if succeeded else "audits_failed"] += 1
            m["duration_sum"] += duration
            m["duration_count"] += 1
            for bucket in _bucket_hits(duration):
                m["duration_buckets"][bucket] += 1
            if flagged is not None:
                m["flagged_tasks_total"] += flagged
                m["flagged_tasks"][project] = flagged

    def metrics(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._metrics)

    def try_sweep(self, period: float) -> bool:
        with self._lock:
            now = self._clock()
            if now < self._sweep_until:
                return False
            self._sweep_until = now + period * 0.9
            return True

    def ping(self) -> None:
        return None
