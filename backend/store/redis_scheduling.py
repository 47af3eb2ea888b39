"""Scheduling in Redis: the methods of :class:`backend.store.Store` named ``schedule``,
``claim_begin``, ``claim_step``, ``set_stage``, ``renew``, ``end_lease``, ``release``,
``activity``, ``running`` and ``try_sweep``, for :class:`backend.store.RedisStore`, each one
atomic Lua script or one command (kept here so the store's module stays one screenful)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from backend.store import Claim, Scheduled, Stage
from backend.store._records import _ms
from backend.store.changes import HAND_OFF

if TYPE_CHECKING:
    from backend.store.redis import Keys


class RedisScheduling:
    """Tickets, claims, leases and stages of a :class:`RedisStore` (its scripts, its keys)."""

    keys: Keys
    _schedule: Any
    _claim_begin: Any
    _claim_step: Any
    _set_stage: Any
    _renew: Any
    _release: Any
    _delete_if: Any

    if TYPE_CHECKING:  # RedisStore's: this thread's client, its key names, its projects

        @property
        def redis(self) -> Any: ...

        def _k(self, project: int, *names: str) -> list[str]: ...

        def projects(self) -> list[int]: ...

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
        entry = "" if change is None else json.dumps(change)
        pending, created, countdown, handed = self._schedule(
            keys=[
                *self._k(project, "ticket", "due", "burst"),
                self.keys.projects,
                *self._k(project, "live", "changes", "changes_base", HAND_OFF),
            ],
            args=[
                ticket,
                int(immediate),
                _ms(debounce),
                _ms(max_wait),
                _ms(ttl),
                project,
                entry,
                keep,
                _ms(hand_off) if hand_off > 0 else 0,
            ],
        )
        countdown_s = int(countdown) / 1000
        return Scheduled(pending.decode(), bool(created), countdown_s, bool(handed))

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

    def try_sweep(self, period: float) -> bool:
        return bool(self.redis.set(self.keys.sweep, "1", nx=True, px=_ms(period * 0.9)))
