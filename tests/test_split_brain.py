"""Split brain and double claims on two nodes (PostgreSQL + Redis): fencing after a stall, one claim per request id."""

from __future__ import annotations

import asyncio
import signal
import threading
from contextlib import asynccontextmanager

import httpx2
import psycopg

from sessions_app.wire.event_ids import GET_STREAM

from . import test_distributed as distributed
from .conftest import initialize, session_headers
from .test_distributed import SseReader, headers, log_texts, open_session, rpc, tool_call

# The two-node cluster of test_distributed (PostgreSQL + a private Redis), a fresh one for this module.
redis = distributed.redis
postgres = distributed.postgres
cluster = distributed.cluster


@asynccontextmanager
async def streaming(http: httpx2.AsyncClient, node, session_id: str, call: dict, *, until):
    """`call` POSTed to `node`: its SSE stream, read for the block once its messages satisfy `until`."""
    async with http.stream("POST", node.url, headers=headers(session_id), json=call) as stream:
        reader = SseReader(stream)
        await reader.wait_for(until)
        yield reader


def logs(count: int):
    return lambda messages: len(log_texts(messages)) >= count


def progressed(messages: list[dict]) -> bool:
    return any(message.get("method") == "notifications/progress" for message in messages)


async def test_a_stalled_node_stores_nothing_after_the_stream_ended(cluster):
    a = cluster.nodes[0]
    stalled = cluster.add_node("stalled-fenced")
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=40)) as http:
        session_id = await open_session(http, stalled)
        call = tool_call(1, "start-notification-stream", {"interval": 0.2, "count": 200, "caller": "s"})
        async with streaming(http, stalled, session_id, call, until=logs(2)) as reader:
            first_id = reader.events[0].id
            stalled.process.send_signal(signal.SIGSTOP)
            try:
                resume = headers(session_id, accept="text/event-stream", **{"last-event-id": first_id})
                async with http.stream("GET", a.url, headers=resume) as get:
                    resumed = SseReader(get)
                    await asyncio.wait_for(resumed.ended.wait(), 15)
            finally:
                stalled.process.send_signal(signal.SIGCONT)
            await asyncio.sleep(4)  # the stalled node wakes up, finds its lease lapsed, fences itself
        assert resumed.messages()[-1]["error"]["code"] == -32003
        tool_stream = first_id.rsplit("-", 1)[0]
        rows = cluster.postgres.query(
            "SELECT id, kind FROM sessions_app_streamevent WHERE session_id = %s AND stream = %s ORDER BY id",
            (session_id, tool_stream),
        )
        ends = [index for index, (_, kind) in enumerate(rows) if kind in ("response", "cancelled")]
        assert ends == [len(rows) - 1], rows[-5:]  # one end, and nothing after it
        log = stalled.log()
        assert "Traceback" not in log
        assert "fencing" in log
        # The node serves new requests again.
        fresh = await open_session(http, stalled)
        answer = await rpc(
            http, stalled, fresh, "tools/call", {"name": "calculate", "arguments": {"a": 2, "b": 3, "op": "add"}}
        )
        assert answer["result"]["content"][0]["text"] == "2 add 3 = 5"


async def test_one_request_id_posted_to_two_nodes_at_once_runs_once(cluster):
    a, b = cluster.nodes[:2]
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        session_id = await open_session(http, a)
        for rid in range(1, 13):
            call = tool_call(rid, "start-notification-stream", {"interval": 0.3, "count": 3, "caller": f"twice-{rid}"})
            answers = await asyncio.gather(
                *(http.post(node.url, headers=headers(session_id), json=call) for node in (a, b))
            )
            statuses = sorted(response.status_code for response in answers)
            assert statuses == [200, 400], [r.text for r in answers]
            refused = next(response for response in answers if response.status_code == 400)
            assert (
                refused.json()["error"]["message"] == "Invalid Request: a request id is already in use in this session"
            )
        # Each call ran once: one stream of notifications per caller.
        rows = cluster.postgres.query(
            "SELECT message->'params'->>'data' FROM sessions_app_streamevent WHERE session_id = %s AND kind = 'notification'",
            (session_id,),
        )
        texts = [text for (text,) in rows if text]
        for rid in range(1, 13):
            assert sum(f"'twice-{rid}'" in text for text in texts) == 3
        # Once answered, the id is free again on any node.
        again = await rpc(http, b, session_id, "ping", rid=1)
        assert again["result"] == {}


