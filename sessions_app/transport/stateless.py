"""Streamable HTTP, stateless revision (2026-07-28): one POST, one request, no session.

`StatelessTransport` serves one HTTP request the router judged modern (see
transport.router). It checks, in order: POST only (405 `Allow: POST`), the media
types, one request or notification object, the duplicated routing headers, the
`_meta` envelope, the routing headers against the body, the revision, the method,
and for tools/call the Mcp-Param-* headers. Then it runs the request through the
same method table as the stateful leg, with a `StatelessState` for a session,
and answers on the response itself (transport.direct). Nothing is stored for
the exchange; closing the response cancels the request.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from ..edge.accesslog import note_request
from ..edge.bearer import principal_of
from ..edge.headers import accepts, header_map, is_json_content
from ..metrics import count_modern_request
from ..runtime import discover  # noqa: F401  (registers server/discover)
from ..runtime.context import RequestContext
from ..runtime.inflight import inflight
from ..runtime.methods import methods
from ..runtime.stateless import MODERN_METHODS, StatelessState, tool_facts
from ..runtime.tasks import TaskSet
from ..wire.envelope import check_version, read_envelope, unsupported_modern_version
from ..wire.jsonrpc import INTERNAL_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, HttpError
from ..wire.messages import parse_body
from ..wire.routing_headers import check_duplicates, check_param_headers, check_routing
from ..wire.versions import HANDSHAKE_VERSIONS, MODERN_VERSIONS, VERSION_HEADER
from . import listen
from .direct import DirectReplies
from .streams import Exchange

logger = logging.getLogger(__name__)

SINGLE_MESSAGE = "Body must be a single JSON-RPC request or notification object"


class StatelessTransport:
    def __init__(self, exchange: Exchange, scope: dict) -> None:
        self.exchange = exchange
        self.method = scope.get("method", "")
        self.headers = header_map(scope)
        self.pairs = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope.get("headers", [])]
        self.ctx: RequestContext | None = None
        self.principal = principal_of(scope)  # None when /mcp is open (MCP_AUTH=none)
        self.listening: listen.Listening | None = None
        self.tasks = TaskSet()

    async def handle(self, body: bytes) -> None:
        try:
            if self.method != "POST":
                raise HttpError(
                    405,
                    INVALID_REQUEST,
                    "Method Not Allowed: the 2026-07-28 revision serves POST only",
                    headers={"Allow": "POST"},
                )
            await self.post(body)
        except HttpError as error:
            await self.exchange.reply_error(error)
        except Exception:
            logger.exception("stateless POST /mcp failed")
            await self.exchange.reply_error(HttpError(500, INTERNAL_ERROR, "Internal error"))

    async def close(self) -> None:
        """The client left or the response is complete: a request still running is cancelled."""
        self.tasks.cancel_all()
        if self.listening is not None:
            self.listening.detach()
        if self.ctx is not None and self.ctx.task is not None and not self.ctx.task.done():
            logger.info(
                "stateless %s %r: the client closed the stream; cancelling", self.ctx.method, self.ctx.request_id
            )
            self.ctx.task.cancel()

    def _check_media(self) -> bool:
        """406 unless JSON is acceptable, 415 unless the body is JSON; True when SSE may be answered."""
        wants_json, wants_sse = accepts(self.headers)
        if not wants_json:
            raise HttpError(406, INVALID_REQUEST, "Not Acceptable: Client must accept application/json")
        if not is_json_content(self.headers):
            raise HttpError(415, INVALID_REQUEST, "Unsupported Media Type: Content-Type must be application/json")
        return wants_sse and not settings.MCP_JSON_RESPONSE

    async def post(self, body: bytes) -> None:
        sse = self._check_media()
        incoming = parse_body(body)
        if incoming.batch or "method" not in incoming.messages[0]:
            raise HttpError(400, INVALID_REQUEST, SINGLE_MESSAGE)
        message = incoming.messages[0]
        method = str(message["method"])
        if "id" not in message:
            note_request(rpc="notification")
            self._notification_version()
            await self.exchange.reply(202, b"")
            return
        request_id = message["id"]
        note_request(rpc=method if method in MODERN_METHODS else "other")
        if method not in MODERN_METHODS or not (methods.knows(method) or method == listen.METHOD):
            raise HttpError(404, METHOD_NOT_FOUND, "Method not found", data=method[:128], request_id=request_id)
        check_duplicates(self.pairs, request_id)
        envelope = read_envelope(message)
        check_routing(self.headers, message, envelope.protocol_version)
        version = check_version(envelope, request_id)
        params: dict[str, Any] = message.get("params") or {}
        if method == "tools/call" and isinstance(params.get("name"), str):
            schema = tool_facts.input_schema(params["name"])
            if schema is not None:
                check_param_headers(self.headers, schema, params.get("arguments") or {}, request_id)
        count_modern_request(method, envelope.client_name)
        state = StatelessState.from_envelope(version, envelope)
        if method == listen.METHOD:
            self.listening = await listen.open_listen(self.exchange, state, request_id, params, self.tasks)
            return
        replies = DirectReplies(self.exchange, method, sse=sse, tasks=self.tasks)
        self.ctx = RequestContext(state, request_id, method, params, replies)
        self.ctx.principal = self.principal
        inflight.start(self.ctx, None)

    def _notification_version(self) -> None:
        version = self.headers.get(VERSION_HEADER, "").strip()
        if version and version not in MODERN_VERSIONS and version not in HANDSHAKE_VERSIONS:
            raise unsupported_modern_version(version)
