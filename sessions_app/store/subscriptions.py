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


def _subscribers(wanted: list[tuple[str, str | None]]) -> list[list[str]]:
    """For each (uri, session_id) of `wanted`: the live sessions subscribed to `uri` (only `session_id`, if given).

    One query by URI (indexed) answers them all; only when it finds somebody is liveness checked.
    """
    rows = list(
        ResourceSubscription.objects.filter(uri__in={uri for uri, _ in wanted}).values_list("uri", "session_id")
    )
    if rows:
        live = set(
            McpSession.objects.live().filter(pk__in={session for _, session in rows}).values_list("pk", flat=True)
        )
        rows = [(uri, session) for uri, session in rows if session in live]
    return [
        [session for row_uri, session in rows if row_uri == uri and (only is None or session == only)]
        for uri, only in wanted
    ]


subscribe = database_sync_to_async(_subscribe)
unsubscribe = database_sync_to_async(_unsubscribe)
subscribers = database_sync_to_async(_subscribers)
