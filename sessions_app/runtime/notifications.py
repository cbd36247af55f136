"""Notifications not tied to a request: a session's standalone GET stream, and subscriptions/listen streams."""

from __future__ import annotations

from ..models import StreamEvent
from ..store import subscriptions
from ..store.eventlog import NewEvent, StoredEvent
from ..wire.event_ids import GET_STREAM
from ..wire.jsonrpc import notification
from .listeners import publish_change
from .publish import append_and_publish

NOTIFICATION = StreamEvent.Kind.NOTIFICATION


async def send_to_session(session_id: str, message: dict, *, kind: str = NOTIFICATION) -> StoredEvent:
    """Store a message for the session's GET stream and deliver it wherever that is open."""
    (event,) = await append_and_publish([NewEvent(session_id, GET_STREAM, kind, message)])
    return event


async def resource_updated(uri: str, *, session_id: str | None = None) -> int:
    """notifications/resources/updated to every live subscriber of `uri` (or only `session_id`'s).

    All subscribers' events are stored in one transaction, then published. Listen streams (2026-07-28)
    that subscribed to `uri` hear it too, on every node, unless the change concerns one session only.
    """
    if session_id is None:
        await publish_change("resource", uri)
    targets = await subscriptions.subscribers(uri, session_id)
    if not targets:
        return 0
    message = notification("notifications/resources/updated", {"uri": uri})
    await append_and_publish([NewEvent(target, GET_STREAM, NOTIFICATION, message) for target in targets])
    return len(targets)


async def resource_list_changed(session_id: str) -> None:
    """The session's resources/list changed (per-session entries): tell its GET stream."""
    await send_to_session(session_id, notification("notifications/resources/list_changed"))


async def tools_list_changed() -> None:
    """tools/list changed: every listen stream that asked for toolsListChanged hears it, on every node."""
    await publish_change("tools")


async def prompts_list_changed() -> None:
    await publish_change("prompts")


async def resources_list_changed() -> None:
    """The resources/list every client sees changed (not one session's entries: resource_list_changed)."""
    await publish_change("resources")
