"""The MCP Python SDK 1.x client answering a tool's questions across two nodes (run by
test_client_requests_cluster.py with uvx, in an env of its own).

Every request alternates between the nodes, except that each answer goes to the node that
did not receive the tools/call: the tool waits on one node, its answer arrives at the other.

Usage: python sdk_v1_asking_client.py URL_A URL_B
"""

import asyncio
import itertools
import json
import sys

import httpx
from mcp import ClientSession, types
from mcp.client.streamable_http import streamablehttp_client


class AnswersElsewhere(httpx.AsyncBaseTransport):
    def __init__(self, ports):
        self.ports = ports
        self.cycle = itertools.cycle(ports)
        self.inner = httpx.AsyncHTTPTransport()
        self.call_port = None
        self.routes = []

    async def handle_async_request(self, request):
        body = json.loads(request.content) if request.method == "POST" and request.content else None
        if isinstance(body, dict) and "method" not in body and self.call_port is not None:
            port = next(p for p in self.ports if p != self.call_port)  # an answer: the other node
        else:
            port = next(self.cycle)
            if isinstance(body, dict) and body.get("method") == "tools/call":
                self.call_port = port
        label = request.method if body is None else body.get("method", "answer") if isinstance(body, dict) else "batch"
        self.routes.append((label, port))
        request.url = request.url.copy_with(port=port)
        return await self.inner.handle_async_request(request)


async def main(url_a, url_b):
    ports = [httpx.URL(url_a).port, httpx.URL(url_b).port]
    balancer = AnswersElsewhere(ports)

    def client_factory(headers=None, timeout=None, auth=None):
        return httpx.AsyncClient(transport=balancer, headers=headers, timeout=timeout, auth=auth)

    async def on_roots(context):
        return types.ListRootsResult(roots=[types.Root(uri="file:///srv/v1", name="v1")])

    async def on_elicit(context, params):
        return types.ElicitResult(action="accept", content={"stars": 4, "comment": "from 1.x"})

    async def on_sample(context, params):
        text = types.TextContent(type="text", text="a one-line summary")
        return types.CreateMessageResult(role="assistant", content=text, model="v1-model")

    async with streamablehttp_client(url_a, httpx_client_factory=client_factory) as (read, write, get_session_id):
        async with ClientSession(
            read, write, list_roots_callback=on_roots, elicitation_callback=on_elicit, sampling_callback=on_sample
        ) as session:
            await session.initialize()
            result = await session.call_tool("survey", {"topic": "v1"})
            print("session", get_session_id())
            print("result", result.content[0].text)
            answers = [port for method, port in balancer.routes if method == "answer"]
            calls = [port for method, port in balancer.routes if method == "tools/call"]
            print("calls", json.dumps(calls))
            print("answers", json.dumps(answers))


asyncio.run(main(sys.argv[1], sys.argv[2]))
