"""Zero-downtime deploys: a rolling restart of three nodes behind a real nginx, with `deploy/nginx.conf`.

Three runmcp nodes on PostgreSQL + Redis; nginx runs the repository's own configuration, with
its upstream servers replaced by the test nodes. While two callers call `calculate` back to back
through nginx and a long notification stream is read (and resumed with Last-Event-ID whenever a
node closes it), each node in turn is SIGTERMed, waited for and started again on its port.
Expected: no failed call, and every event of the stream exactly once, in order.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx2
import pytest

from .conftest import INIT_PARAMS, POST_HEADERS, ROOT, LiveServer, free_port
from .services import PostgresDatabase, RedisServer, unavailable
from .sse import iter_events

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
NODE_ENV = {
    "MCP_HEARTBEAT_SECONDS": "1",
    "MCP_NODE_LEASE_SECONDS": "4",
    "MCP_KEEPALIVE_SECONDS": "2",
    "MCP_DRAIN_SECONDS": "30",  # the long stream's request may finish on a draining node
}
STREAM_COUNT = 100
STREAM_INTERVAL = 0.2


def nginx_config(tmp: Path, listen_port: int, upstreams: list[int]) -> str:
    """deploy/nginx.conf as shipped, pointed at the test nodes, logging and buffering under `tmp`."""
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    conf = re.sub(r"(?m)^\s*user\s+[^;]*;", "", conf)
    conf = re.sub(r"(?m)^(\s*)error_log\s+[^;\s]+", rf"\1error_log {tmp}/error.log", conf)
    conf = re.sub(r"(?m)^(\s*)access_log\s+[^;\s]+", rf"\1access_log {tmp}/access.log", conf)
    servers = "".join(f"        server 127.0.0.1:{port};\n" for port in upstreams)
    conf, found = re.subn(
        r"(upstream\s+mcp_app\s*\{)(.*?)(\})",
        lambda m: (
            m.group(1) + re.sub(r"(?m)^\s*server\s+[^;]*;[^\n]*\n", "", m.group(2)) + servers + "    " + m.group(3)
        ),
        conf,
        flags=re.S,
    )
    assert found == 1, "deploy/nginx.conf has no `upstream mcp_app` block"
    conf, found = re.subn(r"(?m)^(\s*)listen\s+80;", rf"\1listen 127.0.0.1:{listen_port};", conf)
    assert found == 1, "deploy/nginx.conf has no `listen 80;`"
    temp_paths = "".join(
        f"    {name}_temp_path {tmp}/{name};\n" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return conf.replace("http {\n", "http {\n" + temp_paths, 1)


class Nginx:
    def __init__(self, tmp: Path, upstreams: list[int]):
        self.tmp, self.port = tmp, free_port()
        (tmp / "nginx.conf").write_text(nginx_config(tmp, self.port, upstreams))
        self.process = subprocess.Popen(
            [NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", f"daemon off; pid {tmp}/nginx.pid;"],
            stdout=subprocess.DEVNULL,
            stderr=open(tmp / "stderr.log", "wb"),
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {(tmp / 'stderr.log').read_text()}")
            try:
                if httpx2.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("nginx did not come up")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/mcp"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if NGINX is None:
        unavailable("nginx is not installed (apt-get install nginx)")
    tmp = tmp_path_factory.mktemp("rolling")
    redis = RedisServer(tmp).start()
    postgres = PostgresDatabase().create()
    env = {"USE_REDIS": "true", "REDIS_URL": redis.url, **NODE_ENV}
    nodes: list[LiveServer] = []
    proxy = None
    try:
        for name in "abc":
            args = ["--skip-migrate"] if nodes else []
            nodes.append(LiveServer(postgres.url, extra_args=args, env=env).start(tmp / f"{name}.log"))
        proxy = Nginx(tmp, [node.port for node in nodes])
        yield proxy, nodes, tmp
    finally:
        if proxy is not None:
            proxy.stop()
        for node in nodes:
            node.stop(signal.SIGKILL)
        postgres.drop()
        redis.stop()


def headers(session_id: str) -> dict[str, str]:
    return {**POST_HEADERS, "mcp-session-id": session_id, "mcp-protocol-version": "2025-11-25"}


async def open_session(http: httpx2.AsyncClient, url: str) -> str:
    body = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT_PARAMS}
    response = await http.post(url, headers=POST_HEADERS, json=body)
    assert response.status_code == 200, response.text
    return response.headers["mcp-session-id"]


async def caller(http: httpx2.AsyncClient, url: str, stop: asyncio.Event, tally: dict) -> None:
    session_id = await open_session(http, url)
    rid = 0
    while not stop.is_set():
        rid += 1
        call = {
            "jsonrpc": "2.0",
            "id": rid,
            "method": "tools/call",
            "params": {"name": "calculate", "arguments": {"a": rid, "b": 1, "op": "add"}},
        }
        try:
            response = await http.post(url, headers=headers(session_id), json=call)
            messages = [e.message for e in iter_events(iter(response.text.splitlines())) if e.data]
            result = messages[-1].get("result") if response.status_code == 200 and messages else None
            if result and not result.get("isError") and result["content"][0]["text"].endswith(str(rid + 1)):
                tally["ok"] += 1
                continue
            tally["failed"].append(f"{response.status_code} {response.text[:200]}")
        except httpx2.HTTPError as exc:
            tally["failed"].append(repr(exc))


async def long_stream(http: httpx2.AsyncClient, url: str, got: list, tally: dict) -> None:
    """The stream's events, read and resumed (Last-Event-ID) whenever a node closes it, until its answer."""
    session_id = await open_session(http, url)
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "start-notification-stream",
            "arguments": {"interval": STREAM_INTERVAL, "count": STREAM_COUNT, "caller": "roll"},
        },
    }
    request = http.build_request("POST", url, headers=headers(session_id), json=call)
    last_id, resumes = None, 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            response = await http.send(request, stream=True)
            if response.status_code != 200:
                tally["stream_errors"].append(f"{response.status_code} {(await response.aread())[:200]!r}")
            else:
                lines: list[str] = []
                async for line in response.aiter_lines():
                    lines.append(line)
                    if line != "":
                        continue
                    for event in iter_events(iter(lines)):
                        last_id = event.id or last_id
                        if event.data:
                            got.append((event.id, event.message))
                            if "result" in event.message or "error" in event.message:
                                await response.aclose()
                                tally["resumes"] = resumes
                                return
                    lines = []
                    if request.method == "POST" and len(got) >= 10:
                        break  # leave the POST early: from now on the stream is read by resuming
            await response.aclose()
        except httpx2.HTTPError as exc:
            tally["stream_errors"].append(repr(exc))
        # Closed before the answer: resume where it stopped, on whichever node nginx picks.
        assert last_id is not None, "the stream closed before its first event"
        resumes += 1
        await asyncio.sleep(0.5)
        resume_headers = {**headers(session_id), "accept": "text/event-stream", "last-event-id": last_id}
        request = http.build_request("GET", url, headers=resume_headers)
    raise AssertionError("the stream did not end in time")


