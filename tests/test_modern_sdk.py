"""The official SDK 2.x Client in its modern mode (2026-07-28) against a live server; listen, one node."""

from __future__ import annotations

import anyio
import mcp_types as types
import pytest
from mcp import Client

from .conftest import start_module_server

V = "2026-07-28"


@pytest.fixture(scope="module")
def modern(tmp_path_factory):
    live = start_module_server(tmp_path_factory, "modern_sdk", env={"DJANGO_EXTRA_APPS": "tests.modern_app"})
    yield live
    live.stop()


async def test_auto_mode_lands_on_modern_and_legacy_mode_stays_stateful(modern):
    async with Client(modern.url) as client:
        assert client.protocol_version == V
    async with Client(modern.url, mode="legacy") as client:
        assert client.protocol_version == "2025-11-25"


async def test_discover_list_and_call_every_calculator_tool(modern):
    async with Client(modern.url, mode=V) as client:
        discovered = await client.session.send_discover(V)
        assert discovered["supportedVersions"] == [V]
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"calculate", "batch_calculate", "advanced_calculate", "demo_progress"} <= names
        calls = {
            "calculate": ({"a": 7, "b": 6, "op": "multiply"}, "7 multiply 6 = 42"),
            "batch_calculate": (
                {"calculations": [{"a": 1, "b": 2, "op": "add"}, {"a": 1, "b": 0, "op": "divide"}]},
                "Batch calculation completed. Results:\n1 add 2 = 3\nError: Division by zero",
            ),
            "advanced_calculate": ({"operation": "factorial", "value": 5}, "factorial(5) = 120"),
            "demo_progress": ({"steps": 1}, "Progress demonstration completed with 1 steps"),
        }
        for name, (arguments, text) in calls.items():
            result = await client.call_tool(name, arguments)
            assert not result.is_error and result.content[0].text == text, name
        error = await client.call_tool("calculate", {"a": 1, "b": 0, "op": "divide"})
        assert error.is_error and "Division by zero" in error.content[0].text


async def test_resources_and_prompts(modern):
    async with Client(modern.url, mode=V) as client:
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        assert "calculator://constants" in uris and not any(u.startswith("session://") for u in uris)
        constants = await client.read_resource("calculator://constants")
        assert '"pi"' in constants.contents[0].text
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        assert "explain-calculation" in prompts
        prompt = await client.get_prompt("explain-calculation", {"operation": "add"})
        assert "add" in prompt.messages[0].content.text


async def test_streamed_tool_with_progress_and_logs(modern):
    logs: list[types.LoggingMessageNotificationParams] = []
    progress: list[float] = []

    async def on_log(params):
        logs.append(params)

    async def on_progress(value, total, message):
        progress.append(value)

    async with Client(modern.url, mode=V, logging_callback=on_log, log_level="info") as client:
        result = await client.call_tool("start-notification-stream", {"interval": 0.01, "count": 2, "caller": "v2"})
        assert result.content[0].text == "Sent 2 notifications with 0.01s interval for caller: v2"
        result = await client.call_tool("demo_progress", {"steps": 2}, progress_callback=on_progress)
        assert result.content[0].text == "Progress demonstration completed with 2 steps"
    assert [entry.level for entry in logs] == ["info", "info"]
    assert progress == [0, 1, 2]


async def test_listen_hears_a_change_caused_by_another_request(modern):
    async with Client(modern.url, mode=V) as listener, Client(modern.url, mode=V) as other:
        async with listener.listen(
            tools_list_changed=True, resource_subscriptions=["calculator://stats"]
        ) as subscription:
            await other.call_tool("trigger_prompts_change", {})  # not asked for: never delivered
            await other.call_tool("trigger_tools_change", {})
            with anyio.fail_after(10):
                first = await subscription.__anext__()
            assert type(first).__name__ == "ToolsListChanged"
            await other.call_tool("calculate", {"a": 1, "b": 1, "op": "add"})
            with anyio.fail_after(10):
                second = await subscription.__anext__()
            assert type(second).__name__ == "ResourceUpdated" and second.uri == "calculator://stats"
