"""Opening an SSE response for a stream, and keeping it alive while it is open."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Protocol

from django.conf import settings

from ..runtime.publish import hub
from ..runtime.tasks import TaskSet
from ..store.sessions import SessionState, sessions
from ..wire.jsonrpc import HttpError
from ..wire.versions import CONTENT_TYPE_SSE
from .flow import WriteFlow
from .get_stream import GetStreamSlot
from .output import StreamOutput

logger = logging.getLogger(__name__)

SSE_HEADERS = [
    (b"content-type", CONTENT_TYPE_SSE.encode()),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
]


class Exchange(Protocol):
    """The HTTP side of one request (transport.consumer.McpConsumer)."""

    scope: dict
    replied: bool
    flow: WriteFlow | None  # the server's write flow control, if it offers one

    async def reply(self, status: int, body: bytes, *, headers: list[tuple[bytes, bytes]] = ()) -> None: ...
    async def reply_error(self, error: HttpError, headers: list[tuple[bytes, bytes]] = ()) -> None: ...
    async def start_stream(self, headers: list[tuple[bytes, bytes]], *, hold: bool = False) -> None: ...
    async def write(self, frame: bytes, more: bool) -> None: ...


def session_headers(session: SessionState | None) -> list[tuple[bytes, bytes]]:
    return [(b"mcp-session-id", session.id.encode())] if session else []


async def open_stream(
    exchange: Exchange,
    session: SessionState,
    stream: str,
    *,
    tasks: TaskSet,
    slot: GetStreamSlot | None = None,
    after_pk: int,
    replay: bool = False,
    prime_on_wire: bool = False,
    hold_headers: bool = False,
    produced_here: bool = False,
) -> StreamOutput:
    """Register an output for (session, stream) with the hub, send the SSE headers, arm the keep-alive.

    With `hold_headers` (a POST's stream) the headers go out with the stream's first bytes: a request
    answered at once costs the server one write for headers, priming event and response, not three.
    `produced_here`: a POST's stream, whose events only this node stores (its requests run here), so
    the relay need not bring them from other nodes.
    """
    flow = exchange.flow
    output = StreamOutput(
        session.id, stream, exchange.write, after_pk=after_pk, replay=replay, prime_on_wire=prime_on_wire, flow=flow
    )
    hub.add(session.id, stream, output, remote=not produced_here)
    try:
        await exchange.start_stream(SSE_HEADERS + session_headers(session), hold=hold_headers)
    except BaseException:
        unregister(output)
        raise
    if flow is not None:
        flow.start()
    tasks.spawn_later(settings.MCP_KEEPALIVE_SECONDS, partial(_keep_alive, output, session, slot, hold_headers))
    return output


def unregister(output: StreamOutput) -> None:
    output.detach()
    hub.discard(output.session_id, output.stream, output)


async def _keep_alive(
    output: StreamOutput, session: SessionState, slot: GetStreamSlot | None, held: bool = False
) -> None:
    """Every MCP_KEEPALIVE_SECONDS (started once the first interval has passed): a comment, a catch-up
    from the database, the session's liveness.

    A stream whose headers are `held` (a POST's) writes no comment before its first event is stored (its
    priming row, written or not): until then, a refused claim of its request id can still be answered with
    the 400 an eager claim gets, where a comment would begin a 200 that could only end empty."""
    while not output.closed:
        if output.stalled_for() > settings.MCP_STREAM_STALL_SECONDS:
            logger.info(
                "stream %s of session %s: the client read nothing for %d s; dropping its connection",
                output.stream,
                output.session_id,
                settings.MCP_STREAM_STALL_SECONDS,
            )
            output.abort()
            return
        if output.stored_any or not held:
            await output.keepalive()
        try:
            await output.catch_up()
            if not await _session_still_live(session):
                await output.close()
                return
        except Exception as exc:
            logger.warning("keep-alive work for stream %s failed: %s", output.stream, exc)
        if slot is not None and not await slot.refresh():
            await output.close(retry_ms=settings.MCP_SSE_RETRY_MS)  # another stream holds the slot now
            return
        await asyncio.sleep(settings.MCP_KEEPALIVE_SECONDS)


async def _session_still_live(session: SessionState) -> bool:
    """An open stream keeps its session alive (a connected client is not idle); an ended one ends it.

    This also closes streams of sessions ended where no message could reach (another process
    without a shared channel layer), within one keep-alive interval.
    """
    fresh = await sessions.aget(session.id, shared_truth=True)
    if fresh is None or not fresh.live:
        return False
    await sessions.atouch(fresh)
    return True
