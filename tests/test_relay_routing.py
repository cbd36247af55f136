"""What crosses Redis between nodes (PostgreSQL + Redis, two nodes): a POST subscribes to nothing, and events
stored on one node still reach the streams other nodes hold.

The keep-alive is 60 s here, so its database catch-up cannot stand in for the relay: whatever a stream on
node B gets before then came live from node A through Redis.
"""

from __future__ import annotations

import asyncio

import httpx2
import pytest
import redis as redis_client

from . import test_distributed as distributed
from .test_distributed import Cluster, open_session, rpc

redis = distributed.redis
postgres = distributed.postgres


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, postgres, redis):
    nodes = Cluster(tmp_path_factory.mktemp("relay"), postgres, redis)
    nodes.env["MCP_KEEPALIVE_SECONDS"] = "60"
    nodes.add_node("a")
    nodes.add_node("b")
    yield nodes
    nodes.stop()


def listening_nodes(redis_url: str) -> int:
    """Node listeners subscribed: each has a channel of its own (besides the shared group of all nodes)."""
    return len(redis_client.Redis.from_url(redis_url).pubsub_channels()) - 1


def command_calls(redis_url: str) -> dict[str, int]:
    stats = redis_client.Redis.from_url(redis_url).info("commandstats")
    return {name.removeprefix("cmdstat_"): entry["calls"] for name, entry in stats.items()}


async def test_posts_answered_at_once_subscribe_to_nothing_and_publish_nothing(cluster):
    a = cluster.nodes[0]
    async with httpx2.AsyncClient(timeout=10) as http:
        session_id = await open_session(http, a)
        for _ in range(100):  # both listeners subscribed (they start with their node's first request)
            if listening_nodes(cluster.redis.url) >= 2:
                break
            await asyncio.sleep(0.1)
        before = command_calls(cluster.redis.url)
        for rid in range(1, 21):
            assert (await rpc(http, a, session_id, "ping", rid=rid))["result"] == {}
        await asyncio.sleep(0.3)  # the relay's sender runs after the response
        after = command_calls(cluster.redis.url)
    delta = {
        command: after.get(command, 0) - before.get(command, 0) for command in ("subscribe", "unsubscribe", "publish")
    }
    assert delta["subscribe"] == delta["unsubscribe"] == 0, delta
    # Answered at once: the streams' events were stored with their priming rows, before any other node could
    # know the streams, so nothing needs to cross Redis (a resume reads them from the database).
    assert delta["publish"] == 0, delta


# test_distributed's own cross-node tests, on this cluster: with the keep-alive out of reach, they pass
# only if the relay delivers.
async def test_a_stream_resumed_on_b_gets_what_a_stores_next_live(cluster):
    await distributed.test_dropped_post_stream_resumes_on_another_node(cluster)


async def test_a_get_stream_on_b_gets_notifications_stored_on_a_live(cluster):
    await distributed.test_get_stream_on_b_receives_messages_produced_on_a(cluster)
