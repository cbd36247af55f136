"""Stream events in the database: batched persistence, replay and event ids.

Every SSE event is stored before it is written. Writing one row per
transaction would cap a busy node at what one thread can commit, so a writer
per event loop collects what every stream appends while the previous batch is
being committed and stores the lot in one transaction (group commit).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.db import transaction

from mcpsite.metrics import EVENTS_STORED

from .health import dependency_down

from .models import StreamEvent

logger = logging.getLogger(__name__)

GET_STREAM = "g"
_EVENT_ID = re.compile(r"^(g|r[0-9a-f]{12})-([1-9][0-9]{0,18})$")
MAX_BATCH = 500
MAX_PK = 2**63 - 1  # a 64-bit primary key; larger numbers cannot name an event


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as streams and replay see it."""

    pk: int
    stream: str
    kind: str
    message: dict[str, Any] | None

    @property
    def event_id(self) -> str:
        return f"{self.stream}-{self.pk}"

    @property
    def terminal(self) -> bool:
        return self.kind in StreamEvent.TERMINAL_KINDS


@dataclass(slots=True)
class NewEvent:
    session_id: str
    stream: str
    kind: str
    message: dict[str, Any] | None


def parse_event_id(value: str) -> tuple[str, int] | None:
    """(stream, pk) of a well-formed event id, else None."""
    match = _EVENT_ID.match(value.strip())
    if not match or int(match.group(2)) > MAX_PK:
        return None
    return match.group(1), int(match.group(2))


def _insert(batch: list[NewEvent]) -> list[int]:
    rows = [StreamEvent(session_id=e.session_id, stream=e.stream, kind=e.kind, message=e.message) for e in batch]
    with transaction.atomic():
        StreamEvent.objects.bulk_create(rows)
    return [row.pk for row in rows]


class EventWriter:
    """Group commit of stream events for one event loop."""

    def __init__(self) -> None:
        self._pending: list[tuple[list[NewEvent], asyncio.Future[list[StoredEvent]]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def append(self, events: list[NewEvent]) -> list[StoredEvent]:
        """Store `events` together (one transaction, in order) and return them with their ids."""
        future: asyncio.Future[list[StoredEvent]] = asyncio.get_running_loop().create_future()
        self._pending.append((events, future))
        self._wakeup.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="mcp-event-writer")
        # Shielded: a cancelled producer must not lose track of a row being committed.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                taken, size = [], 0
                while self._pending and (not taken or size + len(self._pending[0][0]) <= MAX_BATCH):
                    item = self._pending.pop(0)
                    taken.append(item)
                    size += len(item[0])
                flat = [event for events, _ in taken for event in events]
                try:
                    pks = await database_sync_to_async(_insert)(flat)
                except Exception as exc:  # a failed batch fails its producers, not the writer
                    if len(taken) > 1 and dependency_down(exc) is None:
                        # Not an outage: one producer's events are at fault. Store each apart.
                        await self._one_by_one(taken)
                        continue
                    logger.error("storing %d stream events failed: %s", len(flat), exc)
                    for _, future in taken:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                EVENTS_STORED.inc(len(flat))
                offset = 0
                for events, future in taken:
                    stored = [
                        StoredEvent(pk, e.stream, e.kind, e.message)
                        for e, pk in zip(events, pks[offset : offset + len(events)], strict=True)
                    ]
                    offset += len(events)
                    if not future.done():
                        future.set_result(stored)


    async def _one_by_one(self, taken) -> None:
        for events, future in taken:
            try:
                pks = await database_sync_to_async(_insert)(events)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
                continue
            EVENTS_STORED.inc(len(events))
            if not future.done():
                future.set_result([StoredEvent(pk, e.stream, e.kind, e.message) for e, pk in zip(events, pks, strict=True)])


_writers: dict[asyncio.AbstractEventLoop, EventWriter] = {}


def event_writer() -> EventWriter:
    """The writer of the running event loop (tests run several loops in one process)."""
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None:
        for stale in [other for other in _writers if other.is_closed()]:
            del _writers[stale]
        writer = _writers[loop] = EventWriter()
    return writer


async def store_events(events: list[NewEvent]) -> list[StoredEvent]:
    return await event_writer().append(events)


def _find(session_id: str, stream: str, pk: int) -> bool:
    return StreamEvent.objects.filter(session_id=session_id, stream=stream, pk=pk).exists()


find_event = database_sync_to_async(_find)


def _after(session_id: str, stream: str, after_pk: int, limit: int) -> list[StoredEvent]:
    rows = (
        StreamEvent.objects.filter(session_id=session_id, stream=stream, pk__gt=after_pk)
        .exclude(kind=StreamEvent.Kind.PRIMING)
        .order_by("pk")
        .values_list("pk", "kind", "message")[:limit]
    )
    return [StoredEvent(pk, stream, kind, message) for pk, kind, message in rows]


events_after = database_sync_to_async(_after)


def _stream_finished(session_id: str, stream: str) -> bool:
    return StreamEvent.objects.filter(
        session_id=session_id, stream=stream, kind__in=StreamEvent.TERMINAL_KINDS
    ).exists()


stream_finished = database_sync_to_async(_stream_finished)


def _priming_meta(session_id: str, stream: str) -> dict:
    """What a POST stream's priming row records: the request ids it answers and the node running them."""
    meta = (
        StreamEvent.objects.filter(session_id=session_id, stream=stream, kind=StreamEvent.Kind.PRIMING)
        .order_by("pk")
        .values_list("message", flat=True)
        .first()
    )
    return meta if isinstance(meta, dict) else {}


async def stream_request_ids(session_id: str, stream: str) -> list | None:
    meta = await database_sync_to_async(_priming_meta)(session_id, stream)
    return list(meta["requests"]) if "requests" in meta else None


async def stream_owner(session_id: str, stream: str) -> str | None:
    return (await database_sync_to_async(_priming_meta)(session_id, stream)).get("node")
