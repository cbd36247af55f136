"""The writing end of one open SSE response.

A `StreamOutput` receives stored events from every source (the local producer,
the hub, the channel layer, replay from the database, keep-alive catch-up) and
writes each exactly once, in order, to its HTTP response. While a replay runs,
live events wait in a buffer; afterwards anything already written is skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from django.conf import settings

from . import events
from .events import StoredEvent
from .models import StreamEvent
from .sse import comment_frame, event_frame, retry_frame

logger = logging.getLogger(__name__)

Writer = Callable[[bytes, bool], Awaitable[None]]
REPLAY_PAGE = 500
_REMEMBERED = 4096  # recently written pks, to drop duplicates from other paths


class StreamOutput:
    def __init__(self, session_id: str, stream: str, write: Writer, *, after_pk: int = 0):
        self.session_id = session_id
        self.stream = stream
        self._write = write
        self._lock = asyncio.Lock()
        self._replaying = False
        self._buffer: list[StoredEvent] = []
        self._floor = after_pk  # events at or before this were before the resume point
        self._high = after_pk  # newest pk written (or known to the client)
        self._sent: set[int] = set()
        self._sent_order: deque[int] = deque()
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
            after = self._floor
            while not self.closed:
                page = await events.events_after(self.session_id, self.stream, after, REPLAY_PAGE)
                async with self._lock:
                    for event in page:
                        await self._write_event(event)
                if len(page) < REPLAY_PAGE:
                    break
                after = page[-1].pk
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
        missed = await events.events_after(self.session_id, self.stream, self._high, REPLAY_PAGE)
        async with self._lock:
            for event in missed:
                await self._write_event(event)

    # --- writing ---------------------------------------------------------
    async def open(self, first_frame: bytes) -> None:
        """Start the response body (headers were sent by the consumer)."""
        async with self._lock:
            await self._send(first_frame)

    async def priming(self, event: StoredEvent) -> None:
        async with self._lock:
            self._remember(event.pk)
            self._high = max(self._high, event.pk)
            await self._send(event_frame(event.event_id, None, settings.MCP_SSE_RETRY_MS))

    async def keepalive(self) -> None:
        async with self._lock:
            await self._send(comment_frame("keep-alive"))

    async def end(self, reason: str = "", retry_ms: int | None = None) -> None:
        """Close the response; with `retry_ms`, tell the client when to reconnect."""
        async with self._lock:
            if self.closed:
                return
            tail = retry_frame(retry_ms) if retry_ms is not None else b""
            self.closed = True
            self.finished.set()
            try:
                await self._write(tail, False)
            except Exception:  # the client may be gone already
                logger.debug("closing stream %s of %s failed", self.stream, self.session_id, exc_info=True)

    def detach(self) -> None:
        """The client went away: stop writing, keep producing (the events are stored)."""
        self.closed = True
        self.finished.set()

    async def _write_event(self, event: StoredEvent) -> None:
        if self.closed or event.pk <= self._floor or event.pk in self._sent:
            return
        if event.kind == StreamEvent.Kind.PRIMING:
            self._remember(event.pk)
            return
        if event.kind == StreamEvent.Kind.CANCELLED:
            self._remember(event.pk)
            await self._finish()
            return
        try:
            frame = event_frame(event.event_id, event.message)
        except Exception:  # never leave a client waiting on an event it cannot get
            logger.exception("event %s of session %s cannot be written; ending the stream", event.event_id, self.session_id)
            await self._finish()
            return
        self._remember(event.pk)
        self._high = max(self._high, event.pk)
        await self._send(frame)
        if event.terminal:
            await self._finish()

    async def _finish(self) -> None:
        self.closed = True
        self.finished.set()
        try:
            await self._write(b"", False)
        except Exception:
            logger.debug("finishing stream %s failed", self.stream, exc_info=True)

    async def _send(self, frame: bytes) -> None:
        if self.closed:
            return
        self.started = True
        try:
            await self._write(frame, True)
        except Exception:
            logger.debug("writing to stream %s failed; detaching", self.stream, exc_info=True)
            self.detach()

    def _remember(self, pk: int) -> None:
        self._sent.add(pk)
        self._sent_order.append(pk)
        if len(self._sent_order) > _REMEMBERED:
            self._sent.discard(self._sent_order.popleft())
