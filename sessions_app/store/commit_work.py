"""What producers hand the event log's writer (eventlog.EventWriter), and how a batch's outcome goes back
to each: events to store, an operation to run in the batch's transaction, or events with the writes they
report (eventlog.append_with), which succeed or fail together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .commit_ops import Bare, Merged

# eventlog.NewEvent and eventlog.StoredEvent: not imported here, the event log imports this module.
NewEvent = Any
StoredEvent = Any


@dataclass(slots=True)
class WithWrites:
    """Events stored only with the writes they go with (append_with): one producer's, failing together.

    `reported`: writes the events report (a tool's side effects, with its answer). They run only if the
    events are stored: if their stream has ended, the events are refused and these are not run (NOT_RUN).
    `ops` run whatever becomes of the events (a request id's claim or release)."""

    events: list[NewEvent]
    ops: list[Merged | Bare]
    reported: list[Merged | Bare] = field(default_factory=list)


class _NotRun:
    def __repr__(self) -> str:
        return "NOT_RUN"


NOT_RUN = _NotRun()  # the result of a reported write whose events were refused: it was not run


# What a producer hands the writer: events to store, one operation to run in the batch's transaction, or
# events with the writes that must commit with them.
Work = list[NewEvent] | Callable[[], Any] | WithWrites
Pending = tuple[Work, asyncio.Future]


def events_of(work: Work) -> list[NewEvent]:
    if isinstance(work, list):
        return work
    return work.events if isinstance(work, WithWrites) else []


def ops_of(work: Work) -> list[Callable[[], Any]]:
    if isinstance(work, WithWrites):
        return [*work.reported, *work.ops]
    return [] if isinstance(work, list) else [work]


def streams_reporting(work: Work) -> list[tuple[str, str] | None]:
    """Per operation of ops_of(work): the (session, stream) whose events report it (it is not run if that
    stream has ended), or None (it runs whatever becomes of any stream)."""
    if not isinstance(work, WithWrites):
        return [] if isinstance(work, list) else [None]
    # One stream's events (append_with checks); with none (a JSON body), nothing is refused.
    owner = (work.events[0].session_id, work.events[0].stream) if work.events else None
    return [owner] * len(work.reported) + [None] * len(work.ops)


def work_size(work: Work) -> int:
    return len(events_of(work)) + len(ops_of(work))


def settle(taken: list[Pending], stored: list[StoredEvent | None], results: list[Any]) -> None:
    """Each producer's outcome: its stored events, its operation's result (or exception), or both."""
    offset = 0
    outcomes = iter(results)
    for work, future in taken:
        if isinstance(work, list):
            error, outcome = None, stored[offset : offset + len(work)]
            offset += len(work)
        elif isinstance(work, WithWrites):
            # Its operations fail the whole batch if they fail (Merged, Bare): here they all succeeded.
            events = stored[offset : offset + len(work.events)]
            offset += len(work.events)
            error, outcome = None, (events, [result for _, result in (next(outcomes) for _ in ops_of(work))])
        else:
            error, outcome = next(outcomes)
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(outcome)


def settle_failed(taken: list[Pending], exc: BaseException) -> None:
    """Each producer of a failed batch still waiting gets `exc`."""
    for _, future in taken:
        if not future.done():
            future.set_exception(exc)
