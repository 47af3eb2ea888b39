"""Where the service keeps its state: a state store (Redis, or memory) and an artifact store.

**State** is small and shared by the web processes and the workers: per-project
credentials from ``/setup``, the current model version, the stored ``/predict`` answers,
the latest audit's summary, job records, metrics, and the per-project scheduling state
that makes audits debounced and exclusive. :class:`RedisStore` keeps it in Redis (keys
under ``<namespace>:``, see :class:`Keys`); :class:`MemoryStore` keeps the same in one
process, for the embedded mode. Both implement :class:`Store`; the scheduling operations
are atomic in both (Lua scripts in Redis, one lock in memory).

**Artifacts** are big and live on disk under ``MODEL_DIR`` (a shared volume when workers
run on several machines): the prepared dataset and the out-of-fold probabilities of an
audit in progress, and per model version the final model and the audit's output files.

Scheduling state per project (see ``backend/service.py`` for how it is used):

* ``ticket``: the one audit waiting to start (its id is also its job id), with ``due``
  (it may not start before) and ``burst`` (when its burst of events began);
* ``lock``: the ticket of the audit in progress, with a TTL every step renews;
* ``running``: the same ticket, without TTL, so a lapsed lock can be taken back by its own
  audit (never by another one while the lock lives);
* ``stage``: ``begin``, ``folds`` or ``finish``, so a step delivered twice runs once;
* ``owner``: the lease of the step executing right now (a short TTL renewed by a
  heartbeat), so a redelivered step waits while the original is alive and takes over
  once it died.
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

#: How long a job record is kept after its last update.
JOB_TTL_SECONDS = 7 * 24 * 3600
#: How many past model versions a project's history keeps.
VERSION_HISTORY = 50
#: Upper bounds (seconds) of the audit-duration histogram buckets.
DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
#: Predictions written per HSET when an audit is saved.
SAVE_CHUNK = 1000
#: Model versions kept on disk per project (the current one and the one before).
VERSIONS_ON_DISK = 2
#: An audit's output files (backend.report.write_outputs), in each version's directory.
OUTPUT_FILES = {
    "issues": "issues.csv",
    "predictions": "predictions.json",
    "summary": "summary.json",
    "report": "report.html",
}

Action = Literal["run", "wait", "defer", "stale"]
Stage = Literal["begin", "folds", "finish"]


@dataclass(frozen=True)
class Claim:
    """What a step of an audit may do: run, wait (busy), defer (debouncing) or stop (stale)."""

    action: Action
    delay: float = 0.0


@dataclass(frozen=True)
class Scheduled:
    """The pending audit of a project after an event: its ticket and whether to enqueue it."""

    ticket: str
    created: bool
    countdown: float


@dataclass(frozen=True)
class SavedAudit:
    """What a finished audit leaves for the routes."""

    version: str
    job: str
    predictions: Mapping[int, dict[str, Any]]
    summary: dict[str, Any]
    fingerprint: str
    flagged: int
    duration: float


class Store(Protocol):
    """The state every web process and worker shares."""

    def remember_project(
        self, project: int, *, url: str = "", token: str = "", config_hash: str = ""
    ) -> str | None:
        """Record a project (and /setup's credentials); return its current model version."""
        ...

    def credentials(self, project: int) -> tuple[str, str]:
        """Return the (url, token) /setup gave for the project, or empty strings."""
        ...

    def projects(self) -> list[int]:
        """Return every project the service has heard of."""
        ...

    def swap_config_hash(self, project: int, config_hash: str) -> str | None:
        """Store the hash of the project's label config; return the previous one."""
        ...

    def current_version(self, project: int) -> str | None:
        """Return the model version of the project's latest audit."""
        ...

    def versions(self, project: int | None = None) -> list[str]:
        """Return a project's versions, newest first, or every project's current one."""
        ...

    def predictions(self, project: int, task_ids: list[int]) -> list[dict[str, Any] | None]:
        """Return the stored /predict answer of each task (None where there is none)."""
        ...

    def save_audit(self, project: int, saved: SavedAudit) -> None:
        """Make a finished audit current: version, predictions, summary, all at once."""
        ...

    def latest_audit(self, project: int) -> dict[str, Any] | None:
        """Return the latest audit's record (version, job, finished_at, summary)."""
        ...

    def fingerprint(self, project: int) -> str | None:
        """Return the fingerprint of the annotations the project was last audited on."""
        ...

    def set_fingerprint(self, project: int, fingerprint: str | None) -> None:
        """Set (or forget, with None) the fingerprint of the annotations last seen."""
        ...

    def schedule(
        self,
        project: int,
        ticket: str,
        *,
        immediate: bool,
        debounce: float,
        max_wait: float,
        ttl: float,
    ) -> Scheduled:
        """Note a change; return the pending ticket (``ticket`` if none was pending)."""
        ...

    def claim_begin(
        self,
        project: int,
        ticket: str,
        owner: str,
        *,
        lock_ttl: float,
        lease_ttl: float,
        ttl: float,
    ) -> Claim:
        """Let a ticket start its audit (or resume its interrupted first step)."""
        ...

    def claim_step(
        self,
        project: int,
        ticket: str,
        owner: str | None,
        *,
        stage: Stage,
        lock_ttl: float,
        lease_ttl: float,
    ) -> Claim:
        """Let a later step of a running audit go on; ``owner`` makes the step exclusive."""
        ...

    def set_stage(self, project: int, ticket: str, stage: Stage) -> None:
        """Record that the ticket's audit reached ``stage``."""
        ...

    def renew(
        self, project: int, ticket: str, owner: str | None, *, lock_ttl: float, lease_ttl: float
    ) -> bool:
        """Extend the audit's lock (and the step's lease); False once the audit was superseded."""
        ...

    def end_lease(self, project: int, owner: str) -> None:
        """Drop a step's lease (if it still holds it)."""
        ...

    def release(self, project: int, ticket: str) -> bool:
        """End the ticket's audit: free the project. False if it was not the running one."""
        ...

    def activity(self, project: int) -> dict[str, Any]:
        """Return the scheduled ticket, the running ticket and its stage."""
        ...

    def running(self) -> list[int]:
        """Return the projects with an audit in progress."""
        ...

    def put_job(self, job_id: str, **fields: Any) -> None:
        """Create or update a job record (fields merge)."""
        ...

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        """Return a job record, or None."""
        ...

    def record_outcome(
        self, project: int, *, succeeded: bool, duration: float, flagged: int | None
    ) -> None:
        """Count a finished audit in the metrics."""
        ...

    def metrics(self) -> dict[str, Any]:
        """Return the counters behind /metrics."""
        ...

    def try_sweep(self, period: float) -> bool:
        """Return True for at most one caller per ``period`` seconds."""
        ...

    def ping(self) -> None:
        """Raise if the store cannot be reached."""
        ...


def _empty_metrics() -> dict[str, Any]:
    return {
        "audits_succeeded": 0,
        "audits_failed": 0,
        "duration_sum": 0.0,
        "duration_count": 0,
        "duration_buckets": {b: 0 for b in DURATION_BUCKETS},
        "flagged_tasks_total": 0,
        "flagged_tasks": {},
    }


def _bucket_hits(duration: float) -> list[float]:
    return [b for b in DURATION_BUCKETS if duration <= b]


# --------------------------------------------------------------------------- memory


class MemoryStore(Store):
    """The state of one process (embedded mode): the same semantics as RedisStore.

    Its methods are those of :class:`Store` (documented there, inherited by ``help``).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self._projects: dict[int, dict[str, Any]] = {}
        self._keys: dict[tuple[int, str], tuple[Any, float | None]] = {}
        self._jobs: dict[str, dict[str, Any]] = {}
        self._metrics = _empty_metrics()
        self._sweep_until = 0.0

    # expiring per-project scheduling keys -------------------------------------------

    def _get(self, project: int, key: str) -> Any:
        value, until = self._keys.get((project, key), (None, None))
        if until is not None and until <= self._clock():
            self._keys.pop((project, key), None)
            return None
        return value

    def _set(self, project: int, key: str, value: Any, ttl: float | None = None) -> None:
        until = None if ttl is None else self._clock() + ttl
        self._keys[(project, key)] = (value, until)

    def _expire(self, project: int, key: str, ttl: float) -> None:
        if self._get(project, key) is not None:
            self._set(project, key, self._get(project, key), ttl)

    def _delete(self, project: int, *keys: str) -> None:
        for key in keys:
            self._keys.pop((project, key), None)

    def _project(self, project: int) -> dict[str, Any]:
        return self._projects.setdefault(
            project,
            {"url": "", "token": "", "config_hash": None, "versions": [], "predictions": {}},
        )

    # projects -------------------------------------------------------------------------

    def remember_project(
        self, project: int, *, url: str = "", token: str = "", config_hash: str = ""
    ) -> str | None:
        with self._lock:
            entry = self._project(project)
            if url:
                entry["url"] = url
            if token:
                entry["token"] = token
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

    def predictions(self, project: int, task_ids: list[int]) -> list[dict[str, Any] | None]:
        with self._lock:
            stored = self._projects.get(project, {}).get("predictions", {})
            return [stored.get(t) for t in task_ids]

    def save_audit(self, project: int, saved: SavedAudit) -> None:
        with self._lock:
            entry = self._project(project)
            entry["version"] = saved.version
            entry["versions"] = [saved.version, *entry["versions"]][:VERSION_HISTORY]
            entry["predictions"] = {int(t): p for t, p in saved.predictions.items()}
            entry["audit"] = _audit_record(saved, self._clock())
            entry["fingerprint"] = saved.fingerprint

    def latest_audit(self, project: int) -> dict[str, Any] | None:
        with self._lock:
            return self._projects.get(project, {}).get("audit")

    def fingerprint(self, project: int) -> str | None:
        with self._lock:
            return self._projects.get(project, {}).get("fingerprint")

    def set_fingerprint(self, project: int, fingerprint: str | None) -> None:
        with self._lock:
            self._project(project)["fingerprint"] = fingerprint

    # scheduling -----------------------------------------------------------------------

    def schedule(
        self,
        project: int,
        ticket: str,
        *,
        immediate: bool,
        debounce: float,
        max_wait: float,
        ttl: float,
    ) -> Scheduled:
        with self._lock:
            now = self._clock()
            self._project(project)
            pending = self._get(project, "ticket")
            created = pending is None
            if created:
                pending = ticket
                self._set(project, "ticket", ticket, ttl)
                self._set(project, "burst", now, ttl)
            burst = self._get(project, "burst")
            burst = now if burst is None else burst
            if immediate:
                burst = now - max_wait
                self._set(project, "burst", burst, ttl)
            due = min(now + debounce, burst + max_wait)
            self._set(project, "due", due, ttl)
            return Scheduled(pending, created, max(due - now, 0.0))

    def claim_begin(
        self,
        project: int,
        ticket: str,
        owner: str,
        *,
        lock_ttl: float,
        lease_ttl: float,
        ttl: float,
    ) -> Claim:
        with self._lock:
            lock = self._get(project, "lock")
            if self._get(project, "running") == ticket and lock in (None, ticket):
                if self._get(project, "stage") != "begin":
                    return Claim("stale")
                if self._get(project, "owner") is not None:
                    return Claim("wait")
                self._set(project, "lock", ticket, lock_ttl)
                self._set(project, "owner", owner, lease_ttl)
                return Claim("run")
            if self._get(project, "ticket") != ticket:
                return Claim("stale")
            due = self._get(project, "due") or 0.0
            now = self._clock()
            if due > now or lock is not None:
                for key in ("ticket", "due", "burst"):
                    self._expire(project, key, ttl)
                return Claim("defer", due - now) if due > now else Claim("wait")
            self._set(project, "lock", ticket, lock_ttl)
            self._set(project, "running", ticket)
            self._set(project, "stage", "begin")
            self._set(project, "owner", owner, lease_ttl)
            self._delete(project, "ticket", "due", "burst")
            return Claim("run")

    def claim_step(
        self,
        project: int,
        ticket: str,
        owner: str | None,
        *,
        stage: Stage,
        lock_ttl: float,
        lease_ttl: float,
    ) -> Claim:
        with self._lock:
            lock = self._get(project, "lock")
            if self._get(project, "running") != ticket or lock not in (None, ticket):
                return Claim("stale")
            if owner is not None:
                current = self._get(project, "owner")
                if current is not None and current != owner:
                    return Claim("wait")
                self._set(project, "owner", owner, lease_ttl)
                self._set(project, "stage", stage)
            self._set(project, "lock", ticket, lock_ttl)
            return Claim("run")

    def set_stage(self, project: int, ticket: str, stage: Stage) -> None:
        with self._lock:
            if self._get(project, "running") == ticket:
                self._set(project, "stage", stage)

    def renew(
        self, project: int, ticket: str, owner: str | None, *, lock_ttl: float, lease_ttl: float
    ) -> bool:
        with self._lock:
            lock = self._get(project, "lock")
            if self._get(project, "running") != ticket or lock not in (None, ticket):
                return False
            self._set(project, "lock", ticket, lock_ttl)
            if owner is not None:
                current = self._get(project, "owner")
                if current not in (None, owner):
                    return False
                self._set(project, "owner", owner, lease_ttl)
            return True

    def end_lease(self, project: int, owner: str) -> None:
        with self._lock:
            if self._get(project, "owner") == owner:
                self._delete(project, "owner")

    def release(self, project: int, ticket: str) -> bool:
        with self._lock:
            if self._get(project, "running") != ticket:
                return False
            self._delete(project, "lock", "running", "stage", "owner")
            return True

    def activity(self, project: int) -> dict[str, Any]:
        with self._lock:
            return {
                "scheduled": self._get(project, "ticket"),
                "running": self._get(project, "running"),
                "stage": self._get(project, "stage"),
            }

    def running(self) -> list[int]:
        with self._lock:
            return [p for p in sorted(self._projects) if self._get(p, "running") is not None]

    # jobs and metrics -----------------------------------------------------------------

    def put_job(self, job_id: str, **fields: Any) -> None:
        with self._lock:
            record = self._jobs.setdefault(job_id, {"id": job_id})
            record.update(json.loads(json.dumps(fields, default=str)))

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._jobs.get(job_id)
            return None if record is None else dict(record)

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


def _audit_record(saved: SavedAudit, now: float) -> dict[str, Any]:
    return {
        "model_version": saved.version,
        "job": saved.job,
        "finished_at": now,
        "duration_seconds": round(saved.duration, 3),
        "summary": saved.summary,
    }


# --------------------------------------------------------------------------- Redis

_NOW_MS = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

# KEYS: ticket, due, burst, events, projects.
# ARGV: new ticket, immediate, debounce ms, max wait ms, ttl ms, project
_SCHEDULE = (
    _NOW_MS
    + """
redis.call('INCR', KEYS[4])
redis.call('SADD', KEYS[5], ARGV[6])
local ticket = redis.call('GET', KEYS[1])
local created = 0
if not ticket then
  ticket = ARGV[1]
  created = 1
  redis.call('SET', KEYS[1], ticket, 'PX', ARGV[5])
  redis.call('SET', KEYS[3], now, 'PX', ARGV[5])
end
local burst = tonumber(redis.call('GET', KEYS[3]) or now)
if ARGV[2] == '1' then
  burst = now - tonumber(ARGV[4])
  redis.call('SET', KEYS[3], burst, 'PX', ARGV[5])
end
local due = math.min(now + tonumber(ARGV[3]), burst + tonumber(ARGV[4]))
redis.call('SET', KEYS[2], due, 'PX', ARGV[5])
return {ticket, created, math.max(due - now, 0)}
"""
)

# KEYS: ticket, due, burst, lock, running, stage, owner.
# ARGV: ticket, owner, lock ms, lease ms, ttl ms
_CLAIM_BEGIN = (
    _NOW_MS
    + """
local lock = redis.call('GET', KEYS[4])
if redis.call('GET', KEYS[5]) == ARGV[1] and (not lock or lock == ARGV[1]) then
  if redis.call('GET', KEYS[6]) ~= 'begin' then return {'stale', 0} end
  if redis.call('EXISTS', KEYS[7]) == 1 then return {'wait', 0} end
  redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[3])
  redis.call('SET', KEYS[7], ARGV[2], 'PX', ARGV[4])
  return {'run', 0}
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'stale', 0} end
local due = tonumber(redis.call('GET', KEYS[2]) or '0')
if due > now or lock then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
  if due > now then return {'defer', due - now} end
  return {'wait', 0}
