"""Request ids in use, cluster-wide: two POSTs with one id in one session never both run.

Each node also keeps its own claims (runtime.inflight); this row makes the
claim hold across nodes. A node's claims are released when its responses are
ready; those of a node whose lease lapsed are taken over.

Claims and releases ride in the event log's group commit (eventlog.in_commit), with no
savepoint (a conflict is caught in one the claim opens itself): no transaction or thread
hop of their own. A batch's claims are one INSERT, its releases one DELETE each, sent together (commit_ops.Merged).
A release queued before a response's events is committed with them or before them, so the id
is free cluster-wide by the time the client can read the answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils.timezone import now

from ..models import NodeHeartbeat, RequestClaim
from . import eventlog
from .commit_ops import Bare, Kind, Merged, Refused


def request_key(request_id: Any) -> str:
    return hashlib.sha256(json.dumps(request_id).encode()).hexdigest()


def _claim_of(session_id: str, request_id: Any, node_id: str) -> tuple[str, str, str]:
    """What a merged claim or release operates on: (session, request key, node)."""
    return session_id, request_key(request_id), node_id


@cache
def _columns() -> tuple[str, str, str, str, str]:
    """The table and its columns, quoted for this database (the claim statements are written once)."""
    meta, quote = RequestClaim._meta, connection.ops.quote_name
    names = [meta.get_field(name).column for name in ("session", "request_key", "node", "created_at")]
    return quote(meta.db_table), *(quote(name) for name in names)


def _insert(session_id: str, keys: list[str], node_id: str) -> None:
    """One INSERT of the claims (raises IntegrityError if any is taken); plain SQL, on every request's path."""
    table, session, key, node, created = _columns()
    stamp = connection.ops.adapt_datetimefield_value(now())
    values = ", ".join(["(%s, %s, %s, %s)"] * len(keys))
    params = [value for k in keys for value in (session_id, k, node_id, stamp)]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({session}, {key}, {node}, {created}) VALUES {values}", params)


def _claim(session_id: str, request_ids: list[Any], node_id: str) -> bool:
    """Insert the claims of a batch POST; on a conflict, take the leftovers over (_take_over).

    Whatever may conflict runs in a savepoint of its own, so the operation needs none (commit_ops.Bare).
    """
    keys = [request_key(rid) for rid in request_ids]
    try:
        with transaction.atomic():
            _insert(session_id, keys, node_id)
        return True
    except IntegrityError:
        return _take_over(session_id, keys, node_id)


def _take_over(session_id: str, keys: list[str], node_id: str) -> bool:
    """Claims that were taken: this node's own leftovers (its local claims said free) and those of dead nodes
    go, once, and the claims are inserted; False if a live node holds one."""
    cutoff = datetime.now(UTC) - timedelta(seconds=settings.MCP_NODE_LEASE_SECONDS)
    others_alive = NodeHeartbeat.objects.filter(last_seen__gte=cutoff).exclude(node_id=node_id).values("node_id")
    try:
        with transaction.atomic():
            RequestClaim.objects.filter(session_id=session_id, request_key__in=keys).exclude(
                node__in=others_alive
            ).delete()
            _insert(session_id, keys, node_id)
    except IntegrityError:
        return False
    return True


CHUNK = 200  # claims per statement: 4 parameters each, well inside SQLite's limit


def _claim_each(claims: list[tuple[str, str, str]]) -> list[bool]:
    """(session_id, key, node_id) claims of single POSTs, one INSERT ... ON CONFLICT DO NOTHING for all;
    those taken go through _take_over one by one. A conflict raises nothing, so no savepoint."""
    table, session, column, node, created = _columns()
    stamp = connection.ops.adapt_datetimefield_value(now())
    inserted: set[tuple[str, str]] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(claims), CHUNK):
            chunk = claims[start : start + CHUNK]
            cursor.execute(
                f"INSERT INTO {table} ({session}, {column}, {node}, {created})"
                f" VALUES {', '.join(['(%s, %s, %s, %s)'] * len(chunk))}"
                f" ON CONFLICT DO NOTHING RETURNING {session}, {column}",
                [value for s, k, n in chunk for value in (s, k, n, stamp)],
            )
            inserted.update((s, k) for s, k in cursor.fetchall())
    return [(s, k) in inserted or _take_over(s, [k], n) for s, k, n in claims]


