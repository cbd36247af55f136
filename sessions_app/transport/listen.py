"""subscriptions/listen (2026-07-28): a long-lived SSE stream of list changes and resource updates.

It opens with `notifications/subscriptions/acknowledged` echoing the honoured part of the filter;
every frame carries `_meta["io.modelcontextprotocol/subscriptionId"]` (the listen request's id); only
the requested kinds are sent, fed from any node (runtime.listeners). Comments keep it alive every
MCP_KEEPALIVE_SECONDS; a draining node ends it with the graceful close (a complete result).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.conf import settings

from ..edge.headers import accepts, header_map
from ..runtime.listeners import listeners
from ..runtime.stateless import StatelessState, shape_result
from ..runtime.tasks import TaskSet
from ..wire.envelope import SUBSCRIPTION_ID_KEY
from ..wire.jsonrpc import INVALID_PARAMS, INVALID_REQUEST, HttpError, notification, result_message
from ..wire.sse import comment_frame, event_frame
from .stream_cap import stream_cap
from .streams import SSE_HEADERS, Exchange

logger = logging.getLogger(__name__)

METHOD = "subscriptions/listen"
MAX_RESOURCE_SUBSCRIPTIONS = 100
FLAGS = {"toolsListChanged": "tools", "promptsListChanged": "prompts", "resourcesListChanged": "resources"}
METHODS = {
    "tools": "notifications/tools/list_changed",
    "prompts": "notifications/prompts/list_changed",
    "resources": "notifications/resources/list_changed",
    "resource": "notifications/resources/updated",
}


def honoured_filter(params: dict[str, Any], request_id: Any) -> dict[str, Any]:
    wanted = params.get("notifications")
    if not isinstance(wanted, dict):
        raise HttpError(400, INVALID_PARAMS, "Invalid params: notifications must be an object", request_id=request_id)
    honoured: dict[str, Any] = {flag: True for flag in FLAGS if wanted.get(flag) is True}
    uris = wanted.get("resourceSubscriptions")
    if uris is not None:
        if not isinstance(uris, list) or not all(isinstance(uri, str) for uri in uris):
            raise HttpError(
                400, INVALID_PARAMS, "Invalid params: resourceSubscriptions must be strings", request_id=request_id
            )
        if len(uris) > MAX_RESOURCE_SUBSCRIPTIONS:
            raise HttpError(
                400,
                INVALID_PARAMS,
                f"Invalid params: at most {MAX_RESOURCE_SUBSCRIPTIONS} resourceSubscriptions",
                request_id=request_id,
            )
        if uris:
            honoured["resourceSubscriptions"] = list(dict.fromkeys(uris))
    return honoured


class Listening:
    """One open listen response (a runtime.listeners.ListenStream)."""

    def __init__(self, exchange: Exchange, request_id: Any, honoured: dict[str, Any]) -> None:
        self.exchange = exchange
        self.request_id = request_id
        self.kinds = {kind for flag, kind in FLAGS.items() if honoured.get(flag)}
        self.uris = set(honoured.get("resourceSubscriptions", ()))
        self.closed = False
        self._lock = asyncio.Lock()
        self._counted = True  # open_listen took a place under MCP_MAX_STREAMS for it

    def _forget(self) -> None:
        self.closed = True
        listeners.discard(self)
        if self._counted:
            self._counted = False
            stream_cap.release()

    def _meta(self) -> dict[str, Any]:
        return {SUBSCRIPTION_ID_KEY: self.request_id}

    async def send(self, method: str, params: dict[str, Any] | None = None) -> None:
        async with self._lock:
            if not self.closed:
                message = notification(method, {**(params or {}), "_meta": self._meta()})
                await self.exchange.write(event_frame(None, message), True)

    async def change(self, kind: str, uri: str | None) -> None:
        if kind == "resource":
            if uri in self.uris:
                await self.send(METHODS[kind], {"uri": uri})
        elif kind in self.kinds:
            await self.send(METHODS[kind])

    async def close(self, retry_ms: int | None = None) -> None:
        """The graceful end: a complete result carrying the subscription id, then the end of the body."""
        async with self._lock:
            if self.closed:
                return
            self._forget()
            result = shape_result(METHOD, {"_meta": self._meta()})
            await self.exchange.write(event_frame(None, result_message(self.request_id, result)), False)

    def detach(self) -> None:
        """The client left: forget the stream, write nothing more."""
        self._forget()

    async def keep_alive(self) -> None:
        while not self.closed:
            await asyncio.sleep(settings.MCP_KEEPALIVE_SECONDS)
            async with self._lock:
                if self.closed:
                    return
                await self.exchange.write(comment_frame("ping"), True)


async def open_listen(
    exchange: Exchange, state: StatelessState, request_id: Any, params: dict, tasks: TaskSet
) -> Listening:
    if not accepts(header_map(exchange.scope))[1]:
        raise HttpError(
            406,
            INVALID_REQUEST,
            "Not Acceptable: subscriptions/listen answers text/event-stream",
            request_id=request_id,
        )
    honoured = honoured_filter(params, request_id)
    stream_cap.take()  # counted with GET streams: a 503 beyond MCP_MAX_STREAMS, descriptors stay for the rest
    listening = Listening(exchange, request_id, honoured)
    try:
        await exchange.start_stream(list(SSE_HEADERS))
    except BaseException:
        listening.detach()
        raise
    listeners.add(listening)
    await listening.send("notifications/subscriptions/acknowledged", {"notifications": honoured})
    tasks.spawn(listening.keep_alive())
    logger.info("listen %r opened by %s: %s", request_id, state.client_name or "?", sorted(honoured))
    return listening
