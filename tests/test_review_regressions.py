"""Regression tests for defects found in review (single node; the cluster ones are in test_distributed)."""

from __future__ import annotations

import time

import httpx2

from .conftest import initialize, session_headers
from .sse import iter_events, parse_text


def resume_headers(session_id: str, last_event_id: str) -> dict[str, str]:
    return {**session_headers(session_id), "accept": "text/event-stream", "last-event-id": last_event_id}


def test_resume_from_the_last_event_of_a_finished_stream_ends_at_once(server, http):
    session_id = initialize(http, server.url)
    response = http.post(
        server.url, headers=session_headers(session_id), json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    )
    last = parse_text(response.text)[-1]
    started = time.monotonic()
    with httpx2.Client(timeout=httpx2.Timeout(10, read=5)) as client:
        resumed = client.get(server.url, headers=resume_headers(session_id, last.id))
    assert resumed.status_code == 200
    assert [e for e in parse_text(resumed.text) if e.data] == []
    assert time.monotonic() - started < 2


def test_resume_of_a_fast_stream_is_complete_and_in_order(server, http):
    session_id = initialize(http, server.url)
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "start-notification-stream", "arguments": {"interval": 0.001, "count": 400, "caller": "o"}},
    }
    first_ids = []
    with http.stream("POST", server.url, headers=session_headers(session_id), json=call) as stream:
        lines = []
        for line in stream.iter_lines():
            lines.append(line)
            if line == "":
                first_ids += [e.id for e in iter_events(iter(lines)) if e.id]
                lines = []
                if len(first_ids) >= 30:
                    break
    with httpx2.Client(timeout=httpx2.Timeout(10, read=30)) as client:
        resumed = client.get(server.url, headers=resume_headers(session_id, first_ids[-1]))
    events = [e for e in parse_text(resumed.text) if e.data]
    pks = [int(e.id.rsplit("-", 1)[1]) for e in events]
    assert pks == sorted(pks) and len(set(pks)) == len(pks)
    texts = [e.message["params"]["data"] for e in events if "params" in e.message]
    seen_before = len(first_ids) - 1  # the first id was the priming event
    assert [t.split("]")[0] for t in texts] == [f"[{i}/400" for i in range(seen_before + 1, 401)]
    assert events[-1].message["id"] == 2


def test_nul_characters_are_refused(server, http):
    session_id = initialize(http, server.url)
    body = b'{"jsonrpc":"2.0","id":"a\\u0000b","method":"ping"}'
    response = http.post(server.url, headers={**session_headers(session_id)}, content=body)
    assert response.status_code == 400
    assert response.json()["error"] == {"code": -32700, "message": "Parse error: strings must not contain U+0000 (NUL)"}


def test_json_mode_batch_of_cancelled_requests_is_202(tmp_path):
    from .conftest import LiveServer

    live = LiveServer(f"sqlite:///{tmp_path / 'db.sqlite3'}", extra_args=["--json-response"]).start(tmp_path / "s.log")
    try:
        with httpx2.Client(timeout=10) as http, httpx2.Client(timeout=10) as other:
            session_id = initialize(http, live.url, version="2025-03-26")
            headers = session_headers(session_id, "2025-03-26")
            batch = [
                {
                    "jsonrpc": "2.0",
                    "id": i,
                    "method": "tools/call",
                    "params": {"name": "demo_progress", "arguments": {"steps": 20}},
                }
                for i in (1, 2)
            ]
            import threading

            result = {}

            def post():
                result["response"] = http.post(live.url, headers=headers, json=batch)

            thread = threading.Thread(target=post)
            thread.start()
            time.sleep(0.5)
            cancels = [
                {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": i}} for i in (1, 2)
            ]
            assert other.post(live.url, headers=headers, json=cancels).status_code == 202
            thread.join(10)
        response = result["response"]
        assert response.status_code == 202 and response.content == b""
    finally:
        live.stop()


def test_concurrent_posts_cannot_share_a_request_id(server, http):
    session_id = initialize(http, server.url)
    call = {
        "jsonrpc": "2.0",
        "id": "same",
        "method": "tools/call",
        "params": {"name": "demo_progress", "arguments": {"steps": 2}},
    }
    from concurrent.futures import ThreadPoolExecutor

    def post(_):
        with httpx2.Client(timeout=10) as client:
            return client.post(server.url, headers=session_headers(session_id), json=call).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(post, range(4)))
    # The four overlap (each runs 0.4 s): one takes the id, the others are refused.
    assert statuses == [200, 400, 400, 400]
