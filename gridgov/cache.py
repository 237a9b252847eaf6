"""One memo for everything the service keeps between requests (pages, frames, tiles, compiled
statements, extents, data versions): cachetools' LRU or TTL cache behind a lock.

Keys carry the data version of the tables a value was computed from, so nothing is ever
invalidated by hand: a write moves the version, and the stale entries age out.

Example:
    >>> memo = Memo(maxsize=2)
    >>> memo.get("a", lambda: 1), memo.get("a", lambda: 2)
    (1, 1)
"""

from __future__ import annotations

import threading
from typing import Callable, Hashable, TypeVar

import cachetools

T = TypeVar("T")


class Memo:
    """Thread-safe; ``ttl`` (seconds) makes entries expire, else the least recently used go."""

    def __init__(self, maxsize: int, ttl: float | None = None):
        self._cache = (cachetools.TTLCache(maxsize, ttl) if ttl is not None
                       else cachetools.LRUCache(maxsize))
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            try:
                return self._cache[key]
            except KeyError:
                pass
        # computed outside the lock: two threads may both compute a missing value, which is
        # cheaper than making every reader wait behind a slow analysis
        value = compute()
        with self._lock:
            self._cache[key] = value
        return value
