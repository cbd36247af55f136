"""A tool's questions to the client, in either era, from one tool code.

Stateful era: each question is a server-to-client request on the call's own stream
(runtime.client_requests), and the tool waits for the answer.

2026-07-28: there is no back channel. A request that asks is run again from the
start in each round: a question whose answer the round carries (`inputResponses`,
or the sealed `requestState` of earlier rounds) is answered at once; the first
round that lacks any raises `InputRequired`, which the method table turns into an
`input_required` result with the questions and a new sealed state. So a tool asks
before it acts: whatever it does before its last question runs once per round.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from django.conf import settings

from ..wire.asking import Ask, BadAnswer
from ..wire.envelope import missing_capabilities
from ..wire.jsonrpc import INVALID_PARAMS, MISSING_REQUIRED_CLIENT_CAPABILITY, RpcError
from . import request_state
from .client_requests import Asker, AskFailed, ask_client

logger = logging.getLogger(__name__)

# The only methods whose result may be input_required (SEP-2322).
INPUT_METHODS = frozenset({"tools/call", "prompts/get", "resources/read"})


class AskingRequest(Asker, Protocol):
    """What asking needs of a request in either era (runtime.context.RequestContext is one)."""

    method: str
    stateless: bool
    rounds: Rounds | None
    input_timeout: float | None


class InputRequired(BaseException):
    """Control flow, not an error: this round lacks answers. A BaseException, so a tool's
    `except Exception` cannot swallow it."""

    def __init__(self, asks: dict[str, Ask]) -> None:
        super().__init__(f"input required: {', '.join(asks)}")
        self.asks = asks


def require_capabilities(ctx: Asker, required: dict[str, Any], what: str = "This tool") -> None:
    """-32021 naming the missing part as a ClientCapabilities object (400 in 2026-07-28)."""
    missing = missing_capabilities(required, ctx.session.client_capabilities or {})
    if missing:
        names = ", ".join(repr(name) for name in missing)
        raise RpcError(
            MISSING_REQUIRED_CLIENT_CAPABILITY,
            f"{what} requires the client {names} capability",
            {"requiredCapabilities": missing},
        )


class Rounds:
    """One 2026-07-28 round of a request that may ask: the answers it carries, and those it used."""

    def __init__(self, method: str, params: dict[str, Any], subject: str) -> None:
        """`subject`: the caller's token subject ("" when /mcp is open), bound into the state."""
        self.subject = subject
        carried = request_state.open_state(method, params, subject)  # -32602 if forged, expired or misplaced
        responses = params.get("inputResponses")
        if responses is not None and not isinstance(responses, dict):
            raise RpcError(INVALID_PARAMS, "Invalid params: inputResponses must be an object")
        # Answers of earlier rounds were used already: they win over a client's second opinion.
        self.answers: dict[str, Any] = {**(responses or {}), **carried}
        self.used: dict[str, Any] = {}
        self._numbered = 0

    def key_of(self, ask: Ask) -> str:
        if ask.key is not None:
            return ask.key
        self._numbered += 1
        return f"{ask.capability}_{self._numbered}"

    def answer(self, asks: list[Ask]) -> list[Any]:
        results, missing = [], {}
        for ask in asks:
            key = self.key_of(ask)
            if key in self.answers:
                try:
                    results.append(ask.read(self.answers[key]))
                    self.used[key] = self.answers[key]
                    continue
                except BadAnswer as exc:
                    logger.info("input response %r is not an answer to %s (%s): asking again", key, ask.method, exc)
            missing[key] = ask
        if missing:
            raise InputRequired(missing)
        return results

    def result(self, method: str, params: dict[str, Any], exc: InputRequired) -> dict[str, Any]:
        return {
            "resultType": "input_required",
            "inputRequests": {key: ask.input_request() for key, ask in exc.asks.items()},
            "requestState": request_state.seal(method, params, self.subject, self.used),
        }


async def ask(ctx: AskingRequest, asks: list[Ask]) -> list[Any]:
    """The typed answers to `asks`, asked together; nothing is asked if a capability is missing."""
    needed = {a.capability: {} for a in asks}
    require_capabilities(ctx, needed, f"Asking {', '.join(sorted({a.method for a in asks}))}")
    if ctx.stateless:
        if ctx.rounds is None:
            raise RuntimeError(f"{ctx.method} cannot ask the client: only tools/call, prompts/get and resources/read")
        return ctx.rounds.answer(asks)
    timeout = ctx.input_timeout if ctx.input_timeout is not None else settings.MCP_INPUT_TIMEOUT
    if len(asks) == 1:
        return [await _ask_one(ctx, asks[0], timeout)]
    try:
        async with asyncio.TaskGroup() as group:  # one failing question withdraws the others
            waits = [group.create_task(_ask_one(ctx, a, timeout)) for a in asks]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [wait.result() for wait in waits]


async def _ask_one(ctx: Asker, ask: Ask, timeout: float) -> Any:
    answer = await ask_client(ctx, ask, timeout)
    try:
        return ask.read(answer)
    except BadAnswer as exc:
        raise AskFailed(f"The client's answer to {ask.method} is not valid: {exc}", INVALID_PARAMS) from None
