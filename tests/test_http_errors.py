"""Raw-HTTP error handling of /mcp: exact statuses, JSON-RPC error bodies, and survival.

Every hostile request is followed by a check that the server still answers
(a fresh initialize and a ping work, the process is still running).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import pytest

from .conftest import INIT_PARAMS, POST_HEADERS, initialize, session_headers
from .sse import Event, iter_events, parse_text

INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
PARSE_ERROR = -32700
UNSUPPORTED_PROTOCOL_VERSION = -32022
STATEFUL_VERSIONS = ["2025-03-26", "2025-06-18", "2025-11-25"]
MAX_BODY = 4 * 1024 * 1024
# Streams must show progress within this; nothing in this module may hang for long.
STREAM_TIMEOUT = httpx2.Timeout(10, read=5)
ANY = object()


# --- messages ------------------------------------------------------------------
def request(request_id: Any, method: str, params: dict | None = None) -> dict:
    message = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def notification(method: str, params: dict | None = None) -> dict:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def tool_call(request_id: Any, name: str, arguments: dict | None = None) -> dict:
    return request(request_id, "tools/call", {"name": name, "arguments": arguments or {}})


def notification_stream(request_id: Any, *, interval: float, count: int, caller: str = "tester") -> dict:
    return tool_call(request_id, "start-notification-stream", {"interval": interval, "count": count, "caller": caller})


def init_request(version: str = "2025-11-25", request_id: Any = 0) -> dict:
    return request(request_id, "initialize", {**INIT_PARAMS, "protocolVersion": version})


# --- assertions ------------------------------------------------------------------
def assert_rpc_error(
    response: httpx2.Response,
    status: int,
    code: int,
    message: str | None = None,
    *,
    prefix: str | None = None,
    request_id: Any = None,
    data: Any = ANY,
) -> dict:
    """The response is `status` with exactly one JSON-RPC error body."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"jsonrpc", "id", "error"}, body
    assert body["jsonrpc"] == "2.0"
    assert body["id"] == request_id, body
    error = body["error"]
    assert error["code"] == code, body
    if message is not None:
        assert error["message"] == message, body
    if prefix is not None:
        assert error["message"].startswith(prefix), body
    if data is not ANY:
        assert error.get("data") == data, body
    return body


def assert_alive(http: httpx2.Client, server) -> None:
    """The process is up and a brand-new session answers a ping."""
    assert server.process.poll() is None, f"the server died:\n{server.log()[-3000:]}"
    session_id = initialize(http, server.url)
    events = post_events(http, server.url, session_headers(session_id), request("alive", "ping"))
    assert responses(events) == [{"jsonrpc": "2.0", "id": "alive", "result": {}}]


