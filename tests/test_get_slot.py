"""One standalone GET stream per session, whatever the load, a Redis restart or a dead node.

The slot lives in the session's database row: a cache that culls entries (the
embedded LocMemCache keeps 300) or a Redis restart must not free it, and a node
killed while holding it must not hold it forever.
"""

from __future__ import annotations

import asyncio
import signal
import time

import httpx2
import pytest

from .conftest import initialize, session_headers, start_module_server
from .services import PostgresDatabase, RedisServer
from .test_distributed import Cluster, SseReader, headers, open_session, rpc

STREAMS = 400  # more than the 300 entries LocMemCache keeps


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    live = start_module_server(tmp_path_factory, "getslot")
    yield live
    live.stop()


async def _open_get(port: int, session_id: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int]:
    """A raw GET stream; returns its reader, writer and status once the headers are in."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
        f"Mcp-Session-Id: {session_id}\r\nMcp-Protocol-Version: 2025-11-25\r\n\r\n"
    )
    writer.write(request.encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 20)
    return reader, writer, int(status_line.split()[1])


async def test_second_get_is_refused_with_hundreds_of_open_streams(embedded):
    with httpx2.Client(timeout=20) as http:
        session_ids = [initialize(http, embedded.url) for _ in range(STREAMS)]
    opened: list[asyncio.StreamWriter] = []
    try:
        for first in range(0, STREAMS, 50):
            results = await asyncio.gather(*(_open_get(embedded.port, s) for s in session_ids[first : first + 50]))
            opened += [writer for _, writer, _ in results]
            assert {status for _, _, status in results} == {200}
        for session_id in (session_ids[0], session_ids[STREAMS // 2], session_ids[-1]):
            _, writer, status = await _open_get(embedded.port, session_id)
            opened.append(writer)
            assert status == 409, f"a second GET stream of {session_id} was accepted"
    finally:
        for writer in opened:
            writer.close()


# --- two nodes on PostgreSQL and a private Redis ----------------------------------------------
@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, redis):
    database = PostgresDatabase().create()
    nodes = Cluster(tmp_path_factory.mktemp("cluster"), database, redis)
    try:
        nodes.add_node("a")
        nodes.add_node("b")
        yield nodes
    finally:
        nodes.stop()
        database.drop()


def _updated(messages: list[dict]) -> int:
    return sum(1 for m in messages if m.get("method") == "notifications/resources/updated")


async def test_redis_restart_does_not_free_the_slot_and_one_stream_gets_the_notification(cluster, redis):
    a, b = cluster.nodes[:2]
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        session_id = await open_session(http, a)
        get_headers = headers(session_id, accept="text/event-stream")
        async with http.stream("GET", a.url, headers=get_headers) as first:
            assert first.status_code == 200
            reader = SseReader(first)
            redis.stop()
            redis.start()
            deadline = time.monotonic() + 15
            while (await http.get(f"{b.base}/health")).status_code != 200:
                assert time.monotonic() < deadline, "node B did not see Redis back"
                await asyncio.sleep(0.2)
            async with http.stream("GET", b.url, headers=get_headers) as second:
                assert second.status_code == 409
            await asyncio.sleep(0.5)  # A's relay re-joins its groups
            call = {"name": "start-notification-stream", "arguments": {"interval": 0, "count": 1, "caller": "x"}}
            await rpc(http, b, session_id, "tools/call", call)
            await reader.wait_for(lambda m: _updated(m) >= 1, timeout=15)
            await asyncio.sleep(1)
            assert _updated(reader.messages()) == 1
            reader.task.cancel()


async def test_slot_of_a_killed_node_is_taken_after_its_lease(cluster):
    a = cluster.nodes[0]
    doomed = cluster.add_node("doomed")
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        session_id = await open_session(http, a)
        get_headers = headers(session_id, accept="text/event-stream")
        async with http.stream("GET", doomed.url, headers=get_headers) as held:
            assert held.status_code == 200
            async with http.stream("GET", a.url, headers=get_headers) as refused:
                assert refused.status_code == 409
            doomed.stop(signal.SIGKILL)
        killed_at = time.monotonic()
        while True:
            async with http.stream("GET", a.url, headers=get_headers) as retry:
                if retry.status_code == 200:
                    break
                assert retry.status_code == 409
            assert time.monotonic() - killed_at < 20, "the slot of a dead node was never freed"
            await asyncio.sleep(0.5)


def test_slot_is_released_when_the_stream_ends(embedded):
    with httpx2.Client(timeout=10) as http:
        session_id = initialize(http, embedded.url)
        get = {**session_headers(session_id), "accept": "text/event-stream"}
        for _ in range(3):
            with http.stream("GET", embedded.url, headers=get) as stream:
                assert stream.status_code == 200
            deadline = time.monotonic() + 5
            while True:  # the server notices the disconnect, then releases
                with http.stream("GET", embedded.url, headers=get) as again:
                    if again.status_code == 200:
                        break
                assert time.monotonic() < deadline
                time.sleep(0.1)
