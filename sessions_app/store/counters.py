"""Fixed-window hit counters for the rate limiter kept in process memory (a per-process cache).

A per-process cache (embedded mode) never shared its counts, so a dict does the same without the cache
API's locking and pickling. With Redis the counts every node shares are kept there: loop_redis.LoopRedis.
"""

from __future__ import annotations

import time
from typing import Any

MAX_KEYS = 100_000  # beyond this the oldest counters go (as the cache would cull them), so memory stays bounded


class LocalCounters:
    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self._counts: dict[str, list[float]] = {}  # key -> [count, expires at]; insertion order is age
        self._max_keys = max_keys
        self._sweep_at = 0.0

    def count(self, keys: list[str], window: int) -> list[int]:
        """Increment a counter per key that lives `window` seconds from its first hit; the counts."""
        now = time.monotonic()
        if now >= self._sweep_at or len(self._counts) > self._max_keys:
            self._sweep(now)
            self._sweep_at = now + window
        counts = []
        for key in keys:
            entry = self._counts.get(key)
            if entry is None or entry[1] <= now:
                entry = self._counts[key] = [0, now + window + 1]
            entry[0] += 1
            counts.append(int(entry[0]))
        return counts

    def _sweep(self, now: float) -> None:
        self._counts = {key: entry for key, entry in self._counts.items() if entry[1] > now}
        if len(self._counts) > self._max_keys:  # down to three quarters, so a flood sweeps now and then, not per hit
            for key in list(self._counts)[: len(self._counts) - self._max_keys * 3 // 4]:
                del self._counts[key]


def is_redis(backend: Any) -> bool:
    """django-redis's backend (its Redis is what loop_redis talks to)."""
    return hasattr(getattr(backend, "client", None), "get_client")