def assert_empty(response: httpx2.Response, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.content == b""


# --- SSE ----------------------------------------------------------------------------
def post_events(http: httpx2.Client, url: str, headers: dict, body: Any) -> list[Event]:
    """POST and read the whole SSE response (it ends after the last response)."""
    response = http.post(url, headers=headers, json=body, timeout=STREAM_TIMEOUT)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_text(response.text)


def messages(events: list[Event]) -> list[dict]:
    return [event.message for event in events if event.data]


def responses(events: list[Event]) -> list[dict]:
    return [m for m in messages(events) if "method" not in m]


def log_messages(events: list[Event]) -> list[dict]:
    return [m for m in messages(events) if m.get("method") == "notifications/message"]


def only_response(events: list[Event], request_id: Any) -> dict:
    (response,) = responses(events)
    assert response["id"] == request_id
    return response


def get_headers(session_id: str, version: str = "2025-11-25", **extra: str) -> dict:
    return {"accept": "text/event-stream", "mcp-session-id": session_id, "mcp-protocol-version": version, **extra}


@contextmanager
def sse_stream(
    http: httpx2.Client, method: str, url: str, **kwargs
) -> Iterator[tuple[httpx2.Response, Iterator[Event]]]:
    with http.stream(method, url, timeout=STREAM_TIMEOUT, **kwargs) as response:
        yield response, iter_events(response.iter_lines())


@pytest.fixture
def session(server, http) -> str:
    return initialize(http, server.url)


# --- POST: Accept, Content-Type, body ---------------------------------------------------------
@pytest.mark.parametrize("accept", ["application/json", "text/event-stream", "", "text/html"])
def test_post_without_both_accept_types_is_406(server, http, accept):
    response = http.post(server.url, headers={**POST_HEADERS, "accept": accept}, json=init_request())
    assert_rpc_error(
        response, 406, INVALID_REQUEST, "Not Acceptable: Client must accept both application/json and text/event-stream"
    )
    assert "mcp-session-id" not in response.headers
    assert_alive(http, server)


def test_json_mode_needs_only_application_json(json_server, http):
    response = http.post(
        json_server.url, headers={**POST_HEADERS, "accept": "application/json"}, json=init_request(request_id=1)
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["id"] == 1
    assert response.json()["result"]["protocolVersion"] == "2025-11-25"
    assert response.headers["mcp-session-id"]


def test_json_mode_without_application_json_is_406(json_server, http):
    response = http.post(
        json_server.url, headers={**POST_HEADERS, "accept": "text/event-stream"}, json=init_request(request_id=1)
    )
    assert_rpc_error(response, 406, INVALID_REQUEST, "Not Acceptable: Client must accept application/json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_post_with_non_json_content_type_is_415(server, http, content_type):
    headers = {**POST_HEADERS, "content-type": content_type}
    response = http.post(server.url, headers=headers, content=json.dumps(init_request()).encode())
    assert_rpc_error(response, 415, INVALID_REQUEST, "Unsupported Media Type: Content-Type must be application/json")
    assert_alive(http, server)


@pytest.mark.parametrize("body", [b"{", b"not json", b"", b'{"jsonrpc": "2.0", "id": 1,', b"[1, 2"])
def test_post_invalid_json_is_parse_error(server, http, body):
    response = http.post(server.url, headers=POST_HEADERS, content=body)
    assert_rpc_error(response, 400, PARSE_ERROR, prefix="Parse error")
    assert_alive(http, server)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_post_non_json_number_literals_are_parse_error(server, http, session, literal):
    """NaN and Infinity are not JSON (RFC 8259 section 6), though Python's json module reads them."""
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"_meta": {"x": ' + literal + b"}}}"
    response = http.post(server.url, headers=session_headers(session), content=body, timeout=STREAM_TIMEOUT)
    assert_rpc_error(response, 400, PARSE_ERROR, prefix="Parse error")


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc": "2.0", "id": 1, "method": "ping\xff"}',
        b'\xc3\x28{"jsonrpc": "2.0"}',
        b"\xff\xfe\x00\x00garbage",
    ],
    ids=["invalid-byte-in-string", "invalid-lead-byte", "bom-like-garbage"],
)
def test_post_non_utf8_body_is_parse_error(server, http, body):
    response = http.post(server.url, headers=POST_HEADERS, content=body)
    assert_rpc_error(response, 400, PARSE_ERROR, prefix="Parse error")
    assert_alive(http, server)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16", "utf-32"])
def test_post_well_formed_json_in_another_unicode_encoding_is_parse_error(server, http, encoding):
    """JSON on the wire is UTF-8 (RFC 8259 8.1): a UTF-16/32 body is not valid input."""
    body = json.dumps(init_request()).encode(encoding)
    response = http.post(server.url, headers=POST_HEADERS, content=body)
    assert_rpc_error(response, 400, PARSE_ERROR, prefix="Parse error")
    assert "mcp-session-id" not in response.headers
    assert_alive(http, server)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"42", "Invalid Request: a JSON-RPC message must be an object"),
        (b"null", "Invalid Request: a JSON-RPC message must be an object"),
        (b'"ping"', "Invalid Request: a JSON-RPC message must be an object"),
        (b"[]", "Invalid Request: empty batch"),
        (b"[42]", "Invalid Request: a JSON-RPC message must be an object"),
        (
            b'{"jsonrpc": "2.0", "id": null, "method": "ping"}',
            "Invalid Request: a request id must be a string or an integer",
        ),
        (
            b'{"jsonrpc": "2.0", "id": 1.5, "method": "ping"}',
            "Invalid Request: a request id must be a string or an integer",
        ),
        (
            b'{"jsonrpc": "2.0", "id": true, "method": "ping"}',
            "Invalid Request: a request id must be a string or an integer",
        ),
        (
            b'{"jsonrpc": "2.0", "id": [1], "method": "ping"}',
            "Invalid Request: a request id must be a string or an integer",
        ),
    ],
    ids=["number", "null", "string", "empty-batch", "batch-of-number", "id-null", "id-float", "id-bool", "id-array"],
)
def test_post_invalid_jsonrpc_is_invalid_request(server, http, body, message):
    response = http.post(server.url, headers=POST_HEADERS, content=body)
    assert_rpc_error(response, 400, INVALID_REQUEST, message)
    assert_alive(http, server)


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "1.0", "id": 1, "method": "ping"},
        {"id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "id": 1, "method": 7},
        {"jsonrpc": "2.0"},
    ],
    ids=["jsonrpc-1.0", "no-jsonrpc", "method-not-string", "nothing"],
)
def test_post_not_a_jsonrpc_message_is_invalid_request(server, http, message):
    response = http.post(server.url, headers=POST_HEADERS, json=message)
    assert_rpc_error(response, 400, INVALID_REQUEST, prefix="Invalid Request")
    assert_alive(http, server)


