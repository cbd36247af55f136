"""The writing end of one open SSE response.

A `StreamOutput` receives stored events from every source (the local producer,
the hub, the channel layer, replay from the database, keep-alive catch-up) and
writes each exactly once, in order, to its HTTP response.

A resumed output starts catching up: live events are held while the stored
ones after the resume point are written, then follow in pk order.
Keep-alive catch-up re-reads everything stored after `_cursor` (below which
every stored event has been written), so an event the live path dropped is
written on the next tick, whatever came after it.

Back-pressure: while the client's transport buffer is full (`WriteFlow.paused`),
nothing more is written. A live event that arrives then is not written: the output
falls behind (catching up again), holds at most MAX_HELD live events, and once the
buffer has drained writes what is stored after its cursor, page by page, pausing
whenever the buffer fills again. So a slow client costs the node its transport
buffer and a page, never the stream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from django.conf import settings

from ..models import StreamEvent
from ..store import event_reads
from ..store.eventlog import StoredEvent
from ..wire.sse import comment_frame, event_frame, retry_frame
from .flow import WriteFlow

logger = logging.getLogger(__name__)

Writer = Callable[[bytes, bool], Awaitable[None]]
REPLAY_PAGE = 500
MAX_HELD = 200  # live events held while catching up; beyond that they are read back from the database


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
        flow: WriteFlow | None = None,
    ):
        self.session_id = session_id
        self.stream = stream
        self._write = write
        self._flow = flow
        self._lock = asyncio.Lock()
        # While catching up (a resume, or a client that fell behind), live events are held, not written.
        self._catching_up = replay
        self._held: list[StoredEvent] = []
        self._dropped = False  # a live event was not held since the last read: read again
        self._resumer: asyncio.Task | None = None
        self._cursor = after_pk  # every stored event at or below this is written (or precedes the stream)
        self._sent: set[int] = set()  # written events above the cursor
        self._prime_on_wire = prime_on_wire  # a new POST stream of a client on a priming revision
        self.started = False  # headers and a first frame are out
        self.stored_any = False  # an event of the stream has come (stored), written or not (a priming row)
        self.closed = False
        self.finished = asyncio.Event()  # set once a terminal event was written (or the stream ended)

    # --- sources ---------------------------------------------------------
    async def deliver(self, event: StoredEvent) -> None:
        if self.closed:
            return
        self.stored_any = True
        if not self._catching_up:
            async with self._lock:
                if not self._catching_up:
                    if not self._paused():
                        await self._write_event(event)
                        return
                    self._fall_behind()
        self._hold(event)

    async def replay(self) -> None:
        """Write every stored event after the resume point, then the held live ones."""
        self._catching_up = True
        await self.write_stored()

    async def catch_up(self) -> None:
        """Re-read the database for events the live paths may have dropped (the keep-alive tick)."""
        if self.closed or self._catching_up:
            return  # whoever is catching up writes them
        if not await self._read_stored():
            async with self._lock:
                if not self.closed:
                    self._fall_behind()

    async def write_stored(self) -> None:
        """Catch up: write what is stored after the cursor (waiting while the client's buffer is full), then the
        held live events; returns once live events can be written again, or the output closed."""
        while not self.closed:
            if self._paused():
                await self._flow.drained()
                continue
            if await self._catch_up_once():
                return

    async def _catch_up_once(self) -> bool:
        self._dropped = False  # anything dropped before this read is stored, so the read gets it
        if not await self._read_stored():
            return False
        async with self._lock:
            if self._dropped:
                return False
            held, self._held = sorted(self._held, key=lambda e: e.pk), []
            self._catching_up = False
            for event in held:
                if self._paused():  # the rest is stored: read it again once drained
                    self._catching_up = True
                    return False
                await self._write_event(event)
            return True

    def _hold(self, event: StoredEvent) -> None:
        if len(self._held) < MAX_HELD:
            self._held.append(event)
        else:
            self._dropped = True

    def _fall_behind(self) -> None:
        """Under the lock: the client's buffer is full; hold live events and catch up once it drains."""
        self._catching_up = True
        if self._resumer is None or self._resumer.done():
            self._resumer = asyncio.create_task(self._resume_when_drained())

    async def _resume_when_drained(self) -> None:
        try:
            await self.write_stored()
        except Exception as exc:  # the database: the client resumes from its Last-Event-ID
            logger.warning("catching up stream %s of %s failed (%s); closing it", self.stream, self.session_id, exc)
            await self.close(retry_ms=settings.MCP_SSE_RETRY_MS)

    def _paused(self) -> bool:
        return self._flow is not None and self._flow.paused

    async def _read_stored(self) -> bool:
        """Write stored events after the cursor, page by page; True once all were written, False if paused."""
        while not self.closed:
            if self._paused():
                return False
            page = await event_reads.after(self.session_id, self.stream, self._cursor, REPLAY_PAGE)
            async with self._lock:
                written = 0
                for event in page:
                    if self._paused() or self.closed:
                        break
                    await self._write_event(event)
                    written += 1
                if written:
                    self._advance(page[written - 1].pk)
                if written < len(page):
                    return False
            if len(page) < REPLAY_PAGE:
                return True
        return False

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
        """A comment, unless the client's buffer is full (it is not idle then)."""
        if self._paused():
            return
        async with self._lock:
            await self._send(comment_frame("keep-alive"))

    def stalled_for(self) -> float:
        """How long the client has left its buffer full (0 if it has not)."""
        since = self._flow.paused_since if self._flow is not None else None
        return 0.0 if since is None else time.monotonic() - since

    def abort(self) -> None:
        """Drop the connection of a client that stopped reading (what it had buffered goes with it)."""
        self.detach()
        if self._flow is not None:
            self._flow.abort()

    async def close(self, retry_ms: int | None = None) -> None:
        """Close the response; with `retry_ms`, tell the client when to reconnect."""
        async with self._lock:
            await self._close(retry_ms)

    def detach(self) -> None:
        """The client went away: stop writing, keep producing (the events are stored), free what is held."""
        self.closed = True
        self.finished.set()
        self._held = []
        self._sent = set()
        if self._flow is not None:
            self._flow.stop()
        resumer, self._resumer = self._resumer, None
        if resumer is not None and resumer is not asyncio.current_task():
            resumer.cancel()

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
