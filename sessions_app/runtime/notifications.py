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
LIST_CHANGED = "notifications/resources/list_changed"


async def send_to_session(session_id: str, message: dict, *, kind: str = NOTIFICATION) -> StoredEvent:
    """Store a message for the session's GET stream and deliver it wherever that is open."""
    (event,) = await append_and_publish([NewEvent(session_id, GET_STREAM, kind, message)])
    return event


async def resource_updated(uri: str, *, session_id: str | None = None) -> int:
    """notifications/resources/updated to every live subscriber of `uri` (or only `session_id`'s).

    All subscribers' events are stored in one transaction, then published. Listen streams (2026-07-28)
    that subscribed to `uri` hear it too, on every node, unless the change concerns one session only.
    """
    return await resources_updated([(uri, session_id)])


async def resources_updated(changes: list[tuple[str, str | None]], *, list_changed_for: str | None = None) -> int:
    """resource_updated for each (uri, session_id) of `changes`, with one subscription query and one append;
    `list_changed_for`: that session's resources/list changed too (resource_list_changed, in the same append).
    """
    found = await subscriptions.subscribers(changes)
    await announce_global(changes)
    events = change_events(changes, found, list_changed_for=list_changed_for)
    if events:
        await append_and_publish(events)
    return len(events) - (list_changed_for is not None)


def change_events(
    changes: list[tuple[str, str | None]], found: list[list[str]], *, list_changed_for: str | None = None
) -> list[NewEvent]:
    """The GET-stream events that tell the subscribers `found` of `changes` (and `list_changed_for`, that its
    resources/list changed): for append_and_publish, or for handover.store_in_commit in the change's own
    transaction (then published with publish_stored)."""
    events = [
        NewEvent(target, GET_STREAM, NOTIFICATION, notification("notifications/resources/updated", {"uri": uri}))
        for (uri, _), targets in zip(changes, found, strict=True)
        for target in targets
    ]
    if list_changed_for is not None:
        events.append(NewEvent(list_changed_for, GET_STREAM, NOTIFICATION, notification(LIST_CHANGED)))
    return events


async def announce_global(changes: list[tuple[str, str | None]]) -> None:
    """Listen streams (2026-07-28) on every node hear of the changes that concern no one session."""
    for uri, session_id in changes:
        if session_id is None:
            await publish_change("resource", uri)


async def resource_list_changed(session_id: str) -> None:
    """The session's resources/list changed (per-session entries): tell its GET stream."""
    await send_to_session(session_id, notification(LIST_CHANGED))


async def tools_list_changed() -> None:
    """tools/list changed: every listen stream that asked for toolsListChanged hears it, on every node."""
    await publish_change("tools")


async def prompts_list_changed() -> None:
    await publish_change("prompts")


async def resources_list_changed() -> None:
    """The resources/list every client sees changed (not one session's entries: resource_list_changed)."""
    await publish_change("resources")
