"""Where a request's messages go: an SSE stream (stored, resumable) or one JSON body.

A replies object serves one POST, so a 2025-03-26 batch shares one. Its
requests run as tasks that outlive the HTTP connection: if the client drops an
SSE stream, events keep being stored and published, and a resume on any node
picks them up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from django.conf import settings

from ..models import StreamEvent
from ..store.answer_writes import Deferred, lose
from ..store.commit_ops import Refused
from ..store.eventlog import NewEvent
from ..wire.event_ids import GET_STREAM
from ..wire.jsonrpc import INTERNAL_ERROR, REQUEST_CANCELLED, error_message
from .backoff import retry_while_down
from .hub import Listener
from .lease import NodeFenced
from .notifications import send_to_session
from .publish import append_and_publish
from .stream_claim import ClaimWithEvents

logger = logging.getLogger(__name__)

# The wait before a silent request's priming event is stored and written on its own.
PRIMING_DELAY_SECONDS = 0.05
Kind = StreamEvent.Kind
Outgoing = tuple[str, dict[str, Any] | None]


class Replies(Protocol):
    """What a running request talks back through."""

    events: int  # notifications sent so far by the requests of this POST (RequestContext bounds it)
    stream: str  # the stream a server-to-client request travels on
    stores_response: bool  # `finish` stores the response through the event log before writing it

    async def notify(self, message: dict[str, Any]) -> None: ...

    async def request(self, message: dict[str, Any]) -> None:
        """A server-to-client request related to this POST's request(s): stored, then written."""

    async def finish(self, response: dict[str, Any] | None, writes: list[Deferred] = ()) -> None:
        """Send one request's response; `writes` (its method's deferred writes) commit with it."""

    async def abandon(self, response: dict[str, Any]) -> None:
        """The node fenced itself: store nothing more; `response` is for a client waiting on this HTTP exchange."""

    async def close_stream(self, retry_ms: int) -> bool: ...

    def releases_claim(self) -> bool:
        """Whether these replies take and release the request's claim themselves (stream_claim)."""


