"""Query plans of the per-request statements on SQLite: each is answered from an index that stays small, never
by walking every event of a session (a long session's GET stream holds one row per notification).

SQLite uses a partial index only when the query's WHERE repeats the index's condition term for term, so
these pin the wording, not just the result: a set of kinds in another order made the stream-end check walk
the whole GET stream on every group commit (4 ms per batch after 7,000 notifications).
"""

from __future__ import annotations

import pytest
from django.db import connection

from sessions_app.models import StreamEvent
from sessions_app.store import event_reads, event_rows

pytestmark = pytest.mark.django_db


def plan(sql: str, params: list) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return " / ".join(row[-1] for row in cursor.fetchall())


def test_the_ended_check_of_a_group_commit_reads_the_one_end_per_stream_index():
    sql = event_rows._ended_statement().format(sessions="%s", streams="%s, %s")
    assert "USING INDEX one_end_per_stream (session_id=? AND stream=?)" in plan(sql, ["s", "g", "r1"])


def test_is_finished_asks_the_same_index():
    # The ORM would bind the kinds as parameters, which SQLite cannot match against the index's condition.
    query = StreamEvent.objects.filter(session_id="s", stream="g", kind__in=StreamEvent.TERMINAL_KINDS)
    assert "one_end_per_stream" not in query.explain()
    assert event_reads._is_finished("s", "g") is False


def test_the_ended_check_finds_ended_streams_among_many_notifications():
    from django.utils.timezone import now

    from sessions_app.models import McpSession

    session = McpSession.objects.create(id="s1", protocol_version="2025-11-25", last_activity_at=now())
    rows = [("s1", "g", "notification", {"n": n}) for n in range(50)]
    rows += [("s1", "r1", "priming", None), ("s1", "r1", "response", {}), ("s1", "r2", "priming", None)]
    event_rows.insert(rows)
    assert event_rows.ended({("s1", "g"), ("s1", "r1"), ("s1", "r2")}) == {("s1", "r1")}
    assert event_reads._is_finished("s1", "r1") and not event_reads._is_finished("s1", "r2")
    assert session.events.count() == 53
