"""Events a group-commit operation hands to its batch's INSERT (store_in_commit): GET-stream notifications
that must commit with the write that caused them, in the batch's one statement, and only if the operation
succeeds. The event log (store.eventlog) runs the operations through `run_collecting` and stores what they
handed over; this module keeps the bookkeeping, on the writer's thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..wire.event_ids import GET_STREAM
from . import commit_ops

# An event an operation handed over (store_in_commit: an eventlog.NewEvent), and the list its stored form
# (session_id, eventlog.StoredEvent) goes to. Not imported here: the event log imports this module.
Handed = tuple[Any, list[tuple[str, Any]]]
_handing = threading.local()  # .items: the running operation's handed events (the writer's thread)


def _collecting(op: Callable[[], Any] | commit_ops.Merged, handed: list[list[Handed]]) -> Any:
    """`op`, keeping what it hands over in `handed` only if it succeeds (a failed one's savepoint is
    rolled back, and its events must go with it). Merged operations are left as they are."""
    if isinstance(op, commit_ops.Merged):
        return op

    def run() -> Any:
        items: list[Handed] = []
        outer, _handing.items = _handing.items, items
        try:
            result = op()
        finally:
            _handing.items = outer
        handed.append(items)
        return result

    return commit_ops.Bare(run) if isinstance(op, commit_ops.Bare) else run


def store_in_commit(events: list[Any]) -> list[tuple[str, Any]]:
    """Inside a group-commit operation (`in_commit`): store GET-stream events in its transaction, so they
    commit with the write that caused them (a tool's stored side effect and its notifications).

    They go into the batch's one INSERT, after the operations. The list returned is empty until then:
    it holds the (session_id, event) pairs once the operation's outcome is back (the transaction has
    committed), for the caller to publish (runtime.publish.publish_stored). Only the GET stream: it
    never ends, so these need none of the batch's stream-end check.
    """
    items = getattr(_handing, "items", None)
    if items is None:
        raise RuntimeError("store_in_commit runs inside a group-commit operation (eventlog.in_commit) only")
    if any(e.stream != GET_STREAM for e in events):
        raise ValueError("store_in_commit stores GET-stream events only")
    out: list[tuple[str, Any]] = []
    items.extend((event, out) for event in events)
    return out


def run_collecting(ops: list[Any]) -> tuple[list[tuple[Exception | None, Any]], list[Handed]]:
    """commit_ops.run, and what the operations that succeeded handed over, in order (merged ones first:
    they succeed or fail with the batch)."""
    merged: list[Handed] = []
    handed: list[list[Handed]] = [merged]
    _handing.items = merged
    try:
        results = commit_ops.run([_collecting(op, handed) for op in ops])
    finally:
        _handing.items = None
    return results, [item for items in handed for item in items]