def test_post_invalid_message_in_a_session_is_invalid_request(server, http):
    session_id = initialize(http, server.url)
    response = http.post(
        server.url, headers=session_headers(session_id), content=b'{"jsonrpc": "2.0", "id": 1.5, "method": "ping"}'
    )
    assert_rpc_error(response, 400, INVALID_REQUEST, "Invalid Request: a request id must be a string or an integer")


# --- POST: sessions ------------------------------------------------------------------------
def test_post_without_session_id_is_400(server, http):
    response = http.post(server.url, headers=POST_HEADERS, json=request(1, "tools/list"))
    assert_rpc_error(response, 400, INVALID_REQUEST, "Bad Request: Missing session ID")
    assert_alive(http, server)


def test_post_notification_without_session_id_is_400(server, http):
    response = http.post(server.url, headers=POST_HEADERS, json=notification("notifications/initialized"))
    assert_rpc_error(response, 400, INVALID_REQUEST, "Bad Request: Missing session ID")
    assert_alive(http, server)


@pytest.mark.parametrize(
    "session_id",
    [
        "0123456789abcdef0123456789abcdef",
        "not-a-session",
        "a" * 4000,
        "x" * 65,
        "sessão-ünïcödé".encode(),
        "'; DROP TABLE sessions_app_mcpsession; --",
    ],
    ids=["hex", "garbage", "very-long", "just-too-long", "non-ascii", "sql"],
)
def test_post_unknown_session_id_is_404(server, http, session_id):
    headers = {**POST_HEADERS, "mcp-session-id": session_id, "mcp-protocol-version": "2025-11-25"}
    response = http.post(server.url, headers=headers, json=request(1, "tools/list"))
    assert_rpc_error(response, 404, INVALID_REQUEST, "Session not found")
    assert_alive(http, server)


def test_control_bytes_in_a_header_are_invalid_http_400(server, http):
    # RFC 9110 5.5: a field value holds no control characters; the HTTP parser refuses the request
    # before the application sees it, with a JSON-RPC error body, and the connection closes.
    headers = {**POST_HEADERS, "mcp-session-id": b"\x01\x02control", "mcp-protocol-version": "2025-11-25"}
    response = http.post(server.url, headers=headers, json=request(1, "tools/list"))
    assert_rpc_error(response, 400, INVALID_REQUEST, "Bad Request: invalid HTTP")
    assert response.headers["connection"] == "close"
    assert_alive(http, server)


def test_post_body_over_limit_with_content_length_is_413(server, http):
    session_id = initialize(http, server.url)
    padding = "x" * (MAX_BODY + 1)
    body = json.dumps(request(1, "ping", {"_meta": {"padding": padding}})).encode()
    assert len(body) > MAX_BODY
    try:
        response = http.post(server.url, headers=session_headers(session_id), content=body, timeout=STREAM_TIMEOUT)
    except httpx2.TransportError as exc:  # a server may stop reading; then the status must still have come first
        pytest.fail(f"no 413 response, the connection failed: {exc!r}")
    assert_rpc_error(response, 413, INVALID_REQUEST, prefix="Payload Too Large")
    assert_alive(http, server)