end
redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[5], ARGV[1])
redis.call('SET', KEYS[6], 'begin')
redis.call('SET', KEYS[7], ARGV[2], 'PX', ARGV[4])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return {'run', 0}
"""
)

# KEYS: lock, running, stage, owner. ARGV: ticket, owner ('' = none), lock ms, lease ms, stage
_CLAIM_STEP = """
local lock = redis.call('GET', KEYS[1])
if redis.call('GET', KEYS[2]) ~= ARGV[1] or (lock and lock ~= ARGV[1]) then return {'stale', 0} end
if ARGV[2] ~= '' then
  local current = redis.call('GET', KEYS[4])
  if current and current ~= ARGV[2] then return {'wait', 0} end
  redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[4])
  redis.call('SET', KEYS[3], ARGV[5])
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return {'run', 0}
"""

# KEYS: lock, running, owner. ARGV: ticket, owner ('' = none), lock ms, lease ms
_RENEW = """
local lock = redis.call('GET', KEYS[1])
if redis.call('GET', KEYS[2]) ~= ARGV[1] or (lock and lock ~= ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
if ARGV[2] ~= '' then
  local current = redis.call('GET', KEYS[3])
  if current and current ~= ARGV[2] then return 0 end
  redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[4])
end
return 1
"""

# KEYS: lock, running, stage, owner. ARGV: ticket
_RELEASE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return 1
"""

