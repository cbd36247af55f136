"""What a request must carry before anything runs: acceptable media types, and a live session."""

from __future__ import annotations

import logging
from typing import Any

from ..edge.bearer import Principal, subject_of
from ..edge.headers import accepts, is_json_content
from ..store.sessions import SessionState, sessions
from ..wire.jsonrpc import INTERNAL_ERROR, INVALID_REQUEST, HttpError
from ..wire.messages import Incoming
from ..wire.versions import SESSION_HEADER

logger = logging.getLogger(__name__)


def check_post_headers(headers: dict[str, str], json_mode: bool) -> None:
    """406 unless the client accepts what this server answers with; 415 unless the body is JSON."""
    wants_json, wants_sse = accepts(headers)
    if json_mode and not wants_json:
        raise HttpError(406, INVALID_REQUEST, "Not Acceptable: Client must accept application/json")
    if not json_mode and not (wants_json and wants_sse):
        raise HttpError(
            406, INVALID_REQUEST, "Not Acceptable: Client must accept both application/json and text/event-stream"
        )
    if not is_json_content(headers):
        raise HttpError(415, INVALID_REQUEST, "Unsupported Media Type: Content-Type must be application/json")


async def open_session(
    version: str, params: dict[str, Any], principal: Principal | None, request_id: Any
) -> SessionState:
    """A new session, bound to the caller (None when /mcp is open); 503 beyond MCP_MAX_SESSIONS."""
    user = getattr(principal, "user", None)
    info, capabilities = params.get("clientInfo", {}), params.get("capabilities", {})
    session = await sessions.acreate(version, info, capabilities, subject_of(principal), getattr(user, "pk", None))
    if session is None:
        raise HttpError(503, INTERNAL_ERROR, "Service Unavailable: too many open sessions", request_id=request_id)
    return session


async def live_session(headers: dict[str, str], principal: Principal | None = None) -> SessionState:
    """The session the request names: 400 without one, 404 when it is unknown, expired or terminated,
    or opened by another principal (answered as an unknown one, so a session id reveals nothing)."""
    session_id = headers.get(SESSION_HEADER, "").strip()
    if not session_id:
        raise HttpError(400, INVALID_REQUEST, "Bad Request: Missing session ID")
    session = await sessions.aget(session_id)
    if session is None or not session.live:
        raise HttpError(404, INVALID_REQUEST, "Session not found")
    if session.principal != subject_of(principal):
        logger.warning(
            "session %s refused: opened by %r, used by %r", session.id, session.principal, subject_of(principal)
        )
        raise HttpError(404, INVALID_REQUEST, "Session not found")
    await sessions.atouch(session)
    return session


def rpc_label(incoming: Incoming) -> tuple[str, str | None]:
    """What a POST asked for, for the access log and metrics: (method or kind, tool name if a tools/call)."""
    if incoming.batch:
        return "batch", None
    requests = incoming.requests
    if not requests:
        return ("notification" if incoming.notifications else "response"), None
    method, params = str(requests[0]["method"]), requests[0].get("params")
    tool = str(params.get("name"))[:128] if method == "tools/call" and isinstance(params, dict) else None
    return method, tool