def test_post_chunked_body_over_limit_is_413(server, http):
    session_id = initialize(http, server.url)
    chunk = b" " * 65536

    def body():
        yield b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"_meta": {"padding": "'
        for _ in range(MAX_BODY // len(chunk) + 2):
            yield chunk
        yield b'"}}}'

    try:
        response = http.post(server.url, headers=session_headers(session_id), content=body(), timeout=STREAM_TIMEOUT)
    except httpx2.TransportError as exc:
        pytest.fail(f"no 413 response, the connection failed: {exc!r}")
    assert "content-length" not in response.request.headers
    assert_rpc_error(response, 413, INVALID_REQUEST, prefix="Payload Too Large")
    assert_alive(http, server)


def test_post_body_just_under_limit_is_served(server, http):
    session_id = initialize(http, server.url)
    envelope = json.dumps(request(1, "ping", {"_meta": {"padding": ""}})).encode()
    body = envelope.replace(b'""', b'"' + b"x" * (MAX_BODY - len(envelope)) + b'"')
    assert len(body) == MAX_BODY
    response = http.post(server.url, headers=session_headers(session_id), content=body, timeout=STREAM_TIMEOUT)
    assert response.status_code == 200, response.text[:300]
    assert only_response(parse_text(response.text), 1)["result"] == {}


@pytest.mark.parametrize("body", [b"[" * 200_000, b'{"a":' * 100_000, b"[" * 200_000 + b"]" * 200_000])
def test_post_deeply_nested_json_is_parse_error(server, http, body):
    response = http.post(server.url, headers=POST_HEADERS, content=body, timeout=STREAM_TIMEOUT)
    assert_rpc_error(response, 400, PARSE_ERROR, prefix="Parse error")
    assert_alive(http, server)


def test_initialize_inside_a_batch_is_400(server, http):
    batch = [init_request(request_id=1), request(2, "ping")]
    response = http.post(server.url, headers=POST_HEADERS, json=batch)
    assert_rpc_error(response, 400, INVALID_REQUEST, "Invalid Request: initialize must not be part of a batch")
    assert "mcp-session-id" not in response.headers
    assert_alive(http, server)


def test_initialize_alone_in_a_batch_is_400(server, http):
    response = http.post(server.url, headers=POST_HEADERS, json=[init_request(request_id=1)])
    assert_rpc_error(response, 400, INVALID_REQUEST, "Invalid Request: initialize must not be part of a batch")


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25"])
def test_batch_after_2025_03_26_is_400(server, http, version):
    session_id = initialize(http, server.url, version)
    response = http.post(
        server.url, headers=session_headers(session_id, version), json=[request(1, "ping"), request(2, "ping")]
    )
    assert_rpc_error(
        response, 400, INVALID_REQUEST, f"Invalid Request: batches are not allowed in protocol version {version}"
    )
    assert_alive(http, server)


def test_batch_in_2025_03_26_session_answers_both_on_one_stream(server, http):
    session_id = initialize(http, server.url, "2025-03-26")
    events = post_events(
        http, server.url, session_headers(session_id, "2025-03-26"), [request(1, "ping"), request("two", "tools/list")]
    )
    by_id = {m["id"]: m for m in responses(events)}
    assert set(by_id) == {1, "two"}
    assert by_id[1] == {"jsonrpc": "2.0", "id": 1, "result": {}}
    assert any(tool["name"] == "start-notification-stream" for tool in by_id["two"]["result"]["tools"])


def test_batch_with_duplicate_ids_is_400(server, http):
    session_id = initialize(http, server.url, "2025-03-26")
    response = http.post(
        server.url, headers=session_headers(session_id, "2025-03-26"), json=[request(1, "ping"), request(1, "ping")]
    )
    assert_rpc_error(response, 400, INVALID_REQUEST, "Invalid Request: a request id is already in use in this session")


def test_unsupported_protocol_version_header_is_400(server, http):
    session_id = initialize(http, server.url)
    headers = {**session_headers(session_id), "mcp-protocol-version": "1999-01-01"}
    response = http.post(server.url, headers=headers, json=request(5, "tools/list"))
    body = assert_rpc_error(
        response,
        400,
        UNSUPPORTED_PROTOCOL_VERSION,
        prefix="Unsupported protocol version: 1999-01-01",
        request_id=5,
        data={"supported": STATEFUL_VERSIONS, "requested": "1999-01-01"},
    )
    assert body["error"]["data"]["supported"] == STATEFUL_VERSIONS
    assert_alive(http, server)


def test_stateless_server_discover_is_served_without_a_session(server, http):
    """Issue 10: the 2026-07-28 probe of the SDK's auto mode is answered (it was -32022 before)."""
    params = {
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    }
    headers = {**POST_HEADERS, "mcp-protocol-version": "2026-07-28", "mcp-method": "server/discover"}
    response = http.post(server.url, headers=headers, json=request(1, "server/discover", params))
    assert response.status_code == 200, response.text
    assert response.json()["result"]["supportedVersions"] == ["2026-07-28"]
    assert "mcp-session-id" not in response.headers
    assert_alive(http, server)


def test_stateless_meta_without_version_header_is_a_header_mismatch(server, http):
    """Body first: the envelope makes it modern, where MCP-Protocol-Version is required (-32020)."""
    params = {
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    }
    response = http.post(server.url, headers=POST_HEADERS, json=request(1, "tools/list", params))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32020


def test_notifications_only_is_202_with_empty_body(server, http):
    session_id = initialize(http, server.url)
    response = http.post(
        server.url, headers=session_headers(session_id), json=notification("notifications/initialized")
    )
    assert_empty(response, 202)
    response = http.post(
        server.url,
        headers=session_headers(session_id),
        json=notification("notifications/cancelled", {"requestId": 12345, "reason": "nothing is running"}),
    )
    assert_empty(response, 202)


def test_a_response_to_a_request_never_sent_is_400(server, http):
    # A response the server accepts (an answer to its own question) is 202 with no body:
    # tests/test_client_requests_http.py. One for an id this session was never sent cannot be accepted.
    session_id = initialize(http, server.url)
    response = http.post(
        server.url, headers=session_headers(session_id), json={"jsonrpc": "2.0", "id": "s-1", "result": {}}
    )
    assert response.status_code == 400
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32600, "message": 'Invalid Request: this session was sent no request with id "s-1"'},
    }


