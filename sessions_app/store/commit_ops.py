"""The operations a group commit runs before its events (eventlog.in_commit): each in a savepoint, bare, or
merged with the batch's others of its kind (one statement for all of them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction


class Refused(Exception):  # noqa: N818 (a verdict on the work, not an error of the store)
    """An operation refuses the work it was handed with (a request id in use, say): that work fails, the
    rest of its batch is committed, and nothing is wrong with the store. `refused`: the arguments of the
    merged operations of `kind` refused (their producers' work fails; the rest of the batch is committed
    again)."""

    def __init__(self, message: str, kind: Kind | None = None, refused: frozenset = frozenset()) -> None:
        super().__init__(message)
        self.kind = kind
        self.refused = refused

    def refuses(self, op: Any) -> bool:
        # Only this kind's arguments are compared: another kind's need not be hashable.
        return isinstance(op, Merged) and op.kind is self.kind and op.arg in self.refused


class Bare:
    """An operation that needs no savepoint: it cannot fail on the data (it catches its own conflicts, in a
    savepoint it opens itself). Two statements fewer per operation; if it fails anyway, the batch fails, and
    the writer commits each producer's work apart, so the failure stays its own."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn

    def __call__(self) -> Any:
        return self.fn()


@dataclass(frozen=True, eq=False)
class Kind:
    """Operations that run together: `run_all(args)` returns one result per argument, in order (a claim
    per request in one INSERT, say). Like Bare ones they need no savepoint: they cannot fail on the
    data, and if they fail anyway the batch fails and each producer's work is committed apart.

    Kinds run before the other operations, in `stage` order: a request id released and claimed again in
    one batch is released first (a claim never follows its release in the same request).
    """

    name: str
    stage: int
    run_all: Callable[[list[Any]], list[Any]]


class Merged:
    __slots__ = ("kind", "arg")

    def __init__(self, kind: Kind, arg: Any) -> None:
        self.kind = kind
        self.arg = arg


def run(ops: list[Callable[[], Any] | Merged]) -> list[tuple[Exception | None, Any]]:
    """Run the operations: merged ones kind by kind, then each other one in a savepoint of the caller's
    transaction (a Bare one without), in order. Per operation: (None, its result) or (what it raised,
    None); a failed operation's savepoint is rolled back and the batch goes on."""
    results: list[tuple[Exception | None, Any] | None] = [None] * len(ops)
    kinds: dict[Kind, list[int]] = {}
    for index, op in enumerate(ops):
        if isinstance(op, Merged):
            kinds.setdefault(op.kind, []).append(index)
    for kind in sorted(kinds, key=lambda k: k.stage):
        indexes = kinds[kind]
        for index, result in zip(indexes, kind.run_all([ops[i].arg for i in indexes]), strict=True):
            results[index] = (None, result)
    for index, op in enumerate(ops):
        if isinstance(op, Merged):
            continue
        if isinstance(op, Bare):
            results[index] = (None, op())
            continue
        try:
            with transaction.atomic():
                results[index] = (None, op())
        except Exception as exc:
            results[index] = (exc, None)
    return results
