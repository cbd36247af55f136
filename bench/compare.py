"""mcpsite, the official Python SDK's own server and (with --typescript) the reference TypeScript server, side by
side in one run, under the same concurrent load.

For each method (ping, tools/call, initialize) and each round, wrk drives mcpsite, then the SDK peer
(`bench/sdk_peer.py`: MCPServer under uvicorn, stateful, SSE responses, in-memory event store), then the
TypeScript peer (`bench/ts_peer.py`: server-everything's Streamable HTTP server, in-memory event store)
with the same load: --connections keep-alive connections on one wrk thread, one session per server, a
unique JSON-RPC id per request. The tool is `calculate` (add) on mcpsite and the SDK peer, `get-sum` on
the TypeScript one. Every answer is checked (status and body); a run with a failed answer fails. The
`notifications` figure is one stream of 10,000 `start-notification-stream` notifications, read as they
come (mcpsite and the SDK peer). Prints the rate of each server and the ratio mcpsite / the faster
peer per round, then the median ratio.

    uv run python bench/compare.py [--rounds 3] [--seconds 5] [--connections 16] [--methods ping,calculate]
    uv run python bench/compare.py --postgres-redis [--redis-db 9]       # PostgreSQL + Redis on 127.0.0.1
    uv run python bench/compare.py --postgres-redis --nodes 2            # two mcpsite nodes, one database
    uv run python bench/compare.py --server daphne                       # runmcp --server daphne
    uv run python bench/compare.py --workers 2                           # runmcp --workers 2

mcpsite: `manage.py runmcp` on a fresh SQLite file (embedded mode), or with --postgres-redis on a fresh
PostgreSQL database (127.0.0.1:5432, trust auth, created and dropped here) and Redis
(redis://127.0.0.1:6379/<--redis-db>, flushed first). With --nodes 2, both nodes share the database and
Redis, and wrk drives each with half the connections at once (the session is opened on the first node;
the second finds it in the database): the figure is their sum.

Needs `wrk` (apt-get install wrk). The machine's noise is large: compare the ratios of one run, not
figures across runs.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.memory import Peer  # noqa: E402
from bench.throughput import bench_notifications  # noqa: E402
from bench.ts_peer import TypeScriptPeer  # noqa: E402
from tests.conftest import INIT_PARAMS, LiveServer, initialize  # noqa: E402

METHODS = ("ping", "calculate", "initialize", "notifications")
# Notifications on one stream (start-notification-stream, interval 0): mcpsite and the SDK peer only
# (the TypeScript reference has no such tool).
NOTIFICATIONS = 10_000
VERSION = "2025-11-25"

# One wrk thread: `n` counts this thread's requests, so every id is unique. `check` is the text every
# answer must contain; `response` counts the answers without it, `done` prints the count.
LUA = r"""
local n = 0
local bad = 0
local body_before, body_after, check = %(before)s, %(after)s, %(check)s
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
%(headers)s
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, body_before .. n .. body_after)
end
response = function(status, headers, body)
  if status ~= 200 or not string.find(body, check, 1, true) then
    bad = bad + 1
    if bad == 1 then io.stderr:write("bad answer: " .. status .. " " .. string.sub(body, 1, 300) .. "\n") end
  end
end
done = function(summary, latency, requests)
  io.write(string.format("BAD %%d\n", bad))
