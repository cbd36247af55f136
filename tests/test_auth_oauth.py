"""MCP_AUTH=oauth: the built-in authorization server and /mcp as its protected resource, on a live runmcp.

The official SDK client's own OAuth support (`OAuthClientProvider`) goes from the first 401 to
tool calls in both eras and through a refresh; raw HTTP checks each refusal, the session binding
and the permission-gated tool.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from mcp.shared.exceptions import MCPError

from .conftest import INIT_PARAMS, POST_HEADERS, start_module_server
from .oauth_flow import REDIRECT_URI, add_user, consent, token_for
from .sse import parse_text

# The lifetime of the access tokens of the server that lets them expire (short_lived_server): long enough
# for the SDK's first sessions on a loaded machine, so only the wait for expiry outlasts a token.
TOKEN_SECONDS = 15


def _oauth_server(tmp_path_factory, name: str, **env: str):
    env = {
        "MCP_AUTH": "oauth",
        "MCP_AUTH_PROTECT_METRICS": "true",
        "DJANGO_EXTRA_APPS": "tests.asking_app",  # a permission-gated prompt
        **env,
    }
    live = start_module_server(tmp_path_factory, name, env=env)
    add_user(live, "alice", "tools_app.use_advanced")
    add_user(live, "bob")
    return live


@pytest.fixture(scope="module")
def oauth_server(tmp_path_factory):
    """Tokens live an hour (the default): no test's token expires while it runs, however slow the machine."""
    live = _oauth_server(tmp_path_factory, "oauth")
    yield live
    live.stop()


@pytest.fixture(scope="module")
def short_lived_server(tmp_path_factory):
    live = _oauth_server(tmp_path_factory, "oauth_short", MCP_AUTH_TOKEN_SECONDS=str(TOKEN_SECONDS))
    yield live
    live.stop()


def expire(server, access_token: str) -> None:
    """Move a token's expiry into the past, as its lifetime running out would (django-oauth-toolkit finds a
    token by the SHA-256 of its value)."""
    checksum = hashlib.sha256(access_token.encode()).hexdigest()
    with sqlite3.connect(server.database_url.removeprefix("sqlite:///")) as db:
        changed = db.execute(
            "UPDATE oauth2_provider_accesstoken SET expires = '2000-01-01 00:00:00' WHERE token_checksum = ?",
            (checksum,),
        ).rowcount
    assert changed == 1


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: list[OAuthToken] = []
        self.received_at: list[float] = []  # time.monotonic() of each token's arrival
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens[-1] if self.tokens else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens.append(tokens)
        self.received_at.append(time.monotonic())

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class Browser:
    """The SDK's redirect and callback handlers: alice logs in and consents over HTTP."""

    def __init__(self, username: str) -> None:
        self.username = username
        self.authorization_urls: list[str] = []
        self.answer: dict[str, str] = {}

    async def redirect(self, url: str) -> None:
        self.authorization_urls.append(url)
        self.answer = await __import__("anyio").to_thread.run_sync(consent, url, self.username)

    async def callback(self) -> AuthorizationCodeResult:
        return AuthorizationCodeResult(
            code=self.answer["code"], state=self.answer.get("state"), iss=self.answer.get("iss")
        )


def stored_counts(server) -> tuple[int, int]:
    with sqlite3.connect(server.database_url.removeprefix("sqlite:///")) as db:
        sessions = db.execute("SELECT count(*) FROM sessions_app_mcpsession").fetchone()[0]
        events = db.execute("SELECT count(*) FROM sessions_app_streamevent").fetchone()[0]
    return sessions, events


