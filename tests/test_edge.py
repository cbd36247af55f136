"""Host and Origin validation in front of /mcp (DNS-rebinding protection)."""

from .conftest import INIT_PARAMS, POST_HEADERS

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INIT_PARAMS}


def test_foreign_host_is_refused(server, http):
    response = http.post(server.url, headers={**POST_HEADERS, "host": "evil.example"}, json=INIT)
    assert response.status_code == 421
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32600, "message": "Misdirected Request: Invalid Host header"},
    }


def test_foreign_origin_is_refused(server, http):
    for origin in ("http://evil.example", "null", "https://localhost.evil.example", "not a url"):
        response = http.post(server.url, headers={**POST_HEADERS, "origin": origin}, json=INIT)
        assert response.status_code == 403, origin
        assert response.json()["error"] == {"code": -32600, "message": "Forbidden: Origin not allowed"}


def test_localhost_origins_are_served(server, http):
    for origin in ("http://localhost:6274", "http://127.0.0.1", "https://[::1]:8443"):
        response = http.post(server.url, headers={**POST_HEADERS, "origin": origin}, json=INIT)
        assert response.status_code == 200, origin
        assert response.headers["mcp-session-id"]


def test_no_origin_is_served(server, http):
    assert http.post(server.url, headers=POST_HEADERS, json=INIT).status_code == 200
