"""Each project's change log (:mod:`backend.service.changelog`), for the two stores: the
methods of :class:`backend.store.Store` named ``log_change``, ``changes_since``,
``trim_changes``, and instant feedback's reading of it (``instant_changes``,
``set_instant_position``, ``instant_rest``; the hand-off flag ``schedule`` sets), kept
here so the stores' modules stay one screenful each."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from backend.store._records import _ms

#: The expiring per-project key of the instant hand-off flag (both stores).
HAND_OFF = "instant_pending"
#: The per-project key of the instant position (both stores).
INSTANT_POSITION = "instant_position"
#: The expiring per-project key that makes the next instant run wait (both stores).
INSTANT_REST = "instant_rest"


class MemoryChanges:
    """The change log of :class:`backend.store.MemoryStore` (its lock, its dict)."""

    _lock: threading.RLock
    _changes: dict[int, list[Any]]  # project -> [base position, entries]
    _clock: Callable[[], float]

    if TYPE_CHECKING:  # the store's expiring keys (MemoryScheduling), whatever the base order

        def _get(self, project: int, key: str) -> Any: ...

        def _set(self, project: int, key: str, value: Any, ttl: float | None = None) -> None: ...

        def _delete(self, project: int, *keys: str) -> None: ...

    def _flag_hand_off(self, project: int, ttl: float) -> bool:
        """Set the instant hand-off flag for ``ttl`` seconds unless set; whether this did
        (the caller holds the lock)."""
        if ttl <= 0 or self._get(project, HAND_OFF) is not None:
            return False
        self._set(project, HAND_OFF, True, ttl)
        return True

    def instant_changes(self, project: int) -> tuple[int, list[dict[str, Any]]]:
        with self._lock:
            self._delete(project, HAND_OFF)
            base, entries = self._changes.get(project, [0, []])
            end = base + len(entries)
            start = self._get(project, INSTANT_POSITION)
            if start is None or not base <= start <= end:
                start = base
            return end, copy.deepcopy(entries[start - base :])

    def set_instant_position(self, project: int, position: int, *, rest: float = 0.0) -> None:
        with self._lock:
            self._set(project, INSTANT_POSITION, int(position))
            if rest > 0:
                self._set(project, INSTANT_REST, self._clock() + rest, rest)

    def instant_rest(self, project: int) -> float:
        with self._lock:
            until = self._get(project, INSTANT_REST)
            return 0.0 if until is None else max(0.0, float(until) - self._clock())

    def log_change(self, project: int, entry: dict[str, Any], *, keep: int) -> None:
        with self._lock:
            log = self._changes.setdefault(project, [0, []])  # [base, entries]
            log[1].append(copy.deepcopy(entry))
            drop = len(log[1]) - keep
            if drop > 0:
                log[0], log[1] = log[0] + drop, log[1][drop:]

    def changes_since(
        self, project: int, position: int | None
    ) -> tuple[int, list[dict[str, Any]] | None]:
        with self._lock:
            base, entries = self._changes.get(project, [0, []])
            end = base + len(entries)
            if position is None or position < base or position > end:
                return end, None
            return end, copy.deepcopy(entries[position - base :])

    def trim_changes(self, project: int, position: int) -> None:
        with self._lock:
            log = self._changes.get(project)
            drop = 0 if log is None else min(position - log[0], len(log[1]))
            if log is not None and drop > 0:
                log[0], log[1] = log[0] + drop, log[1][drop:]


class RedisChanges:
    """The change log of :class:`backend.store.RedisStore` (a list and its base per project)."""

    redis: Any
    _log_change: Any
    _trim_changes: Any
    _take_instant: Any

    if TYPE_CHECKING:  # the store's own key names (RedisStore)

        def _k(self, project: int, *names: str) -> list[str]: ...

    def log_change(self, project: int, entry: dict[str, Any], *, keep: int) -> None:
        self._log_change(
            keys=self._k(project, "changes", "changes_base"), args=[json.dumps(entry), keep]
        )

    def changes_since(
        self, project: int, position: int | None
    ) -> tuple[int, list[dict[str, Any]] | None]:
        log, base_key = self._k(project, "changes", "changes_base")
        pipe = self.redis.pipeline(transaction=True)
        pipe.get(base_key)
        pipe.llen(log) if position is None else pipe.lrange(log, 0, -1)
        raw_base, listed = pipe.execute()
        base = int(raw_base or 0)
        if position is None:
            return base + int(listed), None
        end = base + len(listed)
        if position < base or position > end:
            return end, None
        return end, [json.loads(item) for item in listed[position - base :]]

    def trim_changes(self, project: int, position: int) -> None:
        self._trim_changes(keys=self._k(project, "changes", "changes_base"), args=[position])

    def instant_changes(self, project: int) -> tuple[int, list[dict[str, Any]]]:
        end, listed = self._take_instant(
            keys=self._k(project, HAND_OFF, INSTANT_POSITION, "changes", "changes_base")
        )
        return int(end), [json.loads(item) for item in listed]

    def set_instant_position(self, project: int, position: int, *, rest: float = 0.0) -> None:
        position_key, rest_key = self._k(project, INSTANT_POSITION, INSTANT_REST)
        self.redis.set(position_key, int(position))
        if rest > 0:
            self.redis.set(rest_key, 1, px=_ms(rest))

    def instant_rest(self, project: int) -> float:
        left = self.redis.pttl(self._k(project, INSTANT_REST)[0])
        return max(0, int(left)) / 1000