class SseReplies:
    """One POST's SSE stream: every message is stored, then published to its listeners.

    A producer's messages go to an outbox that one flusher task stores in
    batches (one transaction each) and then publishes in order. The producer
    waits only for the response and when the outbox is full, so a fast stream
    costs a transaction per batch, not per event, and nothing is written
    before it is stored. The first batch starts with the stream's priming row,
    which names the requests and the node running them (see runtime.lost).
    """

    OUTBOX_LIMIT = 1000
    stores_response = True

    def __init__(
        self,
        session_id: str,
        stream: str,
        request_ids: list[Any],
        output: Listener,
        *,
        claim: ClaimWithEvents | None = None,
        on_refused: Callable[[Refused], Awaitable[None]] | None = None,
    ):
        """`claim`: the request's claim rides the stream's first events (stream_claim); if it is refused,
        nothing is stored and `on_refused` tells the client."""
        self.session_id = session_id
        self.stream = stream
        self.request_ids = request_ids
        self._output = output
        self._remaining = len(request_ids)
        self.events = 0
        self._primed = False
        self._outbox: list[Outgoing] = []
        self._writes: list[Deferred] = []  # what the responses in the outbox report: stored with them
        self._flusher: asyncio.Task | None = None
        self._drained = asyncio.Event()
        self._drained.set()
        self._failure: BaseException | None = None
        self._claim = claim
        self._on_refused = on_refused
        self._priming_timer = asyncio.get_running_loop().call_later(PRIMING_DELAY_SECONDS, self._ensure_flusher)

    async def notify(self, message: dict[str, Any]) -> None:
        self._raise_failure()
        self._outbox.append((Kind.NOTIFICATION, message))
        self._ensure_flusher()
        if len(self._outbox) >= self.OUTBOX_LIMIT:
            await self._drained.wait()  # back-pressure on a producer faster than the database

    async def request(self, message: dict[str, Any]) -> None:
        self._raise_failure()
        self._outbox.append((Kind.REQUEST, message))
        self._ensure_flusher()

    async def finish(self, response: dict[str, Any] | None, writes: list[Deferred] = ()) -> None:
        """Send one request's response (None: it was cancelled and gets none); returns once stored, in one
        transaction with `writes`."""
        if self._failure is not None:  # nothing more is stored here: the writes are lost with the answer
            lose(list(writes), self._failure)
            self._raise_failure()
        self._writes.extend(writes)
        self._remaining -= 1
        last = self._remaining <= 0
        if response is not None:
            self._outbox.append((Kind.RESPONSE if last else Kind.BATCH_RESPONSE, response))
        elif last:
            self._outbox.append((Kind.CANCELLED, None))
        if last:
            self._priming_timer.cancel()
        self._ensure_flusher()
        await self._drained.wait()
        self._raise_failure()

    async def abandon(self, response: dict[str, Any]) -> None:
        await self._fence(NodeFenced("the node's lease lapsed"))

    async def _fence(self, exc: NodeFenced) -> None:
        """Store nothing more; the client reconnects (elsewhere) and resumes to the stream's verdict."""
        if self._failure is None:
            logger.warning("stream %s of session %s: nothing more is stored (%s)", self.stream, self.session_id, exc)
        self._failure = self._failure or exc
        self._outbox = []
        self._lose_writes(exc)
        self._priming_timer.cancel()
        if self._claim is not None:
            self._claim.release_now()
        await self._output.close(retry_ms=settings.MCP_SSE_RETRY_MS)

    async def close_stream(self, retry_ms: int) -> bool:
        """End this POST's response now, with `retry:`; the requests go on (SEP-1699 polling).

        Everything sent so far (and the priming row, the client's first resume point) is
        stored and written first, so the client resumes with a GET and Last-Event-ID and
        gets the rest from the event log, on any node.
        """
        self._raise_failure()
        self._ensure_flusher()
        await self._drained.wait()
        self._raise_failure()
        await self._output.close(retry_ms=retry_ms)
        return True

    def releases_claim(self) -> bool:
        return self._claim is not None

    async def _refuse(self, exc: Refused) -> None:
        """The claim taken with the first events was refused: nothing of this stream is stored or written."""
        self._failure = exc
        self._outbox = []
        self._lose_writes(exc)
        self._priming_timer.cancel()
        if self._on_refused is not None:
            try:
                await self._on_refused(exc)
            except Exception:
                logger.exception("telling the client of stream %s that its request id is in use failed", self.stream)

    def _raise_failure(self) -> None:
        if isinstance(self._failure, NodeFenced | Refused):
            raise self._failure
        if self._failure is not None:
            raise RuntimeError(f"stream {self.stream} can no longer be stored") from self._failure

    def _ensure_flusher(self) -> None:
        if self._failure is not None:
            return
        if self._flusher is None or self._flusher.done():
            self._drained.clear()
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        taken: list[Outgoing] = []
        try:
            while self._outbox or not self._primed:
                taken, self._outbox = self._outbox, []
                writes, self._writes = self._writes, []
                what = f"storing events of stream {self.stream}"
                try:
                    await retry_while_down(lambda batch=taken, with_=writes: self._store(batch, with_), what)
                except BaseException:
                    self._writes = writes + self._writes  # not stored: they go (or are lost) with the rest
                    raise
                taken = []
        except NodeFenced as exc:
            await self._fence(exc)
        except Refused as exc:
            await self._refuse(exc)
        except Exception as exc:
            logger.error("storing events of stream %s (session %s) failed: %s", self.stream, self.session_id, exc)
            self._lose_writes(exc)  # the answers that report them become errors
            await self._store_fallback(taken + self._outbox)
        finally:
            if self._failure is not None and self._claim is not None:
                self._claim.release_now()  # committed by a store that ended after the stream failed
            self._drained.set()

    def _lose_writes(self, exc: BaseException) -> None:
        writes, self._writes = self._writes, []
        lose(writes, exc)

    async def _store(self, taken: list[Outgoing], writes: list[Deferred] = ()) -> None:
        batch = [NewEvent(self.session_id, self.stream, kind, message) for kind, message in taken]
        if not self._primed:
            # Stored for every client (it names the requests, so a resume can tell what was
            # lost); the output writes it only to clients on revisions that expect it.
            meta = {"requests": self.request_ids, "node": settings.MCP_NODE_ID}
            batch.insert(0, NewEvent(self.session_id, self.stream, Kind.PRIMING, meta))
        # Scanned only when a claim rides the stream's events (not for a notification stream's batches).
        answered = self._claim is not None and any(kind in (Kind.RESPONSE, Kind.CANCELLED) for kind, _ in taken)
        await append_and_publish(batch, writes, self._claim.ops(answered) if self._claim else [])
        if self._claim is not None:
            self._claim.committed(answered)
        self._primed = True

    async def _store_fallback(self, lost: list[Outgoing]) -> None:
        """Events that cannot be stored are dropped; a dropped response becomes a storable error."""
        self._outbox = []
        replacements = [
            (kind, error_message(message.get("id"), INTERNAL_ERROR, "Internal error: the response could not be stored"))
            for kind, message in lost
            if kind in (Kind.RESPONSE, Kind.BATCH_RESPONSE) and isinstance(message, dict)
        ] + [(kind, None) for kind, message in lost if kind == Kind.CANCELLED]
        try:
            await self._store(replacements)
        except Refused as exc:  # its first events: they carried the request's claim, which was refused
            await self._refuse(exc)
        except Exception as exc:
            logger.error("stream %s of session %s cannot be ended: %s", self.stream, self.session_id, exc)
            self._failure = exc
            await self._output.close(retry_ms=settings.MCP_SSE_RETRY_MS)


