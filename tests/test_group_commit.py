"""The group commit's operations hand GET-stream events to the batch's one INSERT (handover.store_in_commit):
an operation's events are stored only if it succeeds, and come back with their ids once the batch is in."""

from __future__ import annotations

import asyncio

import pytest
from django.utils.timezone import now

from sessions_app.models import McpSession, StreamEvent
from sessions_app.store import eventlog, handover
from sessions_app.store.commit_ops import Bare
from sessions_app.store.commit_work import NOT_RUN
from sessions_app.store.eventlog import NewEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def session_id() -> str:
    return McpSession.objects.create(id="s1", protocol_version="2025-11-25", last_activity_at=now()).pk


def count_batches() -> list[int]:
    """The sizes of the batches this loop's event writer commits from now on (a retried batch counts again)."""
    writer = eventlog._writer()
    batches: list[int] = []
    commit = writer._commit

    async def counting(taken):
        batches.append(len(taken))
        await commit(taken)

    writer._commit = counting
    return batches


def note(session_id: str, n: int) -> NewEvent:
    return NewEvent(session_id, "g", StreamEvent.Kind.NOTIFICATION, {"jsonrpc": "2.0", "method": f"m{n}"})


def test_an_operations_events_join_the_batch_and_come_back_with_their_ids(session_id):
    handed = []
    batch = [NewEvent(session_id, "r1", StreamEvent.Kind.PRIMING, None)]
    pks, results = eventlog._insert(
        batch, [Bare(lambda: handed.append(handover.store_in_commit([note(session_id, 1)])))]
    )
    assert results == [(None, None)] and pks[0] is not None
    ((owner, event),) = handed[0]
    # Ahead of the batch's own events: an answer stored with the write that caused them comes after them.
    assert owner == session_id and event.pk < pks[0] and event.message["method"] == "m1"
    assert list(StreamEvent.objects.filter(stream="g").values_list("pk", flat=True)) == [event.pk]


def test_a_failed_operations_events_are_rolled_back_with_it(session_id):
    def fails():
        handover.store_in_commit([note(session_id, 2)])
        raise ValueError("the operation's own failure")

    def succeeds():
        return handover.store_in_commit([note(session_id, 3)])

    _, results = eventlog._insert([], [fails, succeeds])
    assert isinstance(results[0][0], ValueError)
    ((_, kept),) = results[1][1]
    assert [m["method"] for m in StreamEvent.objects.filter(stream="g").values_list("message", flat=True)] == ["m3"]
    assert kept.message["method"] == "m3"


def test_store_in_commit_is_refused_outside_an_operation_and_for_request_streams(session_id):
    with pytest.raises(RuntimeError, match="inside a group-commit operation"):
        handover.store_in_commit([note(session_id, 4)])
    request_stream = NewEvent(session_id, "r2", StreamEvent.Kind.NOTIFICATION, None)
    _, ((error, _),) = eventlog._insert([], [lambda: handover.store_in_commit([request_stream])])
    assert isinstance(error, ValueError)
    assert not StreamEvent.objects.exists()


def test_a_batchs_claims_and_releases_are_one_call_each_and_a_release_runs_before_a_claim(session_id):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sessions_app.models import RequestClaim
    from sessions_app.store import claims
    from sessions_app.store.commit_ops import Merged

    def op(kind, request_id, node="n1"):
        return Merged(kind, (session_id, claims.request_key(request_id), node))

    with CaptureQueriesContext(connection) as queries:
        _, results = eventlog._insert([], [op(claims.CLAIMS, 1), op(claims.CLAIMS, 2), op(claims.CLAIMS, 3)])
    assert [outcome for _, outcome in results] == [True, True, True]
    assert sum("INSERT" in q["sql"] for q in queries.captured_queries) == 1
    # The same batch releases 1 and claims it again (submitted in that order or not): free, then taken.
    # Claiming 2 again conflicts with this node's own claim, which it takes over (its local claims said free).
    with CaptureQueriesContext(connection) as queries:
        _, results = eventlog._insert([], [op(claims.CLAIMS, 1), op(claims.RELEASES, 1), op(claims.RELEASES, 3)])
    assert [outcome for _, outcome in results] == [True, None, None]
    assert sum("DELETE" in q["sql"] for q in queries.captured_queries) == 1  # one executemany
    assert sorted(RequestClaim.objects.values_list("request_key", flat=True)) == sorted(
        claims.request_key(i) for i in (1, 2)
    )
    _, results = eventlog._insert([], [op(claims.CLAIMS, 2, node="n2")])  # n1 is no live node: taken over
    assert results == [(None, True)]
    assert RequestClaim.objects.get(request_key=claims.request_key(2)).node == "n2"
    from sessions_app.models import NodeHeartbeat

    NodeHeartbeat.objects.create(node_id="n1", last_seen=now())
    _, results = eventlog._insert([], [op(claims.CLAIMS, 1, node="n3")])  # n1 is alive and holds 1
    assert results == [(None, False)]


