"""Live delivery of stored events to whichever consumer holds the stream.

Two paths, one contract. Listeners in this process are called directly (the
hub); listeners on other nodes are reached through the channel layer, one
group per (session, stream) plus one control group per session. Messages carry
the origin node so a node ignores its own echoes. The layer is at-most-once:
the database stays the truth and streams re-read it on every keep-alive tick.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Protocol

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from .events import StoredEvent

logger = logging.getLogger(__name__)


class Listener(Protocol):
    async def deliver(self, event: StoredEvent) -> None: ...

    async def end(self, reason: str) -> None: ...


def stream_group(session_id: str, stream: str) -> str:
    return f"mcp.{session_id}.{stream}"


def session_group(session_id: str) -> str:
    return f"mcp.{session_id}"


def layer_is_shared() -> bool:
    """False for the in-memory layer: no other node exists to tell."""
    layer = get_channel_layer()
    return layer is not None and not isinstance(layer, InMemoryChannelLayer)


class Hub:
    """Listeners of this process, by (session, stream) and by session."""

    def __init__(self) -> None:
        self._streams: dict[tuple[str, str], set[Listener]] = defaultdict(set)
        self._sessions: dict[str, set[Listener]] = defaultdict(set)

    def add(self, session_id: str, stream: str, listener: Listener) -> None:
        self._streams[(session_id, stream)].add(listener)
        self._sessions[session_id].add(listener)

    def discard(self, session_id: str, stream: str, listener: Listener) -> None:
        for registry, key in ((self._streams, (session_id, stream)), (self._sessions, session_id)):
            members = registry.get(key)
            if members is not None:
                members.discard(listener)
                if not members:
                    del registry[key]

    def listening(self, session_id: str, stream: str) -> bool:
        return bool(self._streams.get((session_id, stream)))

    def open_stream_count(self) -> int:
        return sum(len(members) for members in self._streams.values())

    async def deliver(self, session_id: str, stream: str, event: StoredEvent) -> None:
        for listener in list(self._streams.get((session_id, stream), ())):
            try:
                await listener.deliver(event)
            except Exception:
                logger.exception("delivering event %s failed", event.event_id)

    async def end_session(self, session_id: str, reason: str) -> None:
        for listener in list(self._sessions.get(session_id, ())):
            await listener.end(reason)


hub = Hub()


async def publish(session_id: str, event: StoredEvent) -> None:
    """Hand a stored event to every listener of its stream, here and on other nodes."""
    await hub.deliver(session_id, event.stream, event)
    if layer_is_shared():
        try:
            await get_channel_layer().group_send(
                stream_group(session_id, event.stream),
                {
                    "type": "mcp.event",
                    "origin": settings.MCP_NODE_ID,
                    "pk": event.pk,
                    "stream": event.stream,
                    "kind": event.kind,
                    "message": event.message,
                },
            )
        except Exception as exc:  # stored already: replay and keep-alive catch-up recover it
            logger.warning("channel layer publish of %s failed: %s", event.event_id, exc)


async def end_session_streams(session_id: str, reason: str) -> None:
    """Close every open stream of the session, on every node."""
    await hub.end_session(session_id, reason)
    if layer_is_shared():
        try:
            await get_channel_layer().group_send(
                session_group(session_id),
                {"type": "mcp.control", "origin": settings.MCP_NODE_ID, "action": "end", "reason": reason},
            )
        except Exception as exc:
            logger.warning("channel layer control message for session %s failed: %s", session_id, exc)


def event_from_layer(message: dict) -> StoredEvent:
    return StoredEvent(message["pk"], message["stream"], message["kind"], message["message"])
