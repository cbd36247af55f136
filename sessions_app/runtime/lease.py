"""This node's lease: it may store work of its requests only while its heartbeat is fresh.

Other nodes declare a node dead once its heartbeat row is older than
MCP_NODE_LEASE_SECONDS, and answer its requests "Request lost". A node that
stalled that long (SIGSTOP, a frozen VM, a database it could not reach) must
not store their results afterwards: it fences itself (see runtime.fencing).
The lease is measured from the start of the last heartbeat that was stored.
"""

from __future__ import annotations

import time

from django.conf import settings


class NodeFenced(Exception):
    """This node's lease lapsed: it stores nothing for its requests."""


class Lease:
    def __init__(self) -> None:
        self._renewed_at: float | None = None  # None: not started, nothing to fence

    def start(self) -> None:
        if self._renewed_at is None:
            self._renewed_at = time.monotonic()

    def renew(self, at: float) -> None:
        """A heartbeat begun at `at` (time.monotonic()) was stored."""
        self._renewed_at = at if self._renewed_at is None else max(self._renewed_at, at)

    def age(self) -> float:
        return 0.0 if self._renewed_at is None else time.monotonic() - self._renewed_at

    def lapsed(self) -> bool:
        return self.age() >= settings.MCP_NODE_LEASE_SECONDS

    def check(self) -> None:
        if self.lapsed():
            raise NodeFenced(f"this node's lease lapsed {self.age():.1f}s after its last heartbeat")


lease = Lease()