IN_USE = "Invalid Request: a request id is already in use in this session"


def _counts(cluster, session_id: str) -> tuple[int, int, int]:
    """(calculations, request streams, claims) of the session, as stored."""
    (row,) = cluster.postgres.query(
        "SELECT (SELECT count(*) FROM tools_app_calculation WHERE session_id = %(s)s),"
        " (SELECT count(DISTINCT stream) FROM sessions_app_streamevent WHERE session_id = %(s)s AND stream <> %(g)s),"
        " (SELECT count(*) FROM sessions_app_requestclaim WHERE session_id = %(s)s)",
        {"s": session_id, "g": GET_STREAM},
    )
    return row


async def test_a_call_claimed_with_its_answer_is_refused_while_its_id_runs_on_another_node(cluster):
    """`calculate` has no effect but what it stores, so it runs before its id is claimed across nodes and the
    claim rides its answer's commit (runtime.stream_claim). While b runs a request with the same id, a's call
    is refused as an eager claim would be, and nothing of it is stored: no calculation, no stream."""
    a, b = cluster.nodes[:2]
    add = {"a": 1, "b": 2, "op": "add"}
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        session_id = await open_session(http, a)
        hold = tool_call(7, "start-notification-stream", {"interval": 0.3, "count": 4, "caller": "holder"})
        async with streaming(http, b, session_id, hold, until=logs(1)) as reader:
            before = _counts(cluster, session_id)
            refused = await http.post(a.url, headers=headers(session_id), json=tool_call(7, "calculate", add))
            assert refused.status_code == 400, refused.text
            assert refused.json() == {"jsonrpc": "2.0", "id": 7, "error": {"code": -32600, "message": IN_USE}}
            assert _counts(cluster, session_id) == before
            await asyncio.wait_for(reader.ended.wait(), 15)
        assert reader.messages()[-1]["result"]["isError"] is False
        # Answered on b: the id is free again, and the call runs on a.
        answer = await rpc(http, a, session_id, "tools/call", {"name": "calculate", "arguments": add}, rid=7)
        assert answer["result"]["content"][0]["text"] == "1 add 2 = 3"
        calculations, streams, held = _counts(cluster, session_id)
        assert (calculations, streams, held) == (before[0] + 1, before[1] + 1, 0)
    assert "Traceback" not in a.log()


async def test_a_call_claimed_with_its_first_events_holds_its_id_until_it_answers(cluster):
    """A streaming `calculate` stores progress before its answer: the claim commits with that progress and holds
    the id across nodes until the answer's commit releases it."""
    a, b = cluster.nodes[:2]
    slow = tool_call(9, "calculate", {"a": 2, "b": 3, "op": "multiply", "stream": True}, token="p9")
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        session_id = await open_session(http, a)
        async with streaming(http, a, session_id, slow, until=progressed) as reader:
            assert _counts(cluster, session_id)[2] == 1
            eager = tool_call(9, "start-notification-stream", {"interval": 0, "count": 1, "caller": "second"})
            refused = await http.post(b.url, headers=headers(session_id), json=eager)
            assert refused.status_code == 400 and refused.json()["error"]["message"] == IN_USE
            await asyncio.wait_for(reader.ended.wait(), 15)
        assert reader.messages()[-1]["result"]["content"][0]["text"] == "2 multiply 3 = 6"
        assert _counts(cluster, session_id)[2] == 0


