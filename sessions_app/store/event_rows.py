"""The statements of the event log's group commit, written once per process: the multi-row INSERT ...
RETURNING that stores stream events, the lock on their sessions' rows, and the check for ended streams.

Every request stores its events through it (the group commit of store.eventlog), so it skips Django's
query compiler: the values are prepared by the model's own fields (`get_db_prep_save`), as
`bulk_create` would, and the ids come back in insertion order, as `bulk_create` relies on too.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connection
from django.utils.timezone import now

from ..models import McpSession, StreamEvent

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


@cache
def _lock_statement() -> str | None:
    """None where a transaction holds the write lock anyway (SQLite's IMMEDIATE transactions)."""
    if not connection.features.has_select_for_update:
        return None
    quote = connection.ops.quote_name
    mode = "NO KEY UPDATE" if connection.features.has_select_for_no_key_update else "UPDATE"
    table, pk = quote(McpSession._meta.db_table), quote(McpSession._meta.pk.column)
    return f"SELECT {pk} FROM {table} WHERE {pk} IN ({{marks}}) ORDER BY {pk} FOR {mode}"


def lock_sessions(session_ids: list[str]) -> None:
    """Lock the sessions' rows (in pk order, so two batches never deadlock) until the transaction ends."""
    statement = _lock_statement()
    if statement is not None and session_ids:
        with connection.cursor() as cursor:
            cursor.execute(statement.format(marks=", ".join(["%s"] * len(session_ids))), session_ids)


@cache
def _ended_statement() -> str:
    meta, quote = StreamEvent._meta, connection.ops.quote_name
    session, stream, kind = (quote(meta.get_field(name).column) for name in ("session", "stream", "kind"))
    # Constants of the model, not input, in the index's order: the query is answered from the partial
    # index one_end_per_stream (a few rows), not from every event of the session's streams (the GET
    # stream of a long session holds thousands).
    kinds = ", ".join(f"'{k}'" for k in StreamEvent.TERMINAL_KINDS)
    return (
        f"SELECT {session}, {stream} FROM {quote(meta.db_table)}"
        f" WHERE {session} IN ({{sessions}}) AND {stream} IN ({{streams}}) AND {kind} IN ({kinds})"
    )


def ended(keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Those of `keys` (session, stream) that already have their end stored."""
    sessions, streams = sorted({s for s, _ in keys}), sorted({t for _, t in keys})
    statement = _ended_statement().format(
        sessions=", ".join(["%s"] * len(sessions)), streams=", ".join(["%s"] * len(streams))
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*sessions, *streams])
        return {(session, stream) for session, stream in cursor.fetchall()} & keys
