"""completion/complete: candidates for a prompt's or a resource template's argument, from its completer."""

from __future__ import annotations

from typing import Any

from sessions_app.runtime.context import RequestContext, ToolContext
from sessions_app.wire.jsonrpc import INVALID_PARAMS, RpcError

from .access import Caller
from .handlers import not_found
from .invoke import call_user_function
from .registry import registry
from .resources import Completer

MAX_COMPLETIONS = 100


async def complete(ctx: RequestContext) -> dict[str, Any]:
    ref = ctx.params["ref"]
    argument = ctx.params["argument"]
    completer: Completer | None = None
    if ref.get("type") == "ref/prompt":
        prompt = registry.get_prompt(ref.get("name"))
        if prompt is None:
            raise RpcError(INVALID_PARAMS, f"Unknown prompt: {ref.get('name')}")
        await Caller(ctx.principal).require(prompt.guard, f"prompt {prompt.name!r}")  # its arguments are its own
        completer = prompt.complete.get(argument["name"])
    elif ref.get("type") == "ref/resource":
        template = registry.get_template(ref.get("uri"))
        if template is None or (ctx.stateless and template.session_scoped):
            raise not_found(ref.get("uri"), ctx)
        await Caller(ctx.principal).require(template.guard, f"resource {template.uri_template!r}")
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
    produced = await call_user_function(completer, ToolContext(ctx), value)
    return [str(item) for item in produced]
