"""MCP methods answered from the registry: tools, resources and prompts.

They are registered with the runtime's method table in ToolsAppConfig.ready();
the runtime never imports them. Each gets the runtime's RequestContext and
hands user functions the ToolContext around it.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from sessions_app.metrics import TOOL_CALLS
from sessions_app.runtime.asking import InputRequired, require_capabilities
from sessions_app.runtime.client_requests import AskFailed
from sessions_app.runtime.context import RequestContext, ToolContext
from sessions_app.runtime.lease import NodeFenced
from sessions_app.store import subscriptions
from sessions_app.store.outages import dependency_down
from sessions_app.wire.jsonrpc import INVALID_PARAMS, RESOURCE_NOT_FOUND, RpcError

from .access import Caller
from .invoke import call_user_function
from .prompts import PromptError
from .registry import registry
from .resources import ResourceNotFound
from .schema import InvalidArguments
from .tools import ToolError, invalid_arguments

logger = logging.getLogger(__name__)


# --- tools ---------------------------------------------------------------------
async def list_tools(ctx: RequestContext) -> dict[str, Any]:
    return {"tools": [tool.definition() for tool in await Caller(ctx.principal).visible(registry.tools())]}


async def call_tool(ctx: RequestContext) -> dict[str, Any]:
    name = ctx.params.get("name")
    tool = registry.get_tool(name)
    if tool is None:
        TOOL_CALLS.labels(tool="unknown", outcome="unknown").inc()
        raise RpcError(INVALID_PARAMS, f"Unknown tool: {name}")
    try:
        await Caller(ctx.principal).require(tool.guard, f"tool {name!r}")
    except RpcError:
        TOOL_CALLS.labels(tool=name, outcome="forbidden").inc()
        raise
    require_capabilities(ctx, tool.requires)
    ctx.input_timeout = tool.input_timeout
    try:
        arguments = tool.validate(ctx.params.get("arguments"))
    except (ValidationError, InvalidArguments) as exc:
        TOOL_CALLS.labels(tool=name, outcome="invalid").inc()
        return _error_result(invalid_arguments(exc))
    try:
        value = await tool.call(ToolContext(ctx), arguments)
    except ToolError as exc:
        TOOL_CALLS.labels(tool=name, outcome="error").inc()
        return _error_result(str(exc))
    except AskFailed as exc:  # the client refused, timed out, or answered nonsense: the model reads why
        TOOL_CALLS.labels(tool=name, outcome="error").inc()
        return _error_result(str(exc))
    except InputRequired:  # 2026-07-28: this round lacks answers (runtime.methods makes the result)
        TOOL_CALLS.labels(tool=name, outcome="input_required").inc()
        raise
    except (RpcError, NodeFenced):  # a protocol error, or this node may store nothing more: not the tool's
        TOOL_CALLS.labels(tool=name, outcome="error").inc()
        raise
    except Exception as exc:
        TOOL_CALLS.labels(tool=name, outcome="error").inc()
        if dependency_down(exc):
            raise  # an outage, not the tool's answer: methods.call makes it a JSON-RPC error
        # A failing tool is the model's problem to read, not a crash; its text stays in the log.
        logger.exception("tool %s failed", name)
        return _error_result(f"Tool {name} failed with an internal error")
    TOOL_CALLS.labels(tool=name, outcome="ok").inc()
    return _tool_result(value)


def _error_result(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


def _tool_result(value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and "content" in value:
        return value
    if isinstance(value, str):
        return {"content": [{"type": "text", "text": value}], "isError": False}
    if isinstance(value, list):
        return {"content": value, "isError": False}
    raise TypeError(f"a tool returned {type(value).__name__}; expected str, a content list or a result dict")


# --- resources -------------------------------------------------------------------
# A stateless (2026-07-28) request has no session: resources meaning "this session" (session_scoped)
# and the per-session listers are left out of its lists, and reading one answers -32602 saying why.
async def list_resources(ctx: RequestContext) -> dict[str, Any]:
    resources = await Caller(ctx.principal).visible(registry.resources())
    entries = [r.definition() for r in resources if not (ctx.stateless and r.session_scoped)]
    for lister in () if ctx.stateless else registry.listers():
        entries.extend(await call_user_function(lister, ToolContext(ctx)))
    return {"resources": entries}


async def list_templates(ctx: RequestContext) -> dict[str, Any]:
    visible = await Caller(ctx.principal).visible(registry.templates())
    templates = [t for t in visible if not (ctx.stateless and t.session_scoped)]
    return {"resourceTemplates": [template.definition() for template in templates]}


def not_found(uri: str, ctx: RequestContext | None = None) -> RpcError:
    if ctx is not None and ctx.stateless:  # SEP-2164: -32602 naming the URI
        return RpcError(INVALID_PARAMS, f"Unknown resource: {uri}", {"uri": uri})
    return RpcError(RESOURCE_NOT_FOUND, "Resource not found", {"uri": uri})


def session_scoped(uri: str) -> RpcError:
    return RpcError(
        INVALID_PARAMS,
        f"Resource {uri} belongs to a session, and a 2026-07-28 request has none: open a session "
        "(initialize, a 2025 revision) to read it",
        {"uri": uri, "reason": "session_scoped"},
    )


async def read_resource(ctx: RequestContext) -> dict[str, Any]:
    uri = ctx.params["uri"]
    found = registry.find_resource(uri)
    if found is None:
        raise not_found(uri, ctx)
    resource, variables = found
    await Caller(ctx.principal).require(resource.guard, f"resource {uri!r}")
    if ctx.stateless and resource.session_scoped:
        raise session_scoped(uri)
    try:
        if variables:
            result = {"contents": await resource.read(ToolContext(ctx), uri, variables)}
        else:
            result = {"contents": await resource.read(ToolContext(ctx), uri)}
    except ResourceNotFound:
        raise not_found(uri, ctx) from None
    if ctx.stateless and resource.cache:
        result.update(resource.cache)
    return result


async def subscribe(ctx: RequestContext) -> dict[str, Any]:
    uri = ctx.params["uri"]
    await read_resource(ctx)  # only what this session may read can be subscribed to
    await subscriptions.subscribe(ctx.session.id, uri)
    return {}


async def unsubscribe(ctx: RequestContext) -> dict[str, Any]:
    await subscriptions.unsubscribe(ctx.session.id, ctx.params["uri"])
    return {}


# --- prompts ---------------------------------------------------------------------
async def list_prompts(ctx: RequestContext) -> dict[str, Any]:
    return {"prompts": [prompt.definition() for prompt in await Caller(ctx.principal).visible(registry.prompts())]}


async def get_prompt(ctx: RequestContext) -> dict[str, Any]:
    name = ctx.params.get("name")
    prompt = registry.get_prompt(name)
    if prompt is None:
        raise RpcError(INVALID_PARAMS, f"Unknown prompt: {name}")
    await Caller(ctx.principal).require(prompt.guard, f"prompt {name!r}")
    given = ctx.params.get("arguments") or {}
    missing = prompt.missing(given)
    if missing:
        raise RpcError(INVALID_PARAMS, f"Missing required arguments: {', '.join(missing)}")
    try:
        return await prompt.render(ToolContext(ctx), given)
    except PromptError as exc:
        raise RpcError(INVALID_PARAMS, str(exc)) from None


HANDLERS = {
    "tools/list": list_tools,
    "tools/call": call_tool,
    "resources/list": list_resources,
    "resources/templates/list": list_templates,
    "resources/read": read_resource,
    "resources/subscribe": subscribe,
    "resources/unsubscribe": unsubscribe,
    "prompts/list": list_prompts,
    "prompts/get": get_prompt,
}


def _tool_effects_stored(params: Any) -> bool:
    """A call of a tool registered with stored_effects_only=True (see the registry)."""
    tool = registry.get_tool(params.get("name")) if isinstance(params, dict) else None
    return tool is not None and tool.stored_effects_only


# The methods whose requests have no effect but what they store (runtime.methods.MethodTable.register):
# listings that run no user code, and calls of tools that say so. Reads and the resource list, which run
# the apps' functions, keep the claim taken before they start.
EFFECTS_STORED = {
    "tools/list": True,
    "tools/call": _tool_effects_stored,
    "resources/templates/list": True,
    "prompts/list": True,
}
