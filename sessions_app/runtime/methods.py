"""The JSON-RPC method table of the stateful era.

The runtime owns `initialize`, `ping` and `logging/setLevel`. Everything else
is registered from above (tools_app registers tools, resources, prompts and
completion in its AppConfig.ready()), so the runtime never imports what it
serves. Each request's params are validated against the SDK's wire types for
the session's protocol revision before a handler sees them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from mcp_types import methods as wire_methods
from pydantic import ValidationError

from ..edge.bearer import subject_of
from ..store.outages import dependency_down
from ..store.sessions import sessions
from ..wire.jsonrpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    REQUEST_LOST,
    RpcError,
    error_message,
    result_message,
)
from ..wire.validation import describe_validation_error
from ..wire.versions import LOG_LEVELS
from .asking import INPUT_METHODS, InputRequired, Rounds
from .client_requests import AskFailed
from .context import RequestContext
from .lease import NodeFenced

logger = logging.getLogger(__name__)

Handler = Callable[[RequestContext], Awaitable[dict[str, Any]]]
# Whether a request (by its params) has no effect but what it stores on its stream and with its answer.
EffectsStored = Callable[[Any], bool]
CapabilityProvider = Callable[[], dict[str, Any]]
INSTRUCTIONS = "mcpsite: an MCP server whose sessions and streams survive restarts and move between nodes."


def validate_params(method: str, version: str, params: dict[str, Any] | None) -> None:
    """Raise RpcError unless `params` are what `method` takes in protocol `version`."""
    try:
        wire_methods.validate_client_request(method, version, params or None)
    except KeyError:
        raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}") from None
    except ValidationError as exc:
        summary = describe_validation_error(exc, default_where="params", limit=1)
        raise RpcError(INVALID_PARAMS, f"Invalid params: {summary}") from None


class MethodTable:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._effects_stored: dict[str, EffectsStored] = {}
        self._capability_providers: list[CapabilityProvider] = []

    def register(self, method: str, handler: Handler, *, effects_stored: bool | EffectsStored = False) -> None:
        """`effects_stored`: the method (or, a function of its params, the request) has no effect but what it
        stores through its request (notifications and questions on its stream, store.answer_writes with its
        answer). Such a request runs before its id is claimed across nodes: the claim rides the commit of
        its first stored events (store.claims.with_first_events), one commit fewer."""
        if method in self._handlers and self._handlers[method] is not handler:
            raise ValueError(f"method {method!r} is registered twice")
        self._handlers[method] = handler
        if effects_stored:
            self._effects_stored[method] = effects_stored if callable(effects_stored) else _always

    def effects_stored(self, method: str, params: Any) -> bool:
        """Whether this request may run before its id is claimed across nodes (see `register`)."""
        check = self._effects_stored.get(method)
        return check is not None and check(params)

    def add_capabilities(self, provider: CapabilityProvider) -> None:
        """`provider()` adds to what initialize advertises (called at each initialize)."""
        if provider not in self._capability_providers:
            self._capability_providers.append(provider)

    def knows(self, method: str) -> bool:
        return method in self._handlers

    def capabilities(self) -> dict[str, Any]:
        caps: dict[str, Any] = {"logging": {}}
        for provider in self._capability_providers:
            caps.update(provider())
        return caps

    async def call(self, ctx: RequestContext) -> dict[str, Any]:
        """Answer one request: its JSON-RPC response message (a result or an error)."""
        handler = self._handlers.get(ctx.method)
        try:
            if handler is None:
                raise RpcError(METHOD_NOT_FOUND, f"Method not found: {ctx.method}")
            if not ctx.params_checked:
                validate_params(ctx.method, ctx.session.protocol_version, ctx.params)
            if ctx.stateless and ctx.method in INPUT_METHODS:
                ctx.rounds = Rounds(ctx.method, ctx.params, subject_of(ctx.principal))
            return result_message(ctx.request_id, await handler(ctx))
        except InputRequired as needed:
            if ctx.rounds is None:  # only a modern round raises it; anything else is a bug
                logger.error("%s raised InputRequired outside a 2026-07-28 round", ctx.method)
                return error_message(ctx.request_id, INTERNAL_ERROR, "Internal error")
            return result_message(ctx.request_id, ctx.rounds.result(ctx.method, ctx.params, needed))
        except Exception as exc:
            return error_response(ctx, exc)


def error_response(ctx: RequestContext, exc: Exception) -> dict[str, Any]:
    """The JSON-RPC error for a request that failed; no exception text reaches the client but its own."""
    if isinstance(exc, RpcError):
        return exc.to_message(ctx.request_id)
    if isinstance(exc, AskFailed):  # a prompt's or a resource's question (a tool's is its error result)
        return error_message(ctx.request_id, exc.code, str(exc))
    if isinstance(exc, NodeFenced):  # this node's lease lapsed mid-call: not a bug, and nothing is stored
        logger.warning("%s in session %s stopped: %s", ctx.method, ctx.session.id, exc)
        return error_message(ctx.request_id, REQUEST_LOST, "Request lost: the server node stalled")
    down = dependency_down(exc)  # an outage is named, anything else is "Internal error"
    if down:
        logger.error("%s in session %s: %s is unreachable: %s", ctx.method, ctx.session.id, down, exc)
        return error_message(ctx.request_id, INTERNAL_ERROR, f"Service Unavailable: {down} is unreachable")
    logger.error("%s failed in session %s", ctx.method, ctx.session.id, exc_info=exc)
    return error_message(ctx.request_id, INTERNAL_ERROR, "Internal error")


def _always(params: Any) -> bool:
    return True


methods = MethodTable()


async def _initialize(ctx: RequestContext) -> dict[str, Any]:
    return {
        "protocolVersion": ctx.session.protocol_version,
        "capabilities": methods.capabilities(),
        "serverInfo": {"name": settings.MCP_SERVER_NAME, "version": settings.MCP_SERVER_VERSION},
        "instructions": INSTRUCTIONS,
    }


async def _ping(ctx: RequestContext) -> dict[str, Any]:
    return {}


async def _set_level(ctx: RequestContext) -> dict[str, Any]:
    level = ctx.params.get("level")
    if level not in LOG_LEVELS:  # the wire types already checked; this guards custom surfaces
        raise RpcError(INVALID_PARAMS, f"Invalid params: unknown log level {level!r}")
    await sessions.aset_log_level(ctx.session.id, level)
    ctx.session.log_level = level
    return {}


methods.register("initialize", _initialize)
methods.register("ping", _ping, effects_stored=True)
methods.register("logging/setLevel", _set_level)
