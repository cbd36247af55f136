"""A request's id claimed across nodes in the commit of its stream's first events, not in one of its own.

A request whose method has no effect but what it stores (runtime.methods: `effects_stored`) may run before
its id is claimed across nodes: until its stream's first events are stored, nothing it did can be seen.
Its SSE replies take the claim in that commit (store.claims.with_first_events), which fails if a request
running elsewhere holds the id, and release it in the commit of the answer. When the method answers
before anything else is stored (the usual case) that is one commit, and the claim costs none of its own.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..store import claims
from ..store.commit_ops import Merged

logger = logging.getLogger(__name__)


class ClaimWithEvents:
    PENDING, HELD, RELEASED = "pending", "held", "released"

    def __init__(self, session_id: str, request_id: Any, node_id: str) -> None:
        self.session_id = session_id
        self.request_id = request_id
        self.node_id = node_id
        self.state = self.PENDING

    @property
    def held(self) -> bool:
        """Committed and not yet released."""
        return self.state == self.HELD

    def ops(self, answered: bool) -> list[Merged]:
        """What goes into the commit of the stream's next events (`answered`: they hold its answer)."""
        if self.state == self.PENDING:
            return claims.with_first_events(self.session_id, self.request_id, self.node_id, answered=answered)
        if self.state == self.HELD and answered:
            return [claims.release_with_events(self.session_id, self.request_id, self.node_id)]
        return []

    def committed(self, answered: bool) -> None:
        """Those events (and `ops(answered)`) are committed."""
        if answered:
            self.state = self.RELEASED
        elif self.state == self.PENDING:
            self.state = self.HELD

    def release_now(self) -> None:
        """The stream stores nothing more (its node is fenced, or its store failed): a claim committed with its
        earlier events goes in the next commit on its own, so the id is not held for good."""
        if self.state != self.HELD:
            return
        self.state = self.RELEASED
        released = claims.release_before_next_commit(self.session_id, self.request_id, self.node_id)
        released.add_done_callback(self._released)

    def _released(self, released: asyncio.Future) -> None:
        exc = None if released.cancelled() else released.exception()
        if exc is not None:  # left behind: this node takes it back on its next claim of the id
            logger.warning("could not release request id %r of session %s: %s", self.request_id, self.session_id, exc)
