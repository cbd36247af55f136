"""Where a request's messages go: an SSE stream (stored, resumable) or one JSON body.

A channel serves one POST, so a 2025-03-26 batch shares one. Its requests run
as tasks that outlive the HTTP connection: if the client drops an SSE stream,
events keep being stored and published, and a resume on any node picks them up.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError

from . import events, fanout
from .events import NewEvent, StoredEvent, store_events
from .health import dependency_down
from .jsonrpc import INTERNAL_ERROR, error_message
from .models import StreamEvent
from .streams import StreamOutput

logger = logging.getLogger(__name__)

# The wait before a silent request's priming event is stored and written on its own.
PRIMING_DELAY_SECONDS = 0.05
REQUEST_CANCELLED = -32800
# Implementation-defined (-32000..-32019): the process running the request went away.
REQUEST_LOST = -32003
Kind = StreamEvent.Kind


def new_stream_key() -> str:
    return "r" + secrets.token_hex(6)


class SseChannel:
    """One POST's SSE stream: every message is stored, then published to its listeners.

    A producer's messages go to an outbox that one flusher task stores in
    batches (one transaction each) and then publishes in order. The producer
    waits only for the response and when the outbox is full, so a fast stream
    costs a transaction per batch, not per event, and nothing is written
    before it is stored.
    """

    OUTBOX_LIMIT = 1000

    def __init__(
        self,
        session_id: str,
        request_ids: list[Any],
        output: StreamOutput | None,
        *,
        prime_on_wire: bool,
    ):
        self.session_id = session_id
        self.stream = new_stream_key()
        self.request_ids = request_ids
        self.output = output
        self.prime_on_wire = prime_on_wire
        self._remaining = len(request_ids)
        self._primed = False
        self._outbox: list[tuple[str, dict[str, Any] | None]] = []
        self._flusher: asyncio.Task | None = None
        self._drained = asyncio.Event()
        self._drained.set()
        self._failure: BaseException | None = None
        self._priming_timer: asyncio.Task | None = None

    def start(self) -> None:
        """Schedule the priming event for requests that stay silent for a moment."""
        self._priming_timer = asyncio.create_task(self._prime_later())

    async def _prime_later(self) -> None:
        await asyncio.sleep(PRIMING_DELAY_SECONDS)
        if not self._primed:
            self._kick()

    async def notify(self, message: dict[str, Any], kind: str = Kind.NOTIFICATION) -> None:
        self._raise_failure()
        self._outbox.append((kind, message))
        self._kick()
        if len(self._outbox) >= self.OUTBOX_LIMIT:
            await self._drained.wait()  # back-pressure on a producer faster than the database

    async def finish(self, response: dict[str, Any] | None) -> None:
        """Send one request's response (None: it was cancelled and gets none); returns once stored."""
        self._remaining -= 1
        last = self._remaining <= 0
        if response is not None:
            self._outbox.append((Kind.RESPONSE if last else Kind.BATCH_RESPONSE, response))
        elif last:
            self._outbox.append((Kind.CANCELLED, None))
        if last and self._priming_timer is not None:
            self._priming_timer.cancel()
        self._kick()
        await self._drained.wait()
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise RuntimeError(f"stream {self.stream} can no longer be stored") from self._failure

    def _kick(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._drained.clear()
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        delay = 0.25
        try:
            while self._outbox or not self._primed:
                taken, self._outbox = self._outbox, []
                try:
                    await self._store_and_publish(taken)
                    delay = 0.25
                except Exception as exc:
                    if dependency_down(exc) is None:
                        raise
                    # The database is away: keep the events, in order, and try again.
                    logger.warning("storing events of stream %s waits for %s: %s", self.stream, dependency_down(exc), exc)
                    self._outbox = taken + self._outbox
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
        except Exception as exc:
            logger.error("storing events of stream %s (session %s) failed: %s", self.stream, self.session_id, exc)
            await self._store_fallback(taken + self._outbox)
        finally:
            self._drained.set()

    async def _store_fallback(self, lost: list[tuple[str, dict[str, Any] | None]]) -> None:
        """Events that cannot be stored are dropped; a dropped response becomes a storable error."""
        self._outbox = []
        replacements = [
            (kind, error_message(message.get("id"), INTERNAL_ERROR, "Internal error: the response could not be stored"))
            for kind, message in lost
            if kind in (Kind.RESPONSE, Kind.BATCH_RESPONSE) and isinstance(message, dict)
        ] + [(kind, None) for kind, message in lost if kind == Kind.CANCELLED]
        try:
            await self._store_and_publish(replacements)
        except Exception as exc:
            logger.error("stream %s of session %s cannot be ended: %s", self.stream, self.session_id, exc)
            self._failure = exc
            if self.output is not None:
                await self.output.end(retry_ms=settings.MCP_SSE_RETRY_MS)

    async def _store_and_publish(self, taken: list[tuple[str, dict[str, Any] | None]]) -> None:
        batch: list[NewEvent] = []
        priming = not self._primed
        if priming:
            # Stored for every client (it names the requests, so a resume can tell
            # what was lost); written only to clients on revisions that expect it.
            meta = {"requests": self.request_ids, "node": settings.MCP_NODE_ID}
            batch.append(NewEvent(self.session_id, self.stream, Kind.PRIMING, meta))
        batch.extend(NewEvent(self.session_id, self.stream, kind, message) for kind, message in taken)
        stored = await store_events(batch)
        if priming:
            self._primed = True
            if self.prime_on_wire and self.output is not None:
                await self.output.priming(stored[0])
            stored = stored[1:]
        for event in stored:
            await fanout.publish(self.session_id, event)


class JsonChannel:
    """JSON response mode: one body with the response(s); related notifications have no wire."""

    def __init__(self, request_ids: list[Any], batch: bool, send: Callable[[Any], Awaitable[None]]):
        self.request_ids = request_ids
        self.batch = batch
        self._send = send
        self._responses: list[dict[str, Any]] = []
        self._remaining = len(request_ids)

    def start(self) -> None:
        pass

    async def notify(self, message: dict[str, Any], kind: str = Kind.NOTIFICATION) -> None:
        logger.debug("JSON response mode: dropping %s", message.get("method"))

    async def finish(self, response: dict[str, Any] | None) -> None:
        if response is None and not self.batch:
            response = error_message(self.request_ids[0], REQUEST_CANCELLED, "Request cancelled")
        if response is not None:
            self._responses.append(response)
        self._remaining -= 1
        if self._remaining <= 0:
            # JSON-RPC: an empty batch response is never sent; 202 says there is nothing.
            await self._send((self._responses if self.batch else self._responses[0]) if self._responses else None)


async def send_to_session(session_id: str, message: dict[str, Any]) -> StoredEvent:
    """Store a message for the session's standalone GET stream and deliver it wherever that is open."""
    (event,) = await store_events([NewEvent(session_id, "g", Kind.NOTIFICATION, message)])
    await fanout.publish(session_id, event)
    return event


async def close_lost_stream(session_id: str, stream: str) -> None:
    """End a request stream whose request no process is running any more.

    Its requests get a JSON-RPC error, stored like any response so every later
    resume of the stream ends the same way instead of waiting forever.
    """
    requests = await events.stream_request_ids(session_id, stream)
    if requests is None or await events.stream_finished(session_id, stream):
        return
    batch = [
        NewEvent(
            session_id,
            stream,
            Kind.RESPONSE if index == len(requests) - 1 else Kind.BATCH_RESPONSE,
            error_message(request_id, REQUEST_LOST, "Request lost: the server stopped before it finished"),
        )
        for index, request_id in enumerate(requests)
    ] or [NewEvent(session_id, stream, Kind.CANCELLED, None)]
    try:
        stored = await store_events(batch)
    except IntegrityError:  # the stream ended meanwhile (its node answered, or another resume did this)
        return
    for event in stored:
        await fanout.publish(session_id, event)
    logger.warning("stream %s of session %s was lost; answered %d request(s) with an error", stream, session_id, len(requests))
