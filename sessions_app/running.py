"""The requests running in this process, so they can be cancelled and found.

A request runs as its own task. It is not tied to the HTTP connection that
brought it: a dropped stream does not stop it (the stateful era's rule);
notifications/cancelled and the end of the session do.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from .channels_out import REQUEST_LOST
from .context import RequestContext
from .dispatch import dispatch
from .health import dependency_down
from .jsonrpc import error_message

logger = logging.getLogger(__name__)


def _key(session_id: str, request_id: Any) -> tuple[str, str]:
    # json.dumps keeps 1 and "1" apart, as JSON-RPC does.
    return session_id, json.dumps(request_id)


class RunningRequests:
    def __init__(self) -> None:
        self._tasks: dict[tuple[str, str], asyncio.Task] = {}
        self._streams: dict[tuple[str, str], int] = {}
        self._interrupted: set[asyncio.Task] = set()
        self._claimed: dict[tuple[str, str], None] = {}

    def claim(self, session_id: str, request_ids: list[Any]) -> bool:
        """Reserve request ids before their tasks exist; False if any is in use (nothing is claimed then)."""
        keys = [_key(session_id, rid) for rid in request_ids]
        if any(key in self._tasks or key in self._claimed for key in keys):
            return False
        self._claimed.update(dict.fromkeys(keys))
        return True

    def release(self, session_id: str, request_ids: list[Any]) -> None:
        for rid in request_ids:
            self._claimed.pop(_key(session_id, rid), None)

    def stream_running(self, session_id: str, stream: str) -> bool:
        return (session_id, stream) in self._streams

    def count(self) -> int:
        return len(self._tasks)

    def start(self, ctx: RequestContext, stream: str | None) -> asyncio.Task:
        key = _key(ctx.session.id, ctx.request_id)
        self._claimed.pop(key, None)
        task = asyncio.create_task(self._run(ctx, key, stream), name=f"mcp {ctx.method} {key}")
        ctx._task = task
        self._tasks[key] = task
        if stream is not None:
            self._streams[(ctx.session.id, stream)] = self._streams.get((ctx.session.id, stream), 0) + 1
        return task

    async def _run(self, ctx: RequestContext, key: tuple[str, str], stream: str | None) -> None:
        task = asyncio.current_task()
        try:
            try:
                response = await dispatch(ctx)
            except asyncio.CancelledError:
                if task in self._interrupted:
                    # The node is shutting down: say so, so a resume elsewhere ends at once.
                    response = error_message(
                        ctx.request_id, REQUEST_LOST, "Request interrupted: the server node shut down; send it again"
                    )
                else:
                    logger.info("request %s in session %s cancelled", ctx.request_id, ctx.session.id)
                    response = None
            await self._finish(ctx, response)
        finally:
            self._interrupted.discard(task)
            self._tasks.pop(key, None)
            if stream is not None:
                left = self._streams.get((ctx.session.id, stream), 1) - 1
                if left <= 0:
                    self._streams.pop((ctx.session.id, stream), None)
                else:
                    self._streams[(ctx.session.id, stream)] = left

    async def _finish(self, ctx: RequestContext, response: dict[str, Any] | None) -> None:
        """Store the response; while the database is down, keep trying (the request stays 'running')."""
        delay = 0.25
        while True:
            try:
                await ctx.channel.finish(response)
                return
            except Exception as exc:
                if dependency_down(exc) is None:
                    logger.exception("could not deliver the response to %s in session %s", ctx.request_id, ctx.session.id)
                    return
                logger.warning("storing the response to %s waits for %s: %s", ctx.request_id, dependency_down(exc), exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def interrupt_all(self) -> int:
        """Shutdown: cancel every running request, answering each with 'interrupted'."""
        for task in self._tasks.values():
            self._interrupted.add(task)
            task.cancel()
        return len(self._tasks)

    async def wait_idle(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for running requests to end; True if they all did."""
        pending = set(self._tasks.values())
        if not pending:
            return True
        _, still = await asyncio.wait(pending, timeout=timeout)
        return not still

    def cancel(self, session_id: str, request_id: Any) -> bool:
        task = self._tasks.get(_key(session_id, request_id))
        if task is None or task.get_name().startswith("mcp initialize"):
            return False
        task.cancel()
        return True

    def cancel_session(self, session_id: str) -> int:
        cancelled = 0
        for (owner, _), task in list(self._tasks.items()):
            if owner == session_id:
                task.cancel()
                cancelled += 1
        return cancelled


running = RunningRequests()
