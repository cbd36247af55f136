"""This process as one node of many: start, heartbeat, periodic purge, the end of a session, and drain.

The heartbeat is a database row refreshed every MCP_HEARTBEAT_SECONDS. A node
is alive while its row is younger than MCP_NODE_LEASE_SECONDS; a client
resuming the stream of a request whose node stopped beating is told the
request was lost (see `lost`).

Graceful shutdown (SIGTERM, see runmcp), `drain()`:
1. The server stops listening (runmcp), so new connections go elsewhere; idle
   keep-alive connections close, the others close after their response.
2. Streams that carry no request running here (GET streams, resumed streams of
   requests elsewhere) close with a `retry:` hint: clients reconnect to another
   node and resume with Last-Event-ID.
3. Every request that reached the node is served: running requests, and those
   still arriving on connections accepted before the listener closed, may take
   up to MCP_DRAIN_SECONDS; the rest are answered with a stored "interrupted"
   error, so resuming clients learn at once.
4. What is left closes, and the heartbeat row goes.
"""

from __future__ import annotations

import asyncio
import logging
import time

from channels.db import database_sync_to_async
from django.conf import settings

from ..metrics import modern_request_counts
from ..store import heartbeats
from ..store.cache import cache
from ..store.purge import purge
from ..store.sessions import sessions
from ..wire.event_ids import GET_STREAM
from .client_requests import CLIENT_ANSWER, on_client_answer
from .fencing import fence
from .inflight import inflight
from .lease import lease
from .listeners import LISTEN_CHANGE, listeners, on_listen_change
from .publish import EVENT, EVENTS, deliver_from_other_node, hub
from .relay import relay
from .tasks import TaskSet

logger = logging.getLogger(__name__)

END_SESSION = "mcp.end_session"
CANCEL = "mcp.cancel"
PURGE_LOCK = "mcp:purge-lock"
MAX_LISTED_STREAMS = 5000
DRAIN_POLL_SECONDS = 0.25
LAST_WRITES_SECONDS = 2.0


def open_streams() -> dict[str, list[str]]:
    """The streams this process holds open, by session (at most a few thousand listed)."""
    held: dict[str, list[str]] = {}
    for session_id, stream, _ in hub.listeners()[:MAX_LISTED_STREAMS]:
        held.setdefault(session_id, []).append(stream)
    return held


