"""One log line and one metric report for every /mcp request, rejected ones included.

The transport notes what it learned (session, JSON-RPC method, tool) with `note_request`. The note
is a dict held in a ContextVar for the request's lifetime rather than a key in the scope: the
transport runs in this task or in tasks created from it, which inherit the context and so share
the one dict, and no layer has to know a scope key another layer invented.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import ContextVar

from .headers import ASGIApp, Message, Receive, Scope, Send

# Label values never come from the client: any other method token is "other".
HTTP_METHODS = frozenset({"GET", "POST", "DELETE", "OPTIONS"})
# Reported when the client went away before a response started (nginx's convention).
CLIENT_CLOSED = 499

_note: ContextVar[dict[str, str] | None] = ContextVar("mcp_request_note", default=None)


def note_request(**fields: str) -> None:
    """Add fields (`session`, `rpc`, `tool`) to the current request's note; outside a request, nothing."""
    note = _note.get()
    if note is not None:
        note.update(fields)


class AccessLog:
    def __init__(
        self,
        app: ASGIApp,
        *,
        on_done: Callable[[str, int, float], None] | None = None,
        logger_name: str = "mcpsite.access",
    ) -> None:
        self.app = app
        self.on_done = on_done
        self.logger = logging.getLogger(logger_name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        note: dict[str, str] = {}
        token = _note.set(note)
        status = 0

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            _note.reset(token)
            elapsed = time.perf_counter() - started
            method = note.get("rpc") or (scope["method"] if scope["method"] in HTTP_METHODS else "other")
            if self.on_done is not None:
                self.on_done(method, status or CLIENT_CLOSED, elapsed)
            self.logger.info(
                "%s %s %s session=%s status=%s duration=%.1fms",
                scope["method"],
                scope["path"],
                method,
                note.get("session", "-"),
                status or "disconnected",
                elapsed * 1000,
            )
