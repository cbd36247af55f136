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
from functools import partial
from typing import Any

from django.conf import settings

from ..store import answer_writes, claims
from ..store.commit_ops import Refused
from ..wire.jsonrpc import REQUEST_LOST, error_message
from .backoff import retry_while_down
from .context import RequestContext
from .lease import NodeFenced
from .methods import methods

logger = logging.getLogger(__name__)

Key = tuple[str, str]
LOST_TEXT = "Request lost: the server node stalled and gave it up; send it again"


def _released(ctx: RequestContext, released: asyncio.Future) -> None:
    exc = None if released.cancelled() else released.exception()
    if exc is not None:  # left behind: this node takes it back on its next claim of the id
        logger.warning("could not release request id %r of session %s: %s", ctx.request_id, ctx.session.id, exc)


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
    fenced: bool = False  # this node's lease lapsed: store nothing more for it
    cancel_requested: bool = False
    calling: bool = False  # between the task's first step and the method's return

    def cancel(self) -> None:
        """Cancel the method call if it runs; before its task starts, `_run` sees the flag first.

        (A task cancelled before its first step never runs its coroutine: no end would be stored.)
        """
        self.cancel_requested = True
        if self.calling:
            self.task.cancel()


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
        entry = self._running[key]
        # A stored answer takes the method's stored side effects into its commit (store.answer_writes).
        deferring = ctx.replies.stores_response and ctx.session.id is not None
        writes = answer_writes.begin() if deferring else None
        try:
            try:
                response = await self._call(entry)
            except asyncio.CancelledError:
                if entry.fenced:
                    answer_writes.lose(writes.take() if writes else [], NodeFenced("the node's lease lapsed"))
                    await self._release_claim(ctx, wait=True)
                    await ctx.replies.abandon(error_message(ctx.request_id, REQUEST_LOST, LOST_TEXT))
                    return
                response = self._answer_to_cancellation(entry, ctx)
            await self._release_claim(ctx)
            await self._finish(ctx, response, writes.take() if writes else [])
        finally:
            self._forget(key, ctx.session.id, stream)

    async def _call(self, entry: Inflight) -> dict[str, Any]:
        if entry.cancel_requested:
            raise asyncio.CancelledError
        entry.calling = True
        try:
            return await methods.call(entry.ctx)
        finally:
            entry.calling = False

    def _forget(self, key: Key, session_id: str, stream: str | None) -> None:
        self._running.pop(key, None)
        if stream is not None:
            left = self._streams.get((session_id, stream), 1) - 1
            if left <= 0:
                self._streams.pop((session_id, stream), None)
            else:
                self._streams[(session_id, stream)] = left

    async def _release_claim(self, ctx: RequestContext, *, wait: bool = False) -> None:
        """Free the id cluster-wide before the client can see the answer (and reuse the id).

        A response the replies store goes through the event log after the release was queued, so
        it commits with the release or after it: no need to wait. One they write without storing
        (a JSON body, an abandoned stream) waits for the release to commit first.
        """
        if ctx.method == "initialize" or ctx.session.id is None:
            return  # a new session's first id, or a stateless request: claimed only here
        if ctx.replies.releases_claim():
            return  # taken with the stream's first events and released by them (runtime.stream_claim)
        released = claims.release_before_next_commit(ctx.session.id, ctx.request_id, settings.MCP_NODE_ID)
        released.add_done_callback(partial(_released, ctx))
        if wait or not ctx.replies.stores_response:
            await asyncio.wait([released])

    def _answer_to_cancellation(self, entry: Inflight, ctx: RequestContext) -> dict[str, Any] | None:
        if entry.interrupted:
            # The node is shutting down: say so, so a resume elsewhere ends at once.
            return error_message(
                ctx.request_id, REQUEST_LOST, "Request interrupted: the server node shut down; send it again"
            )
        logger.info("request %s in session %s cancelled", ctx.request_id, ctx.session.id)
        return None

    async def _finish(
        self, ctx: RequestContext, response: dict[str, Any] | None, writes: list[answer_writes.Deferred]
    ) -> None:
        """Store the response with `writes`; while the database is down, keep trying (the request stays in flight)."""
        try:
            await retry_while_down(
                lambda: ctx.replies.finish(response, writes), f"storing the response to {ctx.request_id}"
            )
        except NodeFenced:
            logger.warning("response to %s in session %s dropped: this node is fenced", ctx.request_id, ctx.session.id)
        except Refused:
            pass  # its id was in use elsewhere: the client was told (stateful.StatefulTransport._refused)
        except Exception:
            logger.exception("could not deliver the response to %s in session %s", ctx.request_id, ctx.session.id)

    def interrupt_all(self) -> int:
        """Shutdown: cancel every running request, answering each with 'interrupted'."""
        for entry in self._running.values():
            entry.interrupted = True
            entry.cancel()
        return len(self._running)

    def fence_all(self) -> list[tuple[str, str]]:
        """This node's lease lapsed: cancel every request, storing nothing; their (session, stream)s."""
        for entry in self._running.values():
            entry.fenced = True
            entry.cancel()
        return [(entry.ctx.session.id, entry.stream) for entry in self._running.values() if entry.stream is not None]

    def session_ids(self) -> set[str]:
        """The stored sessions with requests running here (a stateless request has none, and never expires)."""
        return {entry.ctx.session.id for entry in self._running.values() if entry.ctx.session.id is not None}

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
        entry.cancel()
        return True

    def cancel_session(self, session_id: str) -> int:
        doomed = [entry for (owner, _), entry in self._running.items() if owner == session_id]
        for entry in doomed:
            entry.cancel()
        return len(doomed)


inflight = InflightRequests()