end
"""


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid Lua string literal for this ASCII text


# tools/call on each server: mcpsite's and the SDK peer's `calculate`, the TypeScript reference's `get-sum`.
CALLS = {
    "calculate": ('{"name":"calculate","arguments":{"a":1,"b":2,"op":"add"}}', "1 add 2 = 3"),
    "get-sum": ('{"name":"get-sum","arguments":{"a":1,"b":2}}', "The sum of 1 and 2 is 3."),
}


def script(method: str, session_id: str | None, tool: str = "calculate") -> str:
    if method == "ping":
        before, after, check = '{"jsonrpc":"2.0","id":', ',"method":"ping"}', '"result":{}'
    elif method == "calculate":
        params, check = CALLS[tool]
        before = '{"jsonrpc":"2.0","method":"tools/call","params":' + params + ',"id":'
        after = "}"
    else:
        params = json.dumps({**INIT_PARAMS, "protocolVersion": VERSION}, separators=(",", ":"))
        before, after, check = '{"jsonrpc":"2.0","id":', f',"method":"initialize","params":{params}}}', '"serverInfo"'
    headers = ""
    if session_id is not None and method != "initialize":
        headers = f'wrk.headers["Mcp-Session-Id"] = "{session_id}"\nwrk.headers["MCP-Protocol-Version"] = "{VERSION}"'
    return LUA % {
        "before": lua_string(before),
        "after": lua_string(after),
        "check": lua_string(check),
        "headers": headers,
    }


def wrk(url: str, lua: Path, connections: int, seconds: float) -> float:
    """Requests per second; raises if any answer was wrong."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{round(seconds)}s", "--timeout", "10s", "-s", str(lua), url],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed: {out.stdout}{out.stderr}")
    bad = int(re.search(r"^BAD (\d+)$", out.stdout, re.M).group(1))
    errors = re.search(r"Socket errors: (.*)$", out.stdout, re.M)
    if bad or errors:
        raise RuntimeError(f"{url}: {bad} wrong answers, socket errors {errors and errors.group(1)}\n{out.stderr}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out.stdout).group(1))


def drive(urls: list[str], lua: Path, connections: int, seconds: float) -> float:
    """All `urls` at once (one wrk each, connections split between them); the sum of their rates."""
    share = max(1, connections // len(urls))
    with ThreadPoolExecutor(len(urls)) as pool:
        return sum(pool.map(lambda url: wrk(url, lua, share, seconds), urls))


def measure(method: str, name: str, urls: list[str], session_id: str, args, tmp: Path) -> float | None:
    """Requests (or notifications) per second of one server; None where the server has no counterpart."""
    if method == "notifications":
        return None if name == "TS" else notifications_per_second(urls[0], session_id)
    lua = tmp / f"{method}-{name}.lua"
    lua.write_text(script(method, session_id, "get-sum" if name == "TS" else "calculate"))
    drive(urls, lua, args.connections, 1)  # warm-up
    return drive(urls, lua, args.connections, args.seconds)


def notifications_per_second(url: str, session_id: str) -> float:
    """One stream of NOTIFICATIONS notifications, read as they come (after a short warm-up stream)."""
    with httpx2.Client(timeout=120) as http:
        bench_notifications(http, url, session_id, 100)
        return bench_notifications(http, url, session_id, NOTIFICATIONS)


def postgres_database() -> tuple[str, callable]:
    name = f"mcpsite_bench_{uuid.uuid4().hex[:8]}"
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-qc"]
    subprocess.run([*psql, f"CREATE DATABASE {name}"], check=True)
    return f"postgres://postgres@127.0.0.1:5432/{name}", lambda: subprocess.run(
        [*psql, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False
    )


def start_mcpsite(args: argparse.Namespace, tmp: Path) -> tuple[list[LiveServer], callable]:
    env = {"LOG_LEVEL": "WARNING", "RATE_LIMIT_MAX": "1000000000"}
    cleanup = lambda: None  # noqa: E731
    if args.postgres_redis:
        database_url, cleanup = postgres_database()
        redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
        subprocess.run(["redis-cli", "-u", redis_url, "flushdb"], check=True, capture_output=True)
        env |= {"USE_REDIS": "true", "REDIS_URL": redis_url}
    else:
        database_url = f"sqlite:///{tmp / 'db.sqlite3'}"
    nodes = []
    serving = ["--server", args.server] + (["--workers", str(args.workers)] if args.workers > 1 else [])
    for index in range(args.nodes):
        extra = serving + ([] if index == 0 else ["--skip-migrate"])
        node = LiveServer(database_url, extra_args=extra, env={**env, "MCP_NODE_ID": f"bench{index}"})
        nodes.append(node.start(tmp / f"mcpsite{index}.log"))
    return nodes, cleanup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--postgres-redis", action="store_true")
    parser.add_argument("--redis-db", type=int, default=9)
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--typescript", action="store_true", help="also the reference TypeScript server (npx)")
    parser.add_argument("--server", default="uvicorn", choices=("uvicorn", "daphne"), help="runmcp --server")
    parser.add_argument("--workers", type=int, default=1, help="runmcp --workers (serving processes per node)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    methods = [m for m in args.methods.split(",") if m]
    tmp = Path(tempfile.mkdtemp(prefix="mcpsite-compare-"))
    nodes, cleanup = start_mcpsite(args, tmp)
    peers = {"SDK": Peer(tmp / "sdk.log", extra_args=["--event-store", "--no-session-cap"])}
    try:
        if args.typescript:
            peers["TS"] = TypeScriptPeer(tmp / "typescript.log")
        with httpx2.Client(timeout=30) as http:
            sessions = {"mcpsite": initialize(http, nodes[0].url, VERSION)}
            sessions |= {name: initialize(http, peer.url, VERSION) for name, peer in peers.items()}
        urls = {"mcpsite": [n.url for n in nodes]} | {name: [peer.url] for name, peer in peers.items()}
        ratios: dict[str, list[float]] = {m: [] for m in methods}
        print(
            f"{args.connections} connections, {args.seconds:g} s per figure, {args.nodes} mcpsite node(s), "
            f"{'PostgreSQL + Redis' if args.postgres_redis else 'SQLite'}, {args.server} x{args.workers}; "
            f"logs in {tmp}"
        )
        for round_ in range(1, args.rounds + 1):
            for method in methods:
                rates = {name: measure(method, name, urls[name], sessions[name], args, tmp) for name in urls}
                rates = {name: rate for name, rate in rates.items() if rate is not None}
                fastest = max(rate for name, rate in rates.items() if name != "mcpsite")
                ratios[method].append(rates["mcpsite"] / fastest)
                figures = "   ".join(f"{name} {rate:8,.0f}/s" for name, rate in rates.items())
                print(f"round {round_} {method:10} {figures}   mcpsite / fastest peer {ratios[method][-1]:.2f}")
        for method in methods:
            print(f"median ratio {method:10} {statistics.median(ratios[method]):.2f}")
    finally:
        for peer in peers.values():
            peer.stop()
        for node in nodes:
            node.stop()
        cleanup()


if __name__ == "__main__":
    main()