async def test_sdk_client_oauth_end_to_end(short_lived_server):
    oauth_server = short_lived_server
    storage, browser, seen = MemoryStorage(), Browser("alice"), []

    async def log_request(request: httpx2.Request) -> None:
        body = request.content.decode(errors="replace") if request.method == "POST" else ""
        grant = parse_qs(body).get("grant_type", [""])[0] if "/o/token/" in str(request.url) else ""
        seen.append((request.method, urlsplit(str(request.url)).path, grant))

    async def log_response(response: httpx2.Response) -> None:
        seen.append(("->", response.status_code, response.headers.get("www-authenticate", "")))

    provider = OAuthClientProvider(
        oauth_server.url,
        OAuthClientMetadata(
            client_name="sdk test client",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage,
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
    )
    http = httpx2.AsyncClient(
        auth=provider, timeout=30, event_hooks={"request": [log_request], "response": [log_response]}
    )

    async with http:
        # Legacy (stateful) era: the first request meets the 401 and the whole flow runs.
        async with Client(streamable_http_client(oauth_server.url, http_client=http), mode="legacy") as client:
            result = await client.call_tool("calculate", {"a": 7, "b": 5, "op": "add"})
            assert [c.text for c in result.content] == ["7 add 5 = 12"]
        paths = [entry[1] for entry in seen if entry[0] in {"GET", "POST", "DELETE"}]
        assert paths[:5] == [
            "/mcp",
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-authorization-server",
            "/o/register/",
            "/o/token/",
        ], seen
        challenge = seen[1]
        assert challenge[:2] == ("->", 401)
        assert f'resource_metadata="{oauth_server.base}/.well-known/oauth-protected-resource/mcp"' in challenge[2]
        assert ("POST", "/o/token/", "authorization_code") in seen
        (authorization_url,) = browser.authorization_urls
        query = parse_qs(urlsplit(authorization_url).query)
        assert query["code_challenge_method"] == ["S256"]
        assert query["resource"] == [oauth_server.url]
        assert query["scope"] == ["mcp"]
        assert browser.answer["iss"] == oauth_server.base  # RFC 9207, checked by the SDK too
        assert storage.client_info is not None and storage.tokens[0].refresh_token

        # Modern (2026-07-28) era, same client registration and token: no second authorization.
        async with Client(streamable_http_client(oauth_server.url, http_client=http)) as client:
            assert client.protocol_version == "2026-07-28"
            result = await client.call_tool("calculate", {"a": 2, "b": 3, "op": "multiply"})
            assert [c.text for c in result.content] == ["2 multiply 3 = 6"]
        assert len(browser.authorization_urls) == 1

        # The access token expires; the SDK refreshes it (rotating the refresh token) before its next call.
        assert len(storage.tokens) == 1, "the token expired before the test meant it to: raise TOKEN_SECONDS"
        time.sleep(max(0.0, storage.received_at[-1] + TOKEN_SECONDS + 1 - time.monotonic()))
        first = storage.tokens[-1]
        async with Client(streamable_http_client(oauth_server.url, http_client=http), mode="legacy") as client:
            result = await client.call_tool("calculate", {"a": 1, "b": 1, "op": "subtract"})
            assert [c.text for c in result.content] == ["1 subtract 1 = 0"]
        assert ("POST", "/o/token/", "refresh_token") in seen
        assert storage.tokens[-1].access_token != first.access_token
        assert storage.tokens[-1].refresh_token != first.refresh_token
        assert len(browser.authorization_urls) == 1

    # The calculations are alice's.
    with sqlite3.connect(oauth_server.database_url.removeprefix("sqlite:///")) as db:
        users = db.execute(
            "SELECT DISTINCT u.username FROM tools_app_calculation c JOIN auth_user u ON u.id = c.user_id"
        ).fetchall()
    assert users == [("alice",)]


def challenge_of(server) -> str:
    return f'resource_metadata="{server.base}/.well-known/oauth-protected-resource/mcp"'


def test_metadata_documents(oauth_server):
    for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"):
        document = httpx2.get(oauth_server.base + path, timeout=10).json()
        assert document["resource"] == oauth_server.url
        assert document["authorization_servers"] == [oauth_server.base]
        assert document["scopes_supported"] == ["mcp"]
    server = httpx2.get(f"{oauth_server.base}/.well-known/oauth-authorization-server", timeout=10).json()
    assert server["issuer"] == oauth_server.base
    assert server["code_challenge_methods_supported"] == ["S256"]
    assert server["response_types_supported"] == ["code"]
    assert server["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert server["registration_endpoint"] == f"{oauth_server.base}/o/register/"
    assert server["authorization_response_iss_parameter_supported"] is True


def test_refused_requests_get_their_status_and_challenge_and_store_nothing(oauth_server):
    url, base = oauth_server.url, oauth_server.base
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INIT_PARAMS}
    modern = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/list",
        "params": {
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            }
        },
    }
    modern_headers = {**POST_HEADERS, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list"}
    before = stored_counts(oauth_server)

    def post(authorization: str | None, body=initialize, headers=POST_HEADERS, target=url) -> httpx2.Response:
        extra = {"authorization": authorization} if authorization is not None else {}
        return httpx2.post(target, headers={**headers, **extra}, json=body, timeout=10)

    def assert_refused(response: httpx2.Response, status: int, error: str | None, text: str = "") -> None:
        assert response.status_code == status, response.text
        value = response.headers["www-authenticate"]
        assert value.startswith("Bearer ") and challenge_of(oauth_server) in value and 'scope="mcp"' in value
        if error is None:
            assert "error=" not in value
        else:
            assert f'error="{error}"' in value
            assert response.json()["error"]["data"]["error"] == error
        assert text in response.text

    # No token: every method, both eras.
    assert_refused(post(None), 401, None, "Bearer token is required")
    assert_refused(post(None, modern, modern_headers), 401, None)
    assert_refused(httpx2.get(url, headers={"accept": "text/event-stream"}, timeout=10), 401, None)
    assert_refused(httpx2.delete(url, headers={"mcp-session-id": "0" * 32}, timeout=10), 401, None)
    assert_refused(post("Basic YWxpY2U6cHc="), 401, None)  # another scheme is no bearer credential
    # Malformed Authorization headers.
    for malformed in ("Bearer", "Bearer two tokens", "Bearer b@d!"):
        assert_refused(post(malformed), 400, "invalid_request")
    # Unknown token.
    assert_refused(post("Bearer no-such-token"), 401, "invalid_token", "unknown or was revoked")
    # A token for another resource (RFC 8707), and one for this server under another name.
    other = token_for(base, "alice", resource="https://other.example/mcp")["access_token"]
    assert_refused(post(f"Bearer {other}"), 401, "invalid_token", "not issued for this resource")
    renamed = token_for(base, "alice", resource=f"http://localhost:{oauth_server.port}/mcp")["access_token"]
    assert_refused(post(f"Bearer {renamed}"), 401, "invalid_token", "not issued for this resource")
    # A revoked token: good first (/metrics is protected too, and stores nothing), refused after.
    issued = token_for(base, "alice", resource=url)
    good = {"authorization": f"Bearer {issued['access_token']}"}
    assert httpx2.get(f"{base}/metrics", headers=good, timeout=10).status_code == 200
    assert httpx2.get(f"{base}/metrics", timeout=10).status_code == 401
    revoked = httpx2.post(
        f"{base}/o/revoke_token/",
        data={"token": issued["access_token"], "client_id": issued["client_id"]},
        timeout=10,
    )
    assert revoked.status_code == 200, revoked.text
    assert_refused(post(good["authorization"]), 401, "invalid_token", "unknown or was revoked")
    assert_refused(post(good["authorization"], modern, modern_headers), 401, "invalid_token")
    # An expired token.
    expiring = {"authorization": f"Bearer {token_for(base, 'bob', resource=url)['access_token']}"}
    assert httpx2.get(f"{base}/metrics", headers=expiring, timeout=10).status_code == 200
    expire(oauth_server, expiring["authorization"].removeprefix("Bearer "))
    assert_refused(post(expiring["authorization"]), 401, "invalid_token", "expired")
    # /health stays open; nothing was stored for any refused request.
    assert httpx2.get(f"{base}/health", timeout=10).status_code == 200
    assert stored_counts(oauth_server) == before


def bearer_client(token: str) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=30)


