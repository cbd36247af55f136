"""Streamable HTTP, stateful revisions (2025-03-26 .. 2025-11-25): POST, GET and DELETE on /mcp.

One `StatefulTransport` serves one HTTP request: it checks the headers,
the body and the session, then starts the requests (runtime.inflight) and
opens the SSE response they answer on, or answers at once. It never waits
long: requests run as tasks of their own and streams are written by tasks.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from functools import partial
from typing import Any

from django.conf import settings

from ..edge.accesslog import note_request
from ..edge.bearer import principal_of
from ..edge.headers import accepts, header_map
from ..models import StreamEvent
from ..runtime import lifecycle
from ..runtime.context import RequestContext
from ..runtime.inflight import inflight
from ..runtime.methods import methods, validate_params
from ..runtime.replies import JsonReplies, SseReplies
from ..runtime.stream_claim import ClaimWithEvents
from ..runtime.tasks import TaskSet
from ..store import event_reads, eventlog
from ..store.eventlog import NewEvent
from ..store.outages import dependency_down
from ..store.sessions import SessionState, sessions
from ..wire.event_ids import GET_STREAM, new_request_stream, parse_event_id
from ..wire.jsonrpc import INTERNAL_ERROR, INVALID_REQUEST, HttpError, RpcError, encode_response
from ..wire.messages import Incoming, parse_body
from ..wire.negotiation import refuse_stateless, version_header
from ..wire.sse import comment_frame
from ..wire.versions import BATCH_VERSIONS, LAST_EVENT_ID_HEADER, PRIMING_VERSIONS, negotiate_version
from . import request_ids, streams
from .checks import check_post_headers, live_session, open_session, rpc_label
from .client_messages import on_answer, on_notification
from .get_stream import GetStreamSlot
from .output import StreamOutput, priming_frame
from .resume import end_on_failure, resume_request_stream
from .stream_cap import stream_cap
from .streams import Exchange, session_headers

logger = logging.getLogger(__name__)

Kind = StreamEvent.Kind
RPC_LABELS_BESIDES_METHODS = frozenset({"batch", "notification", "response"})


class StatefulTransport:
    def __init__(self, exchange: Exchange, scope: dict) -> None:
        self.exchange = exchange
        self.method = scope.get("method", "")
        self.headers = header_map(scope)
        self.principal = principal_of(scope)  # None when /mcp is open (MCP_AUTH=none)
        self.session: SessionState | None = None
        self.output: StreamOutput | None = None
        self.slot: GetStreamSlot | None = None
        self.counted_stream = False  # this GET counts against the node's stream cap
        self.tasks = TaskSet()

    # --- answering ---------------------------------------------------------------------
    def session_headers(self) -> list[tuple[bytes, bytes]]:
        return session_headers(self.session)

    async def reply(self, status: int, body: bytes = b"") -> None:
        await self.exchange.reply(status, body, headers=self.session_headers())

    async def handle(self, body: bytes) -> None:
        """Serve the request; every failure becomes an HTTP error or the end of an open stream."""
        try:
            if self.method == "POST":
                await self.post(body)
            elif self.method == "GET":
                await self.get()
            elif self.method == "DELETE":
                await self.delete()
            else:
                raise HttpError(405, INVALID_REQUEST, "Method Not Allowed", headers={"Allow": "GET, POST, DELETE"})
        except HttpError as error:
            await self.exchange.reply_error(error, self.session_headers())
        except Exception as exc:
            await self._failed(exc)

    async def _failed(self, exc: Exception) -> None:
        unavailable = dependency_down(exc)
        if unavailable is not None:
            logger.error("%s /mcp: %s is unreachable: %s", self.method, unavailable, exc)
            error = HttpError(
                503, INTERNAL_ERROR, f"Service Unavailable: {unavailable} is unreachable", headers={"Retry-After": "2"}
            )
            retry_ms: int | None = settings.MCP_SSE_RETRY_MS
        else:
            logger.exception("%s /mcp failed", self.method)
            error, retry_ms = HttpError(500, INTERNAL_ERROR, "Internal error"), None
        if self.output is not None and self.output.started:
            await self.output.close(retry_ms=retry_ms)
        else:
            await self.exchange.reply_error(error, self.session_headers())

    async def open_stream(self, session: SessionState, stream: str, **options: Any) -> StreamOutput:
        """The SSE response of this request (see streams.open_stream)."""
        self.output = await streams.open_stream(
            self.exchange, session, stream, tasks=self.tasks, slot=self.slot, **options
        )
        return self.output

    async def close(self) -> None:
        """The exchange is over (the client left, or the response is complete)."""
        self.tasks.cancel_all()
        if self.counted_stream:
            self.counted_stream = False
            stream_cap.release()
        if self.output is not None:
            streams.unregister(self.output)
        if self.slot is not None:
            await self.slot.release()

    # --- the session gate --------------------------------------------------------------
    async def require_session(self) -> SessionState:
        session = await live_session(self.headers, self.principal)
        self._opened(session)
        return session

    def _opened(self, session: SessionState) -> None:
        self.session = session
        note_request(session=session.id)

    # --- POST ----------------------------------------------------------------------------
    async def post(self, body: bytes) -> None:
        json_mode = settings.MCP_JSON_RESPONSE
        check_post_headers(self.headers, json_mode)
        incoming = parse_body(body)
        self._note_rpc(incoming)
        version_header(self.headers, incoming.first_request_id)
        refuse_stateless(incoming)

        initializes = [m for m in incoming.requests if m["method"] == "initialize"]
        if initializes:
            if incoming.batch:
                raise HttpError(400, INVALID_REQUEST, "Invalid Request: initialize must not be part of a batch")
            await self.initialize(initializes[0], json_mode)
            return

        session = await self.require_session()
        if incoming.batch and session.protocol_version not in BATCH_VERSIONS:
            raise HttpError(
                400,
                INVALID_REQUEST,
                f"Invalid Request: batches are not allowed in protocol version {session.protocol_version}",
            )
        for message in incoming.notifications:
            on_notification(session, message)
        for message in incoming.responses:
            await on_answer(session, message)
        requests = incoming.requests
        if not requests:
            await self.reply(202)  # notifications and responses only: nothing to answer
            return
        ids = [r["id"] for r in requests]
        late = request_ids.claimed_with_first_events(requests, incoming.batch, json_mode)
        await request_ids.claim(session.id, ids, incoming.first_request_id, across_nodes=not late)
        await self._run(session, requests, incoming.batch, json_mode, claim_late=late)

    def _note_rpc(self, incoming: Incoming) -> None:
        rpc, tool = rpc_label(incoming)
        known = rpc in RPC_LABELS_BESIDES_METHODS or methods.knows(rpc)
        note_request(rpc=rpc if known else "other", **({"tool": tool} if tool is not None else {}))

    async def initialize(self, message: dict[str, Any], json_mode: bool) -> None:
        params = message.get("params") or {}
        requested = params.get("protocolVersion")
        version = negotiate_version(requested if isinstance(requested, str) else "")
        try:
            validate_params("initialize", version, params)
        except RpcError as exc:
            raise HttpError(400, exc.code, exc.message, request_id=message["id"]) from None
        session = await open_session(version, params, self.principal, message["id"])
        self._opened(session)
        inflight.claim(session.id, [message["id"]])  # a new session: the id is free
        logger.info("session %s opened by %s (%s)", session.id, session.client_name or "?", version)
        await self._run(session, [message], False, json_mode, params_checked=True)

    async def _run(
        self,
        session: SessionState,
        requests: list[dict],
        batch: bool,
        json_mode: bool,
        *,
        params_checked=False,
        claim_late=False,
    ) -> None:
        ids = [r["id"] for r in requests]
        stream = None
        try:
            if json_mode:
                replies: Any = JsonReplies(session.id, ids, batch, self._send_json)
            else:
                stream = new_request_stream()
                prime = session.protocol_version in PRIMING_VERSIONS
                self.output = await self.open_stream(
                    session, stream, after_pk=0, prime_on_wire=prime, hold_headers=True, produced_here=True
                )
                late = ClaimWithEvents(session.id, ids[0], settings.MCP_NODE_ID) if claim_late else None
                on_refused = partial(self._refused, ids[0])
                replies = SseReplies(session.id, stream, ids, self.output, claim=late, on_refused=on_refused)
        except BaseException:
            inflight.release(session.id, ids)
            if not claim_late:
                await asyncio.shield(request_ids.release(session.id, ids))
            raise
        for request in requests:
            ctx = RequestContext(session, request["id"], request["method"], request.get("params"), replies)
            ctx.params_checked = params_checked
            ctx.principal = self.principal
            inflight.start(ctx, stream)

    async def _refused(self, request_id: Any, exc: Exception) -> None:
        """The claim taken with the stream's first events was refused: nothing was stored or written."""
        inflight.cancel(self.session.id, request_id)  # if it still runs, it stores nothing more
        if self.output is None or self.output.closed:  # ended meanwhile (its session was, say): nothing to add
            return
        if not self.output.started:
            streams.unregister(self.output)
            await self.exchange.reply_error(request_ids.in_use_error(request_id), self.session_headers())
        else:  # not expected (no comment precedes the first event): end what began
            await self.output.close()

    async def _send_json(self, message: Any) -> None:
        if message is None:
            await self.reply(202)
            return
        batch = message if isinstance(message, list) else [message]
        encoded = [encode_response(m) for m in batch]
        if any(sent is not original for (sent, _), original in zip(encoded, batch, strict=True)):
            logger.error("a JSON response of session %s holds a value JSON cannot carry", self.session.id)
        parts = [data for _, data in encoded]
        await self.reply(200, b"[" + b",".join(parts) + b"]" if isinstance(message, list) else parts[0])

    # --- GET --------------------------------------------------------------------------------
    async def get(self) -> None:
        if not accepts(self.headers)[1]:
            raise HttpError(406, INVALID_REQUEST, "Not Acceptable: Client must accept text/event-stream")
        version_header(self.headers)
        stream_cap.take()  # a 503 beyond the cap: descriptors stay for /health and POSTs
        self.counted_stream = True
        session = await self.require_session()
        last_event_id = self.headers.get(LAST_EVENT_ID_HEADER)
        if last_event_id is None:
            await self.standalone(session, replay_after=None)
            return
        parsed = parse_event_id(last_event_id)
        if parsed is None:
            raise HttpError(400, INVALID_REQUEST, "Bad Request: malformed Last-Event-ID")
        stream, pk = parsed
        if not await event_reads.exists(session.id, stream, pk):
            raise HttpError(400, INVALID_REQUEST, "Bad Request: Last-Event-ID names no event of this session")
        if stream == GET_STREAM:
            await self.standalone(session, replay_after=pk)
            return
        output = await self.open_stream(session, stream, after_pk=pk, replay=True)
        await output.open(comment_frame("resumed"))
        self.tasks.spawn(end_on_failure(output, resume_request_stream(output)))

    async def standalone(self, session: SessionState, *, replay_after: int | None) -> None:
        """The session's GET stream: new (a stored priming row is its first resume point), or resumed."""
        self.slot = GetStreamSlot(session.id, f"{settings.MCP_NODE_ID}:{secrets.token_hex(8)}")
        if not await self.slot.claim():
            raise HttpError(409, INVALID_REQUEST, "Conflict: Only one SSE stream is allowed per session")
        if replay_after is not None:
            output = await self.open_stream(session, GET_STREAM, after_pk=replay_after, replay=True)
            await output.open(comment_frame("resumed"))
            self.tasks.spawn(end_on_failure(output, output.replay()))
            return
        # Stored like any event; only clients on revisions with priming events see it.
        (priming,) = await eventlog.append(
            [NewEvent(session.id, GET_STREAM, Kind.PRIMING, {"node": settings.MCP_NODE_ID})]
        )
        output = await self.open_stream(session, GET_STREAM, after_pk=priming.pk)
        primes = session.protocol_version in PRIMING_VERSIONS
        await output.open(priming_frame(priming.event_id) if primes else comment_frame("stream open"))

    # --- DELETE ----------------------------------------------------------------------------
    async def delete(self) -> None:
        version_header(self.headers)
        session = await self.require_session()
        await sessions.aterminate(session.id)
        await lifecycle.end_session(session.id)
        logger.info("session %s terminated by the client", session.id)
        await self.reply(204)
