"""The requests running in this process, so they can be cancelled and found.

A request runs as its own task. It is not tied to the HTTP connection that
brought it: a dropped stream does not stop it (the stateful era's rule);
notifications/cancelled and the end of the session do.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from ..wire.jsonrpc import REQUEST_LOST, error_message
from .backoff import retry_while_down
from .context import RequestContext
from .methods import methods

logger = logging.getLogger(__name__)

Key = tuple[str, str]


def _key(session_id: str, request_id: Any) -> Key:
    # json.dumps keeps 1 and "1" apart, as JSON-RPC does.
    return session_id, json.dumps(request_id)


def _owner(ctx: RequestContext) -> str:
    """The session a request belongs to; a stateless (2026-07-28) request is its own owner."""
    return ctx.session.id if ctx.session.id is not None else f"~stateless:{id(ctx)}"


@dataclass(eq=False)
class Inflight:
    ctx: RequestContext
    task: asyncio.Task
    stream: str | None
    cancellable: bool  # initialize is not (the 2025-11-25 rule)
    interrupted: bool = False  # the node is shutting down: answer "interrupted", not nothing


class InflightRequests:
    def __init__(self) -> None:
        self._running: dict[Key, Inflight] = {}
        self._streams: dict[tuple[str, str], int] = {}
        self._claimed: set[Key] = set()

    def claim(self, session_id: str, request_ids: list[Any]) -> bool:
        """Reserve request ids before their tasks exist; False if any is in use (nothing is claimed then)."""
        keys = [_key(session_id, rid) for rid in request_ids]
        if any(key in self._running or key in self._claimed for key in keys):
            return False
        self._claimed.update(keys)
        return True

    def release(self, session_id: str, request_ids: list[Any]) -> None:
        for rid in request_ids:
            self._claimed.discard(_key(session_id, rid))

    def stream_running(self, session_id: str, stream: str) -> bool:
        return (session_id, stream) in self._streams

    def count(self) -> int:
        return len(self._running)

    def start(self, ctx: RequestContext, stream: str | None) -> None:
        key = _key(_owner(ctx), ctx.request_id)
        self._claimed.discard(key)
        task = asyncio.create_task(self._run(ctx, key, stream), name=f"mcp {ctx.method} {key}")
        ctx.task = task
        self._running[key] = Inflight(ctx, task, stream, cancellable=ctx.method != "initialize")
        if stream is not None:
            self._streams[(ctx.session.id, stream)] = self._streams.get((ctx.session.id, stream), 0) + 1

    async def _run(self, ctx: RequestContext, key: Key, stream: str | None) -> None:
        try:
            try:
                response = await methods.call(ctx)
            except asyncio.CancelledError:
                response = self._answer_to_cancellation(key, ctx)
            await self._finish(ctx, response)
        finally:
            self._running.pop(key, None)
            if stream is not None:
                left = self._streams.get((ctx.session.id, stream), 1) - 1
                if left <= 0:
                    self._streams.pop((ctx.session.id, stream), None)
                else:
                    self._streams[(ctx.session.id, stream)] = left

    def _answer_to_cancellation(self, key: Key, ctx: RequestContext) -> dict[str, Any] | None:
        entry = self._running.get(key)
        if entry is not None and entry.interrupted:
            # The node is shutting down: say so, so a resume elsewhere ends at once.
            return error_message(
                ctx.request_id, REQUEST_LOST, "Request interrupted: the server node shut down; send it again"
            )
        logger.info("request %s in session %s cancelled", ctx.request_id, ctx.session.id)
        return None

    async def _finish(self, ctx: RequestContext, response: dict[str, Any] | None) -> None:
        """Store the response; while the database is down, keep trying (the request stays in flight)."""
        try:
            await retry_while_down(lambda: ctx.replies.finish(response), f"storing the response to {ctx.request_id}")
        except Exception:
            logger.exception("could not deliver the response to %s in session %s", ctx.request_id, ctx.session.id)

    def interrupt_all(self) -> int:
        """Shutdown: cancel every running request, answering each with 'interrupted'."""
        for entry in self._running.values():
            entry.interrupted = True
            entry.task.cancel()
        return len(self._running)

    async def wait_idle(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for running requests to end; True if they all did."""
        pending = {entry.task for entry in self._running.values()}
        if not pending:
            return True
        _, still = await asyncio.wait(pending, timeout=timeout)
        return not still

    def cancel(self, session_id: str, request_id: Any) -> bool:
        entry = self._running.get(_key(session_id, request_id))
        if entry is None or not entry.cancellable:
            return False
        entry.task.cancel()
        return True

    def cancel_session(self, session_id: str) -> int:
        doomed = [entry for (owner, _), entry in self._running.items() if owner == session_id]
        for entry in doomed:
            entry.task.cancel()
        return len(doomed)


inflight = InflightRequests()