def test_notification_batch_in_2025_03_26_session_is_202(server, http):
    session_id = initialize(http, server.url, "2025-03-26")
    response = http.post(
        server.url,
        headers=session_headers(session_id, "2025-03-26"),
        json=[notification("notifications/initialized"), notification("notifications/roots/list_changed")],
    )
    assert_empty(response, 202)


def test_request_id_reused_while_running_is_400(server, http):
    session_id = initialize(http, server.url)
    headers = session_headers(session_id)
    with sse_stream(http, "POST", server.url, headers=headers, json=notification_stream(7, interval=0.5, count=4)) as (
        first,
        events,
    ):
        assert first.status_code == 200
        next(events)  # the priming event: request 7 is running
        second = http.post(server.url, headers=headers, json=request(7, "ping"))
        assert_rpc_error(
            second,
            400,
            INVALID_REQUEST,
            "Invalid Request: a request id is already in use in this session",
            request_id=7,
        )
        remaining = list(events)
    assert only_response(remaining, 7)["result"]["isError"] is False
    # Finished: the id is free again.
    assert only_response(post_events(http, server.url, headers, request(7, "ping")), 7)["result"] == {}


# --- per-request JSON-RPC errors (HTTP 200, in the stream) -------------------------------------
def test_unknown_method_is_method_not_found(server, http, session):
    response = only_response(post_events(http, server.url, session_headers(session), request(1, "no/such-method")), 1)
    assert response["error"]["code"] == METHOD_NOT_FOUND
    assert "no/such-method" in response["error"]["message"]


def test_tools_call_without_name_is_invalid_params(server, http, session):
    response = only_response(
        post_events(http, server.url, session_headers(session), request(1, "tools/call", {"arguments": {}})), 1
    )
    assert response["error"]["code"] == INVALID_PARAMS


def test_tools_call_without_params_is_invalid_params(server, http, session):
    response = only_response(post_events(http, server.url, session_headers(session), request(1, "tools/call")), 1)
    assert response["error"]["code"] == INVALID_PARAMS


def test_unknown_tool_is_invalid_params(server, http, session):
    response = only_response(post_events(http, server.url, session_headers(session), tool_call(1, "no-such-tool")), 1)
    assert response["error"] == {"code": INVALID_PARAMS, "message": "Unknown tool: no-such-tool"}


@pytest.mark.parametrize(
    ("arguments", "argument"),
    [
        ({"interval": 0, "count": 1}, "caller"),
        ({"interval": 0, "count": "abc", "caller": "x"}, "count"),
        ({"interval": -1, "count": 1, "caller": "x"}, "interval"),
        ({"interval": "soon", "count": 1, "caller": "x"}, "interval"),
    ],
    ids=["missing-caller", "count-abc", "interval-negative", "interval-string"],
)
def test_notification_stream_bad_arguments_is_error_result(server, http, session, arguments, argument):
    events = post_events(
        http, server.url, session_headers(session), tool_call(1, "start-notification-stream", arguments)
    )
    result = only_response(events, 1)["result"]
    assert result["isError"] is True
    (content,) = result["content"]
    assert content["type"] == "text"
    assert argument in content["text"]
    assert log_messages(events) == []