class Node:
    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.draining = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks = TaskSet()

    def ensure_started(self) -> None:
        """Start the heartbeat, the purge and the relay's listener on the running loop, once per loop."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._loop = loop
        relay.reset()
        self._tasks.spawn(self._heartbeat(), name="mcp-node-heartbeat")
        if settings.MCP_PURGE_INTERVAL > 0:
            self._tasks.spawn(self._purge_periodically(), name="mcp-node-purge")
        if relay.enabled:
            self._tasks.spawn(relay.listen(), name="mcp-node-listener")

    async def record_heartbeat(self) -> None:
        await heartbeats.arecord(self.node_id, self.draining, open_streams(), inflight.count(), modern_request_counts())

    async def _heartbeat(self) -> None:
        """Beat; fence this node first if its lease lapsed; then end the work of sessions that ended."""
        failing = False
        lease.start()
        while True:
            if lease.lapsed():
                await fence.fence(self.node_id)
            began = time.monotonic()
            try:
                await self.record_heartbeat()
                lease.renew(began)
                if failing:
                    logger.info("node %s heartbeat restored", self.node_id)
                failing = False
                await fence.settle()
                await end_expired_sessions()
            except Exception as exc:
                if not failing:
                    logger.error("node %s heartbeat failed: %s", self.node_id, exc)
                failing = True
            await asyncio.sleep(settings.MCP_HEARTBEAT_SECONDS)

    async def _purge_periodically(self) -> None:
        interval = settings.MCP_PURGE_INTERVAL
        while True:
            await asyncio.sleep(interval)
            try:
                # One node per interval: whoever takes the lock first.
                if await cache.aadd(PURGE_LOCK, self.node_id, interval):
                    # A thread of its own: requests and heartbeats share the one ORM thread, and a
                    # long purge there would stall them (and let this node's lease lapse).
                    await database_sync_to_async(purge, thread_sensitive=False)()
            except Exception as exc:
                logger.warning("periodic purge failed: %s", exc)

    async def _close_streams(self, *, keep_running: bool) -> int:
        closed = 0
        for session_id, stream, listener in hub.listeners():
            if keep_running and stream != GET_STREAM and inflight.stream_running(session_id, stream):
                continue
            await listener.close(retry_ms=settings.MCP_SSE_RETRY_MS)
            closed += 1
        return closed

    async def drain(self, grace_seconds: float | None = None, *, connections_open=lambda: 0) -> None:
        """Serve what reached this node, then stop (the server has stopped listening).

        `connections_open` counts the HTTP connections still open (runmcp's server): every request
        on them is served, and the node stops once they have all closed or the grace is over.
        """
        grace = settings.MCP_DRAIN_SECONDS if grace_seconds is None else grace_seconds
        deadline = time.monotonic() + grace
        self.draining = True
        try:
            await self.record_heartbeat()
        except Exception as exc:
            logger.warning("could not mark node %s as draining: %s", self.node_id, exc)
        closed = await self._close_streams(keep_running=True) + await listeners.close_all()
        logger.info(
            "draining node %s: closed %d idle streams, %d requests running", self.node_id, closed, inflight.count()
        )
        # Requests still arrive on connections accepted before the listener closed; streams opened
        # meanwhile that carry no request running here close with `retry:` too.
        while (inflight.count() or connections_open()) and time.monotonic() < deadline:
            pause = min(DRAIN_POLL_SECONDS, max(0.0, deadline - time.monotonic()))
            await (inflight.wait_idle(pause) if inflight.count() else asyncio.sleep(pause))
            await self._close_streams(keep_running=True)
        if inflight.count():
            interrupted = inflight.interrupt_all()
            logger.warning("drain grace of %ss is over: interrupting %d requests", grace, interrupted)
            await inflight.wait_idle(5)
        await self._close_streams(keep_running=False)
        await self._wait_closed(connections_open, LAST_WRITES_SECONDS)
        await relay.flush(LAST_WRITES_SECONDS)  # the last events reach streams resumed on other nodes
        await self.stop()
        logger.info("node %s drained", self.node_id)

    @staticmethod
    async def _wait_closed(connections_open, seconds: float) -> None:
        """Let the last responses reach their clients (each connection closes after its response)."""
        deadline = time.monotonic() + seconds
        while connections_open() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self._tasks.cancel_all()
        try:
            await heartbeats.aforget(self.node_id)
        except Exception as exc:
            logger.warning("could not remove the heartbeat of node %s: %s", self.node_id, exc)


node = Node(settings.MCP_NODE_ID)


async def end_session(session_id: str) -> None:
    """Close every open stream of the session and cancel its requests, on every node."""
    await _end_session_here(session_id)
    await relay.broadcast({"type": END_SESSION, "session": session_id})


async def end_expired_sessions() -> None:
    """Expiry ends a session like DELETE: each node ends the requests and streams it holds of ended sessions.

    (Run with every heartbeat. An open stream a client reads keeps its session alive, see
    transport.streams; a request whose client went away does not.)
    """
    held = inflight.session_ids() | {session_id for session_id, _, _ in hub.listeners()}
    if not held:
        return
    for session_id in await sessions.aended_among(held):
        logger.info("session %s has expired or ended: ending its requests and streams here", session_id)
        await _end_session_here(session_id)


async def _end_session_here(session_id: str) -> None:
    inflight.cancel_session(session_id)
    await hub.close_session(session_id)


def cancel_request(session_id: str, request_id) -> bool:
    """notifications/cancelled: cancel it here, or ask the other nodes; True if it ran here."""
    if inflight.cancel(session_id, request_id):
        return True
    if isinstance(request_id, (int, str)):  # running on another node, if anywhere
        relay.broadcast_soon({"type": CANCEL, "session": session_id, "request_id": request_id})
    return False


async def on_end_session(message: dict) -> None:
    """The relay's handler for END_SESSION from another node."""
    await _end_session_here(message["session"])


async def on_cancel(message: dict) -> None:
    """The relay's handler for CANCEL from another node."""
    inflight.cancel(message["session"], message["request_id"])


def handle_relay_messages() -> None:
    """Tell the relay what each message type from other nodes means (SessionsAppConfig.ready())."""
    relay.on(EVENTS, deliver_from_other_node)
    relay.on(EVENT, deliver_from_other_node)
    relay.on(END_SESSION, on_end_session)
    relay.on(CANCEL, on_cancel)
    relay.on(LISTEN_CHANGE, on_listen_change)
    relay.on(CLIENT_ANSWER, on_client_answer)


class StartNode:
    """ASGI wrapper: starts this node with its first request of any kind (daphne has no lifespan)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        node.ensure_started()
        await self.app(scope, receive, send)
