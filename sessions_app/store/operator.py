"""What operators see and do, from sync code (the admin, the landing page, management commands)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from ..models import McpSession, NodeHeartbeat, StreamEvent
from ..signals import session_terminated
from .heartbeats import alive_nodes
from .purge import delete_in_chunks
from .sessions import sessions


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
    # Stateless requests the live nodes served since each started, by method and by client name.
    stateless_by_method: dict[str, int]
    stateless_by_client: dict[str, int]


def live_figures() -> Figures:
    nodes = alive_nodes()
    return Figures(
        active_sessions=McpSession.objects.live().count(),
        open_streams=sum(len(streams) for node in nodes for streams in (node.streams or {}).values()),
        nodes=len(nodes),
        running_requests=sum(node.running for node in nodes),
        stateless_by_method=_summed(nodes, "method"),
        stateless_by_client=_summed(nodes, "client"),
    )


def _summed(nodes: list[NodeHeartbeat], key: str) -> dict[str, int]:
    total: dict[str, int] = {}
    for node in nodes:
        for label, count in ((node.stateless_requests or {}).get(key) or {}).items():
            total[label] = total.get(label, 0) + int(count)
    return dict(sorted(total.items(), key=lambda item: -item[1]))


def terminate_sessions(session_ids: list[str]) -> int:
    """End sessions as DELETE does: 404 from now on, their streams closed and requests cancelled everywhere."""
    ended = 0
    for session_id in session_ids:
        if sessions.terminate(session_id):
            ended += 1
        session_terminated.send(sender=McpSession, session_id=session_id)
    return ended


def purge_dead(queryset: QuerySet) -> tuple[int, int]:
    """Delete the expired or terminated sessions among `queryset`, with their events; live ones stay."""
    keys = list(queryset.ended().values_list("pk", flat=True))
    events = delete_in_chunks(StreamEvent.objects.filter(session_id__in=keys))
    deleted = McpSession.objects.filter(pk__in=keys).delete()[1].get(McpSession._meta.label, 0)
    return deleted, events
