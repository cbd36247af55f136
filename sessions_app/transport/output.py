"""The writing end of one open SSE response.

A `StreamOutput` receives stored events from every source (the local producer,
the hub, the channel layer, replay from the database, keep-alive catch-up) and
writes each exactly once, in order, to its HTTP response.

A resumed output starts in replay mode: live events wait in a buffer until the
stored ones after the resume point are written, then follow in pk order.
Keep-alive catch-up re-reads everything stored after `_cursor` (below which
every stored event has been written), so an event the live path dropped is
written on the next tick, whatever came after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from django.conf import settings

from ..models import StreamEvent
from ..store import eventlog
from ..store.eventlog import StoredEvent
from ..wire.sse import comment_frame, event_frame, retry_frame

logger = logging.getLogger(__name__)

Writer = Callable[[bytes, bool], Awaitable[None]]
REPLAY_PAGE = 500


def priming_frame(event_id: str) -> bytes:
    """A resume point: the event id, the reconnection delay, and empty data."""
    return event_frame(event_id, None, settings.MCP_SSE_RETRY_MS)


class StreamOutput:
    """A hub listener (runtime.hub.Listener) writing one SSE response."""

    def __init__(
        self,
        session_id: str,
        stream: str,
        write: Writer,
        *,
        after_pk: int = 0,
        replay: bool = False,
        prime_on_wire: bool = False,
    ):
        self.session_id = session_id
        self.stream = stream
        self._write = write
        self._lock = asyncio.Lock()
        # A resume buffers live events from the moment it is registered, until replay() is done.
        self._replaying = replay
        self._buffer: list[StoredEvent] = []
        self._cursor = after_pk  # every stored event at or below this is written (or precedes the stream)
        self._sent: set[int] = set()  # written events above the cursor
        self._prime_on_wire = prime_on_wire  # a new POST stream of a client on a priming revision
        self.started = False  # headers and a first frame are out
        self.closed = False
        self.finished = asyncio.Event()  # set once a terminal event was written (or the stream ended)

    # --- sources ---------------------------------------------------------
    async def deliver(self, event: StoredEvent) -> None:
        if self.closed:
            return
        if self._replaying:
            self._buffer.append(event)
            return
        async with self._lock:
            await self._write_event(event)

    async def replay(self) -> None:
        """Write every stored event after the resume point, then release the buffered live ones."""
        self._replaying = True
        try:
            await self._read_stored()
        finally:
            # Under the lock, so no live event can overtake the buffered ones.
            async with self._lock:
                self._replaying = False
                buffered, self._buffer = sorted(self._buffer, key=lambda e: e.pk), []
                for event in buffered:
                    await self._write_event(event)

    async def catch_up(self) -> None:
        """Re-read the database for events the live paths may have dropped."""
        if self.closed or self._replaying:
            return
        await self._read_stored()

    async def _read_stored(self) -> None:
        while not self.closed:
            page = await eventlog.after(self.session_id, self.stream, self._cursor, REPLAY_PAGE)
            async with self._lock:
                for event in page:
                    await self._write_event(event)
                if page:
                    self._advance(page[-1].pk)
            if len(page) < REPLAY_PAGE:
                return

    def _advance(self, pk: int) -> None:
        """Everything stored up to `pk` is written now: forget what was remembered below it."""
        if pk > self._cursor:
            self._cursor = pk
            self._sent = {sent for sent in self._sent if sent > pk}

    # --- writing ---------------------------------------------------------
    async def open(self, first_frame: bytes) -> None:
        """Start the response body (headers were sent by the consumer)."""
        async with self._lock:
            await self._send(first_frame)

    async def keepalive(self) -> None:
        async with self._lock:
            await self._send(comment_frame("keep-alive"))

    async def close(self, retry_ms: int | None = None) -> None:
        """Close the response; with `retry_ms`, tell the client when to reconnect."""
        async with self._lock:
            await self._close(retry_ms)

    def detach(self) -> None:
        """The client went away: stop writing, keep producing (the events are stored)."""
        self.closed = True
        self.finished.set()

    async def _write_event(self, event: StoredEvent) -> None:
        if self.closed or event.pk <= self._cursor or event.pk in self._sent:
            return
        self._sent.add(event.pk)
        if event.kind == StreamEvent.Kind.PRIMING:
            if self._prime_on_wire:
                await self._send(priming_frame(event.event_id))
            return
        if event.kind == StreamEvent.Kind.CANCELLED:
            await self._close()
            return
        try:
            frame = event_frame(event.event_id, event.message)
        except Exception:  # never leave a client waiting on an event it cannot get
            logger.exception(
                "event %s of session %s cannot be written; ending the stream", event.event_id, self.session_id
            )
            await self._close()
            return
        await self._send(frame)
        if event.terminal:
            await self._close()

    async def _close(self, retry_ms: int | None = None) -> None:
        """close(), for callers that hold the lock."""
        if self.closed:
            return
        self.detach()
        try:
            await self._write(retry_frame(retry_ms) if retry_ms is not None else b"", False)
        except Exception:  # the client may be gone already
            logger.debug("closing stream %s of %s failed", self.stream, self.session_id, exc_info=True)

    async def _send(self, frame: bytes) -> None:
        if self.closed:
            return
        self.started = True
        try:
            await self._write(frame, True)
        except Exception:
            logger.debug("writing to stream %s failed; detaching", self.stream, exc_info=True)
            self.detach()
