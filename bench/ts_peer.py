"""The reference TypeScript server, as a benchmark peer: `@modelcontextprotocol/server-everything` in its
Streamable HTTP mode (the TypeScript SDK's transport under Express, stateful, with an in-memory event
store), on Node 22 through npx. Its `get-sum` tool is the counterpart of mcpsite's `calculate`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.memory import wait_until_listening  # noqa: E402
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
        try:  # npx may have to download the package and Node first
            wait_until_listening(self.process, self.port, log, "the TypeScript server", 180)
        except RuntimeError:
            self.stop()
            raise

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
