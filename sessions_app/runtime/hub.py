"""Listeners of this process: the open SSE responses, by (session, stream) and by session.

A stored event is handed to the hub of the node that stored it, and, through
the relay, to the hubs of the others; each hub hands it to its listeners.

Only listeners whose events may be stored elsewhere (GET streams, resumed
streams) make the relay subscribe to their stream: a POST stream's events are
stored by the node running its requests, which hands them to its hub directly,
so a POST costs no subscription and gets no echo of its own events.
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
    def __init__(self, *, on_first_remote: StreamCallback, on_last_remote: StreamCallback) -> None:
        self._streams: dict[tuple[str, str], set[Listener]] = defaultdict(set)
        self._sessions: dict[str, set[Listener]] = defaultdict(set)
        self._remote: dict[tuple[str, str], set[Listener]] = defaultdict(set)
        # Told when this process starts or stops needing a stream's events from other nodes
        # (the relay subscribes to it).
        self._on_first_remote = on_first_remote
        self._on_last_remote = on_last_remote

    def add(self, session_id: str, stream: str, listener: Listener, *, remote: bool = True) -> None:
        """`remote`: the stream's events may be stored by another node (False: only by this one)."""
        key = (session_id, stream)
        self._streams[key].add(listener)
        self._sessions[session_id].add(listener)
        SSE_STREAMS_OPEN.inc()
        if remote:
            first = key not in self._remote
            self._remote[key].add(listener)
            if first:
                self._on_first_remote(session_id, stream)

    def discard(self, session_id: str, stream: str, listener: Listener) -> None:
        key = (session_id, stream)
        members = self._streams.get(key)
        if members is None or listener not in members:
            return
        SSE_STREAMS_OPEN.dec()
        members.discard(listener)
        if not members:
            del self._streams[key]
        remote = self._remote.get(key)
        if remote is not None and listener in remote:
            remote.discard(listener)
            if not remote:
                del self._remote[key]
                self._on_last_remote(session_id, stream)
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
