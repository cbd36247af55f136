"""The official Python SDK's own Streamable HTTP server (MCPServer under uvicorn), for bench/memory.py.

It offers the same `start-notification-stream` tool as mcpsite, in stateful SSE mode.

    uv run python bench/sdk_peer.py PORT
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn
from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("sdk-peer")


@server.tool(name="start-notification-stream")
async def start_notification_stream(interval: float, count: int, caller: str, ctx: Context) -> str:
    for i in range(1, count + 1):
        await ctx.info(f"[{i}/{count}] Event from '{caller}' - Use Last-Event-ID to resume if disconnected")
        if i < count:
            await asyncio.sleep(interval)
    return f"Sent {count} notifications with {interval}s interval for caller: {caller}"


if __name__ == "__main__":
    uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
