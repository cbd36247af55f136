"""The group-commit writer keeps its PostgreSQL connection between batches (store.held_connection).

Borrowing from the pool for every batch cost a round trip (the pool's check) per commit on the thread every
request waits on. A held connection that the server closed is noticed without one (its socket turns
readable) and replaced before the batch runs, so a terminated backend fails nothing.
"""

from __future__ import annotations

from .services import PG_ADMIN_URL
from .test_distributed import postgres  # noqa: F401  (fixture)
from .test_query_plans_postgres import manage

WRITER = r"""
import asyncio, time
import psycopg
from django.db import connection
from django.utils.timezone import now
from sessions_app.models import McpSession, StreamEvent
from sessions_app.store import eventlog
from sessions_app.store.commit_ops import Bare
from sessions_app.store.eventlog import NewEvent

McpSession.objects.create(id="s1", protocol_version="2025-11-25", last_activity_at=now())
connection.close()


def backend_pid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def event(n):
    return NewEvent("s1", "g", StreamEvent.Kind.NOTIFICATION, {"jsonrpc": "2.0", "method": f"m{n}"})


async def main():
    await eventlog.append([event(0)])
    pool = connection.pool
    before = pool.get_stats().get("requests_num", 0)
    for n in range(1, 21):
        await eventlog.append([event(n)])
    print("borrowed", pool.get_stats().get("requests_num", 0) - before)
    held = await eventlog.in_commit(Bare(backend_pid))
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [held])
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [held]).fetchone():
            time.sleep(0.02)
    (stored,) = await eventlog.append([event(21)])
    print("stored after termination", stored is not None)
    print("new backend", await eventlog.in_commit(Bare(backend_pid)) != held)


asyncio.run(main())
print("events", StreamEvent.objects.filter(session_id="s1").count())
"""


def test_the_writer_holds_its_connection_and_replaces_one_the_server_closed(postgres):  # noqa: F811
    manage(postgres.url, "migrate", "-v0")
    out = manage(postgres.url, "shell", "-c", WRITER.replace("ADMIN_URL", repr(PG_ADMIN_URL)))
    assert "borrowed 0" in out, out  # 20 batches, no connection borrowed (nor checked) from the pool
    assert "stored after termination True" in out, out
    assert "new backend True" in out, out
    assert "events 22" in out, out
