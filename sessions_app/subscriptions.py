"""resources/subscribe state, kept in the database so every node sees it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import IntegrityError

from . import fanout
from .channels_out import send_to_session
from .events import GET_STREAM, NewEvent, store_events
from .models import ResourceSubscription, StreamEvent

Kind = StreamEvent.Kind

logger = logging.getLogger(__name__)


def _subscribe(session_id: str, uri: str) -> None:
    try:
        ResourceSubscription.objects.get_or_create(session_id=session_id, uri=uri)
    except IntegrityError:  # a concurrent subscribe won the race: same outcome
        pass


def _unsubscribe(session_id: str, uri: str) -> None:
    ResourceSubscription.objects.filter(session_id=session_id, uri=uri).delete()


def _subscribers(uri: str, session_id: str | None) -> list[str]:
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=settings.MCP_SESSION_TTL)
    rows = ResourceSubscription.objects.filter(
        uri=uri, session__terminated_at__isnull=True, session__last_activity_at__gte=cutoff
    )
    if session_id is not None:
        rows = rows.filter(session_id=session_id)
    return list(rows.values_list("session_id", flat=True))


subscribe = database_sync_to_async(_subscribe)
unsubscribe = database_sync_to_async(_unsubscribe)
subscribers = database_sync_to_async(_subscribers)


async def resource_updated(uri: str, *, session_id: str | None = None) -> int:
    """notifications/resources/updated to every live subscriber of `uri` (or only `session_id`'s).

    All subscribers' events are stored in one transaction, then published.
    """
    targets = await subscribers(uri, session_id)
    if not targets:
        return 0
    message = {"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": uri}}
    stored = await store_events([NewEvent(target, GET_STREAM, Kind.NOTIFICATION, message) for target in targets])
    for target, event in zip(targets, stored, strict=True):
        await fanout.publish(target, event)
    return len(targets)


async def resource_list_changed(session_id: str) -> None:
    """The session's resources/list changed (per-session entries): tell its GET stream."""
    await send_to_session(session_id, {"jsonrpc": "2.0", "method": "notifications/resources/list_changed"})