@pytest.mark.django_db(transaction=True)
async def test_work_queued_by_tasks_woken_in_one_loop_pass_rides_one_batch():
    """A request's release (queued by its task) and its response (stored by its stream's flusher, a task started
    in the same pass) used to be two commits: the writer, woken by the first, took its batch before the second
    task ran. It now lets the pass finish first."""
    from asgiref.sync import sync_to_async

    session = await sync_to_async(McpSession.objects.create)(
        id="s2", protocol_version="2025-11-25", last_activity_at=now()
    )
    batches = count_batches()
    released = eventlog.in_commit_soon(Bare(lambda: "released"))
    stored = asyncio.create_task(eventlog.append([note(session.pk, 5)]))
    (event,) = await stored
    assert await released == "released" and event.pk is not None
    assert batches == [2]


def test_a_claim_taken_with_its_answer_is_released_in_the_same_commit(session_id):
    """store.claims.with_first_events: the claim, then the release (a later stage), in one transaction; no row
    is left. Held until the answer (answered=False), the row stays for another node to see."""
    from sessions_app.models import RequestClaim
    from sessions_app.store import claims

    priming = NewEvent(session_id, "r3", StreamEvent.Kind.PRIMING, None)
    answer = NewEvent(session_id, "r3", StreamEvent.Kind.RESPONSE, {"jsonrpc": "2.0", "id": 5, "result": {}})
    pks, _ = eventlog._insert([priming, answer], claims.with_first_events(session_id, 5, "n1", answered=True))
    assert None not in pks
    assert not RequestClaim.objects.exists()
    eventlog._insert(
        [NewEvent(session_id, "r4", StreamEvent.Kind.PRIMING, None)],
        claims.with_first_events(session_id, 6, "n1", answered=False),
    )
    assert list(RequestClaim.objects.values_list("request_key", "node")) == [(claims.request_key(6), "n1")]
    eventlog._insert([], [claims.release_with_events(session_id, 6, "n1")])
    assert not RequestClaim.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_a_claim_refused_with_its_first_events_fails_its_own_work_only():
    """A request running on a live node holds id 7: the events claiming it as well are not stored (IdInUse), and
    other requests' events in the same batch are, in one commit."""
    from asgiref.sync import sync_to_async

    from sessions_app.models import NodeHeartbeat, RequestClaim
    from sessions_app.store import claims
    from sessions_app.store.commit_ops import Kind, Merged

    session = await sync_to_async(McpSession.objects.create)(
        id="s3", protocol_version="2025-11-25", last_activity_at=now()
    )
    await sync_to_async(NodeHeartbeat.objects.create)(node_id="elsewhere", last_seen=now())
    assert await claims.aclaim(session.pk, [7], "elsewhere")

    def first_events(stream: str, request_id: int) -> list[NewEvent]:
        answer = {"jsonrpc": "2.0", "id": request_id, "result": {}}
        return [
            NewEvent(session.pk, stream, StreamEvent.Kind.PRIMING, None),
            NewEvent(session.pk, stream, StreamEvent.Kind.RESPONSE, answer),
        ]

    batches = count_batches()
    # Each also carries a write of another kind whose argument cannot be hashed (the calculator's are lists).
    other_write = Kind("test.other_write", 2, lambda args: [None] * len(args))
    refused, *kept = await asyncio.gather(
        *(
            eventlog.append_with(
                first_events(f"r{rid}", rid),
                [*claims.with_first_events(session.pk, rid, "here", answered=True), Merged(other_write, [rid])],
            )
            for rid in (7, 8, 9)
        ),
        return_exceptions=True,
    )
    assert isinstance(refused, claims.IdInUse)
    assert [[event.kind for event in events] for events, _ in kept] == [["priming", "response"]] * 2
    # The others are committed again together, not one by one: a client sending refused ids splits no batch.
    assert batches == [3, 2]
    streams = await sync_to_async(lambda: sorted(set(StreamEvent.objects.values_list("stream", flat=True))))()
    assert streams == ["r8", "r9"]
    holders = await sync_to_async(lambda: list(RequestClaim.objects.values_list("request_key", "node")))()
    assert holders == [(claims.request_key(7), "elsewhere")]


