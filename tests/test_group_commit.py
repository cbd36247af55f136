"""The group commit's operations hand GET-stream events to the batch's one INSERT (eventlog.store_in_commit):
an operation's events are stored only if it succeeds, and come back with their ids once the batch is in."""

from __future__ import annotations

import pytest
from django.utils.timezone import now

from sessions_app.models import McpSession, StreamEvent
from sessions_app.store import eventlog
from sessions_app.store.commit_ops import Bare
from sessions_app.store.eventlog import NewEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def session_id() -> str:
    return McpSession.objects.create(id="s1", protocol_version="2025-11-25", last_activity_at=now()).pk


def note(session_id: str, n: int) -> NewEvent:
    return NewEvent(session_id, "g", StreamEvent.Kind.NOTIFICATION, {"jsonrpc": "2.0", "method": f"m{n}"})


def test_an_operations_events_join_the_batch_and_come_back_with_their_ids(session_id):
    handed = []
    batch = [NewEvent(session_id, "r1", StreamEvent.Kind.PRIMING, None)]
    pks, results = eventlog._insert(
        batch, [Bare(lambda: handed.append(eventlog.store_in_commit([note(session_id, 1)])))]
    )
    assert results == [(None, None)] and pks[0] is not None
    ((owner, event),) = handed[0]
    assert owner == session_id and event.pk > pks[0] and event.message["method"] == "m1"
    assert list(StreamEvent.objects.filter(stream="g").values_list("pk", flat=True)) == [event.pk]


def test_a_failed_operations_events_are_rolled_back_with_it(session_id):
    def fails():
        eventlog.store_in_commit([note(session_id, 2)])
        raise ValueError("the operation's own failure")

    def succeeds():
        return eventlog.store_in_commit([note(session_id, 3)])

    _, results = eventlog._insert([], [fails, succeeds])
    assert isinstance(results[0][0], ValueError)
    ((_, kept),) = results[1][1]
    assert [m["method"] for m in StreamEvent.objects.filter(stream="g").values_list("message", flat=True)] == ["m3"]
    assert kept.message["method"] == "m3"


def test_store_in_commit_is_refused_outside_an_operation_and_for_request_streams(session_id):
    with pytest.raises(RuntimeError, match="inside a group-commit operation"):
        eventlog.store_in_commit([note(session_id, 4)])
    request_stream = NewEvent(session_id, "r2", StreamEvent.Kind.NOTIFICATION, None)
    _, ((error, _),) = eventlog._insert([], [lambda: eventlog.store_in_commit([request_stream])])
    assert isinstance(error, ValueError)
    assert not StreamEvent.objects.exists()
