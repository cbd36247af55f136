"""Node heartbeats: a row per serving process, alive while it is fresh (MCP_NODE_LEASE_SECONDS)."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from channels.db import database_sync_to_async
from django.conf import settings

from ..models import NodeHeartbeat
from .background import on_upkeep_thread


def _record(
    node_id: str, draining: bool, streams: dict[str, list[str]], inflight: int, stateless: dict | None = None
) -> None:
    NodeHeartbeat.objects.update_or_create(
        node_id=node_id,
        defaults={
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "last_seen": datetime.now(UTC),
            "draining": draining,
            "streams": streams,
            "running": inflight,
            "stateless_requests": stateless or {},
        },
    )


def _is_alive(node_id: str) -> bool:
    cutoff = datetime.now(UTC) - timedelta(seconds=settings.MCP_NODE_LEASE_SECONDS)
    return NodeHeartbeat.objects.filter(node_id=node_id, last_seen__gte=cutoff).exists()


def _forget(node_id: str) -> None:
    NodeHeartbeat.objects.filter(node_id=node_id).delete()


def alive_nodes() -> list[NodeHeartbeat]:
    cutoff = datetime.now(UTC) - timedelta(seconds=settings.MCP_NODE_LEASE_SECONDS)
    return list(NodeHeartbeat.objects.filter(last_seen__gte=cutoff))


arecord = on_upkeep_thread(_record)  # never queued behind request work
ais_alive = database_sync_to_async(_is_alive)
aforget = database_sync_to_async(_forget)
