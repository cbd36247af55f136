"""resources/subscribe state, kept in the database so every node sees it."""

from __future__ import annotations

from channels.db import database_sync_to_async
from django.db import IntegrityError

from ..models import McpSession, ResourceSubscription


def _subscribe(session_id: str, uri: str) -> None:
    try:
        ResourceSubscription.objects.get_or_create(session_id=session_id, uri=uri)
    except IntegrityError:  # a concurrent subscribe won the race: same outcome
        pass


def _unsubscribe(session_id: str, uri: str) -> None:
    ResourceSubscription.objects.filter(session_id=session_id, uri=uri).delete()


def _subscribers(uri: str, session_id: str | None) -> list[str]:
    """Live sessions subscribed to `uri` (only `session_id`, if given)."""
    rows = ResourceSubscription.objects.filter(uri=uri, session__in=McpSession.objects.live())
    if session_id is not None:
        rows = rows.filter(session_id=session_id)
    return list(rows.values_list("session_id", flat=True))


subscribe = database_sync_to_async(_subscribe)
unsubscribe = database_sync_to_async(_unsubscribe)
subscribers = database_sync_to_async(_subscribers)
