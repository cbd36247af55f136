"""A request's id claimed across nodes in the commit of its stream's first events, not in one of its own.

A request whose method has no effect but what it stores (runtime.methods: `effects_stored`) may run before
its id is claimed across nodes: until its stream's first events are stored, nothing it did can be seen.
Its SSE replies take the claim in that commit (store.claims.with_first_events), which fails if a request
running elsewhere holds the id, and release it in the commit of the answer. When the method answers
before anything else is stored (the usual case) that is one commit, and the claim costs none of its own.
"""

from __future__ import annotations

from typing import Any

from ..store import claims
from ..store.commit_ops import Merged


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
