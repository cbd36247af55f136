"""The Channels consumer for /mcp: an adapter between daphne's ASGI messages and the transport.

It collects the body (refusing oversized ones), hands the request to a
`StatefulTransport` or, for the 2026-07-28 revision, a `StatelessTransport`
(transport.router decides), and offers that transport three ways to answer: a whole
response (`reply`), the start of a stream (`start_stream`) and stream bytes
(`write`). It ends on `http.disconnect`, which daphne also sends once a
response is complete.

Deviations from `AsyncHttpConsumer`, each on purpose:
- No channel per request, and no channel-layer lookup (`__call__`): the
  node's one relay listener serves every stream. The client is the only source
  of messages, so they are awaited in a plain loop, not through Channels'
  `await_many_dispatch` (a task and an `asyncio.wait` per message).
- `dispatch()` does not close old database connections before each message:
  every ORM call here goes through `database_sync_to_async`, which does.
- `http_request()` does not stop the consumer after the body is handled: an
  SSE response outlives it, written by tasks, until `http.disconnect`.
"""

from __future__ import annotations

import logging

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from django.conf import settings

from ..edge.headers import header_map
from ..wire.jsonrpc import HttpError, payload_too_large
from ..wire.versions import CONTENT_TYPE_JSON
from .flow import WRITE_FLOW, WriteFlow
from .router import is_modern
from .stateful import StatefulTransport
from .stateless import StatelessTransport

logger = logging.getLogger(__name__)


class McpConsumer(AsyncHttpConsumer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received = 0
        self.replied = False  # a complete response went out
        self.gone = False  # the client disconnected
        self.transport: StatefulTransport | StatelessTransport | None = None
        self.started = False
        self._held_headers: list[tuple[bytes, bytes]] | None = None  # a stream's, until its first bytes

    async def __call__(self, scope, receive, send):
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def http_request(self, message):
        if self.replied:
            return
        if not self.started:
            self.started = True
            declared = header_map(self.scope).get("content-length", "")
            if declared.isdigit() and int(declared) > settings.MCP_MAX_BODY_BYTES:
                await self._too_large()
        chunk = message.get("body", b"")
        self.received += len(chunk)
        if self.received > settings.MCP_MAX_BODY_BYTES:
            await self._too_large()
        self.body.append(chunk)
        if not message.get("more_body"):
            body, self.body = b"".join(self.body), []
            # The era is chosen from the whole request, body first (transport.router).
            leg = StatelessTransport if is_modern(self.scope, body) else StatefulTransport
            self.transport = leg(self, self.scope)
            await self.transport.handle(body)
            if self.replied:
                await self.transport.close()  # e.g. a GET slot claimed before an error reply
                raise StopConsumer()

    async def http_disconnect(self, message):
        self.gone = True
        if self.transport is not None:
            await self.transport.close()
        raise StopConsumer()

    async def _too_large(self) -> None:
        limit = settings.MCP_MAX_BODY_BYTES
        await self.reply_error(payload_too_large(limit))
        raise StopConsumer()

    # --- what the transport answers through ---------------------------------------------
    async def reply(self, status: int, body: bytes, *, headers: list[tuple[bytes, bytes]] = ()) -> None:
        """A whole response (JSON, or empty); at most one per request."""
        if self.replied or self.gone:
            return
        self.replied = True
        all_headers = list(headers)
        if body:
            all_headers.append((b"content-type", CONTENT_TYPE_JSON.encode()))
        await self.send_response(status, body, headers=all_headers)

    async def reply_error(self, error: HttpError, headers: list[tuple[bytes, bytes]] = ()) -> None:
        logger.info(
            "%s %s -> %d %s", self.scope.get("method"), self.scope.get("path"), error.status, error.message[:200]
        )
        await self.reply(error.status, error.body(), headers=error.header_list() + list(headers))

    @property
    def flow(self) -> WriteFlow | None:
        """The server's write flow control (runmcp's daphne puts one in the scope's extensions)."""
        return (self.scope.get("extensions") or {}).get(WRITE_FLOW)

    async def start_stream(self, headers: list[tuple[bytes, bytes]], *, hold: bool = False) -> None:
        """Start an SSE response; with `hold`, its headers wait for its first bytes (one write for both)."""
        if hold:
            self._held_headers = headers
        else:
            await self.send_headers(status=200, headers=headers)

    async def write(self, frame: bytes, more: bool) -> None:
        """The byte sink of this response's StreamOutput."""
        if self.gone:
            return
        if self._held_headers is not None:
            headers, self._held_headers = self._held_headers, None
            await self.send_headers(status=200, headers=headers)
        await self.send_body(frame, more_body=more)
