"""Offerings for tests/test_modern_http.py: header-mirrored arguments, a capability need, a slow recorder."""

import asyncio
from typing import Annotated

from pydantic import Field

from sessions_app.runtime import notifications
from tools_app.calculator import history
from tools_app.registry import ToolContext, registry


@registry.tool(description="Echoes arguments that clients mirror into Mcp-Param-* headers")
async def routed(
    region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})],
    count: Annotated[int | None, Field(json_schema_extra={"x-mcp-header": "Count"})] = None,
) -> str:
    return f"{region}:{count}"


@registry.tool(description="Needs the client's sampling capability", requires={"sampling": {}})
async def needs_sampling() -> str:
    return "sampled"


@registry.tool(description="Stores one calculation per step, with progress between steps")
async def slow_record(ctx: ToolContext, steps: int, pause: float, tag: str) -> str:
    for step in range(1, steps + 1):
        await history.record(ctx.session_id, [history.Entry("add", [step, 0], step, f"{tag} {step}")])
        await ctx.progress(step, steps, f"stored {step}")
        await asyncio.sleep(pause)
    return f"stored {steps}"


@registry.tool(description="Logs at debug, info and error")
async def log_levels(ctx: ToolContext) -> str:
    for level in ("debug", "info", "error"):
        await ctx.log(level, f"at {level}")
    return f"era={ctx.era} session={ctx.session_id}"


@registry.tool(description="Says tools/list changed, to every listen stream on every node")
async def trigger_tools_change() -> str:
    await notifications.tools_list_changed()
    return "tools changed"


@registry.tool(description="Says prompts/list changed, to every listen stream on every node")
async def trigger_prompts_change() -> str:
    await notifications.prompts_list_changed()
    return "prompts changed"