# --- GET --------------------------------------------------------------------------------------
@pytest.mark.parametrize("accept", ["application/json", "", "text/html"])
def test_get_without_event_stream_accept_is_406(server, http, session, accept):
    response = http.get(server.url, headers={**get_headers(session), "accept": accept})
    assert_rpc_error(response, 406, INVALID_REQUEST, "Not Acceptable: Client must accept text/event-stream")


def test_get_without_session_is_400(server, http):
    response = http.get(server.url, headers={"accept": "text/event-stream"})
    assert_rpc_error(response, 400, INVALID_REQUEST, "Bad Request: Missing session ID")
    assert_alive(http, server)


@pytest.mark.parametrize("session_id", ["0123456789abcdef0123456789abcdef", "b" * 4000, "ünïcödé".encode()])
def test_get_unknown_session_is_404(server, http, session_id):
    response = http.get(server.url, headers={"accept": "text/event-stream", "mcp-session-id": session_id})
    assert_rpc_error(response, 404, INVALID_REQUEST, "Session not found")
    assert_alive(http, server)


def test_get_unsupported_protocol_version_is_400(server, http, session):
    response = http.get(server.url, headers=get_headers(session, "1999-01-01"))
    assert_rpc_error(
        response,
        400,
        UNSUPPORTED_PROTOCOL_VERSION,
        prefix="Unsupported protocol version: 1999-01-01",
        data={"supported": STATEFUL_VERSIONS, "requested": "1999-01-01"},
    )


def test_second_get_stream_is_409(server, http, session):
    with sse_stream(http, "GET", server.url, headers=get_headers(session)) as (first, events):
        assert first.status_code == 200
        priming = next(events)
        assert priming.id and priming.data == ""
        second = http.get(server.url, headers=get_headers(session), timeout=STREAM_TIMEOUT)
        assert_rpc_error(second, 409, INVALID_REQUEST, "Conflict: Only one SSE stream is allowed per session")
    assert_alive(http, server)


def test_get_stream_slot_is_freed_when_the_stream_closes(server, http, session):
    with sse_stream(http, "GET", server.url, headers=get_headers(session)) as (first, events):
        assert first.status_code == 200
        next(events)
    deadline = time.monotonic() + 5
    while True:
        with sse_stream(http, "GET", server.url, headers=get_headers(session)) as (again, events):
            if again.status_code == 200:
                assert next(events).data == ""
                return
            again.read()
            assert again.status_code == 409
        assert time.monotonic() < deadline, "the GET slot stayed taken after the stream closed"
        time.sleep(0.1)


@pytest.mark.parametrize("last_event_id", ["garbage", "g-0", "g-abc", "r123-5", "g-1-2", "", "ü-1"])
def test_get_malformed_last_event_id_is_400(server, http, session, last_event_id):
    response = http.get(server.url, headers={**get_headers(session), "last-event-id": last_event_id.encode()})
    assert_rpc_error(response, 400, INVALID_REQUEST, "Bad Request: malformed Last-Event-ID")
    assert_alive(http, server)


def test_get_last_event_id_of_another_session_is_400(server, http):
    victim = initialize(http, server.url)
    events = post_events(
        http, server.url, session_headers(victim), notification_stream(1, interval=0, count=2, caller="victim-secret")
    )
    post_ids = [event.id for event in events if event.id]
    assert post_ids and log_messages(events)
    with sse_stream(http, "GET", server.url, headers=get_headers(victim)) as (response, stream):
        assert response.status_code == 200
        get_id = next(stream).id
    assert get_id

    attacker = initialize(http, server.url)
    for event_id in [*post_ids, get_id]:
        response = http.get(
            server.url, headers={**get_headers(attacker), "last-event-id": event_id}, timeout=STREAM_TIMEOUT
        )
        assert_rpc_error(response, 400, INVALID_REQUEST, "Bad Request: Last-Event-ID names no event of this session")
        assert "victim-secret" not in response.text
        assert "test_resource" not in response.text
    assert_alive(http, server)


def test_get_last_event_id_naming_no_event_is_400(server, http, session):
    response = http.get(server.url, headers={**get_headers(session), "last-event-id": "g-999999999"})
    assert_rpc_error(response, 400, INVALID_REQUEST, "Bad Request: Last-Event-ID names no event of this session")


# --- DELETE -----------------------------------------------------------------------------------
def test_delete_without_session_is_400(server, http):
    response = http.delete(server.url)
    assert_rpc_error(response, 400, INVALID_REQUEST, "Bad Request: Missing session ID")
    assert_alive(http, server)


