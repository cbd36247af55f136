"""Requests whose node went away: is a stream's request still running, and answering it lost when not."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError

from ..models import StreamEvent
from ..store import client_requests, heartbeats
from ..store.event_reads import StreamMeta
from ..store.eventlog import NewEvent
from ..wire.jsonrpc import REQUEST_LOST, error_message
from .inflight import inflight
from .publish import append_and_publish

logger = logging.getLogger(__name__)
Kind = StreamEvent.Kind


async def owner_alive(session_id: str, stream: str, owner: str | None) -> bool:
    """Is the request behind a stream still running somewhere? (Here: in flight; elsewhere: its node's lease.)"""
    if owner is None or owner == settings.MCP_NODE_ID:
        return inflight.stream_running(session_id, stream)
    return await heartbeats.ais_alive(owner)


async def close_lost_stream(session_id: str, stream: str, meta: StreamMeta) -> None:
    """End a request stream whose request no process is running any more.

    Its requests get a JSON-RPC error, stored like any response so every later
    resume of the stream ends the same way instead of waiting forever.
    """
    if meta.request_ids is None or meta.finished:
        return  # not a request stream, or it has its end
    requests = meta.request_ids
    batch = [
        NewEvent(
            session_id,
            stream,
            Kind.RESPONSE if index == len(requests) - 1 else Kind.BATCH_RESPONSE,
            error_message(request_id, REQUEST_LOST, "Request lost: the server stopped before it finished"),
        )
        for index, request_id in enumerate(requests)
    ] or [NewEvent(session_id, stream, Kind.CANCELLED, None)]
    await client_requests.alose_stream(session_id, stream)  # no tool waits for its questions' answers
    try:
        await append_and_publish(batch)
    except IntegrityError:  # the stream ended meanwhile (its node answered, or another resume did this)
        return
    logger.warning(
        "stream %s of session %s was lost; answered %d request(s) with an error", stream, session_id, len(requests)
    )
