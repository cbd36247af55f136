"""The cache's Redis from the event loop (redis.asyncio) for the calls on every request's path.

django-redis is synchronous, so store.cache runs it in a worker thread: a hop per call, and threads that
contend for the interpreter with the loop. The rate-limit counters and the session lookup (a GET, decoded
by django-redis's own client) go to the same Redis from the loop instead.

The counters are one script call (EVALSHA) per request: per key an INCR, and the window's expiry set by
the INCR that created the key, atomically, so a counter exists with its expiry or not at all. It used to
be a MULTI/EXEC of a SET NX EX and an INCR per key: six commands for redis-py to pack and parse, a sixth
of the loop's time on every request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

# KEYS: the counters; ARGV[1]: their lifetime in seconds. Returns each counter after its increment.
COUNT_HITS = """
local counts = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then
    redis.call('EXPIRE', key, ARGV[1])
  end
  counts[i] = count
end
return counts
"""


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
        self._count_hits: dict[asyncio.AbstractEventLoop, AsyncScript] = {}

    def _client(self) -> Redis:
        """A client per event loop: its connections belong to the loop that opened them."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            for stale in [other for other in self._clients if other.is_closed()]:
                del self._clients[stale]
            for stale in [other for other in self._count_hits if other.is_closed()]:
                del self._count_hits[stale]
            client = self._clients[loop] = Redis.from_url(self._url, **self._timeouts)
            self._count_hits[loop] = client.register_script(COUNT_HITS)  # EVALSHA, loaded again if Redis lost it
        return client

    async def count(self, names: list[str], window: int) -> list[int]:
        """Increment a counter per key (the cache's full key names) that lives `window` + 1 seconds from its
        first hit: one round trip."""
        client = self._client()
        counts = await self._count_hits[asyncio.get_running_loop()](keys=names, args=[window + 1], client=client)
        return [int(count) for count in counts]

    async def get(self, name: str, decode: Callable[[bytes], Any]) -> Any:
        """The value at `name` (a cache's full key name), decoded by `decode` (the cache's own); None if absent."""
        raw = await self._client().get(name)
        return None if raw is None else decode(raw)
