"""Distributed mode: several runmcp nodes on one PostgreSQL and one Redis, no sticky routing.

Real services: a private redis-server (restarted by one test) and a database of
its own on the machine's PostgreSQL. Under CI these tests fail, never skip, when
a service is missing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import time

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from .conftest import INIT_PARAMS, POST_HEADERS, LiveServer
from .services import PostgresDatabase, RedisServer
from .sse import iter_events

FAST_LEASES = {
    "MCP_HEARTBEAT_SECONDS": "1",
    "MCP_NODE_LEASE_SECONDS": "3",
    "MCP_KEEPALIVE_SECONDS": "2",
    "MCP_DRAIN_SECONDS": "5",
}


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def postgres():
    database = PostgresDatabase().create()
    yield database
    database.drop()


class Cluster:
    def __init__(self, tmp, postgres: PostgresDatabase, redis: RedisServer):
        self.tmp, self.postgres, self.redis = tmp, postgres, redis
        self.env = {"USE_REDIS": "true", "REDIS_URL": redis.url, **FAST_LEASES}
        self.nodes: list[LiveServer] = []

    def add_node(self, name: str) -> LiveServer:
        args = ["--skip-migrate"] if self.nodes else []
        node = LiveServer(self.postgres.url, extra_args=args, env=self.env).start(self.tmp / f"{name}.log")
        self.nodes.append(node)
        return node

    def stop(self) -> None:
        for node in self.nodes:
            node.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, postgres, redis):
    nodes = Cluster(tmp_path_factory.mktemp("cluster"), postgres, redis)
    nodes.add_node("a")
    nodes.add_node("b")
    yield nodes
    nodes.stop()


# --- raw HTTP helpers -----------------------------------------------------------------
def headers(session_id: str | None = None, **extra: str) -> dict[str, str]:
    base = dict(POST_HEADERS)
    if session_id:
        base.update({"mcp-session-id": session_id, "mcp-protocol-version": "2025-11-25"})
    return {**base, **extra}


async def open_session(http: httpx2.AsyncClient, node: LiveServer) -> str:
    response = await http.post(
        node.url, headers=headers(), json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT_PARAMS}
    )
    assert response.status_code == 200, response.text
    return response.headers["mcp-session-id"]


async def rpc(http: httpx2.AsyncClient, node: LiveServer, session_id: str, method: str, params=None, rid=1) -> dict:
    body = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        body["params"] = params
    response = await http.post(node.url, headers=headers(session_id), json=body)
    assert response.status_code == 200, response.text
    messages = [e.message for e in iter_events(iter(response.text.splitlines())) if e.data]
    return messages[-1]


class SseReader:
    """Reads one SSE response in the background, collecting its events."""

    def __init__(self, response: httpx2.Response):
        self.response = response
        self.events: list = []
        self.ended = asyncio.Event()
        self.retry: int | None = None
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        lines: list[str] = []
        try:
            async for line in self.response.aiter_lines():
                lines.append(line)
                if line == "":
                    for event in iter_events(iter(lines)):
                        self.retry = event.retry if event.retry is not None else self.retry
                        self.events.append(event)
                    lines = []
        except httpx2.HTTPError:
            pass
        finally:
            self.ended.set()

    def messages(self) -> list[dict]:
        return [e.message for e in self.events if e.data]

    async def wait_for(self, predicate, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.messages()):
            if self.ended.is_set() or time.monotonic() > deadline:
                raise AssertionError(f"not seen in time; got {self.messages()}")
            await asyncio.sleep(0.02)


def tool_call(rid, name, arguments, token=None) -> dict:
    params: dict = {"name": name, "arguments": arguments}
    if token is not None:
        params["_meta"] = {"progressToken": token}
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}


def log_texts(messages: list[dict]) -> list[str]:
    return [m["params"]["data"] for m in messages if m.get("method") == "notifications/message"]


# --- 1. any node serves any session ------------------------------------------------------
class RoundRobin(httpx2.AsyncBaseTransport):
    """A load balancer without stickiness: each HTTP request goes to the next node."""

    def __init__(self, nodes: list[LiveServer]):
        self.ports = itertools.cycle([node.port for node in nodes])
        self.inner = httpx2.AsyncHTTPTransport()
        self.served: list[int] = []

    async def handle_async_request(self, request):
        port = next(self.ports)
        self.served.append(port)
        request.url = request.url.copy_with(port=port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_sdk_session_round_robin_across_nodes(cluster):
    a, b = cluster.nodes[:2]
    balancer = RoundRobin([a, b])
    logs = []

    async def on_log(params):
        logs.append(params.data)

    async with httpx2.AsyncClient(transport=balancer, timeout=httpx2.Timeout(30, read=60)) as http:
        transport = streamable_http_client(a.url, http_client=http)
        async with Client(transport, mode="legacy", logging_callback=on_log) as client:
            for _ in range(3):
                assert (await client.call_tool("calculate", {"a": 6, "b": 7, "op": "multiply"})).content[0].text == (
                    "6 multiply 7 = 42"
                )
            history = json.loads((await client.read_resource("calculator://history")).contents[0].text)
            result = await client.call_tool("start-notification-stream", {"interval": 0.05, "count": 3, "caller": "rr"})
            prompt = await client.get_prompt("calculator_assistant", {"query": "x"})
    assert len(history) == 3  # written on both nodes, read on either
    assert result.content[0].text == "Sent 3 notifications with 0.05s interval for caller: rr"
    assert logs == [f"[{i}/3] Event from 'rr' - Use Last-Event-ID to resume if disconnected" for i in (1, 2, 3)]
    assert prompt.description == "Calculator assistance request"
    assert {a.port, b.port} <= set(balancer.served)


async def test_same_results_on_every_node(cluster):
    a, b = cluster.nodes[:2]
    async with httpx2.AsyncClient(timeout=10) as http:
        session_id = await open_session(http, a)
        from_a = await rpc(http, a, session_id, "tools/list")
        from_b = await rpc(http, b, session_id, "tools/list")
        assert from_a == from_b
        await rpc(http, b, session_id, "tools/call", {"name": "calculate", "arguments": {"a": 1, "b": 2, "op": "add"}})
        history_a = await rpc(http, a, session_id, "resources/read", {"uri": "calculator://history"})
        history_b = await rpc(http, b, session_id, "resources/read", {"uri": "calculator://history"})
        assert history_a == history_b
        assert json.loads(history_a["result"]["contents"][0]["text"])[0]["expression"] == "1 add 2 = 3"


# --- 2. a GET stream on B gets what A produces ----------------------------------------------
async def test_get_stream_on_b_receives_messages_produced_on_a(cluster):
    a, b = cluster.nodes[:2]
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        session_id = await open_session(http, a)
        get_headers = headers(session_id, accept="text/event-stream")
        async with http.stream("GET", b.url, headers=get_headers) as stream:
            assert stream.status_code == 200
            reader = SseReader(stream)
            await asyncio.sleep(0.3)  # B subscribes to the stream's group
            await rpc(
                http,
                a,
                session_id,
                "tools/call",
                {"name": "start-notification-stream", "arguments": {"interval": 0, "count": 1, "caller": "x"}},
            )
            await reader.wait_for(lambda m: any(x.get("method") == "notifications/resources/updated" for x in m))
            await rpc(http, a, session_id, "resources/subscribe", {"uri": "calculator://history"})
            await rpc(
                http, a, session_id, "tools/call", {"name": "calculate", "arguments": {"a": 2, "b": 2, "op": "add"}}
            )
            await reader.wait_for(
                lambda m: {"calculator://history"} <= {x["params"]["uri"] for x in m if "uri" in x.get("params", {})}
            )
            reader.task.cancel()


async def test_a_subscribe_on_a_is_seen_by_a_calculation_on_b(cluster):
    """Subscriptions live in the database: B's calculation, looked up in its own commit, finds A's subscriber."""
    a, b = cluster.nodes[:2]
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        watcher, caller = await open_session(http, a), await open_session(http, b)
        async with http.stream("GET", a.url, headers=headers(watcher, accept="text/event-stream")) as stream:
            assert stream.status_code == 200
            reader = SseReader(stream)
            await rpc(http, a, watcher, "resources/subscribe", {"uri": "calculator://stats"})
            args = {"name": "calculate", "arguments": {"a": 1, "b": 1, "op": "add"}}
            await rpc(http, b, caller, "tools/call", args)
            await reader.wait_for(lambda m: any(x.get("params", {}).get("uri") == "calculator://stats" for x in m))
            await rpc(http, a, watcher, "resources/unsubscribe", {"uri": "calculator://stats"})
            seen = len(reader.messages())
            await rpc(http, b, caller, "tools/call", args, rid=2)
            await asyncio.sleep(0.5)
            assert not [m for m in reader.messages()[seen:] if m.get("params", {}).get("uri") == "calculator://stats"]
            reader.task.cancel()


def test_rate_limit_counts_are_shared_by_the_nodes(cluster):
    """The counters live in Redis: requests from one address to two nodes share one budget."""
    env = {**cluster.env, "RATE_LIMIT_MAX": "4", "RATE_LIMIT_WINDOW": "60"}
    limited = [
        LiveServer(cluster.postgres.url, extra_args=["--skip-migrate"], env=env).start(cluster.tmp / f"rl{i}.log")
        for i in range(2)
    ]
    try:
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        transport = httpx2.HTTPTransport(local_address="127.0.0.7")
        with httpx2.Client(transport=transport, timeout=10) as http:
            statuses = [http.post(limited[i % 2].url, headers=headers(), json=ping).status_code for i in range(6)]
        assert statuses == [400] * 4 + [429, 429]  # let through (no session, so 400), then refused on both
    finally:
        for node in limited:
            node.stop()


# --- 3. a POST stream dropped on A resumes on B ------------------------------------------------
async def test_dropped_post_stream_resumes_on_another_node(cluster):
    a, b = cluster.nodes[:2]
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        session_id = await open_session(http, a)
        call = tool_call(5, "start-notification-stream", {"interval": 0.3, "count": 8, "caller": "move"})
        async with http.stream("POST", a.url, headers=headers(session_id), json=call) as stream:
            reader = SseReader(stream)
            await reader.wait_for(lambda m: len(log_texts(m)) >= 2)
            reader.task.cancel()
        first_part = reader.messages()
        last_id = [e.id for e in reader.events if e.id][-1]

        resume_headers = headers(session_id, accept="text/event-stream", **{"last-event-id": last_id})
        async with http.stream("GET", b.url, headers=resume_headers) as stream:
            assert stream.status_code == 200
            resumed = SseReader(stream)
            await asyncio.wait_for(resumed.ended.wait(), 20)
    expected = [f"[{i}/8] Event from 'move' - Use Last-Event-ID to resume if disconnected" for i in range(1, 9)]
    assert log_texts(first_part) + log_texts(resumed.messages()) == expected  # each exactly once
    final = resumed.messages()[-1]
    assert final["id"] == 5
    assert final["result"]["content"][0]["text"] == "Sent 8 notifications with 0.3s interval for caller: move"


# --- 4. cancel and DELETE reach the node that runs the request or holds the stream -------------------
async def test_cancel_on_b_stops_the_request_running_on_a(cluster):
    a, b = cluster.nodes[:2]
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        session_id = await open_session(http, a)
        call = tool_call("slow", "demo_progress", {"steps": 40}, token="t-1")
        async with http.stream("POST", a.url, headers=headers(session_id), json=call) as stream:
            reader = SseReader(stream)
            await reader.wait_for(lambda m: len(m) >= 2)
            cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "slow"}}
            assert (await http.post(b.url, headers=headers(session_id), json=cancel)).status_code == 202
            await asyncio.wait_for(reader.ended.wait(), 5)
        messages = reader.messages()
        assert all("result" not in m and "error" not in m for m in messages)  # no response after a cancel
        assert len(messages) < 10 and messages[0]["params"]["progressToken"] == "t-1"
    rows = cluster.postgres.query(
        "SELECT stream, kind FROM sessions_app_streamevent WHERE session_id = %s ORDER BY id", (session_id,)
    )
    (stream,) = {s for s, kind in rows if kind == "notification"}
    assert [kind for s, kind in rows if s == stream][-1] == "cancelled"
    assert "response" not in [kind for s, kind in rows if s == stream]


async def test_delete_on_b_ends_the_session_and_closes_streams_on_a(cluster):
    a, b = cluster.nodes[:2]
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        session_id = await open_session(http, a)
        async with http.stream("GET", a.url, headers=headers(session_id, accept="text/event-stream")) as stream:
            reader = SseReader(stream)
            await asyncio.sleep(0.3)
            response = await http.delete(b.url, headers=headers(session_id))
            assert response.status_code == 204
            await asyncio.wait_for(reader.ended.wait(), 5)
        for node in (a, b):
            gone = await http.post(
                node.url, headers=headers(session_id), json={"jsonrpc": "2.0", "id": 1, "method": "ping"}
            )
            assert gone.status_code == 404 and gone.json()["error"]["message"] == "Session not found"


# --- 5. a killed node loses no stored event, and its requests are declared lost ------------------------
async def test_sigkill_mid_request_resume_elsewhere_gets_stored_events_then_lost(cluster):
    a = cluster.nodes[0]
    doomed = cluster.add_node("doomed")
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        session_id = await open_session(http, doomed)
        call = tool_call(77, "start-notification-stream", {"interval": 0.5, "count": 20, "caller": "k"})
        async with http.stream("POST", doomed.url, headers=headers(session_id), json=call) as stream:
            reader = SseReader(stream)
            await reader.wait_for(lambda m: len(log_texts(m)) >= 3)
            first_id = reader.events[0].id  # the priming event: replay everything from the start
            doomed.stop(signal.SIGKILL)
            await asyncio.wait_for(reader.ended.wait(), 5)
        seen_before_kill = log_texts(reader.messages())

        started = time.monotonic()
        resume_headers = headers(session_id, accept="text/event-stream", **{"last-event-id": first_id})
        async with http.stream("GET", a.url, headers=resume_headers) as stream:
            assert stream.status_code == 200
            resumed = SseReader(stream)
            await asyncio.wait_for(resumed.ended.wait(), 15)
        waited = time.monotonic() - started
        replayed = resumed.messages()
        # Every stored event comes back (at least what the client saw before the kill), then the verdict.
        assert log_texts(replayed)[: len(seen_before_kill)] == seen_before_kill
        assert replayed[-1]["id"] == 77 and replayed[-1]["error"]["code"] == -32003
        assert "lost" in replayed[-1]["error"]["message"]
        assert waited < 3 + 1 + 3  # lease + heartbeat tick + slack

        # The session itself lives on, on the other nodes.
        assert "tools" in (await rpc(http, a, session_id, "tools/list"))["result"]


# --- Redis: outage answered 503, restart healed ---------------------------------------------------
async def test_redis_outage_is_a_503_and_a_restart_heals(cluster, redis):
    a, b = cluster.nodes[:2]
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        session_id = await open_session(http, a)
        redis.stop()
        try:
            refused = await http.post(
                a.url, headers=headers(session_id), json={"jsonrpc": "2.0", "id": 1, "method": "ping"}
            )
            assert refused.status_code == 503
            assert refused.json()["error"] == {"code": -32603, "message": "Service Unavailable: Redis is unreachable"}
            assert refused.headers["retry-after"] == "2"
            health = await http.get(f"{a.base}/health")
            assert health.status_code == 503 and health.json()["redis"] == "down" and health.json()["database"] == "ok"
        finally:
            redis.start()

        await asyncio.sleep(1.5)  # clients and the node listeners reconnect by themselves
        health = await http.get(f"{b.base}/health")
        assert health.status_code == 200 and health.json()["redis"] == "ok"
        # The session survived (it lives in PostgreSQL); cross-node delivery works again.
        async with http.stream("GET", b.url, headers=headers(session_id, accept="text/event-stream")) as stream:
            reader = SseReader(stream)
            await asyncio.sleep(0.5)
            await rpc(
                http,
                a,
                session_id,
                "tools/call",
                {"name": "start-notification-stream", "arguments": {"interval": 0, "count": 1, "caller": "r"}},
            )
            await reader.wait_for(lambda m: any(x.get("method") == "notifications/resources/updated" for x in m))
            reader.task.cancel()


# --- PostgreSQL: outage answered 503, recovery by itself ------------------------------------------------
async def test_database_outage_is_a_503_and_recovers(cluster):
    a = cluster.nodes[0]
    db = cluster.postgres
    async with httpx2.AsyncClient(timeout=20) as http:
        with db._admin() as admin:
            admin.execute(f'ALTER DATABASE "{db.name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (db.name,))
        try:
            await asyncio.sleep(0.2)
            refused = await http.post(
                a.url,
                headers=headers(),
                json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT_PARAMS},
            )
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["message"] == "Service Unavailable: the database is unreachable"
            health = await http.get(f"{a.base}/health")
            assert health.status_code == 503 and health.json()["database"] == "down"
        finally:
            with db._admin() as admin:
                admin.execute(f'ALTER DATABASE "{db.name}" ALLOW_CONNECTIONS true')
        deadline = time.monotonic() + 10
        while True:
            response = await http.post(
                a.url,
                headers=headers(),
                json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT_PARAMS},
            )
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert response.status_code == 200
        assert (await http.get(f"{a.base}/health")).status_code == 200


# --- connections: open streams hold none -------------------------------------------------------------------
async def test_open_streams_do_not_hold_database_connections(cluster):
    a = cluster.nodes[0]
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        sessions = [await open_session(http, a) for _ in range(25)]
        async with anyio.create_task_group() as tg:
            streams = []

            async def hold(session_id):
                async with http.stream("GET", a.url, headers=headers(session_id, accept="text/event-stream")) as s:
                    streams.append(s)
                    await anyio.sleep(3)

            for session_id in sessions:
                tg.start_soon(hold, session_id)
            await anyio.sleep(1.5)
            assert len(streams) == 25
            # A handful per node (pool), not one per stream.
            assert cluster.postgres.connections() <= 3 * len(cluster.nodes) + 2


# --- SIGTERM drains a node --------------------------------------------------------------------------------
async def test_sigterm_drains_the_node(cluster):
    a = cluster.nodes[0]
    leaving = cluster.add_node("leaving")
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        session_id = await open_session(http, leaving)
        async with http.stream("GET", leaving.url, headers=headers(session_id, accept="text/event-stream")) as get:
            idle = SseReader(get)
            call = tool_call(3, "start-notification-stream", {"interval": 0.5, "count": 4, "caller": "d"})
            async with http.stream("POST", leaving.url, headers=headers(session_id), json=call) as post:
                running = SseReader(post)
                await running.wait_for(lambda m: len(log_texts(m)) >= 1)
                leaving.process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(idle.ended.wait(), 3)  # the GET stream closes at once...
                assert idle.retry is not None  # ...telling the client when to reconnect
                await asyncio.wait_for(running.ended.wait(), 10)  # the running request finishes
        assert running.messages()[-1]["result"]["content"][0]["text"] == (
            "Sent 4 notifications with 0.5s interval for caller: d"
        )
        assert leaving.process.wait(timeout=10) == 0
        # The session goes on elsewhere.
        assert "tools" in (await rpc(http, a, session_id, "tools/list"))["result"]


async def test_health_reports_redis_mode(cluster):
    async with httpx2.AsyncClient(timeout=10) as http:
        body = (await http.get(f"{cluster.nodes[0].base}/health")).json()
    assert body["storageMode"] == "redis" and body["redis"] == "ok" and body["database"] == "ok"


def test_message_types_are_json_serialisable():
    # The listener relays layer messages as plain dicts (msgpack on Redis).
    assert types.ResourceUpdatedNotification


# --- review regressions ------------------------------------------------------------------------------
async def test_any_json_id_crosses_nodes(cluster):
    """Messages travel between nodes as JSON text: ids msgpack cannot hold (2**70) arrive too."""
    a, b = cluster.nodes[:2]
    huge = 2**70
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        response = await http.post(
            a.url,
            headers=headers(),
            json={
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {**INIT_PARAMS, "protocolVersion": "2025-03-26"},
            },
        )
        session_id = response.headers["mcp-session-id"]
        batch = [
            tool_call(huge, "start-notification-stream", {"interval": 0.4, "count": 3, "caller": "h"}),
            tool_call(7, "start-notification-stream", {"interval": 0.4, "count": 4, "caller": "h"}),
        ]
        batch_headers = {**headers(session_id), "mcp-protocol-version": "2025-03-26"}
        async with http.stream("POST", a.url, headers=batch_headers, json=batch) as stream:
            reader = SseReader(stream)
            await reader.wait_for(lambda m: len(m) >= 2)
            reader.task.cancel()
        last_id = [e.id for e in reader.events if e.id][-1]
        async with http.stream(
            "GET", b.url, headers={**batch_headers, "accept": "text/event-stream", "last-event-id": last_id}
        ) as stream:
            resumed = SseReader(stream)
            await asyncio.wait_for(resumed.ended.wait(), 20)
    answered = [m["id"] for m in reader.messages() + resumed.messages() if "result" in m]
    assert sorted(answered) == [7, huge]


async def test_a_stalled_node_answered_lost_does_not_answer_again(cluster):
    """Lease fencing: once a resume stored "Request lost", the stalled owner's late answer is dropped."""
    a = cluster.nodes[0]
    stalled = cluster.add_node("stalled")
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=40)) as http:
        session_id = await open_session(http, stalled)
        call = tool_call(1, "start-notification-stream", {"interval": 1, "count": 4, "caller": "s"})
        async with http.stream("POST", stalled.url, headers=headers(session_id), json=call) as stream:
            reader = SseReader(stream)
            await reader.wait_for(lambda m: len(log_texts(m)) >= 1)
            first_id = reader.events[0].id
            stalled.process.send_signal(signal.SIGSTOP)  # no heartbeat while stopped
            try:
                resume = headers(session_id, accept="text/event-stream", **{"last-event-id": first_id})
                async with http.stream("GET", a.url, headers=resume) as get:
                    resumed = SseReader(get)
                    await asyncio.wait_for(resumed.ended.wait(), 15)
            finally:
                stalled.process.send_signal(signal.SIGCONT)
            await asyncio.sleep(5)  # the owner wakes up and finishes its tool
    assert resumed.messages()[-1]["error"]["code"] == -32003
    rows = cluster.postgres.query(
        "SELECT stream, kind FROM sessions_app_streamevent WHERE session_id = %s AND kind IN ('response', 'cancelled')",
        (session_id,),
    )
    tool_stream = first_id.rsplit("-", 1)[0]
    assert [kind for stream, kind in rows if stream == tool_stream] == ["response"]  # one end, not two
