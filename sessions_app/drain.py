"""Graceful shutdown of a node (SIGTERM): drain, then stop.

1. Stop taking new requests (the server stops listening; requests on open
   connections get 503 with Retry-After).
2. Close the streams that carry no request running here (GET streams, resumed
   streams of requests elsewhere) with a `retry:` hint: clients reconnect to
   another node and resume with Last-Event-ID.
3. Let running requests finish, up to MCP_DRAIN_SECONDS; answer the rest with
   a stored "interrupted" error, so resuming clients learn at once.
4. Close what is left, and remove this node's heartbeat.
"""

from __future__ import annotations

import logging

from django.conf import settings

from .events import GET_STREAM
from .fanout import hub
from .node import beat_now, node
from .running import running

logger = logging.getLogger(__name__)


async def _close_streams(*, keep_running: bool) -> int:
    closed = 0
    for session_id, stream, listener in hub.listeners():
        if keep_running and stream != GET_STREAM and running.stream_running(session_id, stream):
            continue
        await listener.end("node shutting down", retry_ms=settings.MCP_SSE_RETRY_MS)
        closed += 1
    return closed


async def drain(grace_seconds: float | None = None) -> None:
    grace = settings.MCP_DRAIN_SECONDS if grace_seconds is None else grace_seconds
    node.draining = True
    try:
        await beat_now(node.node_id, True)
    except Exception as exc:
        logger.warning("could not mark node %s as draining: %s", node.node_id, exc)
    closed = await _close_streams(keep_running=True)
    logger.info("draining node %s: closed %d idle streams, %d requests running", node.node_id, closed, running.count())
    if not await running.wait_idle(grace):
        interrupted = running.interrupt_all()
        logger.warning("drain grace of %ss is over: interrupting %d requests", grace, interrupted)
        await running.wait_idle(5)
    await _close_streams(keep_running=False)
    await node.stop()
    logger.info("node %s drained", node.node_id)