def test_writes_reported_by_events_of_an_ended_stream_are_not_run(session_id):
    """A late answer of a request declared lost: its stream has ended, so its events are refused, and so is what
    they report (not run at all). What they go with (a release) still runs; other streams' work is untouched."""
    end = {"jsonrpc": "2.0", "id": 1, "error": {"code": -32603, "message": "lost"}}
    eventlog._insert(
        [
            NewEvent(session_id, "r5", StreamEvent.Kind.PRIMING, None),
            NewEvent(session_id, "r5", StreamEvent.Kind.RESPONSE, end),
        ]
    )
    ran = []
    late = NewEvent(session_id, "r5", StreamEvent.Kind.RESPONSE, {"jsonrpc": "2.0", "id": 1, "result": {}})
    live = note(session_id, 6)
    pks, results = eventlog._insert(
        [late, live],
        [Bare(lambda: ran.append("reported") or 1), Bare(lambda: ran.append("goes with") or 2), Bare(lambda: 3)],
        [(session_id, "r5"), None, (session_id, "g")],
    )
    assert pks[0] is None and pks[1] is not None
    assert ran == ["goes with"] and results == [(None, NOT_RUN), (None, 2), (None, 3)]
    assert StreamEvent.objects.filter(stream="r5").count() == 2


@pytest.mark.django_db(transaction=True)
async def test_a_late_answer_refused_because_its_stream_ended_stores_no_calculation():
    """The calculator's row is deferred to its answer (store.answer_writes). If the answer's stream has ended
    meanwhile (its request was declared lost), the answer is refused and the row is not stored either: the
    calculation is told it was lost, and nothing stored says it happened."""
    from asgiref.sync import sync_to_async

    from sessions_app.runtime.publish import append_and_publish
    from sessions_app.store import answer_writes
    from tools_app.calculator import history
    from tools_app.calculator.models import Calculation

    session = await sync_to_async(McpSession.objects.create)(
        id="s4", protocol_version="2025-11-25", last_activity_at=now()
    )
    lost = {"jsonrpc": "2.0", "id": 2, "error": {"code": -32603, "message": "lost"}}
    await eventlog.append(
        [
            NewEvent(session.pk, "r6", StreamEvent.Kind.PRIMING, None),
            NewEvent(session.pk, "r6", StreamEvent.Kind.RESPONSE, lost),
        ]
    )

    async def call(stream: str, request_id: int) -> list:
        writes = answer_writes.begin()
        await history.record(session.pk, [history.Entry("add", [1, request_id], 1 + request_id, f"call {request_id}")])
        answer = {"jsonrpc": "2.0", "id": request_id, "result": {"content": []}}
        return await append_and_publish(
            [NewEvent(session.pk, stream, StreamEvent.Kind.RESPONSE, answer)], writes.take()
        )

    assert await asyncio.create_task(call("r6", 2)) == []
    (stored,) = await asyncio.create_task(call("r7", 3))
    assert stored.kind == "response"
    expressions = await sync_to_async(lambda: list(Calculation.objects.values_list("expression", flat=True)))()
    assert expressions == ["call 3"]
