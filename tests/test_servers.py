"""`manage.py runserver` and plain `daphne` serve the same /mcp as `runmcp`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from mcp import Client

from .conftest import ROOT, free_port

BIN = Path(sys.executable).parent


def wait_until_up(process: subprocess.Popen, base: str, log: Path) -> None:
    deadline = time.monotonic() + 60  # generous: a busy machine starts Django slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            if httpx2.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            time.sleep(0.1)
    raise RuntimeError(log.read_text())


@pytest.mark.parametrize("server_kind", ["runserver", "daphne"])
async def test_other_servers_serve_mcp(tmp_path, server_kind):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    command = {
        "runserver": [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        "daphne": [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "mcpsite.asgi:application"],
    }[server_kind]
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(process, base, log)
        async with Client(f"{base}/mcp", mode="legacy") as client:
            result = await client.call_tool("start-notification-stream", {"interval": 0, "count": 2, "caller": "k"})
        assert result.content[0].text == "Sent 2 notifications with 0.0s interval for caller: k"
    finally:
        process.terminate()
        process.wait(timeout=15)
