"""Tools that ask the client, across two nodes on PostgreSQL + Redis, driven by the official SDK clients.

The tool waits on one node; the client's answer is POSTed to the other, which settles the
stored question and wakes the tool through the relay. The SDK 2.x client in legacy mode
(server-to-client requests) and in modern mode (input_required rounds, each retry on the
other node), the SDK 1.x client, a resume after the POST stream dropped (the stored
question comes again; the tool completes once), and a node killed while its tool waits
("Request lost").
"""

from __future__ import annotations

import itertools
import json
import shutil
import signal
import subprocess
from pathlib import Path

import httpx2
import pytest
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

from .conftest import POST_HEADERS, LiveServer, sdk_session_id
from .services import PostgresDatabase, RedisServer, unavailable
from .sse import iter_events

ASKING = {"elicitation": {}, "sampling": {}, "roots": {"listChanged": True}}
V1_CLIENT = Path(__file__).with_name("sdk_v1_asking_client.py")


class Cluster:
    def __init__(self, tmp: Path, database: PostgresDatabase, env: dict):
        self.tmp, self.database, self.env = tmp, database, env
        self.nodes: list[LiveServer] = []

    def start_node(self, name: str) -> LiveServer:
        node = LiveServer(self.database.url, extra_args=["--skip-migrate"] if self.nodes else [], env=self.env)
        self.nodes.append(node.start(self.tmp / f"{name}.log"))
        return node

    def questions(self, session_id: str) -> list[dict]:
        rows = self.database.query(
            "SELECT request_id, method, status, node, answered_on FROM sessions_app_clientrequest "
            "WHERE session_id = %s ORDER BY id",
            (session_id,),
        )
        return [dict(zip(("id", "method", "status", "node", "answered_on"), row, strict=True)) for row in rows]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("asking_cluster")
    redis = RedisServer(tmp).start()
    database = PostgresDatabase().create()
    env = {
        "USE_REDIS": "true",
        "REDIS_URL": redis.url,
        "DJANGO_EXTRA_APPS": "tests.asking_app",
        "MCP_HEARTBEAT_SECONDS": "1",
        "MCP_NODE_LEASE_SECONDS": "3",
    }
    running = Cluster(tmp, database, env)
    try:
        running.start_node("a")
        running.start_node("b")
        yield running
    finally:
        for node in running.nodes:
            node.stop(signal.SIGKILL)
        database.drop()
        redis.stop()


class AnswersElsewhere(httpx2.AsyncBaseTransport):
    """A balancer without stickiness: requests alternate between the nodes, and each answer to a
    server-to-client request goes to the node that did not receive the tools/call."""

    def __init__(self, nodes: list[LiveServer]):
        self.ports = [node.port for node in nodes]
        self.cycle = itertools.cycle(self.ports)
        self.inner = httpx2.AsyncHTTPTransport()
        self.call_port: int | None = None
        self.routes: list[tuple[str, int]] = []

    async def handle_async_request(self, request):
        body = json.loads(request.content) if request.method == "POST" and request.content else None
        if isinstance(body, dict) and "method" not in body and self.call_port is not None:
            port = next(p for p in self.ports if p != self.call_port)
        else:
            port = next(self.cycle)
            if isinstance(body, dict) and body.get("method") == "tools/call":
                self.call_port = port
        label = request.method if body is None else body.get("method", "answer") if isinstance(body, dict) else "batch"
        self.routes.append((label, port))
        request.url = request.url.copy_with(port=port)
        return await self.inner.handle_async_request(request)

    def ports_of(self, what: str) -> list[int]:
        return [port for method, port in self.routes if method == what]

    async def aclose(self) -> None:
        await self.inner.aclose()


async def on_roots(context):
    return types.ListRootsResult(roots=[types.Root(uri="file:///srv/project", name="project")])


async def on_elicit(context, params):
    return types.ElicitResult(action="accept", content={"stars": 5, "comment": "great"})


async def on_sample(context, params):
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text="fast and durable"), model="test-model"
    )


CALLBACKS = {"list_roots_callback": on_roots, "elicitation_callback": on_elicit, "sampling_callback": on_sample}
SURVEY_ANSWER = "roots=file:///srv/project stars=5 summary=fast and durable model=test-model"


async def test_sdk_2_legacy_client_answers_on_the_other_node(cluster):
    a, b = cluster.nodes[:2]
    balancer = AnswersElsewhere([a, b])
    async with httpx2.AsyncClient(transport=balancer, timeout=httpx2.Timeout(30, read=60)) as http:
        async with Client(streamable_http_client(a.url, http_client=http), mode="legacy", **CALLBACKS) as client:
            result = await client.call_tool("survey", {"topic": "mcpsite"})
            session_id = await sdk_session_id(client)
    assert result.content[0].text == SURVEY_ANSWER
    (call_port,) = balancer.ports_of("tools/call")
    assert balancer.ports_of("answer") and all(port != call_port for port in balancer.ports_of("answer"))
    asked = cluster.questions(session_id)
    assert [q["method"] for q in asked] == ["roots/list", "elicitation/create", "sampling/createMessage"]
    assert all(q["status"] == "answered" and q["node"] != q["answered_on"] for q in asked)


