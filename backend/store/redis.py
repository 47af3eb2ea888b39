"""The shared state in Redis: :class:`Keys` (the key names) and :class:`RedisStore`."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from backend.store import (
    SAVE_CHUNK,
    VERSION_HISTORY,
    RowState,
    SavedAudit,
    Store,
    lua,
)
from backend.store._records import _audit_record, _live_record, _ms
from backend.store.changes import RedisChanges
from backend.store.redis_jobs import RedisJobs
from backend.store.redis_scheduling import RedisScheduling

#: Rows read per ROW_STATES call (Lua's ``unpack`` has a bounded stack).
ROW_STATES_CHUNK = 1000


class _Script:
    """A Lua script (loaded on first use), run on the calling thread's client."""

    def __init__(self, store: RedisStore, source: str) -> None:
        self._store = store
        self._script = store._base.register_script(source)

    def __call__(self, *, keys: list[Any], args: Sequence[Any] = ()) -> Any:
        return self._script(keys=keys, args=args, client=self._store.redis)


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


class RedisStore(RedisChanges, RedisJobs, RedisScheduling, Store):
    """The shared state in Redis; every scheduling operation is one atomic Lua script.

    Its methods are those of :class:`Store` (documented there, inherited by ``help``).
    """

    def __init__(self, url: str, *, namespace: str = "labelaudit", client: Any = None) -> None:
        import redis

        # Untyped on purpose: redis-py's stubs cannot tell that answers are bytes here.
        base: Any = client if client is not None else redis.Redis.from_url(url)
        self._base = base
        self._local = threading.local()
        self.keys = Keys(namespace)
        self._remember = _Script(self, lua.REMEMBER)
        self._schedule = _Script(self, lua.SCHEDULE)
        self._claim_begin = _Script(self, lua.CLAIM_BEGIN)
        self._claim_step = _Script(self, lua.CLAIM_STEP)
        self._renew = _Script(self, lua.RENEW)
        self._release = _Script(self, lua.RELEASE)
        self._delete_if = _Script(self, lua.DELETE_IF)
        self._set_stage = _Script(self, lua.SET_STAGE)
        self._update_live = _Script(self, lua.UPDATE_LIVE)
        self._row_states = _Script(self, lua.ROW_STATES)
        self._log_change = _Script(self, lua.LOG_CHANGE)
        self._trim_changes = _Script(self, lua.TRIM_CHANGES)
        self._take_instant = _Script(self, lua.TAKE_INSTANT)

    @property
    def redis(self) -> Any:
        """This thread's client: one connection of the shared pool, held for the thread's
        life (redis-py's ``single_connection_client``).

        A client that takes a pooled connection per command first checks the connection
        has nothing left to read (a poll, a failed non-blocking read and two ``ioctl``
        calls): each such system call lets go of the GIL, and under concurrent requests
        winning it back is what a web thread waits on. Pipelines still take pooled
        connections. Keyed by process id, so a forked child never shares its parent's socket.
        """
        pid = os.getpid()
        held = getattr(self._local, "client", None)
        if held is None or held[0] != pid:
            import redis

            client = redis.Redis(
                connection_pool=self._base.connection_pool, single_connection_client=True
            )
            held = self._local.client = (pid, client)
        return held[1]

    def close(self) -> None:
        """Close every connection of the pool (this thread's included)."""
        held = getattr(self._local, "client", None)
        if held is not None:
            held[1].close()
            self._local.client = None
        self._base.connection_pool.disconnect()

    def _k(self, project: int, *names: str) -> list[str]:
        return [self.keys.project(project, n) for n in names]

    # projects -------------------------------------------------------------------------

    def remember_project(
        self, project: int, *, url: str = "", token: str = "", config_hash: str = ""
    ) -> str | None:
        # One round trip (a script in a pipeline would cost a SCRIPT EXISTS first).
        version = self._remember(
            keys=[*self._k(project, "credentials", "config", "version"), self.keys.projects],
            args=[url, token, config_hash, project],
        )
        return None if version is None else version.decode()

    def credentials(self, project: int) -> tuple[str, str]:
        found = self.redis.hmget(self.keys.project(project, "credentials"), "url", "token")
        url, token = (v.decode() if v is not None else "" for v in found)
        return url, token

    def projects(self) -> list[int]:
        return sorted(int(p) for p in self.redis.smembers(self.keys.projects))

    def knows(self, project: int) -> bool:
        return bool(self.redis.sismember(self.keys.projects, project))

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

    def answers(self, project: int, task_ids: list[int]) -> list[dict[str, Any] | None]:
        return [None if v is None else json.loads(v) for v in self.answers_json(project, task_ids)]

    def answers_json(self, project: int, task_ids: list[int]) -> list[str | None]:
        if not task_ids:
            return []
        found = self.redis.hmget(self.keys.project(project, "predictions"), task_ids)
        return [None if v is None else v.decode() for v in found]

    def save_audit(self, project: int, saved: SavedAudit) -> None:
        # Each hash is written under a staging name, then renamed in the transaction below.
        # The hashes they replace are UNLINKed first: Redis frees them in the background,
        # where RENAME over them would free them inline (~100 ms for 100,000 answers, with
        # every other client waiting).
        hashes = {
            self.keys.project(project, "predictions"): saved.answers,  # keeps its first name
            self.keys.project(project, "flags"): saved.flags,
        }
        staged: dict[str, str | None] = {}
        pipe = self.redis.pipeline(transaction=False)
        for key, values in hashes.items():
            staging = f"{key}:staging:{saved.version}"
            items = [(str(t), json.dumps(v)) for t, v in values.items()]
            pipe.unlink(staging)  # left by an earlier save that failed halfway
            for start in range(0, len(items), SAVE_CHUNK):
                pipe.hset(staging, mapping=dict(items[start : start + SAVE_CHUNK]))
            staged[key] = staging if items else None
        pipe.execute()
        record = json.dumps(_audit_record(saved, time.time()), default=str)
        live = self.keys.project(project, "live")
        pipe = self.redis.pipeline(transaction=True)
        for key, name in staged.items():
            pipe.unlink(key)
            if name is not None:
                pipe.rename(name, key)
        pipe.delete(live)
        pipe.hset(live, mapping={k: json.dumps(v) for k, v in _live_record(saved).items()})
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

    def live(self, project: int) -> dict[str, Any] | None:
        raw = self.redis.hgetall(self.keys.project(project, "live"))
        if not raw:
            return None
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def flags(self, project: int) -> dict[int, dict[str, Any]]:
        return self._hash(project, "flags")

    def verdicts(self, project: int) -> dict[int, dict[str, Any]]:
        return self._hash(project, "verdicts")

    def events(self, project: int) -> dict[int, dict[str, Any]]:
        return self._hash(project, "events")

    def row_states(self, project: int, rows: Sequence[tuple[int, int]]) -> list[RowState]:
        states: list[RowState] = []
        keys = self._k(project, "predictions", "flags", "verdicts", "events")
        for start in range(0, len(rows), ROW_STATES_CHUNK):
            chunk = rows[start : start + ROW_STATES_CHUNK]
            found = self._row_states(keys=keys, args=[i for row in chunk for i in row])
            columns = [[None if v is None else json.loads(v) for v in c] for c in found]
            states += [RowState(*values) for values in zip(*columns, strict=True)]
        return states

    def _hash(self, project: int, name: str) -> dict[int, dict[str, Any]]:
        raw = self.redis.hgetall(self.keys.project(project, name))
        return {int(k): json.loads(v) for k, v in raw.items()}

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
        changes = {
            name: {str(k): None if v is None else json.dumps(v) for k, v in items.items()}
            for name, items in (
                ("predictions", answers),
                ("flags", flags),
                ("verdicts", verdicts),
                ("events", events),
            )
            if items
        }
        keys = self._k(project, "version", "predictions", "flags", "verdicts", "events", "live")
        done = self._update_live(
            keys=keys, args=[version, json.dumps(changes), json.dumps(time.time()), int(count)]
        )
        return bool(done)

    def try_lock(self, project: int, name: str, owner: str, ttl: float) -> bool:
        key = self.keys.project(project, f"lock:{name}")
        return bool(self.redis.set(key, owner, nx=True, px=_ms(ttl)))

    def unlock(self, project: int, name: str, owner: str) -> None:
        self._delete_if(keys=self._k(project, f"lock:{name}"), args=[owner])

    def fingerprint(self, project: int) -> str | None:
        value = self.redis.get(self.keys.project(project, "fingerprint"))
        return None if value is None else value.decode()

    def set_fingerprint(self, project: int, fingerprint: str | None) -> None:
        key = self.keys.project(project, "fingerprint")
        if fingerprint is None:
            self.redis.delete(key)
        else:
            self.redis.set(key, fingerprint)

    def checked(self, project: int) -> str | None:
        value = self.redis.get(self.keys.project(project, "checked"))
        return None if value is None else value.decode()

    def set_checked(self, project: int, checked: str) -> None:
        self.redis.set(self.keys.project(project, "checked"), checked)

    def ping(self) -> None:
        self.redis.ping()
