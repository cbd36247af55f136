"""The context of one running request: the runtime's side, and the face a tool sees.

`RequestContext` is what the runtime keeps per request (its session, params,
replies and task). `ToolContext` wraps it with the stable API tools, resources,
prompts and completers use; it knows nothing of HTTP or of which node holds the
client's stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from pydantic import BaseModel

from ..edge.bearer import Principal
from ..store.sessions import SessionState
from ..wire import asking as questions
from ..wire.asking import Ask, Elicitation, Root, Sampled
from ..wire.jsonrpc import EVENT_LIMIT, RpcError, notification
from ..wire.versions import MODERN_VERSIONS, PRIMING_VERSIONS, log_level_allows
from . import asking
from .notifications import send_to_session
from .replies import Replies
from .stateless import StatelessState

T = TypeVar("T")


class RequestContext:
    def __init__(
        self,
        session: SessionState | StatelessState,
        request_id: Any,
        method: str,
        params: dict | None,
        replies: Replies,
    ):
        self.session = session
        self.request_id = request_id
        self.method = method
        self.params: dict[str, Any] = params or {}
        self.replies = replies
        meta = self.params.get("_meta")
        self.progress_token = meta.get("progressToken") if isinstance(meta, dict) else None
        self.task: asyncio.Task | None = None  # set by InflightRequests.start()
        self.params_checked = False  # initialize: the transport validated them before the session existed
        self.rounds: asking.Rounds | None = None  # 2026-07-28 tools/call, prompts/get, resources/read
        self.input_timeout: float | None = None  # the tool's own wait for answers (else MCP_INPUT_TIMEOUT)
        self.principal: Principal | None = None  # the caller (edge.bearer); None when /mcp is open

    @property
    def stateless(self) -> bool:
        """A 2026-07-28 request: no session, its client known only from its envelope."""
        return self.session.id is None

    @property
    def cancelled(self) -> bool:
        """True once the request is being cancelled (notifications/cancelled, the session's end)."""
        return self.task is not None and self.task.cancelling() > 0

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """A notification related to this request, on the request's own stream (at most MCP_MAX_STREAM_EVENTS)."""
        cap = settings.MCP_MAX_STREAM_EVENTS
        if cap and self.replies.events >= cap:
            raise RpcError(EVENT_LIMIT, f"Too many events: one request stream may carry at most {cap} notifications")
        self.replies.events += 1
        await self.replies.notify(notification(method, params))


class Question(Generic[T]):
    """A question for the client, not yet asked: `await` it alone, or pass several to `ctx.ask_all`."""

    def __init__(self, request: RequestContext, ask: Ask[T]) -> None:
        self._request = request
        self.ask = ask

    def __await__(self) -> Generator[Any, None, T]:
        return self._asked().__await__()

    async def _asked(self) -> T:
        (answer,) = await asking.ask(self._request, [self.ask])
        return answer


class ToolContext:
    """What a tool (resource, prompt, completer) gets when it declares a parameter of this type."""

    def __init__(self, request: RequestContext):
        self._request = request

    @property
    def session_id(self) -> str | None:
        """The session's id; None in the stateless era (2026-07-28), where a request has no session."""
        return self._request.session.id

    @property
    def protocol_version(self) -> str:
        return self._request.session.protocol_version

    @property
    def era(self) -> str:
        """ "stateless" (2026-07-28, no session) or "stateful" (initialize and Mcp-Session-Id)."""
        return "stateless" if self.protocol_version in MODERN_VERSIONS else "stateful"

    @property
    def client_capabilities(self) -> dict[str, Any]:
        return self._request.session.client_capabilities

    @property
    def user(self):
        """The Django user the request's token belongs to; an AnonymousUser when /mcp is open (MCP_AUTH=none)."""
        principal = self._request.principal
        return principal.user if principal is not None and principal.user is not None else AnonymousUser()

    @property
    def request_id(self) -> Any:
        return self._request.request_id

    @property
    def progress_token(self) -> Any:
        return self._request.progress_token

    @property
    def cancelled(self) -> bool:
        """True once notifications/cancelled arrived for this request."""
        return self._request.cancelled

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """A notification related to this request, on the request's own stream."""
        await self._request.notify(method, params)

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        """notifications/message, if the session's level (logging/setLevel) or the envelope's logLevel lets it."""
        minimum = self._request.session.log_level
        if minimum is None and self.session_id is None:
            return  # stateless: a request without logLevel gets no log messages
        if not log_level_allows(minimum, level):
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        await self.notify("notifications/message", params)

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """notifications/progress with the client's own token; nothing if it sent none."""
        if self.progress_token is None:
            return
        params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self.notify("notifications/progress", params)

    async def notify_session(self, method: str, params: dict[str, Any] | None = None) -> None:
        """A notification not tied to this request: it goes to the session's GET stream (stateless: none)."""
        if self.session_id is not None:
            await send_to_session(self.session_id, notification(method, params))

    async def resource_updated(self, uri: str) -> None:
        await self.notify_session("notifications/resources/updated", {"uri": uri})

    async def close_stream(self, retry_ms: int | None = None) -> bool:
        """Close this request's SSE response now; the request goes on (SEP-1699 polling).

        What was sent so far is stored and written first; the response ends with
        `retry: retry_ms` (default MCP_SSE_RETRY_MS), and the client gets the rest by
        resuming with GET and Last-Event-ID, from any node. Only a client on a revision
        whose streams open with a priming event (2025-11-25) was told it may be closed on:
        elsewhere, and in JSON response mode, nothing is closed and this returns False.
        """
        if self._request.session.protocol_version not in PRIMING_VERSIONS:
            return False
        return await self._request.replies.close_stream(settings.MCP_SSE_RETRY_MS if retry_ms is None else retry_ms)

    # --- asking the client (elicitation, sampling, roots) ----------------------------
    # One tool code for both eras: a server-to-client request on this call's stream in a
    # session, an input_required round in 2026-07-28 (see runtime.asking). Each raises
    # -32021 if the client did not declare the capability, before anything is sent;
    # runtime.client_requests.AskFailed if it answered with an error, too late or nonsense.
    def elicit(
        self, message: str, schema: type[BaseModel] | dict[str, Any], *, key: str | None = None
    ) -> Question[Elicitation]:
        """Ask the user to fill in a form (a pydantic model, or a JSON Schema object of primitives).

        The answer's `action` is accept, decline or cancel; on accept, `content` (and `data`,
        the model instance) has passed the schema. `key` names the question in 2026-07-28
        rounds (default: numbered in the order asked).
        """
        return Question(self._request, questions.elicit(message, schema, key))

    def sample(self, messages: str | list[dict[str, Any]], max_tokens: int, **options: Any) -> Question[Sampled]:
        """Ask the client's model for a message (`messages`: a user prompt, or SamplingMessage objects).

        Options: system_prompt, temperature, stop_sequences, model_preferences, include_context,
        metadata, key (see sessions_app.wire.asking.sample).
        """
        return Question(self._request, questions.sample(messages, max_tokens, **options))

    def list_roots(self, *, key: str | None = None) -> Question[list[Root]]:
        """Ask the client for its roots."""
        return Question(self._request, questions.list_roots(key))

    async def ask_all(self, *asked: Question[Any]) -> list[Any]:
        """Ask several questions at once (one round in 2026-07-28); their answers in the same order."""
        return await asking.ask(self._request, [question.ask for question in asked])
