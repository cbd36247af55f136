"""Resuming a POST stream (GET with Last-Event-ID): replay, then wait while its request runs, or say it was lost.

The decision "finished, still running, or lost" is made here, once per resume:
replay what is stored after the resume point; if the stream has not ended,
wait while the node running its request is alive (its lease), and when it is
not, store the "Request lost" answers (runtime.lost) and write them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from django.conf import settings

from ..runtime.lost import close_lost_stream, owner_alive
from ..store import event_reads
from .output import StreamOutput

logger = logging.getLogger(__name__)


async def end_on_failure(output: StreamOutput, work: Awaitable[None]) -> None:
    """Run a stream's background work; if it fails, end the stream so the client reconnects."""
    try:
        await work
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        logger.warning(
            "stream %s of session %s failed (%s); asking the client to reconnect", output.stream, output.session_id, exc
        )
        await output.close(retry_ms=settings.MCP_SSE_RETRY_MS)


async def resume_request_stream(output: StreamOutput) -> None:
    session_id, stream = output.session_id, output.stream
    await output.replay()
    meta = await event_reads.stream_meta(session_id, stream)
    if not output.closed and meta.finished:
        await output.close()  # resumed from its last event: nothing more will come
        return
    while not output.closed:
        if not await owner_alive(session_id, stream, meta.node):
            # If the owner answered after all, the stream's one end is taken and this stores nothing.
            await close_lost_stream(session_id, stream, meta)
            await output.write_stored()  # the stream's end, whoever stored it
            await output.close()
            return
        try:
            await asyncio.wait_for(output.finished.wait(), timeout=settings.MCP_HEARTBEAT_SECONDS)
        except TimeoutError:
            pass
