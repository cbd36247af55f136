"""One log line and the request metrics for every /mcp request, rejected ones included.

The consumer notes what it learned (session, JSON-RPC method) in
scope["mcp.log"]; this middleware times the exchange until its response ends.
"""

from __future__ import annotations

import logging
import time

from .metrics import REQUEST_SECONDS, REQUESTS

logger = logging.getLogger("mcpsite.access")
# Label values never come from the client: any other method token is "other".
HTTP_METHODS = frozenset({"GET", "POST", "DELETE", "OPTIONS"})


class AccessLog:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        note: dict = {}
        scope = {**scope, "mcp.log": note}
        status = {"code": 0}

        async def observe(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            elapsed = time.perf_counter() - started
            method = note.get("rpc") or (scope["method"] if scope["method"] in HTTP_METHODS else "other")
            REQUESTS.labels(method=method, status=str(status["code"] or 499)).inc()
            REQUEST_SECONDS.labels(method=method).observe(elapsed)
            logger.info(
                "%s %s %s session=%s status=%s duration=%.1fms",
                scope["method"],
                scope["path"],
                method,
                note.get("session", "-"),
                status["code"] or "disconnected",
                elapsed * 1000,
            )
