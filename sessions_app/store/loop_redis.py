"""The cache's Redis from the event loop (redis.asyncio) for the calls on every request's path.

django-redis is synchronous, so store.cache runs it in a worker thread: a hop per call, and threads that
contend for the interpreter with the loop. The rate-limit counters (per key a SET NX with the window's
expiry and an INCR, in one MULTI/EXEC, so a counter exists with its expiry or not at all) and the session
lookup (a GET, decoded by django-redis's own client) go to the same Redis from the loop instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis


class LoopRedis:
    """The cache's Redis, called from the event loop (redis.asyncio): no thread hop per request.

    For what every request asks of the cache: the rate limiter's counters and the session lookup.
    """

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

    async def get(self, name: str, decode: Callable[[bytes], Any]) -> Any:
        """The value at `name` (a cache's full key name), decoded by `decode` (the cache's own); None if absent."""
        raw = await self._client().get(name)
        return None if raw is None else decode(raw)
