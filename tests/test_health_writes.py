"""/health reports whether the database takes writes, within a bounded time, not only whether it reads."""

from __future__ import annotations

import sqlite3
import time

import httpx2


def wait_for_status(url: str, status: int, deadline_seconds: float) -> tuple[httpx2.Response, float]:
    started = time.monotonic()
    deadline = started + deadline_seconds
    while True:
        response = httpx2.get(url, timeout=deadline_seconds)
        if response.status_code == status or time.monotonic() > deadline:
            return response, time.monotonic() - started
        time.sleep(0.2)


def test_health_is_503_while_sqlite_is_write_locked_and_200_after(server):
    health = f"{server.base}/health"
    assert httpx2.get(health, timeout=10).status_code == 200
    locker = sqlite3.connect(server.database_url.removeprefix("sqlite:///"), isolation_level=None, timeout=10)
    try:
        locker.execute("BEGIN IMMEDIATE")  # the write lock every writer needs; reads still succeed
        started = time.monotonic()
        response = httpx2.get(health, timeout=15)
        took = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.json()["database"] == "down" and response.json()["status"] == "error"
        assert took < 8, f"/health took {took:.1f} s while the database was locked"
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    response, _ = wait_for_status(health, 200, 10)
    assert response.status_code == 200, response.text
    assert response.json()["database"] == "ok"
