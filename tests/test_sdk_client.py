"""The official MCP SDK client (2.x) against a live `runmcp` server."""

from __future__ import annotations

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import ClientMessageMetadata

from .conftest import POST_HEADERS, initialize, session_headers
from .sse import iter_events

STREAM_ARGS = {"interval": 0.05, "count": 3, "caller": "sdk"}


def expected_logs(count: int, caller: str) -> list[str]:
    return [
        f"[{i}/{count}] Event from '{caller}' - Use Last-Event-ID to resume if disconnected"
        for i in range(1, count + 1)
    ]


class SessionCapture:
    """An httpx2 client that remembers the Mcp-Session-Id the server hands out."""

    def __init__(self) -> None:
        self.session_id: str | None = None

    async def _on_response(self, response: httpx2.Response) -> None:
        self.session_id = response.headers.get("mcp-session-id") or self.session_id

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=120), event_hooks={"response": [self._on_response]})


async def test_default_auto_mode_lands_on_the_stateless_revision(server):
    """Issue 10: server/discover is served, so auto mode adopts 2026-07-28 (it fell back to initialize)."""
    async with Client(server.url) as client:
        assert client.protocol_version == "2026-07-28"
        assert client.server_info.name == "mcpsite"
        tools = await client.list_tools()
        assert "start-notification-stream" in [tool.name for tool in tools.tools]


async def test_notification_stream_exact_texts(server):
    logs: list[types.LoggingMessageNotificationParams] = []

    async def on_log(params):
        logs.append(params)

    async with Client(server.url, mode="legacy", logging_callback=on_log) as client:
        result = await client.call_tool("start-notification-stream", STREAM_ARGS)
    assert not result.is_error
    assert [c.text for c in result.content] == ["Sent 3 notifications with 0.05s interval for caller: sdk"]
    assert [entry.data for entry in logs] == expected_logs(3, "sdk")
    assert {(entry.level, entry.logger) for entry in logs} == {("info", "notification_stream")}


async def test_integral_interval_prints_as_float(server):
    async with Client(server.url, mode="legacy") as client:
        result = await client.call_tool("start-notification-stream", {"interval": 0, "count": 1, "caller": "x"})
    assert result.content[0].text == "Sent 1 notifications with 0.0s interval for caller: x"


async def test_resource_update_arrives_on_the_get_stream(server):
    updates: list[str] = []
    got = anyio.Event()

    async def on_message(message):
        if isinstance(message, types.ResourceUpdatedNotification):
            updates.append(str(message.params.uri))
            got.set()

    async with Client(server.url, mode="legacy", message_handler=on_message) as client:
        await anyio.sleep(0.3)  # the SDK opens its GET stream after initialized
        await client.call_tool("start-notification-stream", {"interval": 0, "count": 1, "caller": "get"})
        with anyio.fail_after(5):
            await got.wait()
    assert updates == ["http:///test_resource"]


async def test_ping_and_set_level_filter_logs(server):
    logs = []

    async def on_log(params):
        logs.append(params)

    async with Client(server.url, mode="legacy", logging_callback=on_log) as client:
        await client.send_ping()
        await client.set_logging_level("warning")
        result = await client.call_tool("start-notification-stream", STREAM_ARGS)
    assert result.content[0].text.startswith("Sent 3 notifications")
    assert logs == []


async def test_delete_on_close_then_404(server):
    capture = SessionCapture()
    async with capture.client() as http:
        async with Client(streamable_http_client(server.url, http_client=http), mode="legacy") as client:
            await client.send_ping()
        assert capture.session_id
        response = await http.post(
            server.url,
            headers=session_headers(capture.session_id),
            json={"jsonrpc": "2.0", "id": 9, "method": "ping"},
        )
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Session not found"


