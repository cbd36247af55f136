"""JSON-RPC method dispatch for the stateful era.

Each request's params are validated against the SDK's wire types for the
session's protocol revision before a handler sees them. The transport's own
methods live here; tools, resources, prompts and completions are answered
from the tools_app registry (`tools_app.handlers`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from mcp_types import methods as wire
from pydantic import ValidationError

from . import store
from .context import RequestContext
from .jsonrpc import INTERNAL_ERROR, INVALID_PARAMS, METHOD_NOT_FOUND, RpcError, error_message, result_message
from .protocol import LOG_LEVELS

logger = logging.getLogger(__name__)

Handler = Callable[[RequestContext], Awaitable[dict[str, Any]]]


def server_capabilities() -> dict[str, Any]:
    from tools_app.registry import registry

    return {"logging": {}, **registry.capabilities()}


def initialize_result(protocol_version: str) -> dict[str, Any]:
    return {
        "protocolVersion": protocol_version,
        "capabilities": server_capabilities(),
        "serverInfo": {"name": settings.MCP_SERVER_NAME, "version": settings.MCP_SERVER_VERSION},
        "instructions": "mcpsite: an MCP server whose sessions and streams survive restarts and move between nodes.",
    }


def _summarise(error: ValidationError) -> str:
    first = error.errors()[0] if error.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ())) or "params"
    return f"Invalid params: {where}: {first.get('msg', 'invalid')}"


async def _ping(ctx: RequestContext) -> dict[str, Any]:
    return {}


async def _initialize(ctx: RequestContext) -> dict[str, Any]:
    return initialize_result(ctx.session.protocol_version)


async def _set_level(ctx: RequestContext) -> dict[str, Any]:
    level = ctx.params.get("level")
    if level not in LOG_LEVELS:  # the wire types already checked; this guards custom surfaces
        raise RpcError(INVALID_PARAMS, f"Invalid params: unknown log level {level!r}")
    await store.set_log_level(ctx.session.id, level)
    ctx.session.log_level = level
    return {}


CORE_HANDLERS: dict[str, Handler] = {
    "initialize": _initialize,
    "ping": _ping,
    "logging/setLevel": _set_level,
}


def handler_for(method: str) -> Handler | None:
    from tools_app.handlers import HANDLERS as FEATURE_HANDLERS

    return CORE_HANDLERS.get(method) or FEATURE_HANDLERS.get(method)


async def dispatch(ctx: RequestContext) -> dict[str, Any]:
    """Answer one request: its JSON-RPC response message (a result or an error)."""
    handler = handler_for(ctx.method)
    if handler is None:
        return error_message(ctx.request_id, METHOD_NOT_FOUND, f"Method not found: {ctx.method}")
    try:
        wire.validate_client_request(ctx.method, ctx.session.protocol_version, ctx.params or None)
    except KeyError:
        return error_message(ctx.request_id, METHOD_NOT_FOUND, f"Method not found: {ctx.method}")
    except ValidationError as exc:
        return error_message(ctx.request_id, INVALID_PARAMS, _summarise(exc))
    try:
        return result_message(ctx.request_id, await handler(ctx))
    except RpcError as exc:
        return exc.to_message(ctx.request_id)
    except Exception:
        logger.exception("%s failed in session %s", ctx.method, ctx.session.id)
        return error_message(ctx.request_id, INTERNAL_ERROR, "Internal error")
