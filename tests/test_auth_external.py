"""MCP_AUTH=jwt and MCP_AUTH=introspection: an external authorization server, played by this test.

The test generates an RSA key pair and serves its JWKS, and runs a small RFC 7662 introspection
endpoint; a live runmcp checks tokens against them.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote_plus

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from .conftest import INIT_PARAMS, POST_HEADERS, start_module_server

ISSUER = "https://issuer.example"
CLIENT_ID, CLIENT_SECRET = "mcpsite", "resource server secret"


def client_credentials(authorization: str) -> tuple[str, str] | None:
    """RFC 6749 section 2.3.1: Basic with the form-urlencoded client id and secret."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme != "Basic":
        return None
    client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


class AuthorizationServer:
    """A JWKS at /jwks.json and an introspection endpoint at /introspect, on a thread."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.introspected: dict[str, dict] = {}  # token -> the introspection answer
        self.calls: list[str] = []  # the Authorization header of each introspection call
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def answer(self, status: int, document: dict) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                public = jwt.algorithms.RSAAlgorithm.to_jwk(owner.key.public_key(), as_dict=True)
                self.answer(200, {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                authorization = self.headers.get("authorization", "")
                owner.calls.append(authorization)
                if client_credentials(authorization) != (CLIENT_ID, CLIENT_SECRET):
                    self.answer(401, {"error": "invalid_client"})
                    return
                self.answer(200, owner.introspected.get(form.get("token", [""])[0], {"active": False}))

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def sign(self, key=None, **claims) -> str:
        now = int(time.time())
        payload = {"iss": ISSUER, "sub": "carol", "scope": "mcp", "iat": now, "exp": now + 300, **claims}
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="module")
def authorization_server():
    server = AuthorizationServer()
    yield server
    server.http.shutdown()


@pytest.fixture(scope="module")
def jwt_server(tmp_path_factory, authorization_server):
    env = {"MCP_AUTH": "jwt", "MCP_AUTH_ISSUER": ISSUER, "MCP_AUTH_JWKS_URL": f"{authorization_server.base}/jwks.json"}
    live = start_module_server(tmp_path_factory, "jwt", env=env)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def introspection_server(tmp_path_factory, authorization_server):
    env = {
        "MCP_AUTH": "introspection",
        "MCP_AUTH_ISSUER": ISSUER,
        "MCP_AUTH_INTROSPECTION_URL": f"{authorization_server.base}/introspect",
        "MCP_AUTH_CLIENT_ID": CLIENT_ID,
        "MCP_AUTH_CLIENT_SECRET": CLIENT_SECRET,
    }
    live = start_module_server(tmp_path_factory, "introspection", env=env)
    yield live
    live.stop()


def post_initialize(server, token: str) -> httpx2.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INIT_PARAMS}
    return httpx2.post(server.url, headers={**POST_HEADERS, "authorization": f"Bearer {token}"}, json=body, timeout=10)


def assert_refused(response: httpx2.Response, status: int, error: str, text: str) -> None:
    assert response.status_code == status, response.text
    assert f'error="{error}"' in response.headers["www-authenticate"]
    assert text in response.json()["error"]["message"]


def calculation_users(server) -> list[tuple[str]]:
    with sqlite3.connect(server.database_url.removeprefix("sqlite:///")) as db:
        return db.execute(
            "SELECT DISTINCT u.username FROM tools_app_calculation c JOIN auth_user u ON u.id = c.user_id"
        ).fetchall()


async def call_calculate(server, token: str) -> str:
    async with httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=30) as http:
        async with Client(streamable_http_client(server.url, http_client=http)) as client:
            assert client.protocol_version == "2026-07-28"
            result = await client.call_tool("calculate", {"a": 6, "b": 7, "op": "multiply"})
    return result.content[0].text


async def test_jwt_mode(jwt_server, authorization_server):
    document = httpx2.get(f"{jwt_server.base}/.well-known/oauth-protected-resource/mcp", timeout=10).json()
    assert document["authorization_servers"] == [ISSUER] and document["resource"] == jwt_server.url
    sign = authorization_server.sign
    assert await call_calculate(jwt_server, sign(aud=jwt_server.url)) == "6 multiply 7 = 42"
    assert calculation_users(jwt_server) == [("carol",)]  # the subject became a Django user
    assert_refused(post_initialize(jwt_server, sign(aud="https://other.example/mcp")), 401, "invalid_token", "resource")
    assert_refused(
        post_initialize(jwt_server, sign(aud=jwt_server.url, exp=int(time.time()) - 60)),
        401,
        "invalid_token",
        "expired",
    )
    assert_refused(
        post_initialize(jwt_server, sign(aud=jwt_server.url, iss="https://evil.example")),
        401,
        "invalid_token",
        "invalid",
    )
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert_refused(post_initialize(jwt_server, sign(stranger, aud=jwt_server.url)), 401, "invalid_token", "invalid")
    too_little = post_initialize(jwt_server, sign(aud=jwt_server.url, scope="profile"))
    assert_refused(too_little, 403, "insufficient_scope", "mcp")
    assert 'scope="mcp"' in too_little.headers["www-authenticate"]


async def test_introspection_mode(introspection_server, authorization_server):
    url, now = introspection_server.url, int(time.time())
    active = {"active": True, "iss": ISSUER, "sub": "dave", "scope": "mcp", "aud": [url], "exp": now + 300}
    authorization_server.introspected.update(
        {
            "good": active,
            "no-audience": {**active, "aud": ["https://other.example/mcp"]},
            "expired": {**active, "exp": now - 60},
            "other-issuer": {**active, "iss": "https://evil.example"},
            "no-scope": {**active, "scope": "profile"},
        }
    )
    assert await call_calculate(introspection_server, "good") == "6 multiply 7 = 42"
    assert calculation_users(introspection_server) == [("dave",)]
    assert {client_credentials(call) for call in authorization_server.calls} == {(CLIENT_ID, CLIENT_SECRET)}
    assert_refused(post_initialize(introspection_server, "unknown"), 401, "invalid_token", "not active")
    assert_refused(post_initialize(introspection_server, "no-audience"), 401, "invalid_token", "resource")
    assert_refused(post_initialize(introspection_server, "expired"), 401, "invalid_token", "expired")
    assert_refused(post_initialize(introspection_server, "other-issuer"), 401, "invalid_token", "issuer")
    assert_refused(post_initialize(introspection_server, "no-scope"), 403, "insufficient_scope", "mcp")