class JsonReplies:
    """JSON response mode: one body with the response(s); related notifications have no wire.

    A server-to-client request cannot wait for the body it would precede, so it goes
    on the session's GET stream (stored there, resumable like any of its events).
    """

    stream = GET_STREAM
    stores_response = False

    def __init__(self, session_id: str, request_ids: list[Any], batch: bool, send: Callable[[Any], Awaitable[None]]):
        self.session_id = session_id
        self.request_ids = request_ids
        self.batch = batch
        self._send = send
        self._responses: list[dict[str, Any]] = []
        self._remaining = len(request_ids)
        self.events = 0

    async def notify(self, message: dict[str, Any]) -> None:
        logger.debug("JSON response mode: dropping %s", message.get("method"))

    async def request(self, message: dict[str, Any]) -> None:
        await send_to_session(self.session_id, message, kind=Kind.REQUEST)

    async def abandon(self, response: dict[str, Any]) -> None:
        await self.finish(response)  # nothing is stored in this mode; the client is told at once

    async def close_stream(self, retry_ms: int) -> bool:
        return False  # one JSON body: there is no stream to close early

    def releases_claim(self) -> bool:
        return False  # nothing is stored with the answer: the claim is taken and released on its own

    async def finish(self, response: dict[str, Any] | None, writes: list[Deferred] = ()) -> None:
        if writes:  # nothing of this answer is stored, so they commit on their own, before it goes
            await append_and_publish([], writes)
        if response is None and not self.batch:
            response = error_message(self.request_ids[0], REQUEST_CANCELLED, "Request cancelled")
        if response is not None:
            self._responses.append(response)
        self._remaining -= 1
        if self._remaining <= 0:
            # JSON-RPC: an empty batch response is never sent; 202 says there is nothing.
            await self._send((self._responses if self.batch else self._responses[0]) if self._responses else None)
