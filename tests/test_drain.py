"""A draining node serves every request that reached it and refuses only new connections.

Deterministic counterparts of the rolling-restart test (tests/test_rolling_restart.py): requests
queued in the listen backlog when SIGTERM arrives, and a request whose body is still arriving on an
accepted connection, are answered; an idle keep-alive connection is closed between requests; a
new connection is refused, so a balancer sends it elsewhere.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time

import httpx2
import pytest

from .conftest import SERVERS, LiveServer, initialize


def call(request_id: int) -> bytes:
    message = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": "calculate", "arguments": {"a": 2, "b": 3, "op": "add"}},
    }
    return json.dumps(message).encode()


@pytest.fixture(params=SERVERS)
def node(tmp_path, request):
    live = LiveServer(
        f"sqlite:///{tmp_path / 'db.sqlite3'}", env={"MCP_DRAIN_SECONDS": "5", "MCP_SERVER": request.param}
    )
    live.start(tmp_path / "server.log")
    yield live
    live.stop(signal.SIGKILL)


def post_bytes(port: int, session_id: str, body: bytes) -> bytes:
    return (
        f"POST /mcp HTTP/1.1\r\nHost: localhost:{port}\r\nContent-Type: application/json\r\n"
        "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-11-25\r\n"
        f"Mcp-Session-Id: {session_id}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()


def read_until_closed(sock: socket.socket, timeout: float = 15) -> bytes:
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def answered(response: bytes) -> bool:
    return response.startswith(b"HTTP/1.1 200") and b"2 add 3 = 5" in response


def test_requests_queued_when_sigterm_arrives_are_all_served(node):
    with httpx2.Client(timeout=10) as http:
        session_id = initialize(http, node.url)
    os.kill(node.process.pid, signal.SIGSTOP)  # connections now wait in the listen backlog
    try:
        socks = []
        for request_id in range(20):
            body = call(request_id)
            sock = socket.create_connection(("127.0.0.1", node.port), timeout=5)
            sock.sendall(post_bytes(node.port, session_id, body) + body)
            socks.append(sock)
        os.kill(node.process.pid, signal.SIGTERM)
    finally:
        os.kill(node.process.pid, signal.SIGCONT)
    responses = [read_until_closed(sock) for sock in socks]
    for sock in socks:
        sock.close()
    failed = [r[:200] for r in responses if not answered(r)]
    assert not failed, f"{len(failed)} of 20 queued requests were not served: {failed[:3]}"
    assert node.process.wait(timeout=20) == 0


def test_a_request_arriving_on_an_accepted_connection_is_served_and_idle_ones_close(node):
    with httpx2.Client(timeout=10) as http:
        session_id = initialize(http, node.url)
    body = call(1)
    idle = socket.create_connection(("127.0.0.1", node.port), timeout=5)
    idle.sendall(f"GET /health HTTP/1.1\r\nHost: localhost:{node.port}\r\n\r\n".encode())
    first = idle.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    busy = socket.create_connection(("127.0.0.1", node.port), timeout=5)
    busy.sendall(post_bytes(node.port, session_id, body) + body[:10])  # the body is still arriving
    time.sleep(0.3)
    node.process.send_signal(signal.SIGTERM)
    time.sleep(1)
    # The listener is closed: a balancer's next connect is refused and goes elsewhere.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", node.port), timeout=5).close()
    # The idle keep-alive connection was closed between requests, with nothing written on it.
    assert read_until_closed(idle, timeout=5) == b""
    # The request on the accepted connection is served, and its connection closes after the response.
    busy.sendall(body[10:])
    response = read_until_closed(busy)
    assert answered(response), response[:300]
    assert b"connection: close" in response.lower()
    idle.close()
    busy.close()
    assert node.process.wait(timeout=20) == 0
