"""The Django cache, called so that it never blocks the event loop on the network.

The local-memory cache answers in microseconds, so it is called directly.
Redis (django-redis is synchronous) is called from a worker thread: a slow or
unreachable Redis then delays only the requests that need it. Which of the two
is decided once, from the configured backend. What every request asks (the
rate-limit counters, the session lookup) skips the thread: store/counters.py in
process memory, store/loop_redis.py from the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache

from . import counters, loop_redis


class AsyncCache:
    def __init__(self, alias: str = "default") -> None:
        self._alias = alias
        self._local = counters.LocalCounters()
        self._redis: loop_redis.LoopRedis | None = None

    @property
    def backend(self):
        return caches[self._alias]

    @property
    def remote(self) -> bool:
        """True when a call may wait on the network (anything but the per-process memory cache)."""
        return not isinstance(self.backend, LocMemCache)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a function that makes cache calls, off the loop when they may wait on the network."""
        if self.remote:
            return await sync_to_async(fn, thread_sensitive=False)(*args)
        return fn(*args)

    async def aget(self, key: str) -> Any:
        backend = self.backend
        if counters.is_redis(backend):  # on every request's path (the session): from the loop, no thread hop
            return await self._loop_redis().get(backend.make_key(key), backend.client.decode)
        return await self.run(backend.get, key)

    async def aset(self, key: str, value: Any, timeout: float | None) -> None:
        await self.run(self.backend.set, key, value, timeout)

    async def aadd(self, key: str, value: Any, timeout: float | None) -> bool:
        """Set `key` only if it is absent; True if this call set it."""
        return bool(await self.run(self.backend.add, key, value, timeout))

    async def adelete(self, key: str) -> None:
        await self.run(self.backend.delete, key)

    async def acount_hits(self, keys: list[str], window: int) -> list[int]:
        """Increment a counter per key that lives `window` seconds from its first hit; the counts.

        Kept where the cache keeps them: in this process when the cache is local (no cache call at all),
        in Redis (one round trip, from the event loop) when shared, through the cache API otherwise.
        """
        if not self.remote:
            return self._local.count(keys, window)
        backend = self.backend
        if counters.is_redis(backend):
            return await self._loop_redis().count([backend.make_key(key) for key in keys], window)
        return await self.run(self._count_all, keys, window)

    def _loop_redis(self) -> loop_redis.LoopRedis:
        if self._redis is None:
            config = settings.CACHES[self._alias]
            self._redis = loop_redis.LoopRedis(config["LOCATION"], config.get("OPTIONS", {}))
        return self._redis

    def _count_all(self, keys: list[str], window: int) -> list[int]:
        return [self._count(key, window) for key in keys]

    def _count(self, key: str, window: int) -> int:
        backend = self.backend
        if backend.add(key, 1, window + 1):
            return 1
        try:
            return backend.incr(key)
        except ValueError:  # expired between add and incr
            backend.add(key, 1, window + 1)
            return 1


cache = AsyncCache()
