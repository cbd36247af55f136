"""The stream event log: group-commit appends, replay reads, and what a stream's priming row says.

Every SSE event is stored before it is written. Writing one row per
transaction would cap a busy node at what one thread can commit, so a writer
per event loop collects what every stream appends while the previous batch is
being committed and stores the lot in one transaction (group commit).

The same transaction carries the requests' other writes (`in_commit`: a
request id's claim and release; `append_with`: a tool's stored side effects,
with its answer), each in a savepoint of its own unless it needs none, so a
request costs no transaction or thread hop of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction

from ..metrics import EVENTS_STORED
from ..models import StreamEvent
from ..wire.event_ids import GET_STREAM, format_event_id
from . import event_rows, handover, held_connection, write_turns
from .commit_ops import Bare, Merged, Refused
from .commit_work import (
    NOT_RUN,
    Pending,
    WithWrites,
    Work,
    events_of,
    ops_of,
    settle,
    settle_failed,
    streams_reporting,
    work_size,
)
from .outages import dependency_down

logger = logging.getLogger(__name__)

MAX_BATCH = 500


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as streams and replay see it."""

    pk: int
    stream: str
    kind: str
    message: dict[str, Any] | None

    @property
    def event_id(self) -> str:
        return format_event_id(self.stream, self.pk)

    @property
    def terminal(self) -> bool:
        return self.kind in StreamEvent.TERMINAL_KINDS


@dataclass(slots=True)
class NewEvent:
    session_id: str
    stream: str
    kind: str
    message: dict[str, Any] | None


def _new_streams(batch: list[NewEvent]) -> set[tuple[str, str]]:
    """The request streams whose priming row is in `batch`: their first events. Nobody can have ended them
    (their id is unknown until an event of theirs is stored), so they need neither lock nor check."""
    return {(e.session_id, e.stream) for e in batch if e.kind == StreamEvent.Kind.PRIMING and e.stream != GET_STREAM}


def _insert(
    batch: list[NewEvent], ops: list[Callable[[], Any]] = (), reported_by: list[tuple[str, str] | None] = ()
) -> tuple[list[int | None], list[Any]]:
    """Store a batch in one transaction, after `ops` (commit_ops.run: merged, bare or in a savepoint);
    events of a stream that has ended are refused (None), and so are the operations their stream reports
    (`reported_by`, per operation: commit_work.streams_reporting), which run after the stream-end check
    and not at all (NOT_RUN) for a stream that has ended.

    Nothing may follow a stream's end (a late event of a node declared dead, say). The
    check runs in the inserting transaction, after locking the rows of the batch's
    sessions (PostgreSQL; SQLite's IMMEDIATE transactions hold the write lock anyway), so
    an end stored by another node cannot slip in between the check and the insert.

    The events the operations hand over (handover.store_in_commit) go into the batch's one INSERT too,
    ahead of the batch's own (an answer stored with the write that caused them comes after them).
    """
    checked = {(e.session_id, e.stream) for e in batch} - _new_streams(batch)
    ended: set[tuple[str, str]] = set()
    owners = [*reported_by, *[None] * (len(ops) - len(reported_by))]
    results: list[Any] = [(None, NOT_RUN)] * len(ops)
    with write_turns.turn(), transaction.atomic():
        # The writes no stream reports run before the session locks: a session's cascade delete takes its
        # children's rows (claims among them) before its own, and a release waiting on a claim row while
        # holding the session's lock would close the circle (PostgreSQL).
        extra = _run_ops(ops, [index for index, owner in enumerate(owners) if owner is None], results)
        if checked:
            event_rows.lock_sessions(sorted({session for session, _ in checked}))
            ended = event_rows.ended(checked)
        # The writes a stream's events report run only if the stream has not ended. Only fresh rows (a tool's
        # side effects), under the session lock this transaction holds: nothing a delete holds is waited on.
        reported = [index for index, owner in enumerate(owners) if owner is not None and owner not in ended]
        extra += _run_ops(ops, reported, results)
        kept = [e for e in batch if (e.session_id, e.stream) not in ended]
        rows = [(e.session_id, e.stream, e.kind, e.message) for e in [*(event for event, _ in extra), *kept]]
        pks = event_rows.insert(rows)
    for session_id, stream in sorted(ended):
        refused = sum(1 for e in batch if (e.session_id, e.stream) == (session_id, stream))
        logger.warning("refused %d event(s) of stream %s of session %s: it has ended", refused, stream, session_id)
    for (event, out), pk in zip(extra, pks[: len(extra)], strict=True):
        out.append((event.session_id, StoredEvent(pk, event.stream, event.kind, event.message)))
    EVENTS_STORED.inc(len(pks))
    stored = iter(pks[len(extra) :])
    return [None if (e.session_id, e.stream) in ended else next(stored) for e in batch], results


def _run_ops(ops: list[Callable[[], Any]], indexes: list[int], results: list[Any]) -> list[handover.Handed]:
    """Run ops[i] for each of `indexes` (handover.run_collecting), each result into results[i]; what they
    handed over."""
    if not indexes:
        return []
    ran, extra = handover.run_collecting([ops[index] for index in indexes])
    for index, result in zip(indexes, ran, strict=True):
        results[index] = result
    return extra


# On the thread of database_sync_to_async, but on a connection held from batch to batch (held_connection).
_insert_in_thread = sync_to_async(partial(held_connection.run_held, _insert), thread_sensitive=True)


