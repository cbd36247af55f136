"""The stateless 2026-07-28 leg over raw HTTP: routing, every status and error code, SSE, cancellation."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import time

import httpx2
import pytest

from .conftest import POST_HEADERS, initialize, session_headers, start_module_server
from .sse import iter_events

V = "2026-07-28"
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": V,
    "io.modelcontextprotocol/clientCapabilities": {},
}


@pytest.fixture(scope="module")
def modern(tmp_path_factory):
    live = start_module_server(tmp_path_factory, "modern", env={"DJANGO_EXTRA_APPS": "tests.modern_app"})
    yield live
    live.stop()


def call(method: str, params: dict | None = None, *, request_id=1, meta: dict | None = None) -> dict:
    body_params = {**(params or {}), "_meta": {**ENVELOPE, **(meta or {})}}
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": body_params}


def headers_for(message: dict, **extra: str) -> dict[str, str]:
    headers = {**POST_HEADERS, "mcp-protocol-version": V, "mcp-method": message["method"]}
    params = message.get("params") or {}
    if message["method"] in ("tools/call", "prompts/get") and "name" in params:
        headers["mcp-name"] = params["name"]
    if message["method"] == "resources/read":
        headers["mcp-name"] = params["uri"]
    headers.update(extra)
    return headers


def post(http, live, message: dict, headers: dict | None = None) -> httpx2.Response:
    return http.post(live.url, headers=headers if headers is not None else headers_for(message), json=message)


def assert_error(response: httpx2.Response, status: int, code: int, contains: str = "") -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    assert contains in body["error"]["message"], body
    assert "mcp-session-id" not in response.headers
    return body["error"]


def calculations(live, tag: str) -> list[tuple]:
    with sqlite3.connect(live.database_url.removeprefix("sqlite:///")) as db:
        return db.execute(
            "SELECT session_id, expression FROM tools_app_calculation WHERE expression LIKE ?", (f"{tag}%",)
        ).fetchall()


# --- routing ------------------------------------------------------------------------
def test_discover_answers_modern_without_a_session(modern, http):
    message = call("server/discover")
    response = post(http, modern, message, headers_for(message, **{"mcp-session-id": "ignored"}))
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["supportedVersions"] == [V]
    assert result["resultType"] == "complete"
    assert result["ttlMs"] >= 0 and result["cacheScope"] in ("public", "private")
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "mcpsite"
    assert "tools" in result["capabilities"] and result["instructions"]
    assert "mcp-session-id" not in response.headers


def test_stateful_leg_is_unchanged_beside_it(modern, http):
    session_id = initialize(http, modern.url)
    response = http.post(
        modern.url, headers=session_headers(session_id), json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    )
    assert response.status_code == 200 and "mcp-session-id" in response.headers


def test_modern_header_on_initialize_is_404(modern, http):
    message = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}
    error = assert_error(post(http, modern, message), 404, -32601, "Method not found")
    assert error["data"] == "initialize"


@pytest.mark.parametrize(
    "method", ["initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe", "nope/x"]
)
def test_removed_and_unknown_methods_are_404(modern, http, method):
    message = call(method, {"uri": "calculator://stats"} if "subscribe" in method else {"level": "info"})
    assert_error(post(http, modern, message), 404, -32601)


@pytest.mark.parametrize("verb", ["GET", "DELETE"])
def test_get_and_delete_are_405_allow_post(modern, http, verb):
    response = http.request(verb, modern.url, headers={"accept": "text/event-stream", "mcp-protocol-version": V})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_notification_is_202_and_empty(modern, http):
    message = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}
    response = http.post(modern.url, headers={**POST_HEADERS, "mcp-protocol-version": V}, json=message)
    assert response.status_code == 202 and response.content == b""


def test_batch_and_posted_response_are_400(modern, http):
    message = call("tools/list")
    response = http.post(modern.url, headers=headers_for(message), json=[message, {**message, "id": 2}])
    assert_error(response, 400, -32600, "Body must be a single JSON-RPC request or notification object")
    reply = {"jsonrpc": "2.0", "id": 1, "result": {}}
    response = http.post(modern.url, headers=headers_for(message), json=reply)
    assert_error(response, 400, -32600, "Body must be a single JSON-RPC request or notification object")


# --- the envelope and the routing headers -----------------------------------------------
def test_missing_envelope_is_400_invalid_params(modern, http):
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    assert_error(post(http, modern, message), 400, -32602, "params._meta must be an object")
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {ENVELOPE_KEY: V}}}
    assert_error(post(http, modern, message), 400, -32602, "clientCapabilities")


ENVELOPE_KEY = "io.modelcontextprotocol/protocolVersion"


def test_client_info_is_optional_and_log_level_is_checked(modern, http):
    assert post(http, modern, call("tools/list")).status_code == 200
    bad = call("tools/list", meta={"io.modelcontextprotocol/logLevel": "loud"})
    assert_error(post(http, modern, bad), 400, -32602, "logLevel")


def test_unsupported_revision_is_400_with_supported_and_requested(modern, http):
    message = call("tools/list", meta={ENVELOPE_KEY: "2099-01-01"})
    response = post(http, modern, message, {**headers_for(message), "mcp-protocol-version": "2099-01-01"})
    error = assert_error(response, 400, -32022, "Unsupported protocol version")
    assert error["data"] == {"supported": [V], "requested": "2099-01-01"}


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("mcp-protocol-version", "2025-11-25"),
        ("mcp-method", "TOOLS/CALL"),
        ("mcp-name", "advanced_calculate"),
        ("mcp-name", "=?base64?Y2FsY3VsYXRl?="[:-3] + "x?="),  # not base64 of the name
        ("mcp-name", "=?base64?Y2FsY3VsYXRl=?="),  # "calculate" with a padding sign too many: malformed
        ("mcp-name", "=?base64?Y2FsY3VsYXRm?="),  # decodes, but non-canonical trailing bits
    ],
)
def test_routing_header_mismatch_is_400(modern, http, header, value):
    message = call("tools/call", {"name": "calculate", "arguments": {"a": 1, "b": 2, "op": "add"}})
    assert_error(post(http, modern, message, {**headers_for(message), header: value}), 400, -32020, "Header mismatch")


def test_missing_routing_headers_are_400(modern, http):
    message = call("tools/call", {"name": "calculate", "arguments": {"a": 1, "b": 2, "op": "add"}})
    for dropped in ("mcp-method", "mcp-name"):
        headers = {k: v for k, v in headers_for(message).items() if k != dropped}
        assert_error(post(http, modern, message, headers), 400, -32020)


def test_base64_name_header_and_surrounding_space_are_accepted(modern, http):
    message = call("tools/call", {"name": "calculate", "arguments": {"a": 1, "b": 2, "op": "add"}})
    encoded = "=?base64?" + base64.b64encode(b"calculate").decode() + "?="
    response = post(http, modern, message, {**headers_for(message), "mcp-name": encoded, "mcp-method": "tools/call"})
    assert response.status_code == 200, response.text
    assert response.json()["result"]["content"][0]["text"] == "1 add 2 = 3"


def test_duplicated_routing_header_is_400(modern, http):
    message = call("tools/list")
    raw = [(k, v) for k, v in headers_for(message).items()] + [("Mcp-Method", "tools/list")]
    response = http.post(modern.url, headers=raw, json=message)
    assert_error(response, 400, -32020, "more than once")


def test_param_headers_mirror_the_arguments(modern, http):
    message = call("tools/call", {"name": "routed", "arguments": {"region": "us-west1", "count": 42}})
    ok = post(
        http, modern, message, headers_for(message, **{"mcp-param-region": "us-west1", "mcp-param-count": "42.0"})
    )
    assert ok.status_code == 200 and ok.json()["result"]["content"][0]["text"] == "us-west1:42"
    wrong = headers_for(message, **{"mcp-param-region": "eu-west1", "mcp-param-count": "42"})
    assert_error(post(http, modern, message, wrong), 400, -32020, "Mcp-Param-Region")
    missing = headers_for(message, **{"mcp-param-region": "us-west1"})
    assert_error(post(http, modern, message, missing), 400, -32020, "Mcp-Param-Count header is missing")
    unicode_message = call("tools/call", {"name": "routed", "arguments": {"region": "Zürich"}})
    encoded = "=?base64?" + base64.b64encode("Zürich".encode()).decode() + "?="
    ok = post(http, modern, unicode_message, headers_for(unicode_message, **{"mcp-param-region": encoded}))
    assert ok.status_code == 200, ok.text
    stray = headers_for(unicode_message, **{"mcp-param-region": encoded, "mcp-param-count": "1"})
    assert_error(post(http, modern, unicode_message, stray), 400, -32020, "argument is absent")


def test_missing_client_capability_is_400(modern, http):
    message = call("tools/call", {"name": "needs_sampling", "arguments": {}})
    error = assert_error(post(http, modern, message), 400, -32021, "'sampling'")
    assert error["data"] == {"requiredCapabilities": {"sampling": {}}}
    granted = call(
        "tools/call", {"name": "needs_sampling"}, meta={"io.modelcontextprotocol/clientCapabilities": {"sampling": {}}}
    )
    assert post(http, modern, granted).json()["result"]["content"][0]["text"] == "sampled"


# --- results ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method", ["tools/list", "prompts/list", "resources/list", "resources/templates/list", "server/discover"]
)
def test_lists_carry_result_type_cache_hints_and_server_info(modern, http, method):
    result = post(http, modern, call(method)).json()["result"]
    assert result["resultType"] == "complete"
    assert isinstance(result["ttlMs"], int) and result["cacheScope"] in ("public", "private")
    assert "io.modelcontextprotocol/serverInfo" in result["_meta"]


def test_session_resources_are_left_out_and_refused(modern, http):
    listed = post(http, modern, call("resources/list")).json()["result"]["resources"]
    uris = {entry["uri"] for entry in listed}
    assert "calculator://constants" in uris
    assert not any(uri.startswith(("session://", "calculator://history")) for uri in uris)
    templates = post(http, modern, call("resources/templates/list")).json()["result"]["resourceTemplates"]
    assert not any(t["uriTemplate"].startswith(("session://", "calculator://history")) for t in templates)
    for uri in ("calculator://history", "session://info/abc"):
        error = assert_error(post(http, modern, call("resources/read", {"uri": uri})), 400, -32602, "session")
        assert error["data"]["uri"] == uri


def test_read_resource_and_unknown_resource(modern, http):
    result = post(http, modern, call("resources/read", {"uri": "calculator://constants"})).json()["result"]
    assert result["contents"][0]["uri"] == "calculator://constants"
    assert (result["ttlMs"], result["cacheScope"]) == (3_600_000, "public")
    stats = post(http, modern, call("resources/read", {"uri": "calculator://stats"})).json()["result"]
    assert (stats["ttlMs"], stats["cacheScope"]) == (0, "private")
    error = assert_error(post(http, modern, call("resources/read", {"uri": "test://nope"})), 400, -32602)
    assert error == {"code": -32602, "message": "Unknown resource: test://nope", "data": {"uri": "test://nope"}}


def test_calculation_is_stored_without_a_session(modern, http):
    message = call("tools/call", {"name": "calculate", "arguments": {"a": 6, "b": 7, "op": "multiply"}})
    assert post(http, modern, message).json()["result"]["content"][0]["text"] == "6 multiply 7 = 42"
    assert (None, "6 multiply 7 = 42") in calculations(modern, "6 multiply 7")


def test_json_when_silent_and_sse_with_only_this_requests_notifications(modern, http):
    quiet = call("tools/call", {"name": "calculate", "arguments": {"a": 1, "b": 1, "op": "add"}})
    response = post(http, modern, quiet)
    assert response.headers["content-type"].startswith("application/json")
    loud = call("tools/call", {"name": "demo_progress", "arguments": {"steps": 2}}, meta={"progressToken": "p-1"})
    with http.stream("POST", modern.url, headers=headers_for(loud), json=loud) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        events = list(iter_events(response.iter_lines()))
    assert all(event.id is None for event in events)
    messages = [event.message for event in events]
    assert [m.get("method") for m in messages[:-1]] == ["notifications/progress"] * 3
    assert messages[-1]["id"] == 1 and messages[-1]["result"]["resultType"] == "complete"


def test_log_messages_only_at_or_above_the_envelope_log_level(modern, http):
    def logs(meta: dict) -> tuple[list[str], str]:
        message = call("tools/call", {"name": "log_levels", "arguments": {}}, meta=meta)
        with http.stream("POST", modern.url, headers=headers_for(message), json=message) as response:
            messages = (
                [event.message for event in iter_events(response.iter_lines())]
                if "event-stream" in response.headers["content-type"]
                else [json.loads(response.read())]
            )
        levels = [m["params"]["level"] for m in messages if m.get("method") == "notifications/message"]
        return levels, messages[-1]["result"]["content"][0]["text"]

    assert logs({}) == ([], "era=stateless session=None")
    assert logs({"io.modelcontextprotocol/logLevel": "info"})[0] == ["info", "error"]
    assert logs({"io.modelcontextprotocol/logLevel": "debug"})[0] == ["debug", "info", "error"]


def test_closed_stream_cancels_the_tool_which_stores_and_answers_nothing_more(modern, http):
    message = call(
        "tools/call",
        {"name": "slow_record", "arguments": {"steps": 20, "pause": 0.3, "tag": "cancel-me"}},
        meta={"progressToken": "c"},
    )
    with http.stream("POST", modern.url, headers=headers_for(message), json=message) as response:
        first = next(iter_events(response.iter_lines())).message
        assert first["method"] == "notifications/progress"
    # The connection is closed: the tool is cancelled within one pause, and stores nothing more.
    deadline = time.monotonic() + 5
    stored = len(calculations(modern, "cancel-me"))
    while time.monotonic() < deadline:
        time.sleep(0.7)
        now = len(calculations(modern, "cancel-me"))
        if now == stored:
            break
        stored = now
    time.sleep(1.0)
    assert len(calculations(modern, "cancel-me")) == stored < 20
    assert "client closed the stream; cancelling" in modern.log()
    assert "stored 20" not in modern.log()


def test_listen_acknowledges_and_stamps_every_frame(modern, http):
    message = call(
        "subscriptions/listen",
        {"notifications": {"toolsListChanged": True, "promptsListChanged": False, "bogus": True}},
        request_id="listen-1",
    )
    json_only = {**headers_for(message), "accept": "application/json"}
    assert_error(post(http, modern, message, json_only), 406, -32600)
    with http.stream("POST", modern.url, headers=headers_for(message), json=message) as response:
        assert response.status_code == 200 and "mcp-session-id" not in response.headers
        events = iter_events(response.iter_lines())
        ack = next(events).message
        assert ack["method"] == "notifications/subscriptions/acknowledged"
        assert ack["params"]["notifications"] == {"toolsListChanged": True}
        assert ack["params"]["_meta"] == {"io.modelcontextprotocol/subscriptionId": "listen-1"}
        for name in ("trigger_prompts_change", "trigger_tools_change"):
            post(http, modern, call("tools/call", {"name": name, "arguments": {}}, request_id=2))
        change = next(events).message
        assert change == {
            "jsonrpc": "2.0",
            "method": "notifications/tools/list_changed",
            "params": {"_meta": {"io.modelcontextprotocol/subscriptionId": "listen-1"}},
        }


def test_batch_of_envelopes_goes_stateful_and_lists_every_revision(modern, http):
    """Batches are legacy; the stateful leg's -32022 then names the stateless revision too."""
    message = call("tools/list")
    response = http.post(modern.url, headers=POST_HEADERS, json=[message, {**message, "id": 2}])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == -32022
    assert error["data"]["supported"] == ["2025-03-26", "2025-06-18", "2025-11-25", V]


