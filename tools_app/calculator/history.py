"""Calculation history in the database: recording, reading, statistics."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from channels.db import database_sync_to_async
from django.db.models import Count

from sessions_app.models import McpSession
from sessions_app.runtime import notifications
from sessions_app.runtime.lease import lease
from sessions_app.runtime.publish import publish_stored
from sessions_app.runtime.tasks import TaskSet
from sessions_app.store import answer_writes, eventlog, handover, plain_insert, subscriptions
from sessions_app.store.answer_writes import Deferred
from sessions_app.store.commit_ops import Kind, Merged
from sessions_app.store.eventlog import StoredEvent

from .arithmetic import plain
from .models import Calculation

logger = logging.getLogger(__name__)

HISTORY_LIMIT = 50  # the reference's ring: resources show a session's last 50
HISTORY_URI = "calculator://history"
STATS_URI = "calculator://stats"


@dataclass
class Entry:
    operation: str
    inputs: list[float]
    result: float
    expression: str


def _changes(session_id: str | None) -> list[tuple[str, str | None]]:
    """The resources a calculation changes: the stats everyone reads, and the session's own history."""
    return [(STATS_URI, None)] if session_id is None else [(HISTORY_URI, session_id), (STATS_URI, None)]


@dataclass(frozen=True, slots=True)
class _Recording:
    session_id: str | None
    entries: list[Entry]
    user_id: int | None
    notify: bool  # store the notifications it causes (not on a node whose lease lapsed)


def _record_all(recordings: list[_Recording]) -> list[tuple[list[Calculation], list[tuple[str, StoredEvent]]]]:
    """A batch's calculations: one INSERT for every row, one subscriber lookup for every change, and the
    notifications they cause handed to the batch's event INSERT (handover.store_in_commit)."""
    rows = [
        [
            Calculation(
                session_id=r.session_id,
                user_id=r.user_id,
                operation=e.operation,
                inputs=[plain(x) for x in e.inputs],
                result=e.result,
                expression=e.expression,
            )
            for e in r.entries
        ]
        for r in recordings
    ]
    plain_insert.insert([row for own in rows for row in own])  # on every calculation's path: no query compiler
    changes = list(dict.fromkeys(change for r in recordings if r.notify for change in _changes(r.session_id)))
    found = dict(zip(changes, subscriptions.subscribers_now(changes), strict=True)) if changes else {}
    outcomes = []
    for recording, own in zip(recordings, rows, strict=True):
        events: list[tuple[str, StoredEvent]] = []
        if recording.notify:
            mine = _changes(recording.session_id)
            notes = notifications.change_events(
                mine, [found[change] for change in mine], list_changed_for=recording.session_id
            )
            events = handover.store_in_commit(notes)
        outcomes.append((own, events))
    return outcomes


RECORDS = Kind("calculator.record", 2, _record_all)


async def record(session_id: str | None, entries: list[Entry], *, user_id: int | None = None) -> None:
    """Store calculations (a stateless request's with no session) and who made them (None: /mcp is
    open), with the notifications they cause, then publish those in the background.

    In a request whose answer is stored (an SSE response), they are stored with that answer, in its
    transaction (store.answer_writes): the answer is never stored without them, nor they without it,
    and the call costs no commit of its own. Elsewhere they are one operation of the event log's next
    group commit, and stored when this returns.

    Either way they are merged with the batch's other calculations: the rows, the subscriber lookup and
    the notifications' events (resources/updated to each subscriber, resources/list_changed to the
    caller's session) commit together, ahead of the answer's events, and cost no thread hop,
    transaction or statement of their own.
    """
    if not entries:
        return
    # A node whose lease lapsed stores no events (runtime.lease). With an answer to go with, the
    # calculation goes with it even then: the answer is fenced where it is stored, and the row with it,
    # so a call that ran before its id was claimed (runtime.stream_claim) stores nothing without it.
    notify = not lease.lapsed()
    # Fresh keys and a read: nothing here can conflict (commit_ops.Merged needs no savepoint).
    op = Merged(RECORDS, _Recording(session_id, entries, user_id, notify))
    if answer_writes.defer(Deferred(op, partial(_stored_with_answer, session_id), partial(_lost, session_id))):
        return
    _, events = await eventlog.in_commit(op)
    if notify:  # the tool call does not wait for its notifications to reach every stream
        _notifying.spawn(_publish(session_id, events))


async def _stored_with_answer(session_id: str | None, outcome: tuple[list[Calculation], list]) -> None:
    """Committed with the answer: the notifications go out first (to this node's streams, and queued for
    the others), then the answer."""
    _, events = outcome
    await _publish(session_id, events)


def _lost(session_id: str | None, exc: BaseException) -> None:
    logger.warning("a calculation of session %s was not stored: its answer was not (%s)", session_id, exc)


_notifying = TaskSet()


async def _publish(session_id: str | None, events: list[tuple[str, StoredEvent]]) -> None:
    try:
        await publish_stored(events)
        await notifications.announce_global(_changes(session_id))
    except Exception as exc:  # stored already; a lost notification must not fail anything
        logger.warning("publishing the notifications of session %s failed: %s", session_id, exc)


def _recent(session_id: str | None, limit: int = HISTORY_LIMIT) -> list[dict]:
    if session_id is None:  # a stateless request has no history of its own
        return []
    rows = Calculation.objects.filter(session_id=session_id).order_by("-created_at")[:limit]
    return [row.as_json() for row in reversed(list(rows))]


recent = database_sync_to_async(_recent)


def _get(session_id: str | None, calculation_id: str) -> dict | None:
    if session_id is None:
        return None
    try:
        key = uuid.UUID(calculation_id)
    except ValueError:
        return None
    row = Calculation.objects.filter(session_id=session_id, pk=key).first()
    return row.as_json() if row else None


get = database_sync_to_async(_get)


def _stats() -> dict:
    breakdown = list(
        Calculation.objects.values("operation").annotate(count=Count("id")).order_by("-count", "operation")
    )
    active = McpSession.objects.live().count()
    return {
        "totalCalculations": sum(item["count"] for item in breakdown),
        "activeSessions": active,
        "operationBreakdown": breakdown,
    }


stats = database_sync_to_async(_stats)


def _session_info(session_id: str) -> dict | None:
    session = McpSession.objects.filter(pk=session_id).first()
    if session is None:
        return None
    now = datetime.now(UTC)
    return {
        "sessionId": session.id,
        "protocolVersion": session.protocol_version,
        "client": {"name": session.client_name, "version": session.client_version},
        "startTime": session.created_at.isoformat(),
        "lastActivity": session.last_activity_at.isoformat(),
        "calculationCount": Calculation.objects.filter(session_id=session_id).count(),
        "uptime": int((now - session.created_at).total_seconds() * 1000),
    }


session_info = database_sync_to_async(_session_info)
