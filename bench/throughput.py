"""Pings per second on one session, notifications per second on one stream, and `calculate` calls per
second on the stateful leg (a session, every event stored) and on the stateless 2026-07-28 leg (no session,
nothing but the calculation stored).

Starts a `runmcp` server on a fresh SQLite file (or uses --url) and drives it
over raw HTTP with one keep-alive connection, the load the issue names: the
SDK's Starlette server and the TypeScript reference reach about 740 and 1,650
pings/s on one session and 7,300 notifications/s on one stream on this machine.

    uv run python bench/throughput.py [--pings 2000] [--notifications 10000] [--calls 1000] [--json-response]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import LiveServer, initialize, session_headers  # noqa: E402


def bench_pings(http: httpx2.Client, url: str, session_id: str, count: int) -> float:
    headers = session_headers(session_id)
    started = time.perf_counter()
    for i in range(count):
        response = http.post(url, headers=headers, json={"jsonrpc": "2.0", "id": i, "method": "ping"})
        assert response.status_code == 200, response.text
        assert '"result":{}' in response.text
    return count / (time.perf_counter() - started)


def bench_notifications(http: httpx2.Client, url: str, session_id: str, count: int) -> float:
    body = {
        "jsonrpc": "2.0",
        "id": "bench",
        "method": "tools/call",
        "params": {"name": "start-notification-stream", "arguments": {"interval": 0, "count": count, "caller": "b"}},
    }
    received = 0
    started = time.perf_counter()
    with http.stream("POST", url, headers=session_headers(session_id), json=body) as response:
        for line in response.iter_lines():
            if line.startswith("data: {") and "notifications/message" in line:
                received += 1
    elapsed = time.perf_counter() - started
    assert received == count, received
    return count / elapsed


def calculate(request_id: int) -> dict:
    params = {"name": "calculate", "arguments": {"a": request_id, "b": 2, "op": "add"}}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def bench_stateful_calls(http: httpx2.Client, url: str, session_id: str, count: int) -> float:
    headers = session_headers(session_id)
    started = time.perf_counter()
    for i in range(count):
        response = http.post(url, headers=headers, json=calculate(i))
        assert response.status_code == 200 and f"{i} add 2 = {i + 2}" in response.text, response.text
    return count / (time.perf_counter() - started)


MODERN_HEADERS = {
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": "tools/call",
    "mcp-name": "calculate",
}
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
}


def bench_stateless_calls(http: httpx2.Client, url: str, count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        body = calculate(i)
        body["params"]["_meta"] = MODERN_META
        response = http.post(url, headers=MODERN_HEADERS, json=body)
        assert response.status_code == 200 and f"{i} add 2 = {i + 2}" in response.text, response.text
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url")
    parser.add_argument("--pings", type=int, default=2000)
    # The seed tool sends at most 10,000 notifications per call.
    parser.add_argument("--notifications", type=int, default=10000)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--json-response", action="store_true")
    args = parser.parse_args()
    live = None
    url = args.url
    if url is None:
        tmp = Path(tempfile.mkdtemp(prefix="mcpsite-bench-"))
        extra = ["--json-response"] if args.json_response else []
        # The limiter stays on (its cost is part of every request), with a limit the run cannot reach.
        env = {"LOG_LEVEL": "WARNING", "RATE_LIMIT_MAX": "100000000"}
        live = LiveServer(f"sqlite:///{tmp / 'db.sqlite3'}", extra_args=extra, env=env)
        live.start(tmp / "server.log")
        url = live.url
    try:
        with httpx2.Client(timeout=120) as http:
            session_id = initialize(http, url)
            bench_pings(http, url, session_id, 100)  # warm-up
            pings = bench_pings(http, url, session_id, args.pings)
            print(f"pings/s on one session: {pings:,.0f}")
            if not args.json_response:
                rate = bench_notifications(http, url, session_id, args.notifications)
                print(f"notifications/s on one stream: {rate:,.0f}")
            bench_stateful_calls(http, url, session_id, 50)  # warm-up
            stateful = bench_stateful_calls(http, url, session_id, args.calls)
            print(f"calculate/s, stateful leg (2025-11-25 session): {stateful:,.0f}")
            bench_stateless_calls(http, url, 50)
            stateless = bench_stateless_calls(http, url, args.calls)
            print(f"calculate/s, stateless leg (2026-07-28): {stateless:,.0f}")
    finally:
        if live is not None:
            live.stop()


if __name__ == "__main__":
    main()
