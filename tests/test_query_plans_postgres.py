"""PostgreSQL's plan for a claim's release after heavy churn: by the session and the key together.

A busy session inserts and deletes a claim per request; until vacuum, its dead claims stay in every index. With an
index on the session alone, PostgreSQL looked releases up by the session and walked them all (18 ms a DELETE after
50,000 requests). The claims' only index on the session is one_claim_per_request_id (session, key).
"""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import ROOT
from .test_distributed import postgres  # noqa: F401  (fixture)

CHURN = r"""
from django.db import connection, transaction
from django.utils.timezone import now
from sessions_app.models import McpSession
from sessions_app.store import claims
McpSession.objects.create(id="busy", protocol_version="2025-11-25", last_activity_at=now())
for start in range(0, 20000, 500):
    batch = [("busy", claims.request_key(i), "n1") for i in range(start, start + 500)]
    with transaction.atomic():
        assert all(claims._claim_each(batch))
    with transaction.atomic():
        claims._release_each(batch)
assert claims._claim_each([("busy", claims.request_key("live"), "n1")]) == [True]
with connection.cursor() as cursor:
    cursor.execute("ANALYZE sessions_app_requestclaim")
    table, session, key, node, _ = claims._columns()
    cursor.execute(
        f"EXPLAIN DELETE FROM {table} WHERE {session} = %s AND {key} = %s AND {node} = %s",
        ["busy", claims.request_key("live"), "n1"],
    )
    print("\n".join(row[0] for row in cursor.fetchall()))
"""


def manage(database_url: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_release_after_heavy_churn_is_found_by_session_and_key(postgres):  # noqa: F811
    manage(postgres.url, "migrate", "-v0")
    plan = manage(postgres.url, "shell", "-c", CHURN)
    assert "one_claim_per_request_id" in plan, plan
    assert "request_key" in plan.split("Index Cond:", 1)[1].splitlines()[0], plan
