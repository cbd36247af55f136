"""Fixed-window hit counters for the rate limiter: in process memory, or in Redis in one round trip from the loop.

A per-process cache (embedded mode) never shared its counts, so a dict does the same without the cache
API's locking and pickling. Redis keeps the counts every node shares: per key a SET NX with the
window's expiry and an INCR, in one MULTI/EXEC, so a counter exists with its expiry or not at all.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from redis.asyncio import Redis

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


class RedisCounters:
    """The counts in the cache's Redis, called from the event loop (redis.asyncio): no thread hop per request."""

    def __init__(self, location: str | list[str], options: dict[str, Any]) -> None:
        servers = location.split(",") if isinstance(location, str) else list(location)
        self._url = servers[0]  # django-redis writes to the first server
        self._timeouts = {
            "socket_connect_timeout": options.get("SOCKET_CONNECT_TIMEOUT"),
            "socket_timeout": options.get("SOCKET_TIMEOUT"),
        }
        self._clients: dict[asyncio.AbstractEventLoop, Redis] = {}

    def _client(self) -> Redis:
        """A client per event loop: its connections belong to the loop that opened them."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            for stale in [other for other in self._clients if other.is_closed()]:
                del self._clients[stale]
            client = self._clients[loop] = Redis.from_url(self._url, **self._timeouts)
        return client

    async def count(self, names: list[str], window: int) -> list[int]:
        """Per key (the cache's full key names) a SET NX with the expiry and an INCR: one round trip."""
        async with self._client().pipeline(transaction=True) as pipe:
            for name in names:
                pipe.set(name, 0, ex=window + 1, nx=True)
                pipe.incr(name)
            results = await pipe.execute()
        return [int(count) for count in results[1::2]]


def is_redis(backend: Any) -> bool:
    """django-redis's backend (its raw client is what the counters talk to)."""
    return hasattr(getattr(backend, "client", None), "get_client")
