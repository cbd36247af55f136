"""Drives a server with the MCP Python SDK 1.x client (run by test_sdk_v1.py in an env of its own).

Usage: python sdk_v1_client.py URL
"""

import asyncio
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


async def main(url):
    logs = []

    async def on_log(params):
        logs.append(params.data)

    async with streamablehttp_client(url) as (read, write, get_session_id):
        async with ClientSession(read, write, logging_callback=on_log) as session:
            init = await session.initialize()
            tools = await session.list_tools()
            result = await session.call_tool(
                "start-notification-stream", {"interval": 0.05, "count": 3, "caller": "v1"}
            )
            calc = await session.call_tool("calculate", {"a": 7, "b": 5, "op": "add"})
            res = await session.read_resource("calculator://history")
            prompt = await session.get_prompt("calculator_assistant", {"query": "x"})
            print("version", init.protocolVersion, "session", get_session_id())
            print("tools", sorted(t.name for t in tools.tools))
            print("result", result.content[0].text, "| calc", calc.content[0].text)
            print("logs", logs)
            print("history", res.contents[0].text[:80].replace("\n", " "))
            print("prompt", prompt.messages[0].content.text)


asyncio.run(main(sys.argv[1]))
