"""Oversized bodies are refused by the HTTP layer while they arrive, not after: a declared length over
the limit gets 413 at once, a chunked body is cut at the limit, and the node's memory stays bounded.
Raw sockets against a live server, so that nothing buffers or rewrites the request on the client side."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from pathlib import Path

import pytest

from .conftest import SERVERS, start_module_server

MAX_BODY = 4 * 1024 * 1024


@pytest.fixture(scope="module", params=SERVERS)
def server(tmp_path_factory, request):
    """A live server on each of runmcp's HTTP servers: the limit is the HTTP layer's."""
    live = start_module_server(tmp_path_factory, "limits", env={"MCP_SERVER": request.param})
    yield live
    live.stop()


DECLARED = 64 * 1024 * 1024
PIECE = b" " * 65536
HEAD = (
    "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    "Accept: application/json, text/event-stream\r\n"
)


def read_response(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes (or `timeout` passes)."""
    sock.settimeout(timeout)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (TimeoutError, ConnectionResetError):
        pass
    return b"".join(chunks)


def assert_413(raw: bytes) -> None:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), raw[:300]
    assert b"content-type: application/json" in head.lower(), head
    assert json.loads(body) == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32600, "message": f"Payload Too Large: the body exceeds {MAX_BODY} bytes"},
    }


def send_until_answered(sock: socket.socket, limit: int) -> int:
    """Send body pieces until the server answers (or fails the connection, or `limit` bytes went); bytes sent."""
    sent = 0
    while sent < limit:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            break
        try:
            sent += sock.send(PIECE)
        except OSError:
            break
    return sent


def test_declared_length_over_the_limit_is_413_before_the_body(server):
    for expect in ("", "Expect: 100-continue\r\n"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            started = time.monotonic()
            sock.sendall(f"{HEAD}{expect}Content-Length: {DECLARED}\r\n\r\n".encode() + PIECE)
            raw = read_response(sock, timeout=5)
            took = time.monotonic() - started
        assert_413(raw)  # and no "100 Continue" before it
        assert took < 3, f"the 413 took {took:.1f} s"


def test_chunked_body_over_the_limit_is_cut_with_413(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(f"{HEAD}Transfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b"%x\r\n" % len(PIECE) + PIECE + b"\r\n"
        sent = 0
        while sent < 4 * MAX_BODY:
            if select.select([sock], [], [], 0)[0]:
                break
            try:
                sock.sendall(chunk)
            except OSError:
                break
            sent += len(PIECE)
        raw = read_response(sock, timeout=5)
    assert_413(raw)
    # Cut near the limit: what was sent past it is only what the socket buffers held meanwhile.
    assert sent < 3 * MAX_BODY, f"sent {sent} bytes before the 413"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_memory_stays_bounded_under_four_parallel_oversized_bodies(server):
    pid = server.process.pid
    before = rss_kib(pid)
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.02)

    results: list[bytes] = []

    def hostile():
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(f"{HEAD}Content-Length: {DECLARED}\r\n\r\n".encode())
            send_until_answered(sock, DECLARED)
            results.append(read_response(sock, timeout=5))

    sampler = threading.Thread(target=sample)
    sampler.start()
    clients = [threading.Thread(target=hostile) for _ in range(4)]
    for client in clients:
        client.start()
    for client in clients:
        client.join(timeout=60)
    done.set()
    sampler.join()
    assert len(results) == 4
    for raw in results:
        assert_413(raw)
    grown_mib = (peak[0] - before) / 1024
    assert grown_mib < 32, f"the node grew by {grown_mib:.0f} MiB"
    assert server.process.poll() is None
