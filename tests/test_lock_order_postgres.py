"""Lock order on PostgreSQL: a group commit and a session's cascade delete never wait on each other in a circle.

Django deletes a session's children (stream events, claims, ...) before the session's own row, in one
transaction (store.purge, the operator's purge_dead). A group commit that locked the session's row first and
then released a claim the delete already held would close the circle: PostgreSQL breaks it after a second by
aborting one side, failing a whole batch of unrelated producers or the operator's command. The group commit
runs the writes no stream reports (a claim's release) before it locks sessions, so it waits on the delete and
nothing waits on it.
"""

from __future__ import annotations

from .test_distributed import postgres  # noqa: F401  (fixture)
from .test_query_plans_postgres import manage

PURGE_DURING_A_RELEASE = r"""
import threading, time
import psycopg
from django.db import connection, connections
from django.utils.timezone import now
from sessions_app.models import McpSession, RequestClaim, StreamEvent
from sessions_app.store import claims, eventlog
from sessions_app.store.eventlog import NewEvent

K = StreamEvent.Kind
s = McpSession.objects.create(id="purged", protocol_version="2025-11-25", last_activity_at=now()).pk
eventlog._insert([NewEvent(s, "r1", K.PRIMING, None)])
RequestClaim.objects.create(session_id=s, request_key=claims.request_key(5), node="n1", created_at=now())
settings = connection.settings_dict
purge = psycopg.connect(host=settings["HOST"], port=settings["PORT"], user=settings["USER"], dbname=settings["NAME"])
purge.execute("SET deadlock_timeout = '200ms'")
# The cascade's order: the children first (the claim row is held from here on), the session last.
purge.execute("DELETE FROM sessions_app_streamevent WHERE session_id = %s", [s])
purge.execute("DELETE FROM sessions_app_requestclaim WHERE session_id = %s", [s])
outcome = {}

def group_commit():
    answer = NewEvent(s, "r1", K.RESPONSE, {"jsonrpc": "2.0", "id": 5, "result": {}})
    try:
        outcome["commit"] = eventlog._insert([answer], [claims.release_with_events(s, 5, "n1")], [None])
    except Exception as exc:
        outcome["commit"] = exc
    finally:
        connections.close_all()

thread = threading.Thread(target=group_commit)
thread.start()
time.sleep(0.5)  # the group commit is waiting for the claim row
try:
    purge.execute("DELETE FROM sessions_app_mcpsession WHERE id = %s", [s])
    purge.commit()
    outcome["purge"] = "committed"
except Exception as exc:
    outcome["purge"] = exc
thread.join(10)
print("purge:", type(outcome["purge"]).__name__, outcome["purge"])
print("commit:", type(outcome["commit"]).__name__, outcome["commit"])
"""


def test_a_group_commit_waits_for_a_session_purge_instead_of_deadlocking_with_it(postgres):  # noqa: F811
    manage(postgres.url, "migrate", "-v0")
    out = manage(postgres.url, "shell", "-c", PURGE_DURING_A_RELEASE)
    assert "deadlock" not in out.lower(), out
    assert "purge: str committed" in out, out
    # The session is gone when the group commit goes on: its answer has nowhere to go (a foreign key), and the
    # batch fails as it would after any delete, with nothing half stored.
    assert "commit: IntegrityError" in out, out