def test_a_session_is_bound_to_the_user_who_opened_it(oauth_server):
    url = oauth_server.url
    alice = {"authorization": f"Bearer {token_for(oauth_server.base, 'alice', resource=url)['access_token']}"}
    bob = {"authorization": f"Bearer {token_for(oauth_server.base, 'bob', resource=url)['access_token']}"}
    with httpx2.Client(headers=alice, timeout=10) as http:
        session_id = initialize_session(http, url)
    listing = {"jsonrpc": "2.0", "id": 5, "method": "tools/list"}
    common = {"mcp-session-id": session_id, "mcp-protocol-version": "2025-11-25"}
    refused = httpx2.post(url, headers={**POST_HEADERS, **common, **bob}, json=listing, timeout=10)
    assert refused.status_code == 404 and refused.json()["error"]["message"] == "Session not found"
    assert httpx2.get(url, headers={**common, **bob, "accept": "text/event-stream"}, timeout=10).status_code == 404
    assert httpx2.delete(url, headers={**common, **bob}, timeout=10).status_code == 404
    assert f"session {session_id} refused" in oauth_server.log()
    # Another token of alice's: the session is bound to the user, not to one token.
    alice = {"authorization": f"Bearer {token_for(oauth_server.base, 'alice', resource=url)['access_token']}"}
    served = httpx2.post(url, headers={**POST_HEADERS, **common, **alice}, json=listing, timeout=10)
    assert served.status_code == 200 and "calculate" in served.text
    with sqlite3.connect(oauth_server.database_url.removeprefix("sqlite:///")) as db:
        owner = db.execute(
            "SELECT u.username FROM sessions_app_mcpsession s JOIN auth_user u ON u.id = s.owner_id WHERE s.id = ?",
            (session_id,),
        ).fetchone()
    assert owner == ("alice",)