@pytest.mark.parametrize("session_id", ["0123456789abcdef0123456789abcdef", "c" * 4000, "ünïcödé".encode()])
def test_delete_unknown_session_is_404(server, http, session_id):
    response = http.delete(server.url, headers={"mcp-session-id": session_id})
    assert_rpc_error(response, 404, INVALID_REQUEST, "Session not found")
    assert_alive(http, server)


def test_deleted_session_is_404_for_every_method(server, http):
    session_id = initialize(http, server.url)
    assert_empty(
        http.delete(server.url, headers={"mcp-session-id": session_id, "mcp-protocol-version": "2025-11-25"}), 204
    )

    headers = session_headers(session_id)
    assert_rpc_error(
        http.post(server.url, headers=headers, json=request(1, "ping")), 404, INVALID_REQUEST, "Session not found"
    )
    assert_rpc_error(
        http.post(server.url, headers=headers, json=notification("notifications/initialized")),
        404,
        INVALID_REQUEST,
        "Session not found",
    )
    assert_rpc_error(http.get(server.url, headers=get_headers(session_id)), 404, INVALID_REQUEST, "Session not found")
    assert_rpc_error(
        http.delete(server.url, headers={"mcp-session-id": session_id}), 404, INVALID_REQUEST, "Session not found"
    )
    assert_alive(http, server)


def test_delete_ends_the_open_get_stream(server, http, session):
    with sse_stream(http, "GET", server.url, headers=get_headers(session)) as (response, events):
        assert response.status_code == 200
        next(events)  # priming: the stream is open
        assert_empty(http.delete(server.url, headers={"mcp-session-id": session}), 204)
        started = time.monotonic()
        try:
            rest = list(events)  # must end, not time out
        except httpx2.ReadTimeout:
            pytest.fail("the GET stream stayed open after DELETE")
        assert time.monotonic() - started < 5
    assert [m for m in messages(rest) if "id" in m and "method" not in m] == []


def test_delete_cancels_a_running_request_stream(server, http, session):
    headers = session_headers(session)
    with sse_stream(http, "POST", server.url, headers=headers, json=notification_stream(3, interval=0.3, count=20)) as (
        response,
        events,
    ):
        assert response.status_code == 200
        first = next(events)
        assert first.data == ""  # priming: request 3 is running
        assert_empty(http.delete(server.url, headers={"mcp-session-id": session}), 204)
        try:
            rest = list(events)
        except httpx2.ReadTimeout:
            pytest.fail("the POST stream stayed open after DELETE")
    assert len(log_messages(rest)) < 19
    assert [m for m in responses(rest) if m.get("result")] == []


# --- other HTTP methods -------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["PUT", "PATCH", "OPTIONS"])
def test_other_methods_are_405_with_allow(server, http, method):
    response = http.request(method, server.url, headers=POST_HEADERS, content=json.dumps(request(1, "ping")).encode())
    assert_rpc_error(response, 405, INVALID_REQUEST, "Method Not Allowed")
    assert response.headers["allow"] == "GET, POST, DELETE"
    assert_alive(http, server)


# --- priming ---------------------------------------------------------------------------------
def test_2025_11_25_post_stream_starts_with_priming_event(server, http, session):
    events = post_events(http, server.url, session_headers(session), request(1, "ping"))
    priming = events[0]
    assert priming.id
    assert priming.data == ""
    assert priming.retry is not None and priming.retry > 0
    assert only_response(events, 1)["result"] == {}
    ids = [event.id for event in events if event.id]
    assert len(ids) == len(set(ids)) == len(events)


def test_2025_11_25_tool_stream_starts_with_priming_event(server, http, session):
    events = post_events(http, server.url, session_headers(session), notification_stream(1, interval=0, count=2))
    assert events[0].id and events[0].data == "" and events[0].retry is not None
    assert all(event.data for event in events[1:])
    assert len(log_messages(events)) == 2


@pytest.mark.parametrize("version", ["2025-06-18", "2025-03-26"])
def test_older_revisions_get_no_priming_event(server, http, version):
    session_id = initialize(http, server.url, version)
    for body in (request(1, "ping"), notification_stream(2, interval=0, count=2)):
        events = post_events(http, server.url, session_headers(session_id, version), body)
        assert events, "no events"
        assert all(event.data for event in events), events
        assert all(event.retry is None for event in events), events


