"""Server-to-client requests in the stateful era, answered on any node.

A tool's question is stored (a `ClientRequest` row, then a `request` event on the
tool call's own stream) before the client can see it. The client POSTs its
answer to whichever node it reaches; that node settles the row and tells the
node whose tool waits, through the relay. The waiting side also re-reads the
row now and then, since the relay is at-most-once: the database is the truth.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any, Protocol

from ..store import client_requests as store
from ..store.client_requests import Answer
from ..wire.asking import Ask
from ..wire.jsonrpc import REQUEST_TIMEOUT, notification
from .relay import relay
from .replies import Replies

logger = logging.getLogger(__name__)

CLIENT_ANSWER = "mcp.client_answer"  # relay message: an answer reached another node
# A waiting tool re-reads its row (for an answer the relay did not bring) after 1 s, then less and
# less often: a thousand waiting tools cost a few queries a second, a lost relay message at most 10 s.
ANSWER_POLL_FIRST_SECONDS = 1.0
ANSWER_POLL_MAX_SECONDS = 10.0

_waiting: dict[tuple[str, str], asyncio.Future] = {}


class Asker(Protocol):
    """What asking needs of a request (runtime.context.RequestContext is one)."""

    session: Any  # its session: `id` and `client_capabilities`
    request_id: Any
    replies: Replies


class AskFailed(Exception):
    """The client gave no usable answer: it answered with an error, too late, or with nonsense."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


async def ask_client(ctx: Asker, ask: Ask, timeout: float) -> Any:
    """Send `ask` to the client on the request's stream and wait for its answer (any node may receive it)."""
    session_id = ctx.session.id
    request_id = f"mcpsite-{secrets.token_urlsafe(12)}"
    stream = ctx.replies.stream
    await store.acreate(session_id, request_id, stream, ctx.request_id, ask.method, ask.params)
    answered = asyncio.get_running_loop().create_future()
    _waiting[(session_id, request_id)] = answered
    try:
        await ctx.replies.request(ask.message(request_id))
        response = await _wait(ctx, request_id, answered, timeout, ask.method)
    except asyncio.CancelledError:
        # The call was cancelled (notifications/cancelled, DELETE, expiry): the question is moot.
        await asyncio.shield(store.aclose(session_id, request_id, store.Status.CANCELLED))
        raise
    finally:
        _waiting.pop((session_id, request_id), None)
    error = response.get("error")
    if error is not None:
        message = error.get("message") if isinstance(error, dict) else None
        code = error.get("code") if isinstance(error, dict) and isinstance(error.get("code"), int) else -32603
        raise AskFailed(f"The client answered {ask.method} with an error: {message or error}", code)
    return response.get("result")


async def _wait(ctx: Asker, request_id: str, answered: asyncio.Future, timeout: float, method: str) -> dict:
    session_id = ctx.session.id
    deadline = time.monotonic() + timeout
    pause = ANSWER_POLL_FIRST_SECONDS
    while True:
        remaining = deadline - time.monotonic()
        try:
            return await asyncio.wait_for(asyncio.shield(answered), max(0.0, min(remaining, pause)))
        except TimeoutError:
            pause = min(pause * 2, ANSWER_POLL_MAX_SECONDS)
        stored = await store.aresponse(session_id, request_id)
        if stored is not None:
            return stored
        if time.monotonic() < deadline:
            continue
        stored = await store.aclose(session_id, request_id, store.Status.TIMED_OUT)
        if stored is not None:
            return stored  # the answer won the race with the deadline
        logger.info("session %s: no answer to %s %s within %ss", session_id, method, request_id, timeout)
        await ctx.replies.notify(
            notification("notifications/cancelled", {"requestId": request_id, "reason": "timed out"})
        )
        raise AskFailed(f"The client did not answer {method} within {timeout:g} s", REQUEST_TIMEOUT)


async def accept_answer(session_id: str, message: dict[str, Any]) -> Answer:
    """A response the client POSTed: settle its request and wake the tool waiting for it, wherever it runs."""
    request_id = message.get("id")
    response = {key: message[key] for key in ("result", "error") if key in message}
    outcome = await store.aanswer(session_id, request_id, response)
    if outcome is Answer.ACCEPTED:
        if not _deliver(session_id, request_id, response):
            await relay.broadcast(
                {"type": CLIENT_ANSWER, "session": session_id, "id": request_id, "response": response}
            )
    elif outcome is Answer.LATE:
        logger.info("session %s: ignored a late or repeated answer to %r", session_id, request_id)
    else:
        logger.warning("session %s: refused an answer to %r, which this session never asked", session_id, request_id)
    return outcome


def _deliver(session_id: str, request_id: Any, response: dict[str, Any]) -> bool:
    """Wake the tool waiting here for this answer; False if none waits on this node."""
    future = _waiting.get((session_id, request_id)) if isinstance(request_id, str) else None
    if future is None:
        return False
    if not future.done():
        future.set_result(response)
    return True


async def on_client_answer(message: dict[str, Any]) -> None:
    """The relay's handler: an answer reached another node."""
    _deliver(message.get("session", ""), message.get("id"), message.get("response") or {})


def waiting_count() -> int:
    return len(_waiting)
