"""Operators: the admin (over HTTP), /health, /metrics, CORS, rate limiting, expiry and purge."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
import pytest

from .conftest import INIT_PARAMS, POST_HEADERS, ROOT, LiveServer, initialize, session_headers, start_module_server
from .sse import parse_text

ADMIN_PASSWORD = "correct horse battery staple"


def create_admin(server: LiveServer) -> None:
    manage(
        server,
        "createsuperuser",
        "--noinput",
        "--username",
        "admin",
        "--email",
        "admin@example.com",
        DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
    )


def manage(server: LiveServer, *args: str, **env: str) -> str:
    environment = {**os.environ, "DATABASE_URL": server.database_url, **server.env, **env}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def ops_server(tmp_path_factory):
    live = start_module_server(tmp_path_factory, "ops")
    create_admin(live)
    yield live
    live.stop()


def calculate(http: httpx2.Client, server: LiveServer, session_id: str, a: int, op: str = "add", rid: int = 1) -> dict:
    response = http.post(
        server.url,
        headers=session_headers(session_id),
        json={
            "jsonrpc": "2.0",
            "id": rid,
            "method": "tools/call",
            "params": {"name": "calculate", "arguments": {"a": a, "b": 2, "op": op}},
        },
    )
    assert response.status_code == 200, response.text
    return [e.message for e in parse_text(response.text) if e.data][-1]


@contextmanager
def admin_login(server: LiveServer) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=server.base, timeout=10, follow_redirects=True) as client:
        page = client.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        done = client.post(
            "/admin/login/?next=/admin/",
            data={"csrfmiddlewaretoken": token, "username": "admin", "password": ADMIN_PASSWORD, "next": "/admin/"},
            headers={"referer": f"{server.base}/admin/login/"},
        )
        assert done.status_code == 200 and "Log out" in done.text, done.text[:500]
        yield client


# --- admin over HTTP -----------------------------------------------------------------------------
def test_admin_pages_after_a_real_login(ops_server, http):
    session_id = initialize(http, ops_server.url)
    calculate(http, ops_server, session_id, 40)
    with admin_login(ops_server) as admin:
        index = admin.get("/admin/")
        assert "Live now" in index.text and "Active sessions" in index.text
        sessions = admin.get("/admin/sessions_app/mcpsession/")
        assert session_id in sessions.text and "active" in sessions.text and "raw-test 1.0" in sessions.text
        assert admin.get("/admin/sessions_app/mcpsession/?status=terminated").text.count(session_id) == 0
        detail = admin.get(f"/admin/sessions_app/mcpsession/{session_id}/change/")
        assert detail.status_code == 200
        assert "40 add 2 = 42" in detail.text  # its calculations
        assert "&quot;jsonrpc&quot;: &quot;2.0&quot;" in detail.text  # its events, pretty-printed
        events = admin.get(f"/admin/sessions_app/streamevent/?session__id__exact={session_id}")
        assert events.status_code == 200 and "response" in events.text
        first_event = re.search(r'href="(/admin/sessions_app/streamevent/\d+/change/)', events.text).group(1)
        assert "message" in admin.get(first_event).text
        calculations = admin.get(f"/admin/tools_app/calculation/?session__id__exact={session_id}")
        assert "40 add 2 = 42" in calculations.text
        assert admin.get("/admin/sessions_app/nodeheartbeat/").status_code == 200
        # Read-only: no add or change forms.
        assert admin.get("/admin/sessions_app/mcpsession/add/").status_code == 403


def test_admin_pages_need_a_login(ops_server):
    with httpx2.Client(base_url=ops_server.base, timeout=10) as anonymous:
        response = anonymous.get("/admin/sessions_app/mcpsession/")
    assert response.status_code == 302 and "/admin/login/" in response.headers["location"]


def test_admin_terminate_action_closes_streams(ops_server, http):
    session_id = initialize(http, ops_server.url)
    with admin_login(ops_server) as admin, httpx2.Client(timeout=httpx2.Timeout(10, read=10)) as streamer:
        get_headers = {**session_headers(session_id), "accept": "text/event-stream"}
        with streamer.stream("GET", ops_server.url, headers=get_headers) as stream:
            assert stream.status_code == 200
            page = admin.get("/admin/sessions_app/mcpsession/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
            done = admin.post(
                "/admin/sessions_app/mcpsession/",
                data={"csrfmiddlewaretoken": token, "action": "terminate_sessions", "_selected_action": [session_id]},
                headers={"referer": f"{ops_server.base}/admin/sessions_app/mcpsession/"},
            )
            assert "Terminated 1 session" in done.text
            started = time.monotonic()
            for _ in stream.iter_lines():
                pass  # the stream ends
            assert time.monotonic() - started < 5
    gone = http.post(
        ops_server.url, headers=session_headers(session_id), json={"jsonrpc": "2.0", "id": 1, "method": "ping"}
    )
    assert gone.status_code == 404


# --- /health and /metrics ---------------------------------------------------------------------------
def test_health(ops_server, http):
    body = http.get(f"{ops_server.base}/health").json()
    assert body["status"] == "ok" and body["storageMode"] == "memory" and body["database"] == "ok"
    assert body["version"] == "0.1.0" and body["uptime"] > 0 and "redis" not in body


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric_name, _, label_text = series.partition("{")
        if metric_name == name and ",".join(sorted(label_text.rstrip("}").split(","))) == wanted:
            return float(value)
    return 0.0


def test_metrics_count_across_the_cluster_and_per_process(ops_server, http):
    before = http.get(f"{ops_server.base}/metrics").text
    session_id = initialize(http, ops_server.url)
    calculate(http, ops_server, session_id, 1, "multiply")
    after = http.get(f"{ops_server.base}/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    assert (
        metric(text, "mcp_calculations_total", operation="multiply")
        == metric(before, "mcp_calculations_total", operation="multiply") + 1
    )
    assert metric(text, "mcp_active_sessions") >= 1
    assert metric(text, "mcp_tool_calls_total", tool="calculate", outcome="ok") >= 1
    assert metric(text, "mcp_requests_total", method="tools/call", status="200") >= 1
    assert metric(text, "mcp_events_stored_total") > 0
    for name in (
        "mcp_request_duration_seconds_bucket",
        "mcp_sse_streams_open",
        "mcp_rate_limited_total",
        "process_resident_memory_bytes",
    ):
        assert name in text, name


def test_access_log_has_one_line_per_request(ops_server, http):
    session_id = initialize(http, ops_server.url)
    calculate(http, ops_server, session_id, 5)
    time.sleep(0.2)
    lines = [line for line in ops_server.log().splitlines() if f"session={session_id}" in line and "tools/call" in line]
    assert len(lines) == 1
    assert re.search(r"POST /mcp tools/call session=\w+ status=200 duration=\d+\.\dms", lines[0])


# --- CORS -----------------------------------------------------------------------------------------------
def test_cors_preflight_and_exposed_session_header(ops_server, http):
    origin = "http://localhost:6274"
    preflight = http.options(
        ops_server.url,
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, mcp-session-id, mcp-protocol-version",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == origin
    allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
    assert {"content-type", "mcp-session-id", "mcp-protocol-version", "last-event-id"} <= allowed
    assert "DELETE" in preflight.headers["access-control-allow-methods"]

    response = http.post(
        ops_server.url,
        headers={**POST_HEADERS, "origin": origin},
        json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INIT_PARAMS},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert "Mcp-Session-Id" in response.headers["access-control-expose-headers"]

    foreign = http.options(
        ops_server.url, headers={"origin": "http://evil.example", "access-control-request-method": "POST"}
    )
    assert foreign.status_code == 403


# --- rate limiting -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def limited_server(tmp_path_factory):
    live = start_module_server(tmp_path_factory, "limited", env={"RATE_LIMIT_MAX": "6", "RATE_LIMIT_WINDOW": "60"})
    yield live
    live.stop()


def from_address(address: str) -> httpx2.Client:
    return httpx2.Client(transport=httpx2.HTTPTransport(local_address=address), timeout=10)


def test_rate_limit_per_client_address(limited_server):
    with from_address("127.0.0.3") as client:
        answers = [
            client.post(limited_server.url, headers=POST_HEADERS, json={"jsonrpc": "2.0", "id": i, "method": "ping"})
            for i in range(7)
        ]
    assert [a.status_code for a in answers[:6]] == [400] * 6  # allowed through (and refused for lack of a session)
    assert answers[0].headers["ratelimit-limit"] == "6" and answers[0].headers["ratelimit-remaining"] == "5"
    refused = answers[6]
    assert refused.status_code == 429
    assert refused.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32000, "message": "Too many requests, please retry later"},
    }
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-remaining"] == "0" and refused.headers["ratelimit-policy"] == "6;w=60"
    with from_address("127.0.0.4") as other:  # another address has its own budget
        assert (
            other.post(
                limited_server.url, headers=POST_HEADERS, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}
            ).status_code
            == 400
        )


def test_rate_limit_per_session_across_addresses(limited_server):
    with from_address("127.0.0.5") as first, from_address("127.0.0.6") as second:
        # initialize (no session yet) and notifications/initialized (the session's 1st request), from .5
        session_id = initialize(first, limited_server.url)
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        statuses = [
            client.post(limited_server.url, headers=session_headers(session_id), json=ping).status_code
            for client in (first, second, first, second, first, second, first)
        ]
    # The session's 7th and 8th requests are refused, though .5 made 6 requests and .6 only 3.
    assert statuses == [200] * 5 + [429, 429]


# --- expiry and purge -------------------------------------------------------------------------------------
def test_expiry_and_purge_remove_what_they_should_and_nothing_else(tmp_path):
    # The TTL leaves room for purge_mcp's own start (Django and its imports take seconds, more on a
    # busy machine) after the last call.
    live = LiveServer(f"sqlite:///{tmp_path / 'db.sqlite3'}", env={"MCP_SESSION_TTL": "20", "MCP_PURGE_INTERVAL": "0"})
    live.start(tmp_path / "server.log")
    try:
        with httpx2.Client(timeout=10) as http:
            doomed = initialize(http, live.url)
            ended = initialize(http, live.url)
            kept = initialize(http, live.url)
            for session_id in (doomed, ended, kept):
                calculate(http, live, session_id, 1)
            assert http.delete(live.url, headers=session_headers(ended)).status_code == 204
            for _ in range(8):  # keep one alive past the TTL; let the other expire
                time.sleep(3)
                calculate(http, live, kept, 2, rid=2)
            expired = http.post(
                live.url, headers=session_headers(doomed), json={"jsonrpc": "2.0", "id": 3, "method": "ping"}
            )
            assert expired.status_code == 404

            output = manage(live, "purge_mcp", "--retention", "0")
            assert output.startswith("Purged 2 sessions")
            import sqlite3

            with sqlite3.connect(tmp_path / "db.sqlite3") as db:
                sessions = {row[0] for row in db.execute("SELECT id FROM sessions_app_mcpsession")}
                event_sessions = {
                    row[0] for row in db.execute("SELECT DISTINCT session_id FROM sessions_app_streamevent")
                }
                calc_sessions = [row[0] for row in db.execute("SELECT session_id FROM tools_app_calculation")]
            assert sessions == {kept} and event_sessions == {kept}
            assert calc_sessions.count(kept) == 9 and set(calc_sessions) == {kept}
            # The kept session goes on working.
            assert calculate(http, live, kept, 3, rid=9)["result"]["content"][0]["text"] == "3 add 2 = 5"
    finally:
        live.stop()


# --- second review's regressions -------------------------------------------------------------------
def test_metric_labels_never_come_from_the_client(ops_server, http):
    assert http.request("PROPFIND", ops_server.url).status_code == 405
    # A method token the HTTP parser does not know never reaches the application.
    assert http.request("ZZZ1", ops_server.url).status_code == 400
    text = http.get(f"{ops_server.base}/metrics").text
    assert 'method="PROPFIND"' not in text and 'method="ZZZ1"' not in text
    assert metric(text, "mcp_requests_total", method="other", status="405") >= 1


def raw_post_status(server: LiveServer, source: str, header_lines: list[bytes], body: bytes) -> int:
    """One POST over a plain socket, for header bytes an HTTP library refuses to send."""
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=10, source_address=(source, 0)) as sock:
        head = [
            b"POST /mcp HTTP/1.1",
            b"Host: 127.0.0.1",
            b"Content-Type: application/json",
            b"Accept: application/json, text/event-stream",
            b"Content-Length: " + str(len(body)).encode(),
            b"Connection: close",
            *header_lines,
        ]
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):  # the whole answer (Connection: close): its request id is free after it
            answer += chunk
        return int(answer.split(b" ")[1])


def test_padding_a_session_id_does_not_dodge_its_limit(limited_server):
    with from_address("127.0.0.7") as first:
        session_id = initialize(first, limited_server.url)  # the session's 1st counted request
    ping = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
    statuses = []
    for i, padding in enumerate([b"", b"", b"", b"", b"\xa0", b"\xa0\xa0", b" \xa0", b"\x1f"]):
        header = [b"Mcp-Session-Id: " + session_id.encode() + padding, b"MCP-Protocol-Version: 2025-11-25"]
        statuses.append(raw_post_status(limited_server, f"127.0.1.{i + 1}", header, ping))  # a fresh address each
    # A control byte is not even valid HTTP: the parser refuses it before the limiter.
    assert statuses == [200] * 5 + [429, 429, 400]


def test_concurrent_first_scrapes_of_metrics(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    live = LiveServer(f"sqlite:///{tmp_path / 'db.sqlite3'}").start(tmp_path / "s.log")
    try:
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: httpx2.get(f"{live.base}/metrics", timeout=10).status_code, range(8)))
    finally:
        live.stop()
    assert statuses == [200] * 8


def test_node_is_visible_before_any_mcp_request(tmp_path):
    live = LiveServer(f"sqlite:///{tmp_path / 'db.sqlite3'}").start(tmp_path / "s.log")  # it polled /health only
    try:
        time.sleep(0.5)
        page = httpx2.get(f"{live.base}/", timeout=10).text
    finally:
        live.stop()
    assert re.search(r"<th>Serving nodes</th><td>1</td>", page)


def test_purge_refuses_a_negative_retention(ops_server):
    environment = {**os.environ, "DATABASE_URL": ops_server.database_url}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "purge_mcp", "--retention", "-5"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "must not be negative" in done.stderr


def test_old_get_stream_priming_rows_are_purged_on_a_live_session(tmp_path):
    import sqlite3

    live = LiveServer(f"sqlite:///{tmp_path / 'db.sqlite3'}", env={"MCP_PURGE_INTERVAL": "0"}).start(tmp_path / "s.log")
    try:
        with httpx2.Client(timeout=10) as http:
            session_id = initialize(http, live.url)
            get_headers = {**session_headers(session_id), "accept": "text/event-stream"}
            for _ in range(3):  # three GET streams, each opening with a stored priming row
                with http.stream("GET", live.url, headers=get_headers) as stream:
                    next(stream.iter_lines())
                time.sleep(0.2)
            with sqlite3.connect(tmp_path / "db.sqlite3") as db:
                db.execute("UPDATE sessions_app_streamevent SET created_at = '2000-01-01 00:00:00' WHERE stream = 'g'")
            output = manage(live, "purge_mcp")
            with sqlite3.connect(tmp_path / "db.sqlite3") as db:
                left = db.execute("SELECT count(*) FROM sessions_app_streamevent WHERE stream = 'g'").fetchone()[0]
                live_session = db.execute(
                    "SELECT count(*) FROM sessions_app_mcpsession WHERE id = ?", (session_id,)
                ).fetchone()[0]
    finally:
        live.stop()
    assert left == 0 and live_session == 1, output
