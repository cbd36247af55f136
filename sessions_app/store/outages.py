"""Is a dependency down? Tells an outage (answer 503, retry later) from a bug (500), and probes for /health."""

from __future__ import annotations

from django.core.cache import cache as django_cache
from django.db import DatabaseError, connection, transaction
from psycopg_pool import PoolTimeout
from redis.exceptions import RedisError

from ..models import NodeHeartbeat
from .cache import cache

# How long a /health probe waits for a database lock before it calls the database down.
PROBE_TIMEOUT_SECONDS = 2

# Errors that mean "the database did not answer"; integrity and programming errors are our bugs.
_DATABASE_OUTAGES = frozenset({"OperationalError", "InterfaceError", "PoolTimeout"})


def dependency_down(exc: BaseException) -> str | None:
    """'the database' or 'Redis' when `exc` says that dependency is unreachable, else None."""
    if isinstance(exc, DatabaseError | PoolTimeout):
        return "the database" if type(exc).__name__ in _DATABASE_OUTAGES else None
    if isinstance(exc, RedisError) or (isinstance(exc, ConnectionError) and cache.remote):
        return "Redis"
    return None


def database_ok() -> bool:
    """Whether the database takes writes now: a write lock (SQLite) or a write (PostgreSQL), rolled back.

    A read would pass while SQLite is write-locked or PostgreSQL is read-only. The probe waits at most
    `PROBE_TIMEOUT_SECONDS` for a lock, so /health answers "down" instead of hanging.
    """
    try:
        if connection.vendor == "sqlite":
            _sqlite_write_probe()
        else:
            _write_probe()
        return True
    except Exception:
        return False
    finally:
        connection.close_if_unusable_or_obsolete()


def _sqlite_write_probe() -> None:
    connection.ensure_connection()
    raw = connection.connection  # the sqlite3 connection, in autocommit mode (no implicit BEGIN)
    (busy,) = raw.execute("PRAGMA busy_timeout").fetchone()
    raw.execute(f"PRAGMA busy_timeout = {int(PROBE_TIMEOUT_SECONDS * 1000)}")
    try:
        raw.execute("BEGIN IMMEDIATE")  # takes the write lock, as any writer must
        raw.execute("ROLLBACK")
    finally:
        raw.execute(f"PRAGMA busy_timeout = {int(busy)}")


def _write_probe() -> None:
    table = connection.ops.quote_name(NodeHeartbeat._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        timeout = f"{int(PROBE_TIMEOUT_SECONDS * 1000)}ms"
        cursor.execute(f"SET LOCAL lock_timeout = '{timeout}'")
        cursor.execute(f"SET LOCAL statement_timeout = '{timeout}'")
        # Refused in a read-only transaction or on a standby; touches no row; rolled back below.
        cursor.execute(f"UPDATE {table} SET pid = pid WHERE node_id = %s", ["-health-probe-"])
        transaction.set_rollback(True)


def redis_ok() -> bool:
    try:
        client = django_cache.client.get_client(write=True)  # django-redis
        return bool(client.ping())
    except Exception:
        return False
