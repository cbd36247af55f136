"""Races around a request's life: cancelled before it starts, ended by expiry, claimed twice, too much work.

Live `runmcp` servers on SQLite, driven over HTTP.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time

import httpx2
import pytest

from .conftest import initialize, session_headers, start_module_server
from .sse import iter_events

TTL = 4
EVENT_CAP = 50


@pytest.fixture(scope="module")
def racy(tmp_path_factory):
    live = start_module_server(
        tmp_path_factory,
        "racy",
        env={
            "MCP_HEARTBEAT_SECONDS": "1",
            "MCP_KEEPALIVE_SECONDS": "1",
            "MCP_SESSION_TTL": str(TTL),
            "MCP_MAX_STREAM_EVENTS": str(EVENT_CAP),
        },
    )
    yield live
    live.stop()


def db_rows(server, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(server.database_url.removeprefix("sqlite:///")) as db:
        return db.execute(sql, params).fetchall()


def running_on_node(server) -> int:
    ((running,),) = db_rows(server, "SELECT running FROM sessions_app_nodeheartbeat")
    return running


async def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not in time: {what}")
        await asyncio.sleep(0.1)


def calculate(rid: int) -> dict:
    return {
        "jsonrpc": "2.0",
        "id": rid,
        "method": "tools/call",
        "params": {"name": "calculate", "arguments": {"a": rid, "b": 1, "op": "add"}},
    }


def cancelled(rid: int) -> dict:
    return {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": rid, "reason": "race"}}


async def test_a_request_cancelled_before_it_starts_still_ends(racy, http):
    session_id = initialize(http, racy.url)
    hdrs = session_headers(session_id)
    pairs = 60
    async with httpx2.AsyncClient(timeout=10) as calls, httpx2.AsyncClient(timeout=10) as cancels:

        async def call(rid: int) -> str:
            response = await calls.post(racy.url, headers=hdrs, json=calculate(rid))
            assert response.status_code == 200, response.text
            return response.text

        async def cancel(rid: int) -> None:
            assert (await cancels.post(racy.url, headers=hdrs, json=cancelled(rid))).status_code == 202

        async def pair(rid: int) -> str:
            body, _ = await asyncio.gather(call(rid), cancel(rid))
            return body

        # Every POST stream ends (the client's timeout would fail the test otherwise).
        bodies = await asyncio.wait_for(asyncio.gather(*(pair(rid) for rid in range(1, pairs + 1))), 30)
    assert len(bodies) == pairs
    # Every stream has its end stored: the response, or a "cancelled" row.
    streams = db_rows(
        racy,
        "SELECT stream, SUM(kind IN ('response', 'cancelled')) FROM sessions_app_streamevent "
        "WHERE session_id = ? AND stream != 'g' GROUP BY stream",
        (session_id,),
    )
    assert len(streams) >= pairs and all(ends == 1 for _, ends in streams), streams
    # Nothing is left running on the node.
    await wait_until(lambda: running_on_node(racy) == 0, 10, "the node's running count back to 0")
    # A resume of each stream ends at once (from its priming event: replay, then the end).
    for stream, _ in streams[:10]:
        ((first,),) = db_rows(
            racy,
            "SELECT MIN(id) FROM sessions_app_streamevent WHERE session_id = ? AND stream = ?",
            (session_id, stream),
        )
        resume = {**hdrs, "accept": "text/event-stream", "last-event-id": f"{stream}-{first}"}
        response = http.get(racy.url, headers=resume, timeout=5)
        assert response.status_code == 200


def stream_call(rid: int, count: int, interval: float) -> dict:
    arguments = {"interval": interval, "count": count, "caller": "expiry"}
    return {
        "jsonrpc": "2.0",
        "id": rid,
        "method": "tools/call",
        "params": {"name": "start-notification-stream", "arguments": arguments},
    }


async def test_expiry_ends_the_running_requests_of_a_session(racy, http):
    session_id = initialize(http, racy.url)
    hdrs = session_headers(session_id)
    async with httpx2.AsyncClient(timeout=10) as client:
        async with client.stream("POST", racy.url, headers=hdrs, json=stream_call(5, 60, 0.5)) as response:
            seen = 0
            async for line in response.aiter_lines():
                seen += line.startswith("data: {")
                if seen >= 2:
                    break  # the client goes away; its request runs on

    def stored() -> list[tuple[str, str]]:
        return db_rows(
            racy,
            "SELECT stream, kind FROM sessions_app_streamevent WHERE session_id = ? AND stream != 'g' ORDER BY id",
            (session_id,),
        )

    # Past the TTL (and a heartbeat), the request is ended: its stream gets its end and grows no more.
    await wait_until(
        lambda: stored() and stored()[-1][1] == "cancelled", TTL + 6, "the expired session's request ended"
    )
    count = len(stored())
    await asyncio.sleep(2)
    assert len(stored()) == count
    assert count < 60
    ping = http.post(racy.url, headers=hdrs, json={"jsonrpc": "2.0", "id": 6, "method": "ping"})
    assert ping.status_code == 404
    assert http.post(racy.url, headers=hdrs, json=cancelled(5)).status_code == 404
    assert http.delete(racy.url, headers=hdrs).status_code == 404
    await wait_until(lambda: running_on_node(racy) == 0, 5, "nothing left running")


def test_one_batch_cannot_ask_for_unbounded_work(racy, http):
    session_id = initialize(http, racy.url, version="2025-03-26")
    hdrs = session_headers(session_id, "2025-03-26")
    # The seed tool's own bounds.
    too_many = http.post(racy.url, headers=hdrs, json=stream_call(1, 100_000, 0))
    (message,) = [e.message for e in iter_events(iter(too_many.text.splitlines())) if e.data]
    assert message["result"]["isError"] is True
    too_slow = http.post(racy.url, headers=hdrs, json=stream_call(2, 2, 3600))
    (message,) = [e.message for e in iter_events(iter(too_slow.text.splitlines())) if e.data]
    assert message["result"]["isError"] is True
    # A batch shares one stream's budget of MCP_MAX_STREAM_EVENTS notifications.
    batch = [stream_call(rid, 20, 0) for rid in range(10, 15)]
    response = http.post(racy.url, headers=hdrs, json=batch, timeout=30)
    assert response.status_code == 200
    messages = [e.message for e in iter_events(iter(response.text.splitlines())) if e.data]
    answers = {m["id"]: m for m in messages if "id" in m}
    assert sorted(answers) == list(range(10, 15))
    refused = [m for m in answers.values() if "error" in m]
    assert refused and all(m["error"]["code"] == -32004 for m in refused)
    assert refused[0]["error"]["message"] == (
        f"Too many events: one request stream may carry at most {EVENT_CAP} notifications"
    )
    assert sum(1 for m in messages if m.get("method") == "notifications/message") == EVENT_CAP
