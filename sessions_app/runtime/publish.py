"""The one path from a new event to the wire: store it, then hand it to every listener of its stream.

Storing first is what makes every stream resumable on any node; publishing
goes to this process's hub directly and to other nodes through the relay.
"""

from __future__ import annotations

import json
from typing import Any

from ..store import eventlog
from ..store.eventlog import NewEvent, StoredEvent
from ..wire.jsonrpc import dumps
from .hub import Hub
from .lease import lease
from .relay import relay

EVENT = "mcp.event"

hub = Hub(on_first_listener=relay.join, on_last_listener=relay.leave)


async def publish(session_id: str, event: StoredEvent) -> None:
    """Hand a stored event to every listener of its stream, here and on other nodes."""
    await hub.deliver(session_id, event.stream, event)
    await relay.send_to_stream(
        session_id,
        event.stream,
        {
            "type": EVENT,
            "session": session_id,
            "pk": event.pk,
            "stream": event.stream,
            "kind": event.kind,
            "message": dumps(event.message).decode() if event.message is not None else None,
        },
    )


async def append_and_publish(events: list[NewEvent]) -> list[StoredEvent]:
    """Store events (one transaction), then publish each in order; the stored ones come back with their ids.

    Events of a stream that has ended are refused by the event log and left out. A node
    whose lease lapsed stores nothing (NodeFenced) until it holds its lease again.
    """
    lease.check()
    stored = await eventlog.append(events)
    published = []
    for new, event in zip(events, stored, strict=True):
        if event is not None:
            await publish(new.session_id, event)
            published.append(event)
    return published


async def deliver_from_other_node(message: dict[str, Any]) -> None:
    """The relay's handler for EVENT: another node stored it; hand it to this node's listeners."""
    body = message["message"]
    event = StoredEvent(
        message["pk"], message["stream"], message["kind"], json.loads(body) if body is not None else None
    )
    await hub.deliver(message["session"], event.stream, event)
