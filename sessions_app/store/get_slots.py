"""The one standalone GET stream of a session, held in its database row (the authority).

A slot is claimed by one conditional UPDATE of the session's row: it succeeds only
if nobody holds the slot, or the holder's expiry passed, or the holder's node
stopped beating (its heartbeat is older than MCP_NODE_LEASE_SECONDS). The holder
refreshes its expiry on every keep-alive tick; a refresh that finds the slot taken
over tells the holder to close its stream, so two streams never both deliver.
Nothing here lives in a cache, so no eviction or Redis restart can free a slot.
"""

from __future__ import annotations

from datetime import timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models import Q

from ..models import McpSession, NodeHeartbeat, now


def _expiry(lifetime: float):
    return now() + timedelta(seconds=lifetime)


def _claim(session_id: str, token: str, node_id: str, lifetime: float) -> bool:
    at = now()
    dead_nodes = NodeHeartbeat.objects.filter(
        last_seen__lt=at - timedelta(seconds=settings.MCP_NODE_LEASE_SECONDS)
    ).values("node_id")
    free = Q(get_stream_holder__isnull=True) | Q(get_stream_expires_at__lt=at) | Q(get_stream_node__in=dead_nodes)
    claimed = McpSession.objects.filter(free, pk=session_id).update(
        get_stream_holder=token, get_stream_node=node_id, get_stream_expires_at=_expiry(lifetime)
    )
    return claimed == 1


def _refresh(session_id: str, token: str, lifetime: float) -> bool:
    """Extend the holder's expiry; False if the slot is no longer this holder's."""
    kept = McpSession.objects.filter(pk=session_id, get_stream_holder=token).update(
        get_stream_expires_at=_expiry(lifetime)
    )
    return kept == 1


def _release(session_id: str, token: str) -> None:
    McpSession.objects.filter(pk=session_id, get_stream_holder=token).update(
        get_stream_holder=None, get_stream_node=None, get_stream_expires_at=None
    )


aclaim = database_sync_to_async(_claim)
arefresh = database_sync_to_async(_refresh)
arelease = database_sync_to_async(_release)
