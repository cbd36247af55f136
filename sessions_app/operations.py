"""What operators do and see, from sync code (the admin, management commands)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db.models import Q, QuerySet

from . import fanout, store
from .models import McpSession, NodeHeartbeat, StreamEvent
from .purge import _delete_in_chunks

IDLE_SECONDS = 300  # no activity for this long: "idle" (and "expired" past MCP_SESSION_TTL)


def now() -> datetime:
    return datetime.now(timezone.utc)


def status_of(session: McpSession, at: datetime | None = None) -> str:
    at = at or now()
    if session.terminated_at is not None:
        return "terminated"
    idle_for = (at - session.last_activity_at).total_seconds()
    if idle_for > settings.MCP_SESSION_TTL:
        return "expired"
    return "idle" if idle_for > IDLE_SECONDS else "active"


def with_status(queryset: QuerySet, status: str) -> QuerySet:
    at = now()
    ttl_cutoff = at - timedelta(seconds=settings.MCP_SESSION_TTL)
    idle_cutoff = at - timedelta(seconds=IDLE_SECONDS)
    live = Q(terminated_at__isnull=True)
    return {
        "terminated": queryset.filter(terminated_at__isnull=False),
        "expired": queryset.filter(live, last_activity_at__lt=ttl_cutoff),
        "idle": queryset.filter(live, last_activity_at__gte=ttl_cutoff, last_activity_at__lt=idle_cutoff),
        "active": queryset.filter(live, last_activity_at__gte=idle_cutoff),
    }.get(status, queryset)


def alive_nodes() -> list[NodeHeartbeat]:
    cutoff = now() - timedelta(seconds=settings.MCP_NODE_LEASE_SECONDS)
    return list(NodeHeartbeat.objects.filter(last_seen__gte=cutoff))


def open_streams_by_session(nodes: list[NodeHeartbeat] | None = None) -> dict[str, list[tuple[str, str]]]:
    """{session id: [(stream, node id), ...]} from the heartbeats of the live nodes."""
    held: dict[str, list[tuple[str, str]]] = {}
    for node in alive_nodes() if nodes is None else nodes:
        for session_id, streams in (node.streams or {}).items():
            held.setdefault(session_id, []).extend((stream, node.node_id) for stream in streams)
    return held


@dataclass
class Figures:
    active_sessions: int
    open_streams: int
    nodes: int
    running_requests: int


def live_figures() -> Figures:
    nodes = alive_nodes()
    active = McpSession.objects.filter(
        terminated_at__isnull=True, last_activity_at__gte=now() - timedelta(seconds=settings.MCP_SESSION_TTL)
    ).count()
    return Figures(
        active_sessions=active,
        open_streams=sum(len(streams) for node in nodes for streams in (node.streams or {}).values()),
        nodes=len(nodes),
        running_requests=sum(node.running for node in nodes),
    )


def terminate_sessions(session_ids: list[str]) -> int:
    """End sessions as DELETE does: 404 from now on, their streams closed and requests cancelled everywhere."""
    ended = 0
    for session_id in session_ids:
        if store._terminate(session_id):
            ended += 1
        async_to_sync(fanout.end_session_streams)(session_id, "terminated by an operator")
    return ended


def purge_dead(queryset: QuerySet) -> tuple[int, int]:
    """Delete the expired or terminated sessions among `queryset`, with their events; live ones stay."""
    at = now()
    dead = queryset.filter(
        Q(terminated_at__isnull=False) | Q(last_activity_at__lt=at - timedelta(seconds=settings.MCP_SESSION_TTL))
    )
    keys = list(dead.values_list("pk", flat=True))
    events = _delete_in_chunks(StreamEvent.objects.filter(session_id__in=keys))
    sessions = McpSession.objects.filter(pk__in=keys).delete()[1].get(McpSession._meta.label, 0)
    return sessions, events