def test_modern_requests_are_counted_by_method_and_client(modern, http):
    named = call("tools/list", meta={"io.modelcontextprotocol/clientInfo": {"name": "counting-client", "version": "1"}})
    assert post(http, modern, named).status_code == 200
    metrics = http.get(f"{modern.base}/metrics").text
    assert 'mcp_modern_requests_total{client="counting-client",method="tools/list"}' in metrics
    assert 'mcp_modern_requests_total{client="-",method="tools/list"}' in metrics


def test_a_stateless_call_outlives_heartbeats(modern, http):
    # The node's heartbeat ends the requests of expired sessions; a stateless request has no session,
    # so it must run to its end however many heartbeats (MCP_HEARTBEAT_SECONDS, 2 s) pass meanwhile.
    slow = call(
        "tools/call", {"name": "start-notification-stream", "arguments": {"interval": 1, "count": 5, "caller": "hb"}}
    )
    response = http.post(modern.url, headers=headers_for(slow), json=slow, timeout=30)
    assert response.status_code == 200, response.text
    final = [event.message for event in iter_events(response.text.splitlines()) if event.message.get("id") == 1]
    if response.headers["content-type"].startswith("application/json"):
        final = [response.json()]
    assert final and final[-1]["result"]["content"][0]["text"].startswith("Sent 5 notifications"), response.text


