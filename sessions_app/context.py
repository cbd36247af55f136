"""What a request handler (and a tool) gets to talk back to the client.

It knows nothing of HTTP or of which node holds the client's stream: it hands
messages to its channel, which stores and publishes them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .channels_out import send_to_session
from .protocol import log_level_allows
from .store import SessionState


class RequestContext:
    def __init__(self, session: SessionState, request_id: Any, method: str, params: dict[str, Any] | None, channel):
        self.session = session
        self.request_id = request_id
        self.method = method
        self.params = params or {}
        self.channel = channel
        meta = self.params.get("_meta")
        self.progress_token = meta.get("progressToken") if isinstance(meta, dict) else None
        self._task: asyncio.Task | None = None

    @property
    def session_id(self) -> str:
        return self.session.id

    @property
    def cancelled(self) -> bool:
        """True once notifications/cancelled arrived for this request."""
        task = self._task
        return task is not None and task.cancelling() > 0

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """A notification related to this request, on the request's own stream."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self.channel.notify(message)

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        """notifications/message, if the session's level (logging/setLevel) lets it through."""
        if not log_level_allows(self.session.log_level, level):
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        await self.notify("notifications/message", params)

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """notifications/progress with the client's own token; nothing if it sent none."""
        if self.progress_token is None:
            return
        params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self.notify("notifications/progress", params)

    async def notify_session(self, method: str, params: dict[str, Any] | None = None) -> None:
        """A notification not tied to this request: it goes to the session's GET stream."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await send_to_session(self.session.id, message)

    async def resource_updated(self, uri: str) -> None:
        await self.notify_session("notifications/resources/updated", {"uri": uri})
