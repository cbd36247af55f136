"""A node on PostgreSQL whose connections are dropped, and whose database goes away: tool calls
survive dropped connections (checked on checkout), and an outage is a JSON-RPC error with no driver
text, never a tool result. Real services: a database of its own on the machine's PostgreSQL."""

from __future__ import annotations

import time

import httpx2
import pytest

from .conftest import LiveServer, initialize, session_headers
from .services import PG_ADMIN_URL, PostgresDatabase

DRIVER_WORDS = ("terminat", "psycopg", "administrator", "server closed", "not currently accepting", "OperationalError")


@pytest.fixture(scope="module")
def postgres():
    database = PostgresDatabase().create()
    yield database
    database.drop()


@pytest.fixture(scope="module")
def node(tmp_path_factory, postgres):
    tmp = tmp_path_factory.mktemp("pg-node")
    # JSON responses: nothing is stored for a reply, so an outage answer needs no database.
    live = LiveServer(postgres.url, extra_args=["--json-response"], env={"DB_POOL_TIMEOUT": "2"})
    live.start(tmp / "server.log")
    yield live
    live.stop()


def admin(sql: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as db:
        cursor = db.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def terminate_backends(database: PostgresDatabase) -> None:
    """Terminate every backend of the node's database and wait until those processes are gone."""
    rows = admin(
        "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (database.name,),
    )
    assert rows, "the node holds no connection to terminate"
    pids = [pid for pid, _ in rows]
    deadline = time.monotonic() + 10
    while admin("SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)):
        assert time.monotonic() < deadline, "terminated backends did not exit"
        time.sleep(0.05)


def calculate(http: httpx2.Client, node: LiveServer, session_id: str, request_id: int) -> httpx2.Response:
    body = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": "calculate", "arguments": {"a": request_id, "b": 1, "op": "add"}},
    }
    return http.post(node.url, headers=session_headers(session_id), json=body, timeout=20)


def test_calls_succeed_after_the_nodes_connections_are_terminated(node, postgres):
    with httpx2.Client(timeout=20) as http:
        session_id = initialize(http, node.url)
        assert calculate(http, node, session_id, 100).json()["result"]["isError"] is False
        terminate_backends(postgres)
        for i in range(8):
            response = calculate(http, node, session_id, i)
            assert response.status_code == 200, response.text
            result = response.json().get("result")
            assert result is not None and result["isError"] is False, response.text
            assert result["content"][0]["text"] == f"{i} add 1 = {i + 1}"
        assert httpx2.get(f"{node.base}/health", timeout=10).json()["database"] == "ok"


def test_a_call_during_an_outage_is_a_json_rpc_error_without_driver_text(node, postgres):
    with httpx2.Client(timeout=20) as http:
        session_id = initialize(http, node.url)
        admin(f'ALTER DATABASE "{postgres.name}" ALLOW_CONNECTIONS false')
        try:
            terminate_backends(postgres)
            response = calculate(http, node, session_id, 7)
            read = {"jsonrpc": "2.0", "id": 9, "method": "resources/read", "params": {"uri": "calculator://stats"}}
            resource = http.post(node.url, headers=session_headers(session_id), json=read, timeout=20)
        finally:
            admin(f'ALTER DATABASE "{postgres.name}" ALLOW_CONNECTIONS true')
        assert response.status_code in (200, 503), response.text
        body = response.json()
        assert "result" not in body, f"an outage became a tool result: {body}"
        assert body["error"] == {"code": -32603, "message": "Service Unavailable: the database is unreachable"}
        assert not any(word.lower() in response.text.lower() for word in DRIVER_WORDS), response.text
        # A sibling: resources/read (any method) answers an outage the same way.
        assert resource.json()["error"] == body["error"], resource.text
        # Service resumes by itself.
        deadline = time.monotonic() + 20
        while True:
            response = calculate(http, node, session_id, 8)
            if response.status_code == 200 and "result" in response.json() or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert response.json()["result"]["content"][0]["text"] == "8 add 1 = 9", response.text
