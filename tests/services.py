"""Real Redis and PostgreSQL for the distributed-mode tests.

Each test module gets its own redis-server process (so a test may restart it)
and its own PostgreSQL database on the machine's server. When a service cannot
be had, the tests fail under CI (CI is set) and are skipped elsewhere.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get("MCPSITE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"CI needs this service: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A private redis-server on a free port, keeping nothing on disk."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server is not installed")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.ping():
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class PostgresDatabase:
    """A database of its own on the machine's PostgreSQL, dropped afterwards."""

    def __init__(self):
        self.name = f"mcpsite_test_{uuid.uuid4().hex[:10]}"

    def _admin(self):
        import psycopg

        try:
            return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            unavailable(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")

    @property
    def url(self) -> str:
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        return f"{base}/{self.name}"

    def create(self) -> PostgresDatabase:
        with self._admin() as db:
            db.execute(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        with self._admin() as db:
            db.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def connections(self) -> int:
        """Open server connections to this database (pg_stat_activity)."""
        with self._admin() as db:
            row = db.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (self.name,)).fetchone()
        return row[0]

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as db:
            return db.execute(sql, params).fetchall()
