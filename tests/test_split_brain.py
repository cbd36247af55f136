"""Split brain and double claims on two nodes (PostgreSQL + Redis): fencing after a stall, one claim per request id."""

from __future__ import annotations

import asyncio
import signal

import httpx2

from . import test_distributed as distributed
from .test_distributed import SseReader, headers, log_texts, open_session, rpc, tool_call

# The two-node cluster of test_distributed (PostgreSQL + a private Redis), a fresh one for this module.
redis = distributed.redis
postgres = distributed.postgres
cluster = distributed.cluster


async def test_a_stalled_node_stores_nothing_after_the_stream_ended(cluster):
    a = cluster.nodes[0]
    stalled = cluster.add_node("stalled-fenced")
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=40)) as http:
        session_id = await open_session(http, stalled)
        call = tool_call(1, "start-notification-stream", {"interval": 0.2, "count": 200, "caller": "s"})
        async with http.stream("POST", stalled.url, headers=headers(session_id), json=call) as stream:
            reader = SseReader(stream)
            await reader.wait_for(lambda m: len(log_texts(m)) >= 2)
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