async def test_a_claim_held_by_a_node_that_fences_itself_is_released(cluster):
    """A call claimed with its first events, on a node stalled past its lease: the node fences itself and
    stores nothing more, and gives the claim back in a commit of its own, so the id is free again."""
    a = cluster.nodes[0]
    stalled = cluster.add_node("stalled-claim")
    steps = tool_call(11, "demo_progress", {"steps": 10}, token="p11")  # about 2 s, progress first
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        session_id = await open_session(http, stalled)
        async with streaming(http, stalled, session_id, steps, until=progressed) as reader:
            assert _counts(cluster, session_id)[2] == 1
            stalled.process.send_signal(signal.SIGSTOP)
            try:
                await asyncio.sleep(4)  # past the lease (3 s)
            finally:
                stalled.process.send_signal(signal.SIGCONT)
            await asyncio.wait_for(reader.ended.wait(), 15)
        for _ in range(50):  # the node wakes, fences itself, and releases in its next commit
            if _counts(cluster, session_id)[2] == 0:
                break
            await asyncio.sleep(0.2)
        assert _counts(cluster, session_id)[2] == 0
        again = await rpc(
            http, a, session_id, "tools/call", {"name": "calculate", "arguments": {"a": 1, "b": 1, "op": "add"}}, rid=11
        )
        assert again["result"]["content"][0]["text"] == "1 add 1 = 2"
    assert "fencing" in stalled.log()


async def test_a_refused_claim_is_a_400_even_when_its_first_store_outlasts_a_keep_alive(cluster):
    """The first store of a's call waits (the claims table is locked) past a keep-alive interval (2 s). A POST's
    stream writes no comment before its first stored event, so when the store's claim is refused (b runs the
    id) the client still gets the 400, not a 200 stream that ends empty."""
    a, b = cluster.nodes[:2]
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        session_id = await open_session(http, a)
        hold = tool_call(13, "start-notification-stream", {"interval": 0.3, "count": 20, "caller": "holder"})
        async with streaming(http, b, session_id, hold, until=logs(1)) as reader:
            locked, release = threading.Event(), threading.Event()

            def lock_claims() -> None:
                with psycopg.connect(cluster.postgres.url) as db:
                    db.execute("LOCK TABLE sessions_app_requestclaim IN EXCLUSIVE MODE")
                    locked.set()
                    release.wait(10)

            holder = threading.Thread(target=lock_claims)
            holder.start()
            try:
                assert await asyncio.to_thread(locked.wait, 10)
                ping = {"jsonrpc": "2.0", "id": 13, "method": "ping"}
                pending = asyncio.ensure_future(http.post(a.url, headers=headers(session_id), json=ping))
                await asyncio.sleep(3.5)  # past a's keep-alive interval, its first store still waiting
                assert not pending.done()
            finally:
                release.set()
                await asyncio.to_thread(holder.join, 10)
            refused = await pending
            assert refused.status_code == 400, refused.text
            assert refused.json() == {"jsonrpc": "2.0", "id": 13, "error": {"code": -32600, "message": IN_USE}}
            await asyncio.wait_for(reader.ended.wait(), 15)
        assert reader.messages()[-1]["result"]["isError"] is False
    assert "Traceback" not in a.log()


def test_a_silent_call_on_a_revision_without_priming_still_gets_keep_alives(cluster):
    """Sibling of the test above: before 2025-11-25 the priming row is stored but not written, so a call that
    says nothing for a while (demo_progress without a token, about 4 s) has written nothing when its keep-alive
    is due. Its first event is stored, so the comments go out and keep the path alive."""
    a = cluster.nodes[0]
    with httpx2.Client(timeout=httpx2.Timeout(10, read=30)) as http:
        session_id = initialize(http, a.url, "2025-06-18")
        call = tool_call(1, "demo_progress", {"steps": 20})
        with http.stream("POST", a.url, headers=session_headers(session_id, "2025-06-18"), json=call) as response:
            assert response.status_code == 200
            lines = list(response.iter_lines())
    assert any(line.startswith(":") for line in lines), lines
    assert any("Progress demonstration completed with 20 steps" in line for line in lines), lines
