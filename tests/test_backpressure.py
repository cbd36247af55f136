"""Back-pressure: a client that stops reading costs the node a bounded amount of memory.

daphne writes whatever it is given into Twisted's transport buffer; a stream whose
client reads nothing would keep every event in the node. The stream stops writing
while the client's buffer is full and catches up from the database afterwards.
Memory is the server process's resident set (VmRSS in /proc).
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time

import httpx2
import pytest

from .conftest import SERVERS, initialize, start_module_server
from .sse import parse_text

# A tool that floods past the seed tool's 10,000 bound, on servers with no per-stream event cap.
FLOOD = {"DJANGO_EXTRA_APPS": "tests.flood_app", "MCP_MAX_STREAM_EVENTS": "0"}

EVENTS = 60_000


@pytest.fixture(scope="module", params=SERVERS)
def live(tmp_path_factory, request):
    env = {"MCP_KEEPALIVE_SECONDS": "2", "MCP_SERVER": request.param, **FLOOD}
    server = start_module_server(tmp_path_factory, "backpressure", env=env)
    yield server
    server.stop()


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def stored_notifications(live, session_id: str) -> int:
    with sqlite3.connect(live.database_url.removeprefix("sqlite:///")) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM sessions_app_streamevent WHERE session_id = ? AND kind = 'notification'",
            (session_id,),
        ).fetchone()
    return count


def open_call(live, session_id: str, rid: int, count: int) -> socket.socket:
    """A raw POST tools/call on a socket with a small receive buffer; the headers are read, nothing else."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(20)
    sock.connect(("127.0.0.1", live.port))
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": rid,
            "method": "tools/call",
            "params": {
                "name": "flood",
                "arguments": {"count": count},
            },
        }
    ).encode()
    head = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\nMcp-Session-Id: {session_id}\r\n"
        f"Mcp-Protocol-Version: 2025-11-25\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def read_chunked_body(sock: socket.socket) -> bytes:
    """The whole chunked response body (after the headers), read to its end."""
    reader = sock.makefile("rb")
    while reader.readline() not in (b"\r\n", b""):
        pass
    body = bytearray()
    while True:
        size = int(reader.readline().split(b";")[0], 16)
        if size == 0:
            return bytes(body)
        body += reader.read(size)
        reader.readline()


def test_a_client_that_never_reads_costs_bounded_memory(live):
    pid = live.process.pid
    with httpx2.Client(timeout=10) as http:
        session_id = initialize(http, live.url)
        warm = open_call(live, session_id, 1, 500)  # warm the code paths up, then measure from here
        read_chunked_body(warm)
        warm.close()
    time.sleep(1)
    before = rss_kib(pid)

    sock = open_call(live, session_id, 2, EVENTS)
    wait_for(lambda: stored_notifications(live, session_id) >= 500 + EVENTS, 120, "every event to be stored")
    time.sleep(1)
    during = rss_kib(pid)
    sock.close()
    time.sleep(3)  # the disconnect reaches the server; buffers go
    after = rss_kib(pid)

    grown, left = (during - before) / 1024, (after - before) / 1024
    # Unbounded, the node keeps every frame: about 24 MiB for 60,000 events, and it stays after the client
    # left. Bounded, the growth is what storing the events costs any client (about 7 MiB, a reading one too).
    assert grown < 12, f"RSS grew by {grown:.1f} MiB for a client that reads nothing"
    assert left < 12, f"RSS stayed {left:.1f} MiB above the start after the client left"


def test_a_slow_reader_gets_every_event_once_in_order(live):
    with httpx2.Client(timeout=10) as http:
        session_id = initialize(http, live.url)
    count = 20_000
    sock = open_call(live, session_id, 3, count)
    try:
        # Read nothing until everything is stored: the stream falls behind and must catch up from the database.
        wait_for(lambda: stored_notifications(live, session_id) >= count, 120, "every event to be stored")
        body = read_chunked_body(sock)
    finally:
        sock.close()
    events = parse_text(body.decode())
    ids = [e.id for e in events if e.id]
    assert len(ids) == len(set(ids)), "an event was written twice"
    pks = [int(i.rsplit("-", 1)[1]) for i in ids]
    assert pks == sorted(pks)
    messages = [e.message for e in events if e.data]
    texts = [m["params"]["data"] for m in messages if m.get("method") == "notifications/message"]
    assert [t.split("]")[0] for t in texts] == [f"[{i}/{count}" for i in range(1, count + 1)]
    assert messages[-1]["id"] == 3 and "result" in messages[-1]


def test_a_client_that_reads_nothing_for_long_is_dropped(tmp_path_factory):
    stalled = start_module_server(
        tmp_path_factory, "stall", env={"MCP_KEEPALIVE_SECONDS": "1", "MCP_STREAM_STALL_SECONDS": "3", **FLOOD}
    )
    try:
        with httpx2.Client(timeout=10) as http:
            session_id = initialize(http, stalled.url)
        sock = open_call(stalled, session_id, 4, 20_000)
        try:
            wait_for(lambda: "dropping its connection" in stalled.log(), 60, "the stalled stream to be dropped")
            sock.settimeout(10)
            with pytest.raises(OSError):  # reset by the server: whatever was buffered is gone
                while sock.recv(65536):
                    pass
        finally:
            sock.close()
        wait_for(lambda: stored_notifications(stalled, session_id) >= 20_000, 60, "the request to finish anyway")
    finally:
        stalled.stop()