# KEYS: key. ARGV: expected value
_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: running, stage. ARGV: ticket, stage
_SET_STAGE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[2], ARGV[2]) end
return 1
"""


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class Keys:
    """The Redis key names under one namespace."""

    def __init__(self, namespace: str) -> None:
        self.ns = namespace

    def project(self, project: int, name: str) -> str:
        """Return the key ``<ns>:p:<project>:<name>``."""
        return f"{self.ns}:p:{project}:{name}"

    @property
    def projects(self) -> str:
        return f"{self.ns}:projects"

    def job(self, job_id: str) -> str:
        """Return the key of a job record."""
        return f"{self.ns}:job:{job_id}"

    @property
    def metrics(self) -> str:
        return f"{self.ns}:metrics"

    @property
    def flagged(self) -> str:
        return f"{self.ns}:metrics:flagged"

    @property
    def sweep(self) -> str:
        return f"{self.ns}:sweep"


class RedisStore(Store):
    """The shared state in Redis; every scheduling operation is one atomic Lua script.

    Its methods are those of :class:`Store` (documented there, inherited by ``help``).
    """

    def __init__(self, url: str, *, namespace: str = "labelaudit", client: Any = None) -> None:
        import redis

        self.redis = client if client is not None else redis.Redis.from_url(url)
        self.keys = Keys(namespace)
        register = self.redis.register_script
        self._schedule = register(_SCHEDULE)
        self._claim_begin = register(_CLAIM_BEGIN)
        self._claim_step = register(_CLAIM_STEP)
        self._renew = register(_RENEW)
        self._release = register(_RELEASE)
        self._delete_if = register(_DELETE_IF)
        self._set_stage = register(_SET_STAGE)

    def _k(self, project: int, *names: str) -> list[str]:
        return [self.keys.project(project, n) for n in names]

    # projects -------------------------------------------------------------------------

    def remember_project(
        self, project: int, *, url: str = "", token: str = "", config_hash: str = ""
    ) -> str | None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.sadd(self.keys.projects, project)
        creds = {k: v for k, v in (("url", url), ("token", token)) if v}
        if creds:
            pipe.hset(self.keys.project(project, "credentials"), mapping=creds)
        if config_hash:
            pipe.set(self.keys.project(project, "config"), config_hash, nx=True)
        pipe.get(self.keys.project(project, "version"))
        version = pipe.execute()[-1]
        return None if version is None else version.decode()

    def credentials(self, project: int) -> tuple[str, str]:
        found = self.redis.hmget(self.keys.project(project, "credentials"), "url", "token")
        url, token = (v.decode() if v is not None else "" for v in found)
        return url, token

    def projects(self) -> list[int]:
        return sorted(int(p) for p in self.redis.smembers(self.keys.projects))

    def swap_config_hash(self, project: int, config_hash: str) -> str | None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.sadd(self.keys.projects, project)
        pipe.set(self.keys.project(project, "config"), config_hash, get=True)
        previous = pipe.execute()[-1]
        return None if previous is None else previous.decode()

    def current_version(self, project: int) -> str | None:
        version = self.redis.get(self.keys.project(project, "version"))
        return None if version is None else version.decode()

    def versions(self, project: int | None = None) -> list[str]:
        if project is not None:
            return [
                v.decode() for v in self.redis.lrange(self.keys.project(project, "versions"), 0, -1)
            ]
        keys = [self.keys.project(p, "version") for p in self.projects()]
        if not keys:
            return []
        return sorted({v.decode() for v in self.redis.mget(keys) if v is not None})

    def predictions(self, project: int, task_ids: list[int]) -> list[dict[str, Any] | None]:
        if not task_ids:
            return []
        found = self.redis.hmget(self.keys.project(project, "predictions"), task_ids)
        return [None if v is None else json.loads(v) for v in found]

    def save_audit(self, project: int, saved: SavedAudit) -> None:
        key = self.keys.project(project, "predictions")
        staging = f"{key}:staging:{saved.version}"
        items = [(str(t), json.dumps(p)) for t, p in saved.predictions.items()]
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(staging)
        for start in range(0, len(items), SAVE_CHUNK):
            pipe.hset(staging, mapping=dict(items[start : start + SAVE_CHUNK]))
        pipe.execute()
        record = json.dumps(_audit_record(saved, time.time()), default=str)
        pipe = self.redis.pipeline(transaction=True)
        if items:
            pipe.rename(staging, key)
        else:
            pipe.delete(key)
        pipe.set(self.keys.project(project, "version"), saved.version)
        pipe.lpush(self.keys.project(project, "versions"), saved.version)
        pipe.ltrim(self.keys.project(project, "versions"), 0, VERSION_HISTORY - 1)
        pipe.set(self.keys.project(project, "audit"), record)
        pipe.set(self.keys.project(project, "fingerprint"), saved.fingerprint)
        pipe.sadd(self.keys.projects, project)
        pipe.execute()

    def latest_audit(self, project: int) -> dict[str, Any] | None:
        record = self.redis.get(self.keys.project(project, "audit"))
        return None if record is None else json.loads(record)

    def fingerprint(self, project: int) -> str | None:
        value = self.redis.get(self.keys.project(project, "fingerprint"))
        return None if value is None else value.decode()

    def set_fingerprint(self, project: int, fingerprint: str | None) -> None:
        key = self.keys.project(project, "fingerprint")
        if fingerprint is None:
            self.redis.delete(key)
        else:
            self.redis.set(key, fingerprint)

    # scheduling -----------------------------------------------------------------------

    def schedule(
        self,
        project: int,
        ticket: str,
        *,
        immediate: bool,
        debounce: float,
        max_wait: float,
        ttl: float,
    ) -> Scheduled:
        pending, created, countdown = self._schedule(
            keys=[*self._k(project, "ticket", "due", "burst", "events"), self.keys.projects],
            args=[ticket, int(immediate), _ms(debounce), _ms(max_wait), _ms(ttl), project],
        )
        return Scheduled(pending.decode(), bool(created), int(countdown) / 1000)

    def claim_begin(
        self,
        project: int,
        ticket: str,
        owner: str,
        *,
        lock_ttl: float,
        lease_ttl: float,
        ttl: float,
    ) -> Claim:
        action, delay = self._claim_begin(
            keys=self._k(project, "ticket", "due", "burst", "lock", "running", "stage", "owner"),
            args=[ticket, owner, _ms(lock_ttl), _ms(lease_ttl), _ms(ttl)],
        )
        return Claim(action.decode(), int(delay) / 1000)

    def claim_step(
        self,
        project: int,
        ticket: str,
        owner: str | None,
        *,
        stage: Stage,
        lock_ttl: float,
        lease_ttl: float,
    ) -> Claim:
        action, delay = self._claim_step(
            keys=self._k(project, "lock", "running", "stage", "owner"),
            args=[ticket, owner or "", _ms(lock_ttl), _ms(lease_ttl), stage],
        )
        return Claim(action.decode(), int(delay) / 1000)

    def set_stage(self, project: int, ticket: str, stage: Stage) -> None:
        self._set_stage(keys=self._k(project, "running", "stage"), args=[ticket, stage])

    def renew(
        self, project: int, ticket: str, owner: str | None, *, lock_ttl: float, lease_ttl: float
    ) -> bool:
        return bool(
            self._renew(
                keys=self._k(project, "lock", "running", "owner"),
                args=[ticket, owner or "", _ms(lock_ttl), _ms(lease_ttl)],
            )
        )

    def end_lease(self, project: int, owner: str) -> None:
        self._delete_if(keys=self._k(project, "owner"), args=[owner])

    def release(self, project: int, ticket: str) -> bool:
        return bool(
            self._release(keys=self._k(project, "lock", "running", "stage", "owner"), args=[ticket])
        )

    def activity(self, project: int) -> dict[str, Any]:
        values = self.redis.mget(self._k(project, "ticket", "running", "stage"))
        scheduled, running, stage = (None if v is None else v.decode() for v in values)
        return {"scheduled": scheduled, "running": running, "stage": stage}

    def running(self) -> list[int]:
        projects = self.projects()
        if not projects:
            return []
        found = self.redis.mget([self.keys.project(p, "running") for p in projects])
        return [p for p, value in zip(projects, found, strict=True) if value is not None]

    # jobs and metrics -----------------------------------------------------------------

    def put_job(self, job_id: str, **fields: Any) -> None:
        key = self.keys.job(job_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, mapping={"id": json.dumps(job_id)} | _encode(fields))
        pipe.expire(key, JOB_TTL_SECONDS)
        pipe.execute()

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        raw = self.redis.hgetall(self.keys.job(job_id))
        if not raw:
            return None
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def record_outcome(
        self, project: int, *, succeeded: bool, duration: float, flagged: int | None
    ) -> None:
        pipe = self.redis.pipeline(transaction=False)
        key = self.keys.metrics
        pipe.hincrby(key, "audits_succeeded" if succeeded else "audits_failed", 1)
        pipe.hincrbyfloat(key, "duration_sum", duration)
        pipe.hincrby(key, "duration_count", 1)
        for bucket in _bucket_hits(duration):
            pipe.hincrby(key, f"bucket:{bucket}", 1)
        if flagged is not None:
            pipe.hincrby(key, "flagged_tasks_total", flagged)
            pipe.hset(self.keys.flagged, str(project), flagged)
        pipe.execute()

    def metrics(self) -> dict[str, Any]:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.metrics)
        pipe.hgetall(self.keys.flagged)
        raw, flagged = pipe.execute()
        values = {k.decode(): float(v) for k, v in raw.items()}
        out = _empty_metrics()
        for name in ("audits_succeeded", "audits_failed", "duration_count", "flagged_tasks_total"):
            out[name] = int(values.get(name, 0))
        out["duration_sum"] = values.get("duration_sum", 0.0)
        out["duration_buckets"] = {b: int(values.get(f"bucket:{b}", 0)) for b in DURATION_BUCKETS}
        out["flagged_tasks"] = {int(k): int(v) for k, v in flagged.items()}
        return out

    def try_sweep(self, period: float) -> bool:
        return bool(self.redis.set(self.keys.sweep, "1", nx=True, px=_ms(period * 0.9)))

    def ping(self) -> None:
        self.redis.ping()


def _encode(fields: Mapping[str, Any]) -> dict[str, str]:
    return {k: json.dumps(v, default=str) for k, v in fields.items()}


# --------------------------------------------------------------------------- artifacts


class Artifacts:
    """Files under MODEL_DIR: an audit's work files, and per version its model and report.

    Layout::

        <model_dir>/projects/<project>/work/<ticket>/prepared.pkl   the featurized dataset
        <model_dir>/projects/<project>/work/<ticket>/fold-<i>.pkl   (out-of-fold probabilities,
                                                                      seconds the fold took)
        <model_dir>/projects/<project>/versions/<version>/model.pkl the final model
        <model_dir>/projects/<project>/versions/<version>/report.html, issues.csv,
            predictions.json, summary.json                          the audit's outputs

    Pickles are written to a temporary name and renamed, so a reader never sees half a
    file; the outputs (backend.report.write_outputs, plain writes) are written before their
    version becomes current, so nobody reads them while they are written. Pickles are read only
    from this directory, which only labelaudit writes.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def project_dir(self, project: int) -> Path:
        """Return the directory of one project."""
        return self.root / "projects" / str(int(project))

    def work_dir(self, project: int, ticket: str) -> Path:
        """Return the work directory of one audit."""
        return self.project_dir(project) / "work" / _safe_name(ticket)

    def version_dir(self, project: int, version: str) -> Path:
        """Return the directory of one model version."""
        return self.project_dir(project) / "versions" / _safe_name(version)

    def write_pickle(self, path: Path, value: Any) -> None:
        """Pickle ``value`` to ``path`` atomically."""
        self._write(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

    def read_pickle(self, path: Path) -> Any:
        """Unpickle a file this store wrote."""
        with path.open("rb") as fh:
            return pickle.load(fh)  # only files this class wrote

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def clear_work(self, project: int, *, keep: str | None = None) -> None:
        """Remove the work files of the project's audits (all but ``keep``)."""
        work = self.project_dir(project) / "work"
        if not work.is_dir():
            return
        for entry in work.iterdir():
            if keep is None or entry.name != _safe_name(keep):
                shutil.rmtree(entry, ignore_errors=True)

    def prune_versions(self, project: int, keep: Iterable[str]) -> None:
        """Remove version directories not in ``keep``."""
        versions = self.project_dir(project) / "versions"
        if not versions.is_dir():
            return
        wanted = {_safe_name(v) for v in keep}
        for entry in versions.iterdir():
            if entry.name not in wanted:
                shutil.rmtree(entry, ignore_errors=True)


def _safe_name(name: str) -> str:
    """Return ``name`` if it is a plain file name; raise ValueError otherwise."""
    if not name or name in {".", ".."} or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"not a plain name: {name!r}")
    return name
