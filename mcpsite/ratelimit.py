"""Rate limiting for /mcp: RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW seconds,
per client address and per session, counted in the cache (Redis: shared by all nodes).

Fixed windows: one counter per key and window, created with the window's
lifetime and incremented atomically. Past the limit: 429 with a JSON-RPC error
(-32000), Retry-After and RateLimit-* headers. A cache that fails lets the
request through (logged): the limiter must not be what takes the service down.
"""

from __future__ import annotations

import logging
import math
import time

from django.conf import settings
from django.core.cache import cache

from sessions_app import cachecalls
from sessions_app.httpio import header_map, send_error
from sessions_app.store import plausible_session_id
from sessions_app.jsonrpc import HttpError

from .metrics import RATE_LIMITED

logger = logging.getLogger(__name__)
TOO_MANY = -32000


def _count_all(keys: list[tuple[str, str]], index: int, window: int) -> list[tuple[str, int]]:
    return [(kind, _count(f"mcp:rl:{kind}:{ident}:{index}", window)) for kind, ident in keys]


def _count(key: str, window: int) -> int:
    if cache.add(key, 1, window + 1):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, window + 1)
        return 1


class RateLimit:
    def __init__(self, app):
        self.app = app
        self._failing = False

    async def __call__(self, scope, receive, send):
        limit, window = settings.RATE_LIMIT_MAX, settings.RATE_LIMIT_WINDOW
        if scope["type"] != "http" or limit <= 0:
            return await self.app(scope, receive, send)
        now = time.time()
        index = int(now // window)
        reset = max(1, math.ceil((index + 1) * window - now))
        keys = [("client", (scope.get("client") or ("unknown",))[0])]
        session_id = header_map(scope).get("mcp-session-id", "").strip()
        if plausible_session_id(session_id):  # as the consumer reads it, so padding cannot dodge it
            keys.append(("session", session_id))
        try:
            counts = await cachecalls.run(_count_all, keys, index, window)
            self._failing = False
        except Exception as exc:
            if not self._failing:
                logger.warning("rate limiting is off while the cache fails: %s", exc)
            self._failing = True
            return await self.app(scope, receive, send)
        remaining = max(0, limit - max(count for _, count in counts))
        limit_headers = [
            (b"ratelimit-limit", str(limit).encode()),
            (b"ratelimit-remaining", str(remaining).encode()),
            (b"ratelimit-reset", str(reset).encode()),
            (b"ratelimit-policy", f"{limit};w={window}".encode()),
        ]
        over = [kind for kind, count in counts if count > limit]
        if over:
            RATE_LIMITED.labels(scope=over[0]).inc()
            logger.warning("rate limit: %s %s over %d per %ds", over[0], dict(keys)[over[0]][:64], limit, window)
            error = HttpError(429, TOO_MANY, "Too many requests, please retry later", headers={"Retry-After": str(reset)})
            await send_error(send, error, limit_headers)
            return

        async def send_with_limits(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + limit_headers}
            await send(message)

        return await self.app(scope, receive, send_with_limits)
