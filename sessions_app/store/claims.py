"""Request ids in use, cluster-wide: two POSTs with one id in one session never both run.

Each node also keeps its own claims (runtime.inflight); this row makes the
claim hold across nodes. A node's claims are released when its responses are
ready; those of a node whose lease lapsed are taken over.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import IntegrityError, transaction

from ..models import NodeHeartbeat, RequestClaim


def request_key(request_id: Any) -> str:
    return hashlib.sha256(json.dumps(request_id).encode()).hexdigest()


def _claim(session_id: str, request_ids: list[Any], node_id: str) -> bool:
    keys = [request_key(rid) for rid in request_ids]
    cutoff = datetime.now(UTC) - timedelta(seconds=settings.MCP_NODE_LEASE_SECONDS)
    others_alive = NodeHeartbeat.objects.filter(last_seen__gte=cutoff).exclude(node_id=node_id).values("node_id")
    try:
        with transaction.atomic():
            # This node's own leftovers (its local claims said free) and those of dead nodes go.
            RequestClaim.objects.filter(session_id=session_id, request_key__in=keys).exclude(
                node__in=others_alive
            ).delete()
            RequestClaim.objects.bulk_create(
                [RequestClaim(session_id=session_id, request_key=key, node=node_id) for key in keys]
            )
    except IntegrityError:
        return False
    return True


def _release(session_id: str, request_id: Any, node_id: str) -> None:
    RequestClaim.objects.filter(session_id=session_id, request_key=request_key(request_id), node=node_id).delete()


aclaim = database_sync_to_async(_claim)
arelease = database_sync_to_async(_release)
