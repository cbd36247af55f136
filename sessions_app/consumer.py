"""The /mcp endpoint: MCP Streamable HTTP (stateful revisions) as a Channels consumer.

A Channels consumer handles one message at a time, so nothing here waits for
long: `handle()` validates, sends headers, starts tasks and returns. Requests
run as tasks of their own (see `running`); SSE responses are written by a
`StreamOutput` fed by the hub, the channel layer and replay from the database.
The consumer ends on `http.disconnect`, which daphne also sends once a
response is complete.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from channels.consumer import get_handler_name
from django.conf import settings
from django.core.cache import cache
from mcp_types import methods as wire
from pydantic import ValidationError

from . import cachecalls, events, fanout, store
from .channels_out import JsonChannel, SseChannel, close_lost_stream
from .context import RequestContext
from .events import GET_STREAM, NewEvent, parse_event_id, store_events
from .health import dependency_down
from .httpio import Incoming, accepts, header_map, is_json_content, parse_body
from .jsonrpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    UNSUPPORTED_PROTOCOL_VERSION,
    HttpError,
    dumps,
    error_message,
)
from .models import StreamEvent
from .node import node, owner_alive
from .protocol import (
    BATCH_VERSIONS,
    CONTENT_TYPE_JSON,
    CONTENT_TYPE_SSE,
    LAST_EVENT_ID_HEADER,
    PRIMING_VERSIONS,
    SESSION_HEADER,
    STATEFUL_VERSIONS,
    VERSION_HEADER,
    negotiate_version,
)
from .running import running
from .sse import comment_frame
from .streams import StreamOutput

logger = logging.getLogger(__name__)

STATELESS_META_VERSION = "io.modelcontextprotocol/protocolVersion"
# Metric labels stay bounded: a hostile client's method names do not become label values.
KNOWN_RPC_LABELS = frozenset(
    {"initialize", "ping", "logging/setLevel", "tools/list", "tools/call", "resources/list",
     "resources/templates/list", "resources/read", "resources/subscribe", "resources/unsubscribe",
     "prompts/list", "prompts/get", "completion/complete", "batch", "notification", "response",
     "server/discover"}
)
SSE_HEADERS = [
    (b"content-type", CONTENT_TYPE_SSE.encode()),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
]


def _get_slot_key(session_id: str) -> str:
    return f"mcp:getstream:{session_id}"


def _release_slot(session_id: str, token: str) -> None:
    if cache.get(_get_slot_key(session_id)) == token:
        cache.delete(_get_slot_key(session_id))


class McpConsumer(AsyncHttpConsumer):
    # No channel per HTTP request: the node's one listener relays other nodes'
    # events to the local hub (see `node`), so a consumer needs no layer of its own.
    channel_layer_alias = "mcpsite.no-layer-per-consumer"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received = 0
        self.replied = False  # a complete response went out
        self.gone = False  # the client disconnected
        self.session: store.SessionState | None = None
        self.output: StreamOutput | None = None
        self.tasks: set[asyncio.Task] = set()
        self.get_slot: str | None = None
        self.headers: dict[str, str] = {}

    # --- consumer plumbing --------------------------------------------------
    async def dispatch(self, message):
        # Channels closes stale DB connections before every message; every ORM
        # call here goes through database_sync_to_async, which does that itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def http_request(self, message):
        """Collect the body (refusing oversized ones early); never stop the consumer after handle()."""
        if self.replied:
            return
        if not self.received and not self.body:
            self.headers = header_map(self.scope)
            declared = self.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > settings.MCP_MAX_BODY_BYTES:
                await self._too_large()
                raise StopConsumer()
        chunk = message.get("body", b"")
        self.received += len(chunk)
        if self.received > settings.MCP_MAX_BODY_BYTES:
            await self._too_large()
            raise StopConsumer()
        self.body.append(chunk)
        if not message.get("more_body"):
            await self.handle(b"".join(self.body))
            self.body = []
            if self.replied:
                await self._cleanup()  # e.g. a GET slot claimed before an error reply
                raise StopConsumer()

    async def http_disconnect(self, message):
        self.gone = True
        await self._cleanup()
        raise StopConsumer()

    async def _cleanup(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.output is not None:
            self.output.detach()
            fanout.hub.discard(self.output.session_id, self.output.stream, self.output)
        if self.get_slot is not None and self.session is not None:
            try:
                await cachecalls.run(_release_slot, self.session.id, self.get_slot)
            except Exception as exc:  # the slot expires by itself
                logger.warning("releasing the GET slot of %s failed: %s", self.session.id, exc)
            self.get_slot = None

    # --- replies ------------------------------------------------------------
    def _session_headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"mcp-session-id", self.session.id.encode())] if self.session else []

    async def reply(self, status: int, body: bytes, *, content_type: str | None = CONTENT_TYPE_JSON, headers=None):
        if self.replied or self.gone:
            return
        self.replied = True
        all_headers = list(headers or []) + self._session_headers()
        if content_type and body:
            all_headers.append((b"content-type", content_type.encode()))
        await self.send_response(status, body, headers=all_headers)

    async def reply_error(self, error: HttpError) -> None:
        logger.info(
            "%s %s -> %d %s", self.scope.get("method"), self.scope.get("path"), error.status, error.message[:200]
        )
        extra = [(name.lower().encode(), value.encode()) for name, value in error.headers.items()]
        await self.reply(error.status, error.body(), headers=extra)

    async def _too_large(self) -> None:
        limit = settings.MCP_MAX_BODY_BYTES
        await self.reply_error(HttpError(413, INVALID_REQUEST, f"Payload Too Large: the body exceeds {limit} bytes"))

    async def write(self, frame: bytes, more: bool) -> None:
        """The byte sink of this response's StreamOutput."""
        if self.gone:
            return
        await self.send_body(frame, more_body=more)

    async def send_json(self, message: Any) -> None:
        if message is None:
            await self.reply(202, b"")
        else:
            await self.reply(200, dumps(message))

    # --- routing --------------------------------------------------------------
    async def handle(self, body: bytes) -> None:
        if not self.headers:
            self.headers = header_map(self.scope)
        method = self.scope.get("method", "")
        try:
            if node.draining and method in ("POST", "GET"):
                raise HttpError(
                    503, INTERNAL_ERROR, "Service Unavailable: this node is shutting down; retry on another",
                    headers={"Retry-After": "1", "Connection": "close"},
                )
            if method == "POST":
                await self.post(body)
            elif method == "GET":
                await self.get()
            elif method == "DELETE":
                await self.delete()
            else:
                raise HttpError(405, INVALID_REQUEST, "Method Not Allowed", headers={"Allow": "GET, POST, DELETE"})
        except HttpError as error:
            await self.reply_error(error)
        except Exception as exc:
            unavailable = dependency_down(exc)
            if unavailable is not None:
                logger.error("%s /mcp: %s is unreachable: %s", method, unavailable, exc)
                if self.output is not None and self.output.started:
                    await self.output.end(retry_ms=settings.MCP_SSE_RETRY_MS)
                else:
                    await self.reply_error(
                        HttpError(
                            503, INTERNAL_ERROR, f"Service Unavailable: {unavailable} is unreachable",
                            headers={"Retry-After": "2"},
                        )
                    )
                return
            logger.exception("%s /mcp failed", method)
            if self.output is not None and self.output.started:
                await self.output.end()
            else:
                await self.reply_error(HttpError(500, INTERNAL_ERROR, "Internal error"))

    def _header_version(self, request_id: Any = None) -> str | None:
        value = self.headers.get(VERSION_HEADER)
        if value is None:
            return None
        value = value.strip()
        if value in STATEFUL_VERSIONS:
            return value
        raise self._unsupported_version(value, request_id)

    @staticmethod
    def _unsupported_version(requested: str, request_id: Any) -> HttpError:
        return HttpError(
            400,
            UNSUPPORTED_PROTOCOL_VERSION,
            f"Unsupported protocol version: {requested[:64]}. This server serves the stateful revisions "
            f"{', '.join(STATEFUL_VERSIONS)}: send initialize to open a session.",
            data={"supported": list(STATEFUL_VERSIONS), "requested": requested[:64]},
            request_id=request_id,
        )

    async def _require_session(self) -> store.SessionState:
        session_id = self.headers.get(SESSION_HEADER, "").strip()
        if not session_id:
            raise HttpError(400, INVALID_REQUEST, "Bad Request: Missing session ID")
        session = await store.get_session(session_id)
        if session is None or not session.live:
            raise HttpError(404, INVALID_REQUEST, "Session not found")
        self.session = session
        self.scope.get("mcp.log", {})["session"] = session.id
        return session

    # --- POST -----------------------------------------------------------------
    async def post(self, body: bytes) -> None:
        json_mode = settings.MCP_JSON_RESPONSE
        wants_json, wants_sse = accepts(self.headers)
        if json_mode and not wants_json:
            raise HttpError(406, INVALID_REQUEST, "Not Acceptable: Client must accept application/json")
        if not json_mode and not (wants_json and wants_sse):
            raise HttpError(
                406, INVALID_REQUEST, "Not Acceptable: Client must accept both application/json and text/event-stream"
            )
        if not is_json_content(self.headers):
            raise HttpError(415, INVALID_REQUEST, "Unsupported Media Type: Content-Type must be application/json")
        incoming = parse_body(body)
        self._note_rpc(incoming)
        self._refuse_stateless(incoming)

        initializes = [m for m in incoming.requests if m["method"] == "initialize"]
        if initializes:
            if incoming.batch:
                raise HttpError(400, INVALID_REQUEST, "Invalid Request: initialize must not be part of a batch")
            await self.initialize(initializes[0], json_mode)
            return

        session = await self._require_session()
        if incoming.batch and session.protocol_version not in BATCH_VERSIONS:
            raise HttpError(
                400,
                INVALID_REQUEST,
                f"Invalid Request: batches are not allowed in protocol version {session.protocol_version}",
            )
        await store.touch(session)
        for notification in incoming.notifications:
            self._on_notification(session, notification)
        requests = incoming.requests
        if not requests:
            # Notifications and responses only: accepted, nothing to answer.
            await self.reply(202, b"")
            return
        ids = [r["id"] for r in requests]
        # Checked and claimed with no await in between, so two POSTs cannot both take an id.
        if len({dumps(i) for i in ids}) != len(ids) or not running.claim(session.id, ids):
            raise HttpError(
                400,
                INVALID_REQUEST,
                "Invalid Request: a request id is already in use in this session",
                request_id=incoming.first_request_id,
            )
        await self._run(session, requests, incoming.batch, json_mode)

    def _note_rpc(self, incoming: Incoming) -> None:
        """For the access log and request metrics: what this POST asked for."""
        requests = incoming.requests
        if incoming.batch:
            rpc = "batch"
        elif requests:
            rpc = str(requests[0]["method"])[:64]
            if rpc == "tools/call" and isinstance(requests[0].get("params"), dict):
                self.scope.get("mcp.log", {})["tool"] = str(requests[0]["params"].get("name"))[:128]
        else:
            rpc = "notification" if incoming.notifications else "response"
        self.scope.get("mcp.log", {})["rpc"] = rpc if rpc in KNOWN_RPC_LABELS else "other"

    def _refuse_stateless(self, incoming: Incoming) -> None:
        """2026-07-28 (stateless) requests are not served yet: say which revisions are."""
        request_id = incoming.first_request_id
        self._header_version(request_id)
        for message in incoming.messages:
            params = message.get("params")
            meta = params.get("_meta") if isinstance(params, dict) else None
            if isinstance(meta, dict) and STATELESS_META_VERSION in meta:
                raise self._unsupported_version(str(meta[STATELESS_META_VERSION]), request_id)

    async def initialize(self, message: dict[str, Any], json_mode: bool) -> None:
        params = message.get("params") or {}
        requested = params.get("protocolVersion")
        version = negotiate_version(requested if isinstance(requested, str) else "")
        try:
            wire.validate_client_request("initialize", version, params)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise HttpError(
                400, INVALID_PARAMS, f"Invalid params: {where}: {first.get('msg')}", request_id=message["id"]
            ) from None
        session = await store.create_session(version, params.get("clientInfo", {}), params.get("capabilities", {}))
        if session is None:
            raise HttpError(503, INTERNAL_ERROR, "Service Unavailable: too many open sessions", request_id=message["id"])
        self.session = session
        self.scope.get("mcp.log", {})["session"] = session.id
        running.claim(session.id, [message["id"]])  # a new session: the id is free
        logger.info("session %s opened by %s (%s)", session.id, session.client_name or "?", version)
        await self._run(session, [message], False, json_mode)

    def _on_notification(self, session: store.SessionState, message: dict[str, Any]) -> None:
        method = message["method"]
        params = message.get("params") or {}
        if method == "notifications/cancelled":
            request_id = params.get("requestId")
            if running.cancel(session.id, request_id):
                logger.info("cancelling request %r of session %s: %s", request_id, session.id, params.get("reason"))
            elif isinstance(request_id, (int, str)):  # running on another node, if anywhere
                node.broadcast_soon({"type": "mcp.cancel", "session": session.id, "request_id": request_id})
        # notifications/initialized, roots/list_changed, progress: nothing to do yet.

    async def _run(self, session: store.SessionState, requests: list[dict], batch: bool, json_mode: bool) -> None:
        ids = [r["id"] for r in requests]
        try:
            if json_mode:
                channel: Any = JsonChannel(ids, batch, self.send_json)
                stream = None
            else:
                channel = SseChannel(session.id, ids, None, prime_on_wire=session.protocol_version in PRIMING_VERSIONS)
                stream = channel.stream
                channel.output = await self._open_stream(session, stream, after_pk=0)
        except BaseException:
            running.release(session.id, ids)
            raise
        channel.start()
        for request in requests:
            ctx = RequestContext(session, request["id"], request["method"], request.get("params"), channel)
            running.start(ctx, stream)

    async def _open_stream(
        self, session: store.SessionState, stream: str, *, after_pk: int, replay: bool = False
    ) -> StreamOutput:
        """Register a StreamOutput for (session, stream) and send the SSE headers."""
        output = StreamOutput(session.id, stream, self.write, after_pk=after_pk, replay=replay)
        self.output = output
        fanout.hub.add(session.id, stream, output)
        await self.send_headers(status=200, headers=SSE_HEADERS + self._session_headers())
        self._spawn(self._keepalive())
        return output

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _keepalive(self) -> None:
        interval = settings.MCP_KEEPALIVE_SECONDS
        while self.output is not None and not self.output.closed:
            await asyncio.sleep(interval)
            if self.output.closed:
                return
            await self.output.keepalive()
            try:
                await self.output.catch_up()
                if not await self._session_still_live():
                    await self.output.end("session ended")
                    return
            except Exception as exc:
                logger.warning("keep-alive work for stream %s failed: %s", self.output.stream, exc)
            if self.get_slot is not None and self.session is not None:
                try:
                    await cachecalls.call("set", _get_slot_key(self.session.id), self.get_slot, interval * 3)
                except Exception as exc:
                    logger.warning("refreshing the GET slot of %s failed: %s", self.session.id, exc)

    async def _session_still_live(self) -> bool:
        """An open stream keeps its session alive (a connected client is not idle); an ended one ends it.

        This also closes streams of sessions ended where no message could reach (another process
        without a shared channel layer), within one keep-alive interval.
        """
        if self.session is None:
            return True
        fresh = await store.get_session(self.session.id, shared_truth=True)
        if fresh is None or not fresh.live:
            return False
        await store.touch(fresh)
        return True

    # --- GET --------------------------------------------------------------------
    async def get(self) -> None:
        _, wants_sse = accepts(self.headers)
        if not wants_sse:
            raise HttpError(406, INVALID_REQUEST, "Not Acceptable: Client must accept text/event-stream")
        self._header_version()
        session = await self._require_session()
        await store.touch(session)
        last_event_id = self.headers.get(LAST_EVENT_ID_HEADER)
        if last_event_id is not None:
            await self.resume(session, last_event_id)
        else:
            await self.standalone(session, replay_after=None)

    async def _claim_get_slot(self, session_id: str) -> bool:
        """One standalone stream per session, across every node (the cache is shared in production)."""
        token = f"{settings.MCP_NODE_ID}:{id(self)}"
        if await cachecalls.call("add", _get_slot_key(session_id), token, settings.MCP_KEEPALIVE_SECONDS * 3):
            self.get_slot = token
            return True
        return False

    async def standalone(self, session: store.SessionState, *, replay_after: int | None) -> None:
        if not await self._claim_get_slot(session.id):
            raise HttpError(409, INVALID_REQUEST, "Conflict: Only one SSE stream is allowed per session")
        if replay_after is None:
            # A resume point for this connection, stored like any event; only
            # clients on revisions with priming events see it.
            (priming,) = await store_events(
                [NewEvent(session.id, GET_STREAM, StreamEvent.Kind.PRIMING, {"node": settings.MCP_NODE_ID})]
            )
            output = await self._open_stream(session, GET_STREAM, after_pk=priming.pk)
            if session.protocol_version in PRIMING_VERSIONS:
                await output.priming(priming)
            else:
                await output.open(comment_frame("stream open"))
            return
        output = await self._open_stream(session, GET_STREAM, after_pk=replay_after, replay=True)
        await output.open(comment_frame("resumed"))
        self._spawn(self._guarded(output, output.replay()))

    async def resume(self, session: store.SessionState, last_event_id: str) -> None:
        parsed = parse_event_id(last_event_id)
        if parsed is None:
            raise HttpError(400, INVALID_REQUEST, "Bad Request: malformed Last-Event-ID")
        stream, pk = parsed
        if not await events.find_event(session.id, stream, pk):
            raise HttpError(400, INVALID_REQUEST, "Bad Request: Last-Event-ID names no event of this session")
        if stream == GET_STREAM:
            await self.standalone(session, replay_after=pk)
            return
        output = await self._open_stream(session, stream, after_pk=pk, replay=True)
        await output.open(comment_frame("resumed"))
        self._spawn(self._guarded(output, self._resume_request_stream(session, output)))

    async def _guarded(self, output: StreamOutput, work) -> None:
        """Run a stream's background work; if it fails, end the stream so the client reconnects."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("stream %s of session %s failed (%s); asking the client to reconnect",
                           output.stream, output.session_id, exc)
            await output.end(retry_ms=settings.MCP_SSE_RETRY_MS)

    async def _resume_request_stream(self, session: store.SessionState, output: StreamOutput) -> None:
        await output.replay()
        if not output.closed and await events.stream_finished(session.id, output.stream):
            await output.end()  # resumed from its last event: nothing more will come
            return
        owner = await events.stream_owner(session.id, output.stream)
        # Not finished by the replay: wait while the node running the request is
        # alive; once it is not (killed, or this process restarted), say it was lost.
        while not output.closed:
            if not await owner_alive(session.id, output.stream, owner):
                await close_lost_stream(session.id, output.stream)
                await output.catch_up()  # the stream's end, whoever stored it
                if not output.closed:
                    await output.end()
                return
            try:
                await asyncio.wait_for(output.finished.wait(), timeout=settings.MCP_HEARTBEAT_SECONDS)
            except TimeoutError:
                pass

    # --- DELETE -------------------------------------------------------------------
    async def delete(self) -> None:
        self._header_version()
        session = await self._require_session()
        await store.terminate_session(session.id)
        await fanout.end_session_streams(session.id, "session terminated")
        logger.info("session %s terminated by the client", session.id)
        await self.reply(204, b"")
