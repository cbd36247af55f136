"""A node whose lease lapsed fences itself: its requests stop and store nothing more.

Run by the heartbeat (runtime.lifecycle) when its last stored beat is older than
MCP_NODE_LEASE_SECONDS: by then other nodes may have answered its requests
"Request lost". Every running request is cancelled without storing anything
(`InflightRequests.fence_all`; the event log also refuses their events while the
lease is lapsed, see runtime.lease), and their open POST streams close with a
`retry:` hint. Once a beat is stored again, each such stream that has no end yet
gets the verdict any other node would give it, "Request lost", so a resume never
waits for a request nobody runs.
"""

from __future__ import annotations

import logging

from django.conf import settings

from ..store import event_reads
from .inflight import inflight
from .lease import lease
from .lost import close_lost_stream
from .publish import hub

logger = logging.getLogger(__name__)


class Fence:
    def __init__(self) -> None:
        self._unsettled: set[tuple[str, str]] = set()

    async def fence(self, node_id: str) -> None:
        streams = set(inflight.fence_all())
        self._unsettled.update(streams)
        logger.error(
            "node %s: no heartbeat stored for %.1fs (lease %ss): fencing %d running request stream(s)",
            node_id,
            lease.age(),
            settings.MCP_NODE_LEASE_SECONDS,
            len(streams),
        )
        for session_id, stream, listener in hub.listeners():
            if (session_id, stream) in streams:
                await listener.close(retry_ms=settings.MCP_SSE_RETRY_MS)

    async def settle(self) -> None:
        """With the lease held again: end the fenced streams that have no end yet, "Request lost"."""
        for session_id, stream in list(self._unsettled):
            if inflight.stream_running(session_id, stream):
                continue  # its tasks are still unwinding
            await close_lost_stream(session_id, stream, await event_reads.stream_meta(session_id, stream))
            self._unsettled.discard((session_id, stream))


fence = Fence()
