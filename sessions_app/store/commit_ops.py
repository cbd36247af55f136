"""The operations a group commit runs before its events (eventlog.in_commit): each in a savepoint, or bare."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction


class Bare:
    """An operation that needs no savepoint: it cannot fail on the data (it catches its own conflicts, in a
    savepoint it opens itself). Two statements fewer per operation; if it fails anyway, the batch fails, and
    the writer commits each producer's work apart, so the failure stays its own."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn

    def __call__(self) -> Any:
        return self.fn()


def run(ops: list[Callable[[], Any]]) -> list[tuple[Exception | None, Any]]:
    """Run each operation in a savepoint of the caller's transaction (a Bare one without): (None, its result)
    or (what it raised, None); a failed operation's savepoint is rolled back and the batch goes on."""
    results: list[tuple[Exception | None, Any]] = []
    for op in ops:
        if isinstance(op, Bare):
            results.append((None, op()))
            continue
        try:
            with transaction.atomic():
                results.append((None, op()))
        except Exception as exc:
            results.append((exc, None))
    return results
