"""Shared fixtures: live `runmcp` servers in subprocesses, driven over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

ROOT = Path(__file__).resolve().parent.parent
INIT_PARAMS = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "raw-test", "version": "1.0"},
}
POST_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A `manage.py runmcp` process on its own port and database."""

    def __init__(self, database_url: str, *, extra_args: list[str] | None = None, env: dict | None = None):
        self.database_url = database_url
        self.extra_args = extra_args or []
        self.env = env or {}
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/mcp"

    def start(self, log_path: Path, *, timeout: float = 90) -> LiveServer:
        self.log_path = log_path
        # Test servers take far more requests from one address than a client would: the limiter
        # is tested on its own (test_operations), elsewhere its budget is out of reach.
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "LOG_LEVEL": "INFO",
            "RATE_LIMIT_MAX": "1000000",
            **self.env,
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)
        log = open(log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runmcp", "--port", str(self.port), *self.extra_args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"runmcp exited early:\n{log_path.read_text()}")
            try:
                if httpx2.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return self
            except httpx2.TransportError:
                pass
            time.sleep(0.1)
        self.process.kill()  # never leave a server behind that no fixture will stop
        self.process.wait()
        raise RuntimeError(f"runmcp did not come up:\n{log_path.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path else ""

    def stored_events(self, session_id: str) -> list[tuple[str, str, dict | None]]:
        """(stream, kind, message) of every stored event of a session, read from the server's SQLite file."""
        with sqlite3.connect(self.database_url.removeprefix("sqlite:///")) as db:
            rows = db.execute(
                "SELECT stream, kind, message FROM sessions_app_streamevent WHERE session_id = ? ORDER BY id",
                (session_id,),
            ).fetchall()
        return [(stream, kind, json.loads(message) if message else None) for stream, kind, message in rows]


# runmcp's two HTTP servers (`--server`): the tests of the HTTP layer's own rules run on both.
SERVERS = ("uvicorn", "daphne")


def start_module_server(tmp_path_factory, name: str, *, extra_args=None, env=None) -> LiveServer:
    """A live server on a SQLite file of its own, for a module-scoped fixture (stop it after)."""
    tmp = tmp_path_factory.mktemp(name)
    return LiveServer(f"sqlite:///{tmp / 'db.sqlite3'}", extra_args=extra_args, env=env).start(tmp / "server.log")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One live server (SSE responses) shared by a test module."""
    live = start_module_server(tmp_path_factory, "server")
    yield live
    live.stop()


@pytest.fixture(scope="module")
def json_server(tmp_path_factory):
    """A live server started with --json-response."""
    live = start_module_server(tmp_path_factory, "json_server", extra_args=["--json-response"])
    yield live
    live.stop()


@pytest.fixture
def http():
    with httpx2.Client(timeout=10) as client:
        yield client


def initialize(http: httpx2.Client, url: str, version: str = "2025-11-25") -> str:
    """Open a session over raw HTTP and return its id."""
    response = http.post(
        url,
        headers=POST_HEADERS,
        json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {**INIT_PARAMS, "protocolVersion": version}},
    )
    assert response.status_code == 200, response.text
    session_id = response.headers["mcp-session-id"]
    accepted = http.post(
        url,
        headers={**POST_HEADERS, "mcp-session-id": session_id, "mcp-protocol-version": version},
        json={"jsonrpc": "2.0", "method": "notifications/initialized"},
    )
    assert accepted.status_code == 202
    return session_id


def session_headers(session_id: str, version: str = "2025-11-25") -> dict[str, str]:
    return {**POST_HEADERS, "mcp-session-id": session_id, "mcp-protocol-version": version}


async def sdk_session_id(client) -> str:
    """The session id an SDK client holds, read from its own session-info resource."""
    result = await client.list_resources()
    (info,) = [r for r in result.resources if str(r.uri).startswith("session://info/")]
    return str(info.uri).removeprefix("session://info/")
