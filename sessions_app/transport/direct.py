"""A stateless request's answer, written straight to its HTTP response: nothing is stored, nothing resumes.

The server chooses per request. It answers JSON (one object, its status from the
error code) unless a notification comes first or the handler runs past a
keep-alive interval, and the client accepts SSE: then the response becomes
`200 text/event-stream` carrying only this request's notifications, comment
keep-alives, and the response last, with no event ids, no priming, no retry.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from django.conf import settings

from ..runtime.stateless import shape_result
from ..runtime.tasks import TaskSet
from ..wire.jsonrpc import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    PARSE_ERROR,
    UNSUPPORTED_PROTOCOL_VERSION,
    dumps,
    encode_response,
)
from ..wire.sse import comment_frame, event_frame
from .streams import SSE_HEADERS, Exchange

logger = logging.getLogger(__name__)

HEADER_MISMATCH = -32020
# The HTTP status of an error response (the SDK's table); any other code is answered 200.
ERROR_STATUS = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    MISSING_REQUIRED_CLIENT_CAPABILITY: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
}


def status_of(response: dict[str, Any]) -> int:
    error = response.get("error")
    return ERROR_STATUS.get(error.get("code"), 200) if isinstance(error, dict) else 200


class DirectReplies:
    """The replies of one stateless request (runtime.replies.Replies), on the wire only."""

    stream = ""  # nothing a client could resume
    stores_response = False

    def __init__(self, exchange: Exchange, method: str, *, sse: bool, tasks: TaskSet) -> None:
        self.exchange = exchange
        self.method = method
        self.sse = sse  # the client accepts text/event-stream and the server may answer with it
        self.streaming = False
        self.done = False
        self.events = 0  # notifications sent so far (RequestContext bounds them, MCP_MAX_STREAM_EVENTS)
        self._lock = asyncio.Lock()
        if sse:
            tasks.spawn_later(settings.MCP_KEEPALIVE_SECONDS, self._keep_alive)

    async def _start(self) -> None:
        if not self.streaming:
            self.streaming = True
            await self.exchange.start_stream(list(SSE_HEADERS))

    async def notify(self, message: dict[str, Any]) -> None:
        if not self.sse:
            return  # JSON: a request's notifications have no wire
        async with self._lock:
            if self.done:
                return
            await self._start()
            await self.exchange.write(event_frame(None, message), True)

    async def request(self, message: dict[str, Any]) -> None:
        raise RuntimeError("2026-07-28 has no server-to-client requests: questions go in an input_required result")

    async def finish(self, response: dict[str, Any] | None, writes: list = ()) -> None:
        """The response; None (cancelled: the client closed the stream) sends nothing. `writes` is always
        empty: nothing is deferred to an answer that is not stored (store.answer_writes)."""
        async with self._lock:
            if self.done:
                return
            self.done = True
            if response is None:
                return
            if isinstance(response.get("result"), dict):
                response = {**response, "result": shape_result(self.method, response["result"])}
            sent, data = encode_response(response, partial(event_frame, None) if self.streaming else dumps)
            if sent is not response:
                logger.error("the response to a stateless %s holds a value JSON cannot carry", self.method)
            if self.streaming:
                await self.exchange.write(data, False)
            else:
                await self.exchange.reply(status_of(sent), data)

    async def close_stream(self, retry_ms: int) -> bool:
        return False  # nothing resumes a stateless response: it is never closed early

    def releases_claim(self) -> bool:
        return False  # a stateless request's id is claimed on this node only

    async def abandon(self, response: dict[str, Any]) -> None:
        await self.finish(response)  # nothing is stored: the client is told at once

    async def _keep_alive(self) -> None:
        """A long, silent request opens its stream anyway, so comments can keep the path alive (started once
        the first interval has passed)."""
        while not self.done:
            async with self._lock:
                if self.done:
                    return
                await self._start()
                await self.exchange.write(comment_frame("ping"), True)
            await asyncio.sleep(settings.MCP_KEEPALIVE_SECONDS)
