"""Hostile input at the edges, over raw HTTP against a live server: escaped text that only looks like a
NUL, values of Origin and Host that are not an origin or a host, and the localhost origins that pass."""

from __future__ import annotations

import http.client
import json

import httpx2
import pytest

from .conftest import initialize, session_headers

FORBIDDEN = {"code": -32600, "message": "Forbidden: Origin not allowed"}
MISDIRECTED = {"code": -32600, "message": "Misdirected Request: Invalid Host header"}


def raw_post(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    """POST /mcp with exactly these header values (no URL parsing, no normalization) and read the answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("POST", "/mcp", skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    return response.status, (json.loads(payload) if payload.startswith(b"{") else {})


PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
BASE = {"Host": "127.0.0.1", "Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


# --- item 9: an escaped backslash followed by "u0000" is no NUL --------------------------------------
def test_escaped_backslash_before_u0000_is_not_a_nul(server, http):
    session_id = initialize(http, server.url)
    body = b'{"jsonrpc":"2.0","id":31,"method":"ping","params":{"_meta":{"path":"C:\\\\u0000dir"}}}'
    assert json.loads(body)["params"]["_meta"]["path"] == "C:\\u0000dir"  # no NUL in the data
    response = http.post(server.url, headers=session_headers(session_id), content=body)
    assert response.status_code == 200, response.text
    assert '"id":31' in response.text.replace(" ", "") and '"result":{}' in response.text.replace(" ", "")


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc":"2.0","id":31,"method":"ping","params":{"_meta":{"path":"C:\\\\\\u0000dir"}}}',  # \\ then \u0000
        b'{"jsonrpc":"2.0","id":31,"method":"ping","params":{"_meta":{"a\\u0000b":1}}}',  # in a key
        b'[{"jsonrpc":"2.0","id":31,"method":"ping","params":{"x":[["\\u0000"]]}}]',
    ],
    ids=["after-escaped-backslash", "in-a-key", "nested"],
)
def test_a_real_nul_is_still_refused(server, http, body):
    session_id = initialize(http, server.url)
    response = http.post(server.url, headers=session_headers(session_id), content=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == {"code": -32700, "message": "Parse error: strings must not contain U+0000 (NUL)"}


def test_escaped_backslash_before_a_surrogate_escape_is_plain_text(server, http):
    session_id = initialize(http, server.url)
    body = b'{"jsonrpc":"2.0","id":32,"method":"ping","params":{"_meta":{"path":"C:\\\\ud800"}}}'
    response = http.post(server.url, headers=session_headers(session_id), content=body)
    assert response.status_code == 200, response.text


def test_a_lone_surrogate_in_a_key_is_refused(server, http):
    session_id = initialize(http, server.url)
    body = b'{"jsonrpc":"2.0","id":33,"method":"ping","params":{"_meta":{"\\ud800":1}}}'
    response = http.post(server.url, headers=session_headers(session_id), content=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == -32700


# --- item 10: Origin must be a serialized origin; Host must be host[:port] ----------------------------
@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.com\\@localhost",
        "http://user:pass@localhost",
        "http://localhost/path?q",
        "http://localhost/",
        "http://localhost:99999",
        "null",
    ],
)
def test_values_that_are_not_origins_get_403(server, origin):
    status, body = raw_post(server.port, PING, {**BASE, "Origin": origin})
    assert (status, body.get("error"), body.get("id", "missing")) == (403, FORBIDDEN, None)


@pytest.mark.parametrize(
    "host", ["evil.test@127.0.0.1", "u:p@localhost", "localhost/x", "local host", "localhost:0x50"]
)
def test_values_that_are_not_hosts_get_421(server, host):
    status, body = raw_post(server.port, PING, {**BASE, "Host": host})
    assert (status, body.get("error"), body.get("id", "missing")) == (421, MISDIRECTED, None)


@pytest.mark.parametrize("origin", ["http://localhost:5173", "http://127.0.0.1", "https://[::1]:8443"])
def test_localhost_origins_still_pass(server, http, origin):
    session_id = initialize(http, server.url)
    response = http.post(server.url, headers={**session_headers(session_id), "origin": origin}, content=PING)
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def listed_server(tmp_path_factory):
    from .conftest import start_module_server

    live = start_module_server(tmp_path_factory, "listed", env={"MCP_ALLOWED_ORIGINS": "https://app.example.com"})
    yield live
    live.stop()


def test_configured_origin_passes_and_its_lookalikes_do_not(listed_server):
    with httpx2.Client(timeout=10) as http:
        session_id = initialize(http, listed_server.url)
        headers = {**session_headers(session_id), "origin": "https://app.example.com"}
        assert http.post(listed_server.url, headers=headers, content=PING).status_code == 200
    for origin in ("https://app.example.com/", "https://x@app.example.com", "https://app.example.com.evil.test"):
        status, body = raw_post(listed_server.port, PING, {**BASE, "Origin": origin})
        assert (status, body.get("error")) == (403, FORBIDDEN), origin


# --- a tool's name that is not a string ------------------------------------------------------------
@pytest.mark.parametrize("name", [["calculate"], {"a": 1}, 7, None])
def test_a_tool_name_that_is_not_a_string_is_invalid_params_not_a_crash(server, http, name):
    """The name is looked up (is the call claimed with its first events?) before the params are validated:
    a list or an object there must reach validation (-32602), not fail the lookup (a 500)."""
    from .sse import parse_text

    headers = session_headers(initialize(http, server.url))
    body = {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": name, "arguments": {}}}
    response = http.post(server.url, headers=headers, json=body)
    assert response.status_code == 200, response.text
    (answer,) = [event.message for event in parse_text(response.text) if event.data]
    assert answer["id"] == 5 and answer["error"]["code"] == -32602, answer
    assert "Traceback" not in server.log()
