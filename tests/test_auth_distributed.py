"""Session binding across two nodes on PostgreSQL and Redis, with the built-in authorization server.

Both nodes serve one public resource (MCP_RESOURCE_URL, as behind a load balancer): a session
that alice opened on node a is served to alice on node b and refused (404) to bob there.
"""

from __future__ import annotations

import signal

import httpx2
import pytest

from .conftest import INIT_PARAMS, POST_HEADERS, LiveServer
from .oauth_flow import add_user, token_for
from .services import PostgresDatabase, RedisServer


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auth_cluster")
    redis = RedisServer(tmp).start()
    database = PostgresDatabase().create()
    a = LiveServer(database.url)
    b = LiveServer(database.url, extra_args=["--skip-migrate"])
    env = {
        "USE_REDIS": "true",
        "REDIS_URL": redis.url,
        "MCP_AUTH": "oauth",
        "MCP_RESOURCE_URL": a.url,
        "MCP_AUTH_ISSUER": a.base,
    }
    a.env, b.env = dict(env), dict(env)
    started = []
    try:
        started.append(a.start(tmp / "a.log"))
        started.append(b.start(tmp / "b.log"))
        add_user(a, "alice")
        add_user(a, "bob")
        yield a, b
    finally:
        for node in started:
            node.stop(signal.SIGKILL)
        database.drop()
        redis.stop()


def test_a_session_opened_on_one_node_is_refused_to_another_user_on_the_other(nodes):
    a, b = nodes
    alice = {"authorization": f"Bearer {token_for(a.base, 'alice', resource=a.url)['access_token']}"}
    bob = {"authorization": f"Bearer {token_for(a.base, 'bob', resource=a.url)['access_token']}"}
    opened = httpx2.post(
        a.url,
        headers={**POST_HEADERS, **alice},
        json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT_PARAMS},
        timeout=10,
    )
    assert opened.status_code == 200, opened.text
    session = {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}

    refused = httpx2.post(b.url, headers={**POST_HEADERS, **session, **bob}, json=listing, timeout=10)
    assert refused.status_code == 404, refused.text
    assert refused.json()["error"]["message"] == "Session not found"
    stream = httpx2.get(b.url, headers={**session, **bob, "accept": "text/event-stream"}, timeout=10)
    assert stream.status_code == 404
    assert f"session {session['mcp-session-id']} refused" in b.log()

    served = httpx2.post(b.url, headers={**POST_HEADERS, **session, **alice}, json=listing, timeout=10)
    assert served.status_code == 200 and "calculate" in served.text
    ended = httpx2.delete(b.url, headers={**session, **bob}, timeout=10)
    assert ended.status_code == 404  # bob cannot end alice's session either
    assert httpx2.delete(b.url, headers={**session, **alice}, timeout=10).status_code == 204
