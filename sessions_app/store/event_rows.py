"""The one statement that stores stream events: a multi-row INSERT ... RETURNING, written once per process.

Every request stores its events through it (the group commit of store.eventlog), so it skips Django's
query compiler: the values are prepared by the model's own fields (`get_db_prep_save`), as
`bulk_create` would, and the ids come back in insertion order, as `bulk_create` relies on too.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connection
from django.utils.timezone import now

from ..models import StreamEvent

FIELDS = ("session", "stream", "kind", "message", "created_at")


@cache
def _statement() -> tuple[str, str, str]:
    meta, quote = StreamEvent._meta, connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in FIELDS)
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ", "(%s, %s, %s, %s, %s)", quote(meta.pk.column)


def insert(events: list[tuple[str, str, str, Any]]) -> list[int]:
    """Store (session_id, stream, kind, message) rows; their primary keys, in order."""
    if not events:
        return []
    if not connection.features.can_return_rows_from_bulk_insert:  # not on the supported databases
        rows = [StreamEvent(session_id=s, stream=t, kind=k, message=m) for s, t, k, m in events]
        return [row.pk for row in StreamEvent.objects.bulk_create(rows)]
    head, row, pk = _statement()
    message = StreamEvent._meta.get_field("message")
    stamp = connection.ops.adapt_datetimefield_value(now())
    size = max(1, connection.ops.bulk_batch_size([StreamEvent._meta.get_field(name) for name in FIELDS], events))
    pks: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(events), size):
            chunk = events[start : start + size]
            params = [
                value
                for session, stream, kind, body in chunk
                for value in (session, stream, kind, message.get_db_prep_save(body, connection), stamp)
            ]
            cursor.execute(f"{head}{', '.join([row] * len(chunk))} RETURNING {pk}", params)
            pks.extend(pk_ for (pk_,) in cursor.fetchall())
    return pks
