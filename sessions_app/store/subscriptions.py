"""resources/subscribe state, kept in the database so every node sees it."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import IntegrityError, connection
from django.utils.timezone import now

from ..models import McpSession, ResourceSubscription


def _subscribe(session_id: str, uri: str) -> None:
    try:
        ResourceSubscription.objects.get_or_create(session_id=session_id, uri=uri)
    except IntegrityError:  # a concurrent subscribe won the race: same outcome
        pass


def _unsubscribe(session_id: str, uri: str) -> None:
    ResourceSubscription.objects.filter(session_id=session_id, uri=uri).delete()


@cache
def _statement(uris: int) -> str:
    """The lookup for `uris` URIs, written once per process: every calculation runs it, so no query compiler.

    By the `uri` index, joined to the session row for liveness (McpSession.objects.live(), spelled out).
    """
    q = connection.ops.quote_name
    sub, session = ResourceSubscription._meta, McpSession._meta
    column = sub.get_field("session").column
    terminated, active = (q(session.get_field(name).column) for name in ("terminated_at", "last_activity_at"))
    return (
        f"SELECT s.{q(sub.get_field('uri').column)}, s.{q(column)} FROM {q(sub.db_table)} s"
        f" JOIN {q(session.db_table)} m ON m.{q(session.pk.column)} = s.{q(column)}"
        f" WHERE s.{q(sub.get_field('uri').column)} IN ({', '.join(['%s'] * uris)})"
        f" AND m.{terminated} IS NULL AND m.{active} >= %s"
    )


def subscribers_now(wanted: list[tuple[str, str | None]]) -> list[list[str]]:
    """For each (uri, session_id) of `wanted`: the live sessions subscribed to `uri` (only `session_id`, if given).

    Sync, one statement: callers run it inside the event log's group commit (eventlog.in_commit), next to
    the write that changed the resources, so a change's lookup costs no thread hop of its own.
    """
    uris = sorted({uri for uri, _ in wanted})
    cutoff = connection.ops.adapt_datetimefield_value(now() - timedelta(seconds=settings.MCP_SESSION_TTL))
    with connection.cursor() as cursor:
        cursor.execute(_statement(len(uris)), [*uris, cutoff])
        rows = cursor.fetchall()
    return [
        [session for row_uri, session in rows if row_uri == uri and (only is None or session == only)]
        for uri, only in wanted
    ]


subscribe = database_sync_to_async(_subscribe)
unsubscribe = database_sync_to_async(_unsubscribe)
subscribers = database_sync_to_async(subscribers_now)