def test_listen_streams_count_under_the_stream_cap_with_get_streams(tmp_path_factory):
    # MCP_MAX_STREAMS keeps descriptors for /health and POSTs: listen streams hold connections as
    # GET streams do, so both count against it, and a closed one gives its place back.
    capped = start_module_server(tmp_path_factory, "capped", env={"MCP_MAX_STREAMS": "2"})
    listen = call("subscriptions/listen", {"notifications": {"toolsListChanged": True}})
    try:
        with httpx2.Client(timeout=httpx2.Timeout(10, read=30)) as http:
            session_id = initialize(http, capped.url)
            get_headers = {**session_headers(session_id), "accept": "text/event-stream"}
            with http.stream("GET", capped.url, headers=get_headers) as held:
                assert held.status_code == 200
                with http.stream("POST", capped.url, headers=headers_for(listen), json=listen) as first:
                    assert first.status_code == 200
                    # Bounded: without the cap this would be a third open stream, read until the timeout.
                    refused = http.post(capped.url, headers=headers_for(listen), json=listen, timeout=5)
                    assert refused.status_code == 503 and refused.headers["retry-after"] == "2", refused.text
                    assert refused.json()["error"]["code"] == -32603
                    assert http.get(f"{capped.base}/health").status_code == 200
            deadline = time.monotonic() + 10  # both closed by the client: their places come back
            while time.monotonic() < deadline:
                with http.stream("POST", capped.url, headers=headers_for(listen), json=listen) as again:
                    if again.status_code == 200:
                        break
                time.sleep(0.2)
            assert again.status_code == 200
    finally:
        capped.stop()


def test_admin_counts_stateless_requests_by_method_and_client(modern, http):
    from .test_operations import admin_login, create_admin

    for request_id in range(3):
        message = call(
            "tools/list",
            request_id=request_id,
            meta={"io.modelcontextprotocol/clientInfo": {"name": "counted-client", "version": "1"}},
        )
        assert post(http, modern, message).status_code == 200
    create_admin(modern)
    with admin_login(modern) as admin:
        deadline = time.monotonic() + 15  # the counts reach the database with the node's next heartbeat
        while time.monotonic() < deadline:
            index = admin.get("/admin/").text
            if "client counted-client" in index:
                break
            time.sleep(0.5)
        table = index.split('id="stateless-requests"', 1)[1].split("</table>", 1)[0]
        rows = dict(re.findall(r'<th scope="row">([^<]+)</th><td>(\d+)</td>', table))
        assert rows.get("client counted-client") == "3", table
        assert int(rows.get("tools/list", 0)) >= 3, table
        assert "stateless requests" in admin.get("/admin/sessions_app/nodeheartbeat/").text.lower()
