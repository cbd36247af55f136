"""Removing what is no longer needed: dead sessions, old stream events, stale node rows.

- Sessions expired (idle past MCP_SESSION_TTL) or terminated, once they have
  been dead for MCP_SESSION_RETENTION seconds, go with everything of theirs
  (events, subscriptions, calculations).
- Stream events older than MCP_EVENT_RETENTION seconds go, whatever their session
  (a resume from an event that old is refused as unknown).
- Heartbeats of nodes silent for a day go.

Live sessions and their recent events are never touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q

from ..models import McpSession, NodeHeartbeat, StreamEvent
from ..wire.event_ids import GET_STREAM

logger = logging.getLogger(__name__)
DELETE_CHUNK = 5000


@dataclass
class Purged:
    sessions: int = 0
    events: int = 0
    nodes: int = 0

    def __str__(self) -> str:
        return f"{self.sessions} sessions, {self.events} stream events, {self.nodes} node records"


def delete_in_chunks(queryset) -> int:
    """Delete by primary key in chunks, so no single statement locks a huge range."""
    total = 0
    while True:
        keys = list(queryset.values_list("pk", flat=True)[:DELETE_CHUNK])
        if not keys:
            return total
        model = queryset.model
        total += model.objects.filter(pk__in=keys).delete()[1].get(model._meta.label, 0)


def purge(*, session_retention: float | None = None) -> Purged:
    now = datetime.now(UTC)
    retention = settings.MCP_SESSION_RETENTION if session_retention is None else session_retention
    if retention < 0:
        raise ValueError("retention must not be negative")
    result = Purged()
    # Events first, in chunks (a dead session may have very many); then the sessions cascade the rest.
    doomed = McpSession.objects.dead(retention)
    result.events += delete_in_chunks(StreamEvent.objects.filter(session__in=doomed.values("pk")))
    result.sessions = delete_in_chunks(McpSession.objects.dead(retention))
    unfinished = ~Exists(
        StreamEvent.objects.filter(
            session_id=OuterRef("session_id"), stream=OuterRef("stream"), kind__in=StreamEvent.TERMINAL_KINDS
        )
    )
    old_events = StreamEvent.objects.filter(
        created_at__lt=now - timedelta(seconds=settings.MCP_EVENT_RETENTION)
    ).exclude(Q(kind=StreamEvent.Kind.PRIMING) & ~Q(stream=GET_STREAM) & unfinished)
    result.events += delete_in_chunks(old_events)
    result.nodes = NodeHeartbeat.objects.filter(last_seen__lt=now - timedelta(days=1)).delete()[0]
    if result.sessions or result.events or result.nodes:
        logger.info("purged %s", result)
    return result