def test_sdk_1x_client_answers_on_the_other_node(cluster):
    uvx = shutil.which("uvx")
    if uvx is None:
        unavailable("uvx (from uv) is needed to run the 1.x client")
    a, b = cluster.nodes[:2]
    done = subprocess.run(
        [uvx, "--quiet", "--from", "mcp==1.30.0", "python", str(V1_CLIENT), a.url, b.url],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert lines["result"] == "roots=file:///srv/v1 stars=4 summary=a one-line summary model=v1-model"
    (call_port,) = json.loads(lines["calls"])
    answers = json.loads(lines["answers"])
    assert len(answers) == 3 and call_port not in answers
    asked = cluster.questions(lines["session"])
    assert all(q["status"] == "answered" and q["node"] != q["answered_on"] for q in asked)


async def test_modern_client_retries_each_round_on_the_other_node(cluster):
    a, b = cluster.nodes[:2]
    balancer = AnswersElsewhere([a, b])
    async with httpx2.AsyncClient(transport=balancer, timeout=30) as http:
        async with Client(streamable_http_client(a.url, http_client=http), mode="2026-07-28", **CALLBACKS) as client:
            result = await client.call_tool("survey", {"topic": "mcpsite"})
        assert result.content[0].text == SURVEY_ANSWER
        rounds = balancer.ports_of("tools/call")
        assert len(rounds) == 4  # roots, then the rating, then the summary, then the result
        assert all(first != second for first, second in itertools.pairwise(rounds))

        # A round's state opened on the other node, altered by one character: 400 / -32602.
        envelope = {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": ASKING,
        }
        params = {"name": "survey", "arguments": {"topic": "x"}, "_meta": envelope}
        headers = {
            **POST_HEADERS,
            "mcp-protocol-version": "2026-07-28",
            "mcp-method": "tools/call",
            "mcp-name": "survey",
        }
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
        first = (await http.post(a.url, headers=headers, json=body)).json()["result"]
        state = first["requestState"]
        tampered = state[:10] + ("A" if state[10] != "A" else "B") + state[11:]
        roots = {"roots_1": {"roots": []}}
        retry = {**body, "id": 2, "params": {**params, "inputResponses": roots, "requestState": tampered}}
        refused = await http.post(b.url, headers=headers, json=retry)
        honest = {**retry, "params": {**retry["params"], "requestState": state}}
        accepted = await http.post(b.url, headers=headers, json=honest)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == -32602
    assert accepted.json()["result"]["inputRequests"]["elicitation_2"]["method"] == "elicitation/create"


def _open(http: httpx2.Client, node: LiveServer) -> str:
    params = {"protocolVersion": "2025-11-25", "capabilities": ASKING, "clientInfo": {"name": "raw", "version": "1"}}
    reply = http.post(
        node.url, headers=POST_HEADERS, json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}
    )
    return reply.headers["mcp-session-id"]


def _headers(session_id: str) -> dict[str, str]:
    return {**POST_HEADERS, "mcp-session-id": session_id, "mcp-protocol-version": "2025-11-25"}


def _start_call(http: httpx2.Client, node: LiveServer, session_id: str, arguments: dict):
    """Open a tools/call stream and read up to its question: (priming event id, question)."""
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "solve_with_confirmation", "arguments": arguments},
    }
    context = http.stream("POST", node.url, headers=_headers(session_id), json=message)
    response = context.__enter__()
    events = iter_events(response.iter_lines())
    priming = next(events)
    question = next(event.message for event in events if event.data)
    context.__exit__(None, None, None)  # the connection drops
    return priming.id, question


def _resume(http: httpx2.Client, node: LiveServer, session_id: str, last_event_id: str):
    headers = {"accept": "text/event-stream", "mcp-session-id": session_id, "mcp-protocol-version": "2025-11-25"}
    context = http.stream("GET", node.url, headers={**headers, "last-event-id": last_event_id})
    response = context.__enter__()
    assert response.status_code == 200
    return context, iter_events(response.iter_lines())


def test_an_answer_after_the_stream_dropped_resumes_and_completes_once(cluster):
    a, b = cluster.nodes[:2]
    with httpx2.Client(timeout=30) as http:
        session_id = _open(http, a)
        priming_id, question = _start_call(http, a, session_id, {"a": 6, "b": 7, "op": "multiply"})
        context, events = _resume(http, b, session_id, priming_id)
        again = next(event.message for event in events if event.data)
        assert again == question  # the stored question, from the other node
        reply = {"jsonrpc": "2.0", "id": question["id"], "result": {"action": "accept", "content": {"precision": 0}}}
        assert http.post(a.url, headers=_headers(session_id), json=reply).status_code == 202
        response = next(event.message for event in events if event.data)
        context.__exit__(None, None, None)
        assert http.post(b.url, headers=_headers(session_id), json=reply).status_code == 202  # repeated: ignored
    assert response["result"]["content"][0]["text"] == "6 multiply 7 = 42"
    stored = cluster.database.query(
        "SELECT count(*) FROM tools_app_calculation WHERE session_id = %s AND expression = %s",
        (session_id, "6 multiply 7 = 42"),
    )
    assert stored == [(1,)]
    responses = cluster.database.query(
        "SELECT count(*) FROM sessions_app_streamevent WHERE session_id = %s AND kind = 'response' AND stream = %s",
        (session_id, priming_id.rsplit("-", 1)[0]),
    )
    assert responses == [(1,)]


def test_a_node_killed_while_its_tool_waits_gives_request_lost(cluster):
    a = cluster.nodes[0]
    victim = cluster.start_node("victim")
    with httpx2.Client(timeout=30) as http:
        session_id = _open(http, a)
        priming_id, question = _start_call(http, victim, session_id, {"a": 1, "b": 2, "op": "add"})
        victim.stop(signal.SIGKILL)
        context, events = _resume(http, a, session_id, priming_id)
        replayed = [event.message for event in events if event.data]
        context.__exit__(None, None, None)
    assert replayed[0] == question
    assert replayed[-1]["error"]["code"] == -32003 and replayed[-1]["error"]["message"].startswith("Request lost")
    assert cluster.questions(session_id)[0]["status"] == "lost"
