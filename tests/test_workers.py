"""`runmcp --workers 2`: two serving processes on one port, each a node of its own, under one supervisor."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from .conftest import LiveServer, initialize, session_headers


def nodes_seen(live: LiveServer, want: int, timeout: float = 60) -> set[str]:
    """Node ids answering /health over fresh connections, until `want` distinct ones answered."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < want and time.monotonic() < deadline:
        try:
            seen.add(httpx2.get(f"{live.base}/health", timeout=5).json()["node"])
        except httpx2.TransportError:
            time.sleep(0.2)
    return seen


def worker_pids(live: LiveServer) -> dict[int, int]:
    return {int(i): int(pid) for i, pid in re.findall(r"worker (\d+) started \(pid (\d+)\)", live.log())}


def calculate(http: httpx2.Client, live: LiveServer, session_id: str, rid: int) -> str:
    body = {"jsonrpc": "2.0", "id": rid, "method": "tools/call"}
    body["params"] = {"name": "calculate", "arguments": {"a": rid, "b": 1, "op": "add"}}
    # A fresh connection each time: the kernel spreads them over the workers.
    response = http.post(live.url, headers={**session_headers(session_id), "connection": "close"}, json=body)
    assert response.status_code == 200, response.text
    return response.text


def test_two_workers_serve_one_port_as_two_nodes_and_drain_together(tmp_path):
    live = LiveServer(f"sqlite:///{tmp_path / 'db.sqlite3'}", extra_args=["--workers", "2"])
    live.start(tmp_path / "server.log")
    try:
        nodes = nodes_seen(live, 2)
        assert len(nodes) == 2 and all(re.match(r"node-w[01]-", n) for n in nodes), nodes

        # A session opened on one worker is served by both (the database holds it).
        with httpx2.Client(timeout=20) as http:
            session_id = initialize(http, live.url)
            for rid in range(1, 21):
                assert f"{rid} add 1 = {rid + 1}" in calculate(http, live, session_id, rid)

        async def sdk() -> list[str]:
            async with Client(streamable_http_client(live.url), mode="legacy") as client:
                results = [await client.call_tool("calculate", {"a": i, "b": 2, "op": "multiply"}) for i in range(5)]
            return [r.content[0].text for r in results]

        assert asyncio.run(sdk()) == [f"{i} multiply 2 = {i * 2}" for i in range(5)]

        # A worker that dies is started again, as a new node.
        pids = worker_pids(live)
        os.kill(pids[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while "worker 0 (pid" not in live.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert f"worker 0 (pid {pids[0]}) exited with -9; starting it again" in live.log()
        assert len(nodes_seen(live, 3) | nodes) >= 3  # the new worker 0 answers with a new node id
        restarted = worker_pids(live)
    finally:
        live.stop()
    # SIGTERM to the supervisor: every worker drains and exits, then the supervisor.
    assert live.process.returncode == 0, live.log()[-2000:]
    assert len(re.findall(r"node node-w[01]-\w+ drained", live.log())) == 2, live.log()[-2000:]
    for pid in (restarted[0], pids[1]):
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()


def test_a_worker_that_cannot_listen_stops_the_supervisor(tmp_path):
    """The port is taken: the workers fail at start, and are not started over and over."""
    import socket
    import subprocess
    import sys

    from .conftest import ROOT

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    try:
        done = subprocess.run(
            [sys.executable, "manage.py", "runmcp", "--workers", "2", "--port", str(taken.getsockname()[1])],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        taken.close()
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-2000:]
    assert "could not start (exit 1); stopping" in output
    assert "starting it again" not in output
    assert "a worker could not start" in output


def test_workers_need_the_uvicorn_server(tmp_path):
    import subprocess
    import sys

    from .conftest import ROOT

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "runmcp", "--workers", "2", "--server", "daphne"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "--workers needs the uvicorn server" in done.stderr
