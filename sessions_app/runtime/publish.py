"""The one path from a new event to the wire: store it, then hand it to every listener of its stream.

Storing first is what makes every stream resumable on any node; publishing
goes to this process's hub directly and to other nodes through the relay
(queued: the response never waits on Redis).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ..models import StreamEvent
from ..store import eventlog
from ..store.answer_writes import Deferred
from ..store.commit_ops import Merged
from ..store.commit_work import NOT_RUN
from ..store.eventlog import NewEvent, StoredEvent
from ..wire.event_ids import GET_STREAM
from ..wire.jsonrpc import dumps
from .hub import Hub
from .lease import lease
from .relay import relay

logger = logging.getLogger(__name__)

EVENTS = "mcp.events"  # {"session", "stream", "items": [[pk, kind, message as JSON text or None], ...]}
EVENT = "mcp.event"  # one event, as nodes before mcp.events sent it (a rolling deploy mixes both)


class StreamEnded(Exception):
    """Events (and the writes they report) refused: their stream had ended (a late answer of a request
    declared lost, say)."""


hub = Hub(on_first_remote=relay.join, on_last_remote=relay.leave)


async def append_and_publish(
    events: list[NewEvent], writes: list[Deferred] = (), ops: list[Merged] = ()
) -> list[StoredEvent]:
    """Store events (one transaction), then publish each in order; the stored ones come back with their ids.

    `writes`: what the events report (a tool's stored side effects, deferred to its answer), committed in
    the same transaction; each one's `after` runs before the events are published. If the events' stream
    has ended, they are refused and the writes are not stored either (each one's `lost` is told). `ops`:
    other writes the events go with (a request id's claim, store.claims.with_first_events), run whatever
    becomes of the events; if one fails, nothing is stored.

    Events of a stream that has ended are refused by the event log and left out. A node
    whose lease lapsed stores nothing (NodeFenced) until it holds its lease again.
    """
    lease.check()
    stored, results = await eventlog.append_with(events, list(ops), [write.op for write in writes])
    for write, result in zip(writes, results[: len(writes)], strict=True):
        if result is NOT_RUN:  # the events' stream had ended: they were refused, and it went with them
            write.lost(StreamEnded("its answer's stream had ended"))
            continue
        try:
            await write.after(result)
        except Exception:  # committed with the events: they go out whatever becomes of its follow-up
            logger.exception("the follow-up of a write stored with its answer failed")
    kept = [(new.session_id, event) for new, event in zip(events, stored, strict=True) if event is not None]
    await publish_stored(kept)
    return [event for _, event in kept]


async def publish_stored(events: list[tuple[str, StoredEvent]]) -> None:
    """Hand (session_id, event) pairs already stored and committed to every listener of their streams, in order.

    Other nodes do not hear of a request stream's first events, those stored with its priming row: no one
    can hold that stream open elsewhere yet (its id reaches the client only in these events, which are
    committed before they are written), and a resume anywhere reads them from the database. A request
    answered at once costs no Redis message at all.
    """
    unknown_elsewhere = (
        {
            (session_id, event.stream)
            for session_id, event in events
            if event.kind == StreamEvent.Kind.PRIMING and event.stream != GET_STREAM
        }
        if relay.enabled
        else set()
    )
    for session_id, event in events:
        await hub.deliver(session_id, event.stream, event)
        if relay.enabled and (session_id, event.stream) not in unknown_elsewhere:
            # JSON text in the message: ids and values msgpack cannot carry (huge integers) cross intact.
            body = dumps(event.message).decode() if event.message is not None else None
            relay.send_to_stream_soon(EVENTS, session_id, event.stream, [[event.pk, event.kind, body]])


async def deliver_from_other_node(message: dict[str, Any]) -> None:
    """The relay's handler for EVENTS (and EVENT): another node stored them; hand them to this node's listeners."""
    items = message.get("items") or [[message["pk"], message["kind"], message["message"]]]
    stream = message["stream"]
    for pk, kind, body in items:
        event = StoredEvent(pk, stream, kind, json.loads(body) if body is not None else None)
        await hub.deliver(message["session"], stream, event)