def initialize_session(http: httpx2.Client, url: str) -> str:
    response = http.post(
        url, headers=POST_HEADERS, json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT_PARAMS}
    )
    assert response.status_code == 200, response.text
    return response.headers["mcp-session-id"]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_permission_gated_tool(oauth_server, mode):
    url = oauth_server.url
    for username, allowed in (("alice", True), ("bob", False)):
        token = token_for(oauth_server.base, username, resource=url)["access_token"]
        async with bearer_client(token) as http:
            async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
                assert client.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")
                names = [tool.name for tool in (await client.list_tools()).tools]
                assert "calculate" in names
                assert ("advanced_calculate" in names) is allowed, (username, names)
                arguments = {"operation": "factorial", "value": 5}
                if allowed:
                    result = await client.call_tool("advanced_calculate", arguments)
                    assert [c.text for c in result.content] == ["factorial(5) = 120"]
                else:
                    with pytest.raises(MCPError) as refused:
                        await client.call_tool("advanced_calculate", arguments)
                    assert refused.value.code == -32005
                    assert "tools_app.use_advanced" in refused.value.error.message


def test_a_request_state_is_bound_to_the_caller(oauth_server):
    """A 2026-07-28 round's requestState, sealed for alice, does not continue bob's call."""
    url = oauth_server.url
    envelope = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
    }
    arguments = {"a": 1, "b": 2, "op": "add"}
    params = {"name": "solve_with_confirmation", "arguments": arguments, "_meta": envelope}
    routing = {"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "solve_with_confirmation"}

    def call(username: str, rid: int, **extra) -> httpx2.Response:
        token = token_for(oauth_server.base, username, resource=url)["access_token"]
        headers = {**POST_HEADERS, **routing, "accept": "application/json", "authorization": f"Bearer {token}"}
        body = {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {**params, **extra}}
        return httpx2.post(url, headers=headers, json=body, timeout=10)

    first = call("alice", 1).json()["result"]
    (key,) = first["inputRequests"]
    retry = {"inputResponses": {key: {"action": "accept", "content": {}}}, "requestState": first["requestState"]}
    stolen = call("bob", 2, **retry)
    assert stolen.status_code == 400
    assert stolen.json()["error"]["data"] == {"reason": "request_state_mismatch"}
    assert call("alice", 3, **retry).json()["result"]["content"][0]["text"] == "1 add 2 = 3"


def test_a_permission_gated_prompt_and_its_completions(oauth_server):
    url = oauth_server.url
    outcomes = {}
    for username in ("alice", "bob"):
        token = token_for(oauth_server.base, username, resource=url)["access_token"]
        with httpx2.Client(headers={"authorization": f"Bearer {token}"}, timeout=10) as http:
            session_id = initialize_session(http, url)
            headers = {**POST_HEADERS, "mcp-session-id": session_id, "mcp-protocol-version": "2025-11-25"}

            def rpc(rid, method, params=None, http=http, headers=headers):
                body = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}
                return [e.message for e in parse_text(http.post(url, headers=headers, json=body).text) if e.data][-1]

            listed = [p["name"] for p in rpc(1, "prompts/list")["result"]["prompts"]]
            got = rpc(2, "prompts/get", {"name": "advanced_lesson", "arguments": {"topic": "algebra"}})
            ref = {"type": "ref/prompt", "name": "advanced_lesson"}
            completed = rpc(3, "completion/complete", {"ref": ref, "argument": {"name": "topic", "value": "a"}})
            outcomes[username] = (listed, got, completed)
    listed, got, completed = outcomes["alice"]
    assert "advanced_lesson" in listed
    assert got["result"]["messages"][0]["content"]["text"] == "Teach me algebra, advanced level."
    assert completed["result"]["completion"]["values"] == ["algebra", "analysis"]
    listed, got, completed = outcomes["bob"]
    assert "advanced_lesson" not in listed
    assert got["error"]["code"] == completed["error"]["code"] == -32005
