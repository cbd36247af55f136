"""The reference TypeScript server, as a benchmark peer: `@modelcontextprotocol/server-everything` in its
Streamable HTTP mode (the TypeScript SDK's transport under Express, stateful, with an in-memory event
store), on Node 22 through npx. Its `get-sum` tool is the counterpart of mcpsite's `calculate`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.conftest import free_port  # noqa: E402

PACKAGE = "@modelcontextprotocol/server-everything@2026.8.31"


class TypeScriptPeer:
    def __init__(self, log: Path):
        self.port = free_port()
        self.log = log
        command = ["npx", "-y", "-p", "node@22", "-p", PACKAGE, "mcp-server-everything", "streamableHttp"]
        with open(log, "ab") as output:
            # A process group of its own: npx starts node as a child, and stop() ends both.
            self.process = subprocess.Popen(
                command,
                env={**os.environ, "PORT": str(self.port)},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 180  # npx may have to download the package and Node first
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the TypeScript server exited: {log.read_text()}") from None
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("the TypeScript server did not come up")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
