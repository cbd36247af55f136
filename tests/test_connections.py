"""Connection-level bounds of a runmcp node: backlog, header/body/idle timeouts, open files, stream cap."""

from __future__ import annotations

import asyncio
import resource
import socket
import subprocess
import time

import httpx2
import pytest

from .conftest import SERVERS, initialize, session_headers, start_module_server
from .sse import iter_events

LOW_SOFT_NOFILE = 256
SETTINGS = {
    "MCP_HEADER_TIMEOUT": "2",
    "MCP_BODY_TIMEOUT": "2",
    "MCP_IDLE_TIMEOUT": "3",
    "MCP_MAX_STREAMS": "5",
    "MCP_KEEPALIVE_SECONDS": "1",
}


@pytest.fixture(scope="module", params=SERVERS)
def node(tmp_path_factory, request):
    """A node started under a low soft limit of open files (it raises it to the hard limit), on each server."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(LOW_SOFT_NOFILE, soft)
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        live = start_module_server(tmp_path_factory, "connections", env={**SETTINGS, "MCP_SERVER": request.param})
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    live.low_soft_nofile, live.hard_nofile = low, hard
    yield live
    live.stop()


def test_the_open_files_limit_is_raised_to_the_hard_limit(node):
    limits = open(f"/proc/{node.process.pid}/limits").read()
    (line,) = [row for row in limits.splitlines() if row.startswith("Max open files")]
    soft, hard = line.split()[3:5]
    assert soft == hard
    assert f"open files limit: {soft} (was {node.low_soft_nofile})" in node.log()


# --- listen backlog ------------------------------------------------------------------------------
def test_the_listen_backlog_is_1024(node):
    out = subprocess.run(["ss", "-ltnH", f"sport = :{node.port}"], capture_output=True, text=True).stdout
    # For a listening socket, ss shows the backlog as Send-Q.
    assert out.split()[2] == "1024", out


async def test_a_burst_of_connects_gets_no_resets(node):
    """What every SSE client of a restarted node does within the 1 s `retry:`: 300 connects at once."""

    async def one() -> str:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", node.port), 20)
            writer.write(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), 30)
            writer.close()
            return "ok" if status.startswith(b"HTTP/1.1 200") else f"status {status!r}"
        except (TimeoutError, OSError) as exc:
            return type(exc).__name__

    results = await asyncio.gather(*(one() for _ in range(300)))
    failures = [r for r in results if r != "ok"]
    assert not failures, f"{len(failures)} of 300 failed: {sorted(set(failures))}"


# --- timeouts --------------------------------------------------------------------------------------
def slow_send(port: int, data: bytes, pause: float, limit: float) -> tuple[float, bytes]:
    """Send `data` one byte per `pause` seconds; (seconds until the node closed, what it answered)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(pause)
    start = time.monotonic()
    answer = b""
    try:
        for byte in data:
            if time.monotonic() - start > limit:
                break
            sock.sendall(bytes([byte]))
            try:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
            except TimeoutError:
                pass
    except OSError:
        pass
    finally:
        sock.close()
    return time.monotonic() - start, answer


def test_a_slowloris_client_is_cut_off_after_the_header_timeout(node):
    request = b"GET /health HTTP/1.1\r\nHost: localhost\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
    elapsed, answer = slow_send(node.port, request, pause=0.5, limit=20)
    assert elapsed < 6, f"still open after {elapsed:.1f}s"
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert "closed a connection whose request headers took over 2s to arrive" in node.log()


def test_a_slow_body_is_cut_off_after_the_body_timeout(node):
    head = b"POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    sock = socket.create_connection(("127.0.0.1", node.port))
    sock.sendall(head)
    sock.close()  # the header part is quick; the body comes by the byte below
    elapsed, answer = slow_send(node.port, head + b"{" * 100, pause=0.3, limit=20)
    assert elapsed < 12, f"still open after {elapsed:.1f}s"
    assert b"408 Request Timeout" in answer, answer


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(node):
    sock = socket.create_connection(("127.0.0.1", node.port))
    sock.settimeout(10)
    start = time.monotonic()
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    received = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    elapsed = time.monotonic() - start
    sock.close()
    assert received.startswith(b"HTTP/1.1 200")
    assert 2.5 < elapsed < 8, elapsed  # MCP_IDLE_TIMEOUT=3 after the response


def test_a_long_stream_outlives_every_timeout(node, http):
    session_id = initialize(http, node.url)
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "start-notification-stream", "arguments": {"interval": 1, "count": 7, "caller": "t"}},
    }
    start = time.monotonic()
    with http.stream("POST", node.url, headers=session_headers(session_id), json=call, timeout=30) as response:
        events = list(iter_events(response.iter_lines()))
    assert time.monotonic() - start > 6  # longer than the header, body and idle timeouts together
    messages = [e.message for e in events if e.data]
    assert messages[-1]["result"]["content"][0]["text"].startswith("Sent 7 notifications")
    # A GET stream with nothing to say but keep-alives stays open too.
    headers = {**session_headers(session_id), "accept": "text/event-stream"}
    with http.stream("GET", node.url, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        start, comments = time.monotonic(), 0
        for line in response.iter_lines():
            comments += line.startswith(":")
            if time.monotonic() - start > 6:
                break
    assert comments >= 4


# --- the stream cap --------------------------------------------------------------------------------
async def test_streams_beyond_the_cap_get_503_and_the_node_stays_useful(node):
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=30)) as http:
        with httpx2.Client(timeout=10) as sync_http:
            ids = [initialize(sync_http, node.url) for _ in range(7)]
        streams, opened = [], []
        try:
            for session_id in ids[:5]:
                request = http.build_request(
                    "GET", node.url, headers={**session_headers(session_id), "accept": "text/event-stream"}
                )
                response = await http.send(request, stream=True)
                assert response.status_code == 200
                streams.append(response)
            refused = []
            for session_id in ids[5:]:
                request = http.build_request(
                    "GET", node.url, headers={**session_headers(session_id), "accept": "text/event-stream"}
                )
                response = await http.send(request, stream=True)
                refused.append(response)
                if response.status_code == 200:
                    streams.append(response)  # (before the cap) closed below
                else:
                    await response.aread()
            for response in refused:
                assert response.status_code == 503
                assert response.headers["retry-after"] == "2"
                assert response.json()["error"]["code"] == -32603
            assert (await http.get(f"{node.base}/health")).status_code == 200
            call = {
                "jsonrpc": "2.0",
                "id": 9,
                "method": "tools/call",
                "params": {"name": "calculate", "arguments": {"a": 2, "b": 3, "op": "add"}},
            }
            answer = await http.post(node.url, headers=session_headers(ids[6]), json=call)
            assert answer.status_code == 200 and '"isError":false' in answer.text.replace(" ", "")
            # One slot back, one stream more.
            await streams.pop().aclose()
            deadline = time.monotonic() + 10
            while True:
                request = http.build_request(
                    "GET", node.url, headers={**session_headers(ids[5]), "accept": "text/event-stream"}
                )
                response = await http.send(request, stream=True)
                if response.status_code == 200 or time.monotonic() > deadline:
                    break
                await response.aclose()
                await asyncio.sleep(0.2)
            assert response.status_code == 200
            opened.append(response)
        finally:
            for response in streams + opened:
                await response.aclose()
    refusals = [line for line in node.log().splitlines() if "refusing GET streams" in line]
    assert len(refusals) == 1, refusals
