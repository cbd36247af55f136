"""MCP methods answered from the registry: tools, resources, prompts, completions."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from mcpsite.metrics import TOOL_CALLS
from sessions_app import subscriptions
from sessions_app.context import RequestContext
from sessions_app.jsonrpc import INVALID_PARAMS, RpcError

from .prompts import PromptError
from .registry import registry
from .resources import RESOURCE_NOT_FOUND, Completer, ResourceNotFound, call_offering
from .tools import ToolError, describe_validation_error

logger = logging.getLogger(__name__)
MAX_COMPLETIONS = 100


# --- tools ---------------------------------------------------------------------
async def list_tools(ctx: RequestContext) -> dict[str, Any]:
    return {"tools": [tool.definition() for tool in registry.tools()]}


async def call_tool(ctx: RequestContext) -> dict[str, Any]:
    name = ctx.params.get("name")
    tool = registry.get_tool(name)
    if tool is None:
        TOOL_CALLS.labels(tool="unknown", outcome="unknown").inc()
        raise RpcError(INVALID_PARAMS, f"Unknown tool: {name}")
    try:
        arguments = tool.validate(ctx.params.get("arguments"))
    except ValidationError as exc:
        TOOL_CALLS.labels(tool=name, outcome="invalid").inc()
        return _error_result(describe_validation_error(exc))
    try:
        value = await tool.call(ctx, arguments)
    except ToolError as exc:
        TOOL_CALLS.labels(tool=name, outcome="error").inc()
        return _error_result(str(exc))
    except RpcError:
        TOOL_CALLS.labels(tool=name, outcome="error").inc()
        raise
    except Exception as exc:  # a failing tool is the model's problem to read, not a crash
        logger.exception("tool %s failed", name)
        TOOL_CALLS.labels(tool=name, outcome="error").inc()
        return _error_result(f"Tool {name} failed: {exc}")
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
async def list_resources(ctx: RequestContext) -> dict[str, Any]:
    entries = [resource.definition() for resource in registry.resources()]
    for lister in registry.listers():
        entries.extend(await call_offering(lister, ctx))
    return {"resources": entries}


async def list_templates(ctx: RequestContext) -> dict[str, Any]:
    return {"resourceTemplates": [template.definition() for template in registry.templates()]}


def _not_found(uri: str) -> RpcError:
    return RpcError(RESOURCE_NOT_FOUND, "Resource not found", {"uri": uri})


async def read_resource(ctx: RequestContext) -> dict[str, Any]:
    uri = ctx.params["uri"]
    found = registry.find_resource(uri)
    if found is None:
        raise _not_found(uri)
    resource, variables = found
    try:
        if variables:
            return {"contents": await resource.read(ctx, uri, variables)}
        return {"contents": await resource.read(ctx, uri)}
    except ResourceNotFound:
        raise _not_found(uri) from None


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
    return {"prompts": [prompt.definition() for prompt in registry.prompts()]}


async def get_prompt(ctx: RequestContext) -> dict[str, Any]:
    name = ctx.params.get("name")
    prompt = registry.get_prompt(name)
    if prompt is None:
        raise RpcError(INVALID_PARAMS, f"Unknown prompt: {name}")
    given = ctx.params.get("arguments") or {}
    missing = prompt.missing(given)
    if missing:
        raise RpcError(INVALID_PARAMS, f"Missing required arguments: {', '.join(missing)}")
    try:
        return await prompt.render(ctx, given)
    except PromptError as exc:
        raise RpcError(INVALID_PARAMS, str(exc)) from None


# --- completion --------------------------------------------------------------------
async def complete(ctx: RequestContext) -> dict[str, Any]:
    ref = ctx.params["ref"]
    argument = ctx.params["argument"]
    completer: Completer | None = None
    if ref.get("type") == "ref/prompt":
        prompt = registry.get_prompt(ref.get("name"))
        if prompt is None:
            raise RpcError(INVALID_PARAMS, f"Unknown prompt: {ref.get('name')}")
        completer = prompt.complete.get(argument["name"])
    elif ref.get("type") == "ref/resource":
        template = registry.get_template(ref.get("uri"))
        if template is None:
            raise _not_found(ref.get("uri"))
        completer = template.complete.get(argument["name"])
    values = await _candidates(completer, ctx, argument.get("value", ""))
    typed = argument.get("value", "").lower()
    matching = [value for value in values if value.lower().startswith(typed)]
    return {
        "completion": {
            "values": matching[:MAX_COMPLETIONS],
            "total": len(matching),
            "hasMore": len(matching) > MAX_COMPLETIONS,
        }
    }


async def _candidates(completer: Completer | None, ctx: RequestContext, value: str) -> list[str]:
    if completer is None:
        return []
    if isinstance(completer, list):
        return completer
    produced = await call_offering(completer, ctx, value)
    return [str(item) for item in produced]


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
    "completion/complete": complete,
}
