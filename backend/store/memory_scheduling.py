"""Scheduling in the one-process store (:class:`backend.store.MemoryStore`): its expiring
per-project keys and what ``schedule`` and the claims keep in them (the pending ticket and
its burst and due time, the running ticket, its stage, lock and lease), with the same
semantics as the Redis store's scripts (:mod:`backend.store.lua`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from backend.store import Claim, Scheduled, Stage


class MemoryScheduling:
    """The scheduling methods of :class:`backend.store.MemoryStore` (its lock, its clock,
    its keys), and the expiring keys the change log and the named locks use too."""

    _lock: threading.RLock
    _clock: Callable[[], float]
    _keys: dict[tuple[int, str], tuple[Any, float | None]]
    _projects: dict[int, dict[str, Any]]

    if TYPE_CHECKING:

        def _project(self, project: int) -> dict[str, Any]: ...

        def log_change(self, project: int, entry: dict[str, Any], *, keep: int) -> None: ...

        def _flag_hand_off(self, project: int, ttl: float) -> bool: ...

    # expiring per-project keys --------------------------------------------------------

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
        change: dict[str, Any] | None = None,
        keep: int = 0,
        hand_off: float = 0.0,
    ) -> Scheduled:
        with self._lock:
            if change is not None:
                self.log_change(project, change, keep=keep)
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
            instant = bool((self._projects[project].get("live") or {}).get("instant"))
            handed = instant and self._flag_hand_off(project, hand_off)
            return Scheduled(pending, created, max(due - now, 0.0), handed)

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
