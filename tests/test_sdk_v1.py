"""The MCP Python SDK 1.x client, still what most deployed clients run, against a live server.

1.x and 2.x cannot share one environment, so `uvx` runs tests/sdk_v1_client.py with mcp 1.30.0
(from PyPI, or uv's cache).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .services import unavailable

CLIENT = Path(__file__).with_name("sdk_v1_client.py")


def test_sdk_1x_client(server):
    uvx = shutil.which("uvx")
    if uvx is None:
        unavailable("uvx (from uv) is needed to run the 1.x client")
    done = subprocess.run(
        [uvx, "--quiet", "--from", "mcp==1.30.0", "python", str(CLIENT), server.url],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert lines["version"].startswith("2025-11-25 session ")
    assert "start-notification-stream" in lines["tools"] and "calculate" in lines["tools"]
    assert lines["result"] == "Sent 3 notifications with 0.05s interval for caller: v1 | calc 7 add 5 = 12"
    assert lines["logs"].count("Event from 'v1'") == 3
    assert lines["prompt"] == "I need help with this calculation: x. Please provide step-by-step guidance."
