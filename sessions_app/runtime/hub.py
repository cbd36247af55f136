"""Listeners of this process: the open SSE responses, by (session, stream) and by session.

A stored event is handed to the hub of the node that stored it, and, through
the relay, to the hubs of the others; each hub hands it to its listeners.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Protocol

from ..metrics import SSE_STREAMS_OPEN
from ..store.eventlog import StoredEvent

logger = logging.getLogger(__name__)

StreamCallback = Callable[[str, str], None]


class Listener(Protocol):
    """What the hub needs of an open response (see transport.output.StreamOutput)."""

    async def deliver(self, event: StoredEvent) -> None: ...

    async def close(self, retry_ms: int | None = None) -> None: ...


class Hub:
    def __init__(self, *, on_first_listener: StreamCallback, on_last_listener: StreamCallback) -> None:
        self._streams: dict[tuple[str, str], set[Listener]] = defaultdict(set)
        self._sessions: dict[str, set[Listener]] = defaultdict(set)
        # Told when this process starts or stops holding a stream open (the relay subscribes to it).
        self._on_first_listener = on_first_listener
        self._on_last_listener = on_last_listener

    def add(self, session_id: str, stream: str, listener: Listener) -> None:
        first = (session_id, stream) not in self._streams
        self._streams[(session_id, stream)].add(listener)
        self._sessions[session_id].add(listener)
        SSE_STREAMS_OPEN.inc()
        if first:
            self._on_first_listener(session_id, stream)

    def discard(self, session_id: str, stream: str, listener: Listener) -> None:
        members = self._streams.get((session_id, stream))
        if members is None or listener not in members:
            return
        SSE_STREAMS_OPEN.dec()
        members.discard(listener)
        if not members:
            del self._streams[(session_id, stream)]
            self._on_last_listener(session_id, stream)
        by_session = self._sessions.get(session_id)
        if by_session is not None:
            by_session.discard(listener)
            if not by_session:
                del self._sessions[session_id]

    def listeners(self) -> list[tuple[str, str, Listener]]:
        return [(session, stream, member) for (session, stream), members in self._streams.items() for member in members]

    async def deliver(self, session_id: str, stream: str, event: StoredEvent) -> None:
        for listener in list(self._streams.get((session_id, stream), ())):
            try:
                await listener.deliver(event)
            except Exception:
                logger.exception("delivering event %s failed", event.event_id)

    async def close_session(self, session_id: str) -> None:
        """The session ended: close every response of it held here."""
        for listener in list(self._sessions.get(session_id, ())):
            await listener.close()
