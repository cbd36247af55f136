"""The group-commit writer keeps its database connection from one batch to the next.

Every other ORM call goes through `database_sync_to_async`, which hands the
connection back to the pool after the call, and the pool checks a connection
with a round trip (an empty query) as it lends it. For the writer, which runs
a transaction per batch all day long, that check was a round trip per commit
on the one thread every request waits on.

A held connection is checked without a round trip instead. A PostgreSQL
server that closes a connection (a restart, `pg_terminate_backend`, an idle
timeout) sends its last words and a FIN; an idle, healthy connection has
nothing to read. So a readable socket, or a connection psycopg already calls
broken, is given back and the batch borrows a fresh, pool-checked one. What
no check can see ahead (a connection that dies while the batch runs) fails the
batch as it did before, and the connection is given back then too.

A connection is held at most HOLD_SECONDS, so the pool's own rules (its
lifetime, its idle limit) still apply to it.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from typing import Any

from django.db import connection

HOLD_SECONDS = 60.0


def run_held(fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)` (sync ORM code) on this context's connection, kept open afterwards."""
    give_back_if_unfit()
    try:
        result = fn(*args)
    except BaseException:
        _give_back()  # the next batch starts on a fresh connection
        raise
    raw = connection.connection
    if raw is not None and _held_since(raw) is None:
        connection.held = (id(raw), time.monotonic())  # on this context's connection wrapper
    return result


def give_back_if_unfit() -> None:
    """Close this context's connection (back to the pool) if it is closed by the server, or held too long."""
    raw = connection.connection
    if raw is None or connection.vendor != "postgresql":
        return
    since = _held_since(raw)
    too_long = since is not None and time.monotonic() - since > HOLD_SECONDS
    if raw.closed or raw.broken or too_long or _readable(raw.fileno()):
        _give_back()


def _give_back() -> None:
    connection.held = None
    connection.close()


def _held_since(raw: Any) -> float | None:
    held = getattr(connection, "held", None)
    return held[1] if held is not None and held[0] == id(raw) else None


def _readable(fd: int) -> bool:
    """Bytes (or EOF) waiting on an idle connection's socket: the server has closed it."""
    try:
        ready, _, _ = select.select([fd], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(ready)