async def _insert_async(
    batch: list[NewEvent], ops: list[Callable[[], Any]], reported_by: list[tuple[str, str] | None]
) -> tuple[list[StoredEvent | None], list[Any]]:
    pks, results = await _insert_in_thread(batch, ops, reported_by)
    stored = [
        None if pk is None else StoredEvent(pk, e.stream, e.kind, e.message) for e, pk in zip(batch, pks, strict=True)
    ]
    return stored, results


class EventWriter:
    """Group commit of stream events for one event loop."""

    def __init__(self) -> None:
        self._pending: list[Pending] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def append(self, events: list[NewEvent]) -> list[StoredEvent | None]:
        """Store `events` together (one transaction, in order) and return them with their ids (None: refused)."""
        # Shielded: a cancelled producer must not lose track of a row being committed.
        return await asyncio.shield(self.submit(events))

    def submit(self, work: Work) -> asyncio.Future:
        """Queue events (or an operation) for the next batch; the future has their outcome.

        Batches are committed in the order their work was submitted.
        """
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending.append((work, future))
        self._wakeup.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="mcp-event-writer")
        return future

    def _take_batch(self) -> list[Pending]:
        taken: list[Pending] = []
        size = 0
        while self._pending and (not taken or size + work_size(self._pending[0][0]) <= MAX_BATCH):
            item = self._pending.pop(0)
            taken.append(item)
            size += work_size(item[0])
        return taken

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            # One loop pass first: what else this pass queues rides the same batch (a request's release
            # and its response, queued by two tasks woken together, in one commit rather than two).
            await asyncio.sleep(0)
            self._wakeup.clear()
            while self._pending:
                taken = self._take_batch()
                try:
                    await self._commit(taken)
                except Exception as exc:  # a bug here must not leave the batch's producers waiting for ever
                    logger.exception("the event writer failed on a batch of %d", len(taken))
                    settle_failed(taken, exc)

    async def _commit(self, taken: list[Pending]) -> None:
        flat = [event for work, _ in taken for event in events_of(work)]
        ops = [op for work, _ in taken for op in ops_of(work)]
        reported_by = [stream for work, _ in taken for stream in streams_reporting(work)]
        try:
            stored, results = await _insert_async(flat, ops, reported_by)
        except Exception as exc:  # a failed batch fails its producers, not the writer
            if isinstance(exc, Refused) and await self._commit_all_but_refused(taken, exc):
                return
            if len(taken) > 1 and dependency_down(exc) is None:
                # Not an outage: one producer's events are at fault. Store each apart.
                for item in taken:
                    await self._commit([item])
                return
            if not isinstance(exc, Refused):  # refused work is its producer's to report
                logger.error("storing %d stream events failed: %s", len(flat), exc)
            settle_failed(taken, exc)
            return
        settle(taken, stored, results)

    async def _commit_all_but_refused(self, taken: list[Pending], refusal: Refused) -> bool:
        """Fail the producers whose work was refused and commit the others' again, together (not one by one:
        a client that keeps sending refused work must not split every batch); False if none is known."""
        refused = [item for item in taken if any(refusal.refuses(op) for op in ops_of(item[0]))]
        if not refused:
            return False
        settle_failed(refused, refusal)
        rest = [item for item in taken if all(item is not other for other in refused)]
        if rest:
            await self._commit(rest)
        return True


_writers: dict[asyncio.AbstractEventLoop, EventWriter] = {}


def _writer() -> EventWriter:
    """The writer of the running event loop (a process may run more than one loop)."""
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None:
        for stale in [other for other in _writers if other.is_closed()]:
            del _writers[stale]
        writer = _writers[loop] = EventWriter()
    return writer


async def append(events: list[NewEvent]) -> list[StoredEvent | None]:
    """Store events (group-committed with whatever else is being stored); they come back with their ids.

    An event of a stream that has already ended is refused: None in its place.
    """
    return await _writer().append(events)


async def append_with(
    events: list[NewEvent], ops: list[Merged | Bare], reported: list[Merged | Bare] = ()
) -> tuple[list[StoredEvent | None], list[Any]]:
    """append(events), in one transaction with `reported` (writes the events report: a tool's stored side
    effects, with its answer) and `ops` (writes they go with: a request id's claim or release): the events
    and each operation's result, `reported` first. Nothing is stored if any fails. If the events' stream
    has ended, they are refused and `reported` is not run (NOT_RUN): the answer and what it reports are
    stored together or not at all."""
    if not ops and not reported:
        return await append(events), []
    if not all(isinstance(op, Merged | Bare) for op in [*ops, *reported]):
        raise TypeError("writes stored with events must fail the whole commit if they fail (Merged or Bare)")
    if reported and len({(e.session_id, e.stream) for e in events}) > 1:
        raise ValueError("writes are reported by the events of one stream")
    return await asyncio.shield(_writer().submit(WithWrites(events, list(ops), list(reported))))


async def in_commit(op: Callable[[], Any]) -> Any:
    """Run `op` (sync ORM code) in the next group-commit transaction, in a savepoint of its own (none if it
    is a commit_ops.Bare); its result.

    If `op` raises, its savepoint is rolled back and the exception is raised here; the rest of the
    batch is committed.
    """
    return await asyncio.shield(_writer().submit(op))


def in_commit_soon(op: Callable[[], Any]) -> asyncio.Future:
    """Queue `op` for the next group-commit transaction without waiting: whatever is appended after it
    is committed in the same transaction or a later one. The caller must consume the future's outcome."""
    return _writer().submit(op)
