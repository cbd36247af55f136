"""Writes a request's method makes that commit with its answer.

A tool's stored side effects (the calculator's `Calculation` row and the notifications it causes) belong
with the answer that reports them: stored in the same transaction, so the answer is never stored
without them, nor they without it, and the request costs one commit, not two.

The runtime opens an `AnswerWrites` for a request whose answer is stored (an SSE response of a
stateful session) before it calls the method; a write made in that request's task (`defer`) waits in
it, and goes with the answer into the event log's group commit (`eventlog.append_with`).
Elsewhere (a JSON body, a stateless request, a task that outlives its request) `defer` declines, and
the caller commits the write on its own at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .commit_ops import Bare, Merged


@dataclass(frozen=True, slots=True)
class Deferred:
    """A write waiting for the answer's commit. `op` runs in it (Merged or Bare: if it fails, the whole
    commit fails, so the answer is not stored without it); `after(result)` runs once that commit is in,
    before the answer is published; `lost(exc)` if the answer's commit never happens."""

    op: Merged | Bare
    after: Callable[[Any], Awaitable[None]]
    lost: Callable[[BaseException], None]


@dataclass(slots=True)
class AnswerWrites:
    items: list[Deferred] = field(default_factory=list)
    open: bool = True

    def take(self) -> list[Deferred]:
        """What the method deferred; later writes (a task it left running) are not taken any more."""
        self.open = False
        items, self.items = self.items, []
        return items


_current: ContextVar[AnswerWrites | None] = ContextVar("mcp_answer_writes", default=None)


def begin() -> AnswerWrites:
    """In the request's task, before its method runs: writes made from here on in it wait for its answer."""
    writes = AnswerWrites()
    _current.set(writes)
    return writes


def defer(write: Deferred) -> bool:
    """Keep `write` for the current request's answer; False if there is none to go with (commit it now)."""
    writes = _current.get()
    if writes is None or not writes.open:
        return False
    writes.items.append(write)
    return True


def lose(writes: list[Deferred], exc: BaseException) -> None:
    """The answer these writes waited for will not be stored: tell each."""
    for write in writes:
        write.lost(exc)