def restart(node: LiveServer, log: Path) -> LiveServer:
    node.process.send_signal(signal.SIGTERM)
    assert node.process.wait(timeout=60) == 0
    again = LiveServer(node.database_url, extra_args=node.extra_args, env=node.env)
    again.port = node.port
    return again.start(log, timeout=90)  # a busy two-core machine may take a while to start Django


async def test_a_rolling_restart_fails_no_call_and_loses_no_event(stack):
    proxy, nodes, tmp = stack
    tally = {"ok": 0, "failed": [], "stream_errors": [], "resumes": 0}
    got: list = []
    stop = asyncio.Event()
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=60)) as http:
        stream = asyncio.create_task(long_stream(http, proxy.url, got, tally))
        callers = [asyncio.create_task(caller(http, proxy.url, stop, tally)) for _ in range(2)]
        deadline = time.monotonic() + 20
        while len(got) < 10 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        for i, node in enumerate(list(nodes)):
            nodes[i] = await asyncio.to_thread(restart, node, tmp / f"{'abc'[i]}-{i}.log")
            await asyncio.sleep(1)
        stop.set()
        await asyncio.gather(*callers)
        await asyncio.wait_for(stream, 120)
    assert tally["failed"] == [], f"{len(tally['failed'])} of {tally['ok'] + len(tally['failed'])} calls failed"
    assert tally["ok"] > 50
    ids = [int(event_id.rsplit("-", 1)[1]) for event_id, _ in got]
    assert ids == sorted(set(ids)), "an event came twice or out of order"
    logs = [m["params"]["data"] for _, m in got if m.get("method") == "notifications/message"]
    expected = [
        f"[{i}/{STREAM_COUNT}] Event from 'roll' - Use Last-Event-ID to resume if disconnected"
        for i in range(1, STREAM_COUNT + 1)
    ]
    assert logs == expected
    assert got[-1][1]["result"]["content"][0]["text"].startswith(f"Sent {STREAM_COUNT} notifications")
