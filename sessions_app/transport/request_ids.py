"""A POST's request ids: claimed on this node, then across nodes, before its requests run (or, for a lone
request with no effect but what it stores, with its stream's first events: runtime.stream_claim)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from ..runtime.inflight import inflight
from ..runtime.methods import methods
from ..store import claims
from ..wire.jsonrpc import INVALID_REQUEST, HttpError, dumps

logger = logging.getLogger(__name__)


def in_use_error(request_id: Any) -> HttpError:
    return HttpError(
        400, INVALID_REQUEST, "Invalid Request: a request id is already in use in this session", request_id=request_id
    )


def claimed_with_first_events(requests: list[dict[str, Any]], batch: bool, json_mode: bool) -> bool:
    """A lone request, answered on a stored stream, whose method has no effect but what it stores."""
    if json_mode or batch:
        return False
    return methods.effects_stored(requests[0]["method"], requests[0].get("params"))


async def claim(session_id: str, ids: list[Any], first_request_id: Any, *, across_nodes: bool) -> None:
    """Take the request ids: on this node (no await between check and claim), then across nodes unless the
    claim rides the stream's first events; HttpError 400 if one is in use."""
    if len({dumps(i) for i in ids}) != len(ids) or not inflight.claim(session_id, ids):
        raise in_use_error(first_request_id)
    if not across_nodes:
        return
    try:
        claimed = await claims.aclaim(session_id, ids, settings.MCP_NODE_ID)
    except BaseException:
        inflight.release(session_id, ids)
        raise
    if not claimed:
        inflight.release(session_id, ids)
        raise in_use_error(first_request_id)


async def release(session_id: str, ids: list[Any]) -> None:
    """Give claimed ids back across nodes (their requests never started)."""
    for request_id in ids:
        try:
            await claims.arelease(session_id, request_id, settings.MCP_NODE_ID)
        except Exception as exc:  # left behind: this node takes it back on its next claim of the id
            logger.warning("could not release request id %r of session %s: %s", request_id, session_id, exc)
