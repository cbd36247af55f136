"""subscriptions/listen across nodes: PostgreSQL + Redis, the listen stream on node B, the change on node A."""

from __future__ import annotations

import signal

import anyio
import pytest
from mcp import Client

from .conftest import LiveServer
from .services import PostgresDatabase, RedisServer

V = "2026-07-28"


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("modern_cluster")
    redis = RedisServer(tmp).start()
    database = PostgresDatabase().create()
    env = {
        "USE_REDIS": "true",
        "REDIS_URL": redis.url,
        "DJANGO_EXTRA_APPS": "tests.modern_app",
        "MCP_KEEPALIVE_SECONDS": "2",
        "MCP_DRAIN_SECONDS": "3",
    }
    started: list[LiveServer] = []
    try:
        started.append(LiveServer(database.url, env=env).start(tmp / "a.log"))
        started.append(LiveServer(database.url, extra_args=["--skip-migrate"], env=env).start(tmp / "b.log"))
        yield started
    finally:
        for node in started:
            node.stop(signal.SIGKILL)
        database.drop()
        redis.stop()


async def test_listen_on_node_b_hears_changes_made_on_node_a(nodes):
    node_a, node_b = nodes
    async with Client(node_b.url, mode=V) as listener, Client(node_a.url, mode=V) as other:
        async with listener.listen(
            tools_list_changed=True, resource_subscriptions=["calculator://stats"]
        ) as subscription:
            await other.call_tool("trigger_prompts_change", {})  # not asked for: never delivered
            await other.call_tool("trigger_tools_change", {})
            with anyio.fail_after(10):
                first = await subscription.__anext__()
            assert type(first).__name__ == "ToolsListChanged"
            result = await other.call_tool("calculate", {"a": 2, "b": 2, "op": "add"})
            assert result.content[0].text == "2 add 2 = 4"
            with anyio.fail_after(10):
                second = await subscription.__anext__()
            assert type(second).__name__ == "ResourceUpdated" and second.uri == "calculator://stats"


async def test_drain_ends_a_listen_stream_gracefully(nodes):
    node_a, node_b = nodes
    async with Client(node_b.url, mode=V) as listener:
        async with listener.listen(tools_list_changed=True) as subscription:
            node_b.process.send_signal(signal.SIGTERM)
            with anyio.fail_after(15):
                received = [event async for event in subscription]  # ends without SubscriptionLost
    assert received == []
    assert "draining node" in node_b.log()