async def test_resume_after_dropped_stream(server):
    """Drop the POST stream mid-way; the SDK resumes with the last event id on a new connection."""
    async with httpx2.AsyncClient(timeout=30) as http:
        session_id = await anyio.to_thread.run_sync(initialize, httpx2.Client(timeout=10), server.url)
        seen, last_id = [], None
        request = {
            "jsonrpc": "2.0",
            "id": 41,
            "method": "tools/call",
            "params": {"name": "start-notification-stream", "arguments": {"interval": 0.2, "count": 6, "caller": "r"}},
        }
        async with http.stream("POST", server.url, headers=session_headers(session_id), json=request) as response:
            assert response.status_code == 200
            lines = []
            async for line in response.aiter_lines():
                lines.append(line)
                if line == "":
                    events = list(iter_events(iter(lines)))
                    for event in events:
                        last_id = event.id or last_id
                        if event.data:
                            seen.append(event.message["params"]["data"])
                    lines = []
                    if len(seen) == 2:
                        break  # leaving the block closes the connection: a drop, not a cancel
    assert seen == expected_logs(6, "r")[:2]

    logs: list[str] = []

    async def on_log(params):
        logs.append(params.data)

    headers = {"mcp-session-id": session_id, "mcp-protocol-version": "2025-11-25"}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60)) as http:
        async with streamable_http_client(server.url, http_client=http, terminate_on_close=False) as (read, write):
            async with ClientSession(read, write, logging_callback=on_log) as session:
                call = types.CallToolRequest(params=types.CallToolRequestParams(name="start-notification-stream"))
                with anyio.fail_after(20):
                    result = await session.send_request(
                        call, types.CallToolResult, metadata=ClientMessageMetadata(resumption_token=last_id)
                    )
    assert logs == expected_logs(6, "r")[2:]
    assert result.content[0].text == "Sent 6 notifications with 0.2s interval for caller: r"


async def test_sdk_resumption_token_round_trip(server):
    """The SDK's own resumption hooks: record tokens on one connection, resume on another."""
    tokens: list[str] = []
    first_logs: list[str] = []
    two_seen = anyio.Event()
    capture = SessionCapture()

    async def on_token(token: str) -> None:
        tokens.append(token)

    async def on_first_log(params):
        first_logs.append(params.data)
        if len(first_logs) == 2:
            two_seen.set()

    async with capture.client() as http:
        async with streamable_http_client(server.url, http_client=http, terminate_on_close=False) as (read, write):
            async with ClientSession(read, write, logging_callback=on_first_log) as session:
                await session.initialize()
                call = types.CallToolRequest(
                    params=types.CallToolRequestParams(
                        name="start-notification-stream", arguments={"interval": 0.3, "count": 5, "caller": "tok"}
                    )
                )
                async with anyio.create_task_group() as tg:

                    async def run():
                        await session.send_request(
                            call,
                            types.CallToolResult,
                            metadata=ClientMessageMetadata(on_resumption_token_update=on_token),
                        )

                    tg.start_soon(run)
                    with anyio.fail_after(10):
                        await two_seen.wait()
                    tg.cancel_scope.cancel()
    assert first_logs == expected_logs(5, "tok")[:2]
    assert tokens, "the server sent no event ids"

    rest: list[str] = []

    async def on_rest(params):
        rest.append(params.data)

    headers = {"mcp-session-id": capture.session_id, "mcp-protocol-version": "2025-11-25"}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60)) as http:
        async with streamable_http_client(server.url, http_client=http, terminate_on_close=False) as (read, write):
            async with ClientSession(read, write, logging_callback=on_rest) as session:
                with anyio.fail_after(20):
                    result = await session.send_request(
                        types.CallToolRequest(params=types.CallToolRequestParams(name="start-notification-stream")),
                        types.CallToolResult,
                        metadata=ClientMessageMetadata(resumption_token=tokens[-1]),
                    )
    # A request sent with resumption hints is not cancelled by the SDK when abandoned, so the
    # tool ran on: the resumed stream carries exactly what the first connection missed.
    assert first_logs + rest == expected_logs(5, "tok")
    assert result.content[0].text == "Sent 5 notifications with 0.3s interval for caller: tok"


@pytest.mark.parametrize("version", ["2025-03-26", "2025-06-18", "2025-11-25"])
async def test_every_stateful_revision_negotiates(server, version):
    async with httpx2.AsyncClient(timeout=10) as http:
        response = await http.post(
            server.url,
            headers=POST_HEADERS,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "v", "version": "1"}},
            },
        )
    events = list(iter_events(iter(response.text.splitlines())))
    result = [e.message for e in events if e.data][0]["result"]
    assert result["protocolVersion"] == version


async def test_json_response_mode(json_server):
    logs = []

    async def on_log(params):
        logs.append(params)

    async with Client(json_server.url, mode="legacy", logging_callback=on_log) as client:
        result = await client.call_tool("start-notification-stream", STREAM_ARGS)
        tools = await client.list_tools()
    assert result.content[0].text == "Sent 3 notifications with 0.05s interval for caller: sdk"
    assert "start-notification-stream" in [t.name for t in tools.tools]
