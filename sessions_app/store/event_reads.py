"""Reads of the stream event log: replay after an event, whether an event exists, and what a stream's
priming row says (the writes, group-committed, are store.eventlog's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async

from ..models import StreamEvent
from . import event_rows
from .eventlog import StoredEvent


def _exists(session_id: str, stream: str, pk: int) -> bool:
    return StreamEvent.objects.filter(session_id=session_id, stream=stream, pk=pk).exists()


def _after(session_id: str, stream: str, after_pk: int, limit: int) -> list[StoredEvent]:
    rows = (
        StreamEvent.objects.filter(session_id=session_id, stream=stream, pk__gt=after_pk)
        .exclude(kind=StreamEvent.Kind.PRIMING)
        .order_by("pk")
        .values_list("pk", "kind", "message")[:limit]
    )
    return [StoredEvent(pk, stream, kind, message) for pk, kind, message in rows]


def _is_finished(session_id: str, stream: str) -> bool:
    # The group commit's own check: its SQL names the kinds as literals, which lets SQLite answer from the
    # partial index of stream ends (the ORM's bound parameters would walk every event of the stream).
    return bool(event_rows.ended({(session_id, stream)}))


@dataclass(frozen=True, slots=True)
class StreamMeta:
    """What a POST stream's priming row records, and whether the stream has ended."""

    request_ids: list[Any] | None  # None: no priming row (not a request stream)
    node: str | None  # the node running its requests
    finished: bool


def _stream_meta(session_id: str, stream: str) -> StreamMeta:
    meta = (
        StreamEvent.objects.filter(session_id=session_id, stream=stream, kind=StreamEvent.Kind.PRIMING)
        .order_by("pk")
        .values_list("message", flat=True)
        .first()
    )
    meta = meta if isinstance(meta, dict) else {}
    requests = list(meta["requests"]) if "requests" in meta else None
    return StreamMeta(requests, meta.get("node"), _is_finished(session_id, stream))


exists = database_sync_to_async(_exists)
after = database_sync_to_async(_after)
stream_meta = database_sync_to_async(_stream_meta)
