"""The Django cache, called so that it never blocks the event loop on the network.

The local-memory cache answers in microseconds, so it is called directly.
Redis (django-redis is synchronous) is called from a worker thread: a slow or
unreachable Redis then delays only the requests that need it. Which of the two
is decided once, from the configured backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache

from . import counters


class AsyncCache:
    def __init__(self, alias: str = "default") -> None:
        self._alias = alias
        self._local = counters.LocalCounters()

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
        return await self.run(self.backend.get, key)

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
        in Redis (one round trip) when shared, through the cache API otherwise.
        """
        if not self.remote:
            return self._local.count(keys, window)
        if counters.is_redis(self.backend):
            return await self.run(counters.count_in_redis, self.backend, keys, window)
        return await self.run(self._count_all, keys, window)

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
