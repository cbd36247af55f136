"""Memory per node (resident set, VmRSS) under hostile-but-legal load, for mcpsite and the SDK's server.

(a) one client calls `flood` (tests/flood_app: --events notifications, past the seed tool's bound)
    and never reads
    (a socket with a 4 KiB receive buffer) for --hold seconds: RSS before, its peak over that time
    (mcpsite stores 100,000 events in about 35 s here), and 3 s after the client left;
(b) --streams idle sessions, each with its standalone GET stream open: RSS before and with them open.

mcpsite runs as `runmcp` on a fresh SQLite file; the peer is the official Python SDK's own Streamable
HTTP server (`bench/sdk_peer.py`: MCPServer under uvicorn, stateful). Each phase is bounded in time.

    uv run python bench/memory.py [--events 100000] [--streams 1000] [--hold 45] [--only mcpsite|sdk]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.conftest import INIT_PARAMS, POST_HEADERS, LiveServer, free_port  # noqa: E402
from tests.test_backpressure import FLOOD  # noqa: E402  (the flooding tool, with no per-stream cap)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def wait_until_listening(process: subprocess.Popen, port: int, log: Path, name: str, seconds: float) -> None:
    """Until `process` accepts connections on `port`; raises (with its log) if it exits or takes too long."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited: {log.read_text()}") from None
            time.sleep(0.2)
    raise RuntimeError(f"{name} did not come up")


class Peer:
    """The SDK's server in a subprocess of its own."""

    def __init__(self, log: Path, extra_args: list[str] | None = None):
        self.port = free_port()
        self.log = log
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "bench" / "sdk_peer.py"), str(self.port), *(extra_args or [])],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        wait_until_listening(self.process, self.port, log, "the SDK server", 60)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def open_session(http: httpx2.AsyncClient, url: str) -> str:
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT_PARAMS}
    response = await http.post(url, headers=POST_HEADERS, json=init)
    response.raise_for_status()
    session_id = response.headers["mcp-session-id"]
    headers = {**POST_HEADERS, "mcp-session-id": session_id, "mcp-protocol-version": "2025-11-25"}
    await http.post(url, headers=headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
    return session_id


def request_bytes(port: int, method: str, session_id: str, body: bytes = b"") -> bytes:
    head = (
        f"{method} /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json, text/event-stream\r\n"
        f"Content-Type: application/json\r\nMcp-Session-Id: {session_id}\r\nMcp-Protocol-Version: 2025-11-25\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def peak_over(pid: int, seconds: float) -> float:
    """The highest RSS sampled every 0.25 s for `seconds`."""
    peak = rss_mib(pid)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.25)
        peak = max(peak, rss_mib(pid))
    return peak


def never_reading(pid: int, url: str, port: int, events: int, hold: float) -> dict:
    session_id = asyncio.run(_one_session(url))
    time.sleep(1)
    before = rss_mib(pid)
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "flood", "arguments": {"count": events}},
    }
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(request_bytes(port, "POST", session_id, json.dumps(call).encode()))
    peak = peak_over(pid, hold)
    sock.close()
    time.sleep(3)
    return {"before": before, "peak": peak, "after_leaving": rss_mib(pid)}


async def _one_session(url: str) -> str:
    async with httpx2.AsyncClient(timeout=30) as http:
        return await open_session(http, url)


async def open_streams(pid: int, url: str, port: int, count: int) -> dict:
    before = rss_mib(pid)
    async with httpx2.AsyncClient(timeout=30, limits=httpx2.Limits(max_connections=20)) as http:
        session_ids = []
        for first in range(0, count, 20):
            session_ids += await asyncio.gather(*(open_session(http, url) for _ in range(min(20, count - first))))
    with_sessions = rss_mib(pid)
    writers, refused = [], 0
    try:
        for first in range(0, count, 50):
            opened = await asyncio.gather(*(_get(port, s) for s in session_ids[first : first + 50]))
            writers += [w for w, _ in opened]
            refused += sum(1 for _, status in opened if status != 200)
        await asyncio.sleep(2)
        with_streams = rss_mib(pid)
    finally:
        for writer in writers:
            writer.close()
    return {"before": before, "sessions": with_sessions, "streams_open": with_streams, "refused": refused}


async def _get(port: int, session_id: str):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request_bytes(port, "GET", session_id).replace(b"application/json, ", b""))
    await writer.drain()
    status = int((await asyncio.wait_for(reader.readline(), 30)).split()[1])
    return writer, status


def measure(name: str, pid: int, url: str, port: int, args) -> dict:
    result = {"server": name}
    print(f"{name}: a client that never reads {args.events} events ...", flush=True)
    result["never_reading"] = never_reading(pid, url, port, args.events, args.hold)
    print(f"{name}: {args.streams} open GET streams ...", flush=True)
    result["get_streams"] = asyncio.run(open_streams(pid, url, port, args.streams))
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=45, help="seconds the never-reading client stays connected")
    parser.add_argument("--only", choices=["mcpsite", "sdk"])
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mcp-memory-"))
    results = []
    if args.only in (None, "mcpsite"):
        live = LiveServer(f"sqlite:///{tmp / 'db.sqlite3'}", env={"LOG_LEVEL": "WARNING", **FLOOD}).start(
            tmp / "mcpsite.log"
        )
        try:
            results.append(measure("mcpsite", live.process.pid, live.url, live.port, args))
        finally:
            live.stop()
    if args.only in (None, "sdk"):
        peer = Peer(tmp / "sdk.log")
        try:
            results.append(measure("python-sdk", peer.process.pid, peer.url, peer.port, args))
        finally:
            peer.stop()
    print()
    print(f"| server | idle | never-reading ({args.events} events): peak | 3 s after it left |", end="")
    print(f" {args.streams} sessions | their GET streams open |")
    for r in results:
        n, g = r["never_reading"], r["get_streams"]
        print(
            f"| {r['server']} | {n['before']:.1f} MiB | +{n['peak'] - n['before']:.1f} MiB | "
            f"+{n['after_leaving'] - n['before']:.1f} MiB | +{g['sessions'] - g['before']:.1f} MiB | "
            f"+{g['streams_open'] - g['sessions']:.1f} MiB (refused {g['refused']}) |"
        )


if __name__ == "__main__":
    main()
