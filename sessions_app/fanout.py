"""Live delivery of stored events to whichever consumer holds the stream.

Two paths, one contract. Listeners in this process are called directly (the
hub); other nodes are reached through the channel layer, a group per (session,
stream) that the node holding the stream subscribes to (see `node`). Messages
carry the origin node so a node ignores its own echoes. The layer is
at-most-once: the database stays the truth and streams re-read it on every
keep-alive tick.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Protocol

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from mcpsite.metrics import SSE_STREAMS_OPEN

from .events import StoredEvent
from .jsonrpc import dumps

logger = logging.getLogger(__name__)


class Listener(Protocol):
    async def deliver(self, event: StoredEvent) -> None: ...

    async def end(self, reason: str) -> None: ...


def stream_group(session_id: str, stream: str) -> str:
    return f"mcp.{session_id}.{stream}"


def layer_is_shared() -> bool:
    """False for the in-memory layer: no other node exists to tell."""
    layer = get_channel_layer()
    return layer is not None and not isinstance(layer, InMemoryChannelLayer)


class Hub:
    """Listeners of this process, by (session, stream) and by session."""

    def __init__(self) -> None:
        self._streams: dict[tuple[str, str], set[Listener]] = defaultdict(set)
        self._sessions: dict[str, set[Listener]] = defaultdict(set)
        # Set by the node: subscribe to a stream's group while this process holds it open.
        self.on_first_listener: Callable[[str, str], None] | None = None
        self.on_last_listener: Callable[[str, str], None] | None = None

    def add(self, session_id: str, stream: str, listener: Listener) -> None:
        first = (session_id, stream) not in self._streams
        self._streams[(session_id, stream)].add(listener)
        self._sessions[session_id].add(listener)
        SSE_STREAMS_OPEN.inc()
        if first and self.on_first_listener is not None:
            self.on_first_listener(session_id, stream)

    def discard(self, session_id: str, stream: str, listener: Listener) -> None:
        members = self._streams.get((session_id, stream))
        if members is not None and listener in members:
            SSE_STREAMS_OPEN.dec()
        for registry, key in ((self._streams, (session_id, stream)), (self._sessions, session_id)):
            members = registry.get(key)
            if members is not None:
                members.discard(listener)
                if not members:
                    del registry[key]
                    if key == (session_id, stream) and self.on_last_listener is not None:
                        self.on_last_listener(session_id, stream)

    def listeners(self) -> list[tuple[str, str, Listener]]:
        return [(session, stream, listener) for (session, stream), members in self._streams.items() for listener in members]

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
                    "session": session_id,
                    "pk": event.pk,
                    "stream": event.stream,
                    "kind": event.kind,
                    "message": dumps(event.message).decode() if event.message is not None else None,
                },
            )
        except Exception as exc:  # stored already: replay and keep-alive catch-up recover it
            logger.warning("channel layer publish of %s failed: %s", event.event_id, exc)


async def end_session_streams(session_id: str, reason: str) -> None:
    """Close every open stream of the session and cancel its requests, on every node."""
    from .node import node
    from .running import running

    running.cancel_session(session_id)
    await hub.end_session(session_id, reason)
    await node.broadcast({"type": "mcp.end_session", "session": session_id, "reason": reason})


def event_from_layer(message: dict) -> StoredEvent:
    body = message["message"]
    return StoredEvent(message["pk"], message["stream"], message["kind"], json.loads(body) if body is not None else None)