# --- logging level -------------------------------------------------------------------------------
def test_set_level_warning_silences_info_notifications(server, http, session):
    headers = session_headers(session)
    events = post_events(http, server.url, headers, request(1, "logging/setLevel", {"level": "warning"}))
    assert only_response(events, 1)["result"] == {}
    events = post_events(http, server.url, headers, notification_stream(2, interval=0, count=3, caller="quiet"))
    assert log_messages(events) == []
    result = only_response(events, 2)["result"]
    assert result == {
        "content": [{"type": "text", "text": "Sent 3 notifications with 0.0s interval for caller: quiet"}],
        "isError": False,
    }


def test_set_level_invalid_is_invalid_params(server, http, session):
    events = post_events(http, server.url, session_headers(session), request(1, "logging/setLevel", {"level": "loud"}))
    assert only_response(events, 1)["error"]["code"] == INVALID_PARAMS


# --- cancellation ---------------------------------------------------------------------------------
def test_cancelled_request_stream_ends_without_response(server, http, session):
    headers = session_headers(session)
    with sse_stream(http, "POST", server.url, headers=headers, json=notification_stream(9, interval=0.3, count=20)) as (
        response,
        events,
    ):
        assert response.status_code == 200
        before = []
        for event in events:
            before.append(event)
            if log_messages([event]):
                break
        assert log_messages(before), "the stream ended before its first notification"
        cancel = http.post(
            server.url,
            headers=headers,
            json=notification("notifications/cancelled", {"requestId": 9, "reason": "test"}),
        )
        assert_empty(cancel, 202)
        started = time.monotonic()
        try:
            after = list(events)
        except httpx2.ReadTimeout:
            pytest.fail("the POST stream stayed open after notifications/cancelled")
        assert time.monotonic() - started < 3
    assert len(log_messages(after)) <= 1  # at most one already on its way
    assert [m for m in messages(before + after) if m.get("id") == 9] == []
    # Nothing was produced after the cancellation either: a resume from the last event replays nothing.
    time.sleep(0.7)
    last_id = [event.id for event in before + after if event.id][-1]
    with sse_stream(http, "GET", server.url, headers=get_headers(session, **{"last-event-id": last_id})) as (
        resumed,
        replay,
    ):
        assert resumed.status_code == 200
        try:
            replayed = list(replay)
        except httpx2.ReadTimeout:
            pytest.fail("the resumed stream of a cancelled request stayed open")
    assert messages(replayed) == []
    # The session and the id are usable again.
    assert only_response(post_events(http, server.url, headers, request(9, "ping")), 9)["result"] == {}


# --- strings that cannot be written back as UTF-8 -------------------------------------------------
LONE_SURROGATES = {
    "request-id": b'{"jsonrpc": "2.0", "id": "\\ud800", "method": "ping"}',
    "method": b'{"jsonrpc": "2.0", "id": 1, "method": "no/\\ud800"}',
    "tool-name": b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "\\ud800"}}',
    "tool-argument": (
        b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "start-notification-stream",'
        b' "arguments": {"interval": 0, "count": 1, "caller": "\\ud800"}}}'
    ),
}


def assert_refused_or_answered(response: httpx2.Response, *, sse: bool) -> None:
    """A lone UTF-16 surrogate (legal JSON escape, not encodable as UTF-8) is either refused with
    400 (-32700 or -32600) or answered with exactly one response; never a 500, never a hang."""
    if response.status_code == 200:
        found = responses(parse_text(response.text)) if sse else [response.json()]
        assert len(found) == 1, response.text
        return
    assert response.status_code == 400, (response.status_code, response.text[:300])
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["error"]["code"] in (PARSE_ERROR, INVALID_REQUEST), body


@pytest.mark.parametrize("body", LONE_SURROGATES.values(), ids=LONE_SURROGATES.keys())
def test_lone_surrogate_in_request_is_refused_or_answered(server, http, session, body):
    try:
        response = http.post(server.url, headers=session_headers(session), content=body, timeout=STREAM_TIMEOUT)
    except httpx2.ReadTimeout:
        pytest.fail("the POST got no complete answer: its SSE stream never ended")
    assert_refused_or_answered(response, sse=True)
    assert_alive(http, server)


def test_lone_surrogate_in_json_mode_is_refused_or_answered(json_server, http):
    session_id = initialize(http, json_server.url)
    try:
        response = http.post(
            json_server.url,
            headers=session_headers(session_id),
            content=LONE_SURROGATES["method"],
            timeout=STREAM_TIMEOUT,
        )
    except httpx2.ReadTimeout:
        pytest.fail("the POST got no response at all")
    assert_refused_or_answered(response, sse=False)
