"""uvicorn's httptools HTTP protocol with runmcp's rules (see `uvicorn_server` for the server around it).

- **Timeouts.** A request's line and headers must arrive within MCP_HEADER_TIMEOUT seconds of its
  first byte, and its body within MCP_BODY_TIMEOUT seconds of its headers (else 408, and the
  connection closes); a connection with no request is closed after MCP_IDLE_TIMEOUT seconds, from
  its first moment too (uvicorn arms that timer only after a response). While a response is open
  (an SSE stream) nothing times out.
- **Limits.** A declared body over MCP_MAX_BODY_BYTES is refused when the headers end, a chunked one
  at the first byte over it: 413 with a JSON-RPC error body; the connection then discards what the
  client still sends for LINGER_SECONDS, so the client reads the 413 instead of a reset. A request
  line and headers over MAX_HEAD_BYTES get 431 (uvicorn's httptools parser has no limit of its own);
  what the parser cannot read gets 400, with a JSON-RPC error body too.
- **Write flow.** Each request's scope carries a `TransportWriteFlow` (transport/flow.py) that follows
  the transport's pause_writing()/resume_writing().
- **One send per pass.** What a response writes during one pass of the event loop (headers, priming
  event, response) goes out in one `send()`: on loopback a send costs about as much as the work of
  answering a ping, and uvicorn makes one per ASGI message.
- **Drain.** `drain()` closes an idle connection now, a busy one after its response.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Protocol

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from ..runtime.throttle import LogEvery
from ..transport.flow import WRITE_FLOW, TransportWriteFlow
from ..wire.jsonrpc import INVALID_REQUEST, HttpError, payload_too_large
from .listening import REQUEST_TIMEOUT

logger = logging.getLogger(__name__)
bad_clients = LogEvery(logger)

MAX_HEAD_BYTES = 64 * 1024
# How long a refused connection keeps reading (and discarding) before it is closed.
LINGER_SECONDS = 2.0
# A connection told to close that the client does not let close is dropped after this long.
CLOSE_SECONDS = 5.0


class Owner(Protocol):
    """What a connection reads from its server."""

    draining: bool
    header_timeout: float
    body_timeout: float
    max_body_bytes: int


class HeadTooLarge(Exception):
    pass


class CoalescingTransport:
    """The response's view of the connection: its writes in one pass of the event loop go out as one send."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending = []
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading, ...: the transport's
        return getattr(self._transport, name)


class McpHttpProtocol(HttpToolsProtocol):
    """One HTTP/1.x connection: uvicorn's, with request deadlines, size limits, write flow and drain."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any], *, owner: Owner):
        super().__init__(config, server_state, app_state)
        self.owner = owner
        self._deadline: asyncio.TimerHandle | None = None
        self._in_head = False  # a request's first bytes arrived, its headers have not ended
        self._head_bytes = 0
        self._body_bytes = 0
        self._refused = False
        self._close_after_response = False
        self._flows: weakref.WeakSet[TransportWriteFlow] = weakref.WeakSet()

    # --- connection ---------------------------------------------------------------------------------
    def connection_made(self, transport):
        super().connection_made(transport)
        self._writer = CoalescingTransport(transport, self.loop)
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)
        if self.owner.draining:
            self._close_after_response = True

    def connection_lost(self, exc):
        self._disarm()
        super().connection_lost(exc)
        for flow in list(self._flows):
            flow.resumeProducing()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after a refusal: whatever else the client sends is discarded
        self._unset_keepalive_if_required()
        if data and not self._in_head and self._between_requests():
            self._in_head, self._head_bytes = True, 0
            self._arm(self.owner.header_timeout, "headers")
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, HeadTooLarge):
                error = HttpError(431, INVALID_REQUEST, "Request Header Fields Too Large")
                self._refuse(error, f"request line and headers over {MAX_HEAD_BYTES} bytes")
                return
            bad_clients(logging.WARNING, "invalid HTTP request from %s: %s", self.client, exc)
            self._refuse(HttpError(400, INVALID_REQUEST, "Bad Request: invalid HTTP"), None)
        except httptools.HttpParserUpgrade:
            self._refuse(HttpError(400, INVALID_REQUEST, "Bad Request: no protocol upgrade here"), None)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    # --- parser callbacks ---------------------------------------------------------------------------
    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value))
        super().on_header(name, value)

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            raise HeadTooLarge

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._in_head = False
        self._disarm()
        length, chunked = self._declared_body()
        limit = self.owner.max_body_bytes
        if length is not None and length > limit:
            self._refuse(payload_too_large(limit), f"declared Content-Length {length} over the {limit}-byte limit")
            return
        self._body_bytes = 0
        super().on_headers_complete()
        self.cycle.transport = self._writer
        if self.owner.draining or self._close_after_response:
            self.cycle.keep_alive = False
        flow = TransportWriteFlow(self.transport, paused=self.flow.write_paused)
        self._flows.add(flow)
        self.scope["extensions"] = {WRITE_FLOW: flow}
        if chunked or length:
            self._arm(self.owner.body_timeout, "body")

    def _declared_body(self) -> tuple[int | None, bool]:
        length, chunked = None, False
        for name, value in self.headers:
            if name == b"content-length" and value.strip().isdigit():
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        return length, chunked

    def on_body(self, body: bytes) -> None:
        if self._refused:
            return
        self._body_bytes += len(body)
        if self._body_bytes > self.owner.max_body_bytes:
            limit = self.owner.max_body_bytes
            self._refuse(payload_too_large(limit), f"body over the {limit}-byte limit")
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._disarm()
        super().on_message_complete()

    def on_message_begin(self) -> None:
        if not self._refused:
            super().on_message_begin()

    # --- write flow ---------------------------------------------------------------------------------
    def pause_writing(self) -> None:
        super().pause_writing()
        for flow in list(self._flows):
            flow.pauseProducing()

    def resume_writing(self) -> None:
        super().resume_writing()
        for flow in list(self._flows):
            flow.resumeProducing()

    # --- drain --------------------------------------------------------------------------------------
    def drain(self) -> None:
        """Close now if idle (no request, no byte of one); otherwise after the response to come."""
        if self._in_head or self.pipeline or not self._between_requests():
            self._close_after_response = True
            if self.cycle is not None:
                self.cycle.keep_alive = False
        else:
            self.transport.close()

    # --- refusals and deadlines ---------------------------------------------------------------------
    def _refuse(self, error: HttpError, reason: str | None) -> None:
        """Answer `error` and end the connection; the application (if it started) sees a disconnect."""
        if self._refused:
            return
        self._refused = True
        self._disarm()
        if reason:
            method = (self.scope or {}).get("method", "?")
            bad_clients(logging.WARNING, "refused %s from %s: %s (%d)", method, self.client, reason, error.status)
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if cycle.response_started:
                self.transport.abort()
                return
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.write(error.closing_response())
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the answer, then FIN; keep reading so the client sees it
            self.loop.call_later(LINGER_SECONDS, self.transport.abort)
        else:
            self.transport.close()

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        if seconds and seconds > 0:
            self._deadline = self.loop.call_later(seconds, self._too_slow, seconds, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self, seconds: float, what: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        bad_clients(logging.WARNING, "closed a connection whose request %s took over %ss to arrive", what, seconds)
        self._refused = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()
        self.loop.call_later(CLOSE_SECONDS, self.transport.abort)  # a client that does not let it close
