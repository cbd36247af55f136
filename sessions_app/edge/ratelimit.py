"""Rate limiting for /mcp: `limit` requests per `window` seconds, per client address and per session.

Fixed windows: one counter per key and window, counted by `count_hits` (in production the cache,
so Redis shares the counts between nodes). Past the limit: 429 with a JSON-RPC error, Retry-After
and RateLimit-* headers. A counter that fails lets the request through (logged once until it
recovers): the limiter must not be what takes the service down.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable

from sessions_app.wire.jsonrpc import TOO_MANY_REQUESTS, HttpError
from sessions_app.wire.messages import plausible_session_id
from sessions_app.wire.versions import SESSION_HEADER

from .headers import ASGIApp, Message, Receive, Scope, Send, header_map
from .responses import send_error

logger = logging.getLogger(__name__)


class RateLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        window: int,
        count_hits: Callable[[list[str], int], Awaitable[list[int]]],
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        # A disabled limiter never reads the window, so only an enabled one needs a valid one.
        if limit > 0 and window <= 0:
            raise ValueError(f"RateLimit window must be a positive number of seconds, not {window!r}")
        if not callable(count_hits):
            raise TypeError("RateLimit count_hits must be an async callable")
        self.app = app
        self.limit = limit
        self.window = window
        self.count_hits = count_hits
        self.on_refused = on_refused
        self._policy = f"{limit};w={window}".encode()
        self._failing = False

    def _identities(self, scope: Scope) -> list[tuple[str, str]]:
        identities = [("client", (scope.get("client") or ("unknown",))[0])]
        # Stripped and checked as the consumer reads it, so padding cannot dodge the session's count.
        session_id = header_map(scope).get(SESSION_HEADER, "").strip()
        if plausible_session_id(session_id):
            identities.append(("session", session_id))
        return identities

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0:
            await self.app(scope, receive, send)
            return
        limit, window = self.limit, self.window
        now = time.time()
        index = int(now // window)
        reset = max(1, math.ceil((index + 1) * window - now))
        identities = self._identities(scope)
        try:
            counts = await self.count_hits([f"mcp:rl:{kind}:{ident}:{index}" for kind, ident in identities], window)
            self._failing = False
        except Exception as exc:  # noqa: BLE001 -- whatever the counter raises, fail open
            if not self._failing:
                logger.warning("rate limiting is off while the counter fails: %s", exc)
            self._failing = True
            await self.app(scope, receive, send)
            return
        limit_headers = [
            (b"ratelimit-limit", str(limit).encode()),
            (b"ratelimit-remaining", str(max(0, limit - max(counts))).encode()),
            (b"ratelimit-reset", str(reset).encode()),
            (b"ratelimit-policy", self._policy),
        ]
        over = [(kind, ident) for (kind, ident), count in zip(identities, counts, strict=True) if count > limit]
        if over:
            kind, ident = over[0]
            if self.on_refused is not None:
                self.on_refused(kind)
            logger.warning("rate limit: %s %s over %d per %ds", kind, ident[:64], limit, window)
            error = HttpError(
                429, TOO_MANY_REQUESTS, "Too many requests, please retry later", headers={"Retry-After": str(reset)}
            )
            await send_error(send, error, limit_headers)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *limit_headers]}
            await send(message)

        await self.app(scope, receive, send_with_limits)
