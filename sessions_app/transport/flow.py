"""Write flow control for SSE responses served by daphne.

daphne hands every `http.response.body` straight to Twisted's `transport.write`
and never waits, so whatever a client does not read piles up in the node. Twisted
itself knows: a push producer registered on the request (`Request.registerProducer`,
a public Twisted API) is paused once more than the transport's buffer size
(64 KiB) is waiting to be sent, and resumed once it has all gone out.

`runmcp` puts a `WriteFlow` for each HTTP request into the scope's extensions
(`WRITE_FLOW`); a `StreamOutput` registers it while its stream is open, stops
writing live events while it is paused, and catches up from the database once it
resumes. Without it (another server) streams are written as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

logger = logging.getLogger(__name__)

WRITE_FLOW = "mcpsite.write_flow"  # the key in scope["extensions"]


class WriteFlow:
    """A Twisted push producer (IPushProducer) for one daphne request; everything runs on the event loop."""

    def __init__(self, request: Any) -> None:
        self._request = request
        self._registered = False
        self._drained = asyncio.Event()
        self._drained.set()
        self.paused_since: float | None = None

    @property
    def paused(self) -> bool:
        return self.paused_since is not None

    def start(self) -> None:
        """Register with the request (once its headers are out); idempotent."""
        if self._registered:
            return
        try:
            self._request.registerProducer(self, True)
        except Exception:  # a finished request, or a producer already there: no flow control
            logger.debug("cannot register a write producer", exc_info=True)
            return
        self._registered = True
        if getattr(getattr(self._request, "channel", None), "_waitingForTransport", False):
            self.pauseProducing()

    def stop(self) -> None:
        if self._registered:
            self._registered = False
            try:
                self._request.unregisterProducer()
            except Exception:
                logger.debug("unregistering a write producer failed", exc_info=True)
        self.resumeProducing()  # nobody waits on a stopped flow

    def abort(self) -> None:
        """Drop the connection at once (a client that stopped reading), discarding what is buffered."""
        transport = getattr(getattr(self._request, "channel", None), "transport", None)
        if transport is not None:
            transport.abortConnection()

    async def drained(self) -> None:
        await self._drained.wait()

    # --- IPushProducer, called by Twisted ---------------------------------------------------------
    def pauseProducing(self) -> None:
        if self.paused_since is None:
            self.paused_since = time.monotonic()
        self._drained.clear()

    def resumeProducing(self) -> None:
        self.paused_since = None
        self._drained.set()

    def stopProducing(self) -> None:
        self.resumeProducing()
