"""Write flow control for SSE responses.

A stream must not hand the server more than its client reads, or whatever a client does not read piles
up in the node. `runmcp` puts a `WriteFlow` for each HTTP request into the scope's extensions
(`WRITE_FLOW`); a `StreamOutput` starts it while its stream is open, stops writing live events while it
is paused, and catches up from the database once it resumes. Without one (another server) streams are
written as before.

- `TransportWriteFlow` (runmcp's default server, uvicorn's HTTP protocol on asyncio): the asyncio
  transport calls the protocol's `pause_writing()` once more than its high-water mark (64 KiB) waits
  to be sent and `resume_writing()` once it has gone out; the protocol passes both on.
- `TwistedWriteFlow` (`runmcp --server daphne`): daphne hands every `http.response.body` straight to
  Twisted's `transport.write` and never waits. Twisted itself knows: a push producer registered on the
  request (`Request.registerProducer`, a public Twisted API) is paused once more than the transport's
  buffer size (64 KiB) is waiting, and resumed once it has all gone out.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from typing import Any

logger = logging.getLogger(__name__)

WRITE_FLOW = "mcpsite.write_flow"  # the key in scope["extensions"]


class WriteFlow:
    """Whether one response's client has its buffer full, and a wait for it to drain; on the event loop.

    The server calls `pauseProducing()` and `resumeProducing()` (Twisted's IPushProducer names).
    """

    def __init__(self) -> None:
        self._drained = asyncio.Event()
        self._drained.set()
        self.paused_since: float | None = None

    @property
    def paused(self) -> bool:
        return self.paused_since is not None

    def start(self) -> None:
        """Follow the connection's state from now on (once the response's headers are out); idempotent."""

    def stop(self) -> None:
        self.resumeProducing()  # nobody waits on a stopped flow

    def abort(self) -> None:
        """Drop the connection at once (a client that stopped reading), discarding what is buffered."""
        raise NotImplementedError

    async def drained(self) -> None:
        await self._drained.wait()

    def pauseProducing(self) -> None:  # noqa: N802 (Twisted's name)
        if self.paused_since is None:
            self.paused_since = time.monotonic()
        self._drained.clear()

    def resumeProducing(self) -> None:  # noqa: N802
        self.paused_since = None
        self._drained.set()

    def stopProducing(self) -> None:  # noqa: N802
        self.resumeProducing()


class TransportWriteFlow(WriteFlow):
    """An asyncio transport's flow: the HTTP protocol forwards its pause_writing()/resume_writing()."""

    def __init__(self, transport: asyncio.Transport, *, paused: bool) -> None:
        super().__init__()
        self._transport = transport
        if paused:
            self.pauseProducing()

    def abort(self) -> None:
        # A reset, as Twisted's abortConnection() does: a plain close would still send what the kernel
        # buffered to a client that reads nothing.
        sock = self._transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self._transport.abort()


class TwistedWriteFlow(WriteFlow):
    """A Twisted push producer (IPushProducer) registered on one daphne request."""

    def __init__(self, request: Any) -> None:
        super().__init__()
        self._request = request
        self._registered = False

    def start(self) -> None:
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
        super().stop()

    def abort(self) -> None:
        transport = getattr(getattr(self._request, "channel", None), "transport", None)
        if transport is not None:
            transport.abortConnection()
