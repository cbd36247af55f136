"""`flood`: `count` log notifications as fast as they can be stored (back-pressure tests)."""

from tools_app.registry import ToolContext, registry


@registry.tool(description="Sends `count` notifications/message, with no pause")
async def flood(ctx: ToolContext, count: int) -> str:
    for i in range(1, count + 1):
        await ctx.log("info", f"[{i}/{count}] flood")
    return f"sent {count}"