def _release_each(releases: list[tuple[str, str, str]]) -> list[None]:
    """(session_id, key, node_id) claims to drop: one DELETE each, sent together (executemany; psycopg pipelines
    them). Not one DELETE with ORs of the pairs: PostgreSQL plans that by the session alone and walks every dead
    claim of a busy session (18 ms after 50,000 requests), where each of these is found by (session, key)
    (tests/test_query_plans_postgres.py)."""
    table, session, key, node, _ = _columns()
    statement = f"DELETE FROM {table} WHERE {session} = %s AND {key} = %s AND {node} = %s"
    with connection.cursor() as cursor:
        if len(releases) == 1:  # psycopg's executemany sets up a pipeline, which costs more than one statement
            cursor.execute(statement, releases[0])
        else:
            cursor.executemany(statement, releases)
    return [None] * len(releases)


class IdInUse(Refused):
    """A request id claimed with its stream's first events is held by a request running elsewhere."""


def _claim_each_or_refuse(claims: list[tuple[str, str, str]]) -> list[bool]:
    """Claims taken with the events they report (with_first_events): one that is taken fails its commit."""
    outcomes = _claim_each(claims)
    taken = frozenset(claim for claim, claimed in zip(claims, outcomes, strict=True) if not claimed)
    if taken:
        raise IdInUse("a request id is already in use in this session", CLAIMS_WITH_EVENTS, taken)
    return outcomes


# A request id may be released and claimed again within one batch: releases run first. A claim taken
# with its stream's first events is released after it when they hold the answer (RELEASES_AFTER_CLAIMS).
RELEASES = Kind("claims.release", 0, _release_each)
CLAIMS = Kind("claims.claim", 1, _claim_each)
CLAIMS_WITH_EVENTS = Kind("claims.claim_with_events", 1, _claim_each_or_refuse)
RELEASES_AFTER_CLAIMS = Kind("claims.release_after_claim", 3, _release_each)


async def aclaim(session_id: str, request_ids: list[Any], node_id: str) -> bool:
    if len(request_ids) == 1:  # one request, the usual POST: merged with the batch's others
        return await eventlog.in_commit(Merged(CLAIMS, _claim_of(session_id, request_ids[0], node_id)))
    return await eventlog.in_commit(Bare(partial(_claim, session_id, request_ids, node_id)))


async def arelease(session_id: str, request_id: Any, node_id: str) -> None:
    await eventlog.in_commit(release_with_events(session_id, request_id, node_id))


def release_before_next_commit(session_id: str, request_id: Any, node_id: str) -> asyncio.Future:
    """Queue the release without waiting: events appended after it commit with it or after it."""
    return eventlog.in_commit_soon(release_with_events(session_id, request_id, node_id))


def with_first_events(session_id: str, request_id: Any, node_id: str, *, answered: bool) -> list[Merged]:
    """The claim of a request whose method has no effect but what it stores (methods.effects_stored): taken in
    the commit of its stream's first events, which fails (IdInUse) if a request running elsewhere holds the
    id. `answered`: those events hold its answer, so the claim is released in the same commit (after it
    was taken: no row is left, and no commit is spent on the claim alone)."""
    claim = _claim_of(session_id, request_id, node_id)
    return [Merged(CLAIMS_WITH_EVENTS, claim)] + ([Merged(RELEASES_AFTER_CLAIMS, claim)] if answered else [])


def release_with_events(session_id: str, request_id: Any, node_id: str) -> Merged:
    """The release of a claim committed earlier, as an operation (in the commit of the answer's events, or
    queued on its own by arelease and release_before_next_commit)."""
    return Merged(RELEASES, _claim_of(session_id, request_id, node_id))
