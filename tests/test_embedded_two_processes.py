"""The embedded default (SQLite, no Redis) with two processes on one database file."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx2

from .conftest import LiveServer, initialize, session_headers
from .sse import parse_text


def call(http: httpx2.Client, node: LiveServer, session_id: str, rid: int, a: int) -> dict:
    response = http.post(
        node.url,
        headers=session_headers(session_id),
        json={
            "jsonrpc": "2.0",
            "id": rid,
            "method": "tools/call",
            "params": {"name": "calculate", "arguments": {"a": a, "b": 1, "op": "add"}},
        },
    )
    assert response.status_code == 200, response.text
    return [e.message for e in parse_text(response.text) if e.data][-1]


def test_two_processes_share_one_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    a = LiveServer(url).start(tmp_path / "a.log")
    b = LiveServer(url, extra_args=["--skip-migrate"]).start(tmp_path / "b.log")
    try:
        with httpx2.Client(timeout=20) as http:
            sessions = [initialize(http, a.url) for _ in range(4)]

            # Writers on both processes at once: WAL and immediate transactions, no "database is locked".
            def work(index: int) -> str:
                node = (a, b)[index % 2]
                with httpx2.Client(timeout=20) as own:
                    return call(own, node, sessions[index % 4], index, index)["result"]["content"][0]["text"]

            with ThreadPoolExecutor(max_workers=8) as pool:
                texts = list(pool.map(work, range(80)))
            assert texts == [f"{i} add 1 = {i + 1}" for i in range(80)]

            # Every session's history holds what both processes wrote for it.
            total = 0
            for session_id in sessions:
                response = http.post(
                    b.url,
                    headers=session_headers(session_id),
                    json={
                        "jsonrpc": "2.0",
                        "id": 999,
                        "method": "resources/read",
                        "params": {"uri": "calculator://history"},
                    },
                )
                history = json.loads(
                    [e.message for e in parse_text(response.text) if e.data][-1]["result"]["contents"][0]["text"]
                )
                total += len(history)
            assert total == 80
    finally:
        a.stop()
        b.stop()
    for node in (a, b):
        assert "database is locked" not in node.log()


def test_delete_on_one_process_closes_a_stream_held_by_the_other(tmp_path):
    import time

    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    env = {"MCP_KEEPALIVE_SECONDS": "1"}
    a = LiveServer(url, env=env).start(tmp_path / "a.log")
    b = LiveServer(url, extra_args=["--skip-migrate"], env=env).start(tmp_path / "b.log")
    try:
        with httpx2.Client(timeout=httpx2.Timeout(10, read=10)) as http:
            session_id = initialize(http, a.url)
            get_headers = {**session_headers(session_id), "accept": "text/event-stream"}
            with http.stream("GET", b.url, headers=get_headers) as stream:
                assert stream.status_code == 200
                assert http.delete(a.url, headers=session_headers(session_id)).status_code == 204
                started = time.monotonic()
                for _ in stream.iter_lines():
                    pass
                # B learns it at its next keep-alive tick (it reads the database, not its own cache).
                assert time.monotonic() - started < 5
    finally:
        a.stop()
        b.stop()


STATS = "calculator://stats"


def test_a_subscribe_on_one_process_is_seen_by_a_calculation_on_the_other(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    env = {"MCP_KEEPALIVE_SECONDS": "1"}  # no relay between them: A's GET stream catches up from the file
    a = LiveServer(url, env=env).start(tmp_path / "a.log")
    b = LiveServer(url, extra_args=["--skip-migrate"], env=env).start(tmp_path / "b.log")
    try:
        with httpx2.Client(timeout=httpx2.Timeout(10, read=10)) as http, httpx2.Client(timeout=10) as own:
            watcher, caller = initialize(own, a.url), initialize(own, b.url)
            get_headers = {**session_headers(watcher), "accept": "text/event-stream"}
            with http.stream("GET", a.url, headers=get_headers) as stream:
                assert stream.status_code == 200
                body = {"jsonrpc": "2.0", "id": 1, "method": "resources/subscribe", "params": {"uri": STATS}}
                assert own.post(a.url, headers=session_headers(watcher), json=body).status_code == 200
                assert call(own, b, caller, 2, 1)["result"]["content"][0]["text"] == "1 add 1 = 2"
                for line in stream.iter_lines():  # A's keep-alive re-reads the file within a second
                    if line.startswith("data:") and STATS in line:
                        assert "notifications/resources/updated" in line
                        break
                else:
                    raise AssertionError("the stream ended without the update")
    finally:
        a.stop()
        b.stop()
