"""A small thread-safe LRU cache of loaded artifacts (per process)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class Cache:
    """Remembers the last ``size`` values ``get`` loaded (None is never remembered)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        """Return the value of ``key``, calling ``load()`` if it is not remembered."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = load()
        if value is not None:
            self.put(key, value)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        """Remember ``value`` for ``key`` (the newest), as if ``get`` had just loaded it."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
