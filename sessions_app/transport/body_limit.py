"""A body limit in daphne's HTTP layer, before any of the body is buffered.

daphne (Twisted) reads a whole request body before it calls the application, and then queues it
all at once: a consumer that counts bytes can refuse an oversized body only after it has arrived.
Here the limit is applied while the body streams in:

- a declared `Content-Length` over the limit is refused as soon as the headers end (no
  `100 Continue` is sent, and nothing of the body is kept);
- a chunked body is counted as it is decoded, and refused at the first byte over the limit.

The refusal is a 413 with a JSON-RPC error body and `Connection: close`. The server then stops
sending (a half-close), discards whatever the client still sends for `LINGER_SECONDS` so that the
client can read the 413 instead of a reset, and closes. So what the HTTP layer holds for one request
is bounded by the limit, whatever the client declares or sends.

The consumer (`transport/consumer.py`) still checks the same limit: a second line, for servers
started without this layer (`daphne mcpsite.asgi:application`, `runserver`).
"""

from __future__ import annotations

import logging

from daphne.http_protocol import WebRequest
from twisted.internet import reactor

from ..wire.jsonrpc import payload_too_large

logger = logging.getLogger(__name__)

# How long a refused connection keeps reading (and discarding) before it is closed.
LINGER_SECONDS = 2.0


class BodyLimitedRequest(WebRequest):
    """daphne's request, refusing a body over `channel.factory.max_body_bytes` while it arrives."""

    refused = False
    body_received = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # daphne hands the application the raw body (`content`), never Twisted's `args`: parsing the
        # Content-Type of every POST for a form upload (an email.message parse) is wasted work.
        self._parsePOSTFormSubmission = False

    def gotLength(self, length):  # noqa: N802 (Twisted's name)
        limit = self.channel.factory.max_body_bytes
        if length is not None and length > limit:
            self.requestHeaders.removeHeader(b"expect")  # no "100 Continue": we do not want the body
            super().gotLength(0)
            self.refuse(f"declared Content-Length {length}")
            return
        super().gotLength(length)

    def handleContentChunk(self, data):  # noqa: N802
        if self.refused:
            return
        self.body_received += len(data)
        if self.body_received > self.channel.factory.max_body_bytes:
            self.refuse("chunked body")
            return
        super().handleContentChunk(data)

    def requestReceived(self, command, path, version):  # noqa: N802
        if not self.refused:
            super().requestReceived(command, path, version)

    def refuse(self, what: str) -> None:
        self.refused = True
        channel = self.channel
        limit = channel.factory.max_body_bytes
        method = getattr(channel, "_command", b"?").decode("latin-1")
        path = getattr(channel, "_path", b"?").decode("latin-1")[:200]
        logger.warning("refused %s %s: %s over the %d-byte limit (413)", method, path, what, limit)
        transport = channel.transport
        channel.dataReceived = _discard  # whatever else arrives on this connection
        transport.write(payload_too_large(limit).closing_response())
        if hasattr(transport, "loseWriteConnection"):
            transport.loseWriteConnection()  # the 413, then FIN; keep reading so the client sees it
            reactor.callLater(LINGER_SECONDS, _close, transport)
        else:
            transport.loseConnection()


def _discard(data: bytes) -> None:
    pass


def _close(transport) -> None:
    if transport.connected:
        transport.abortConnection()
