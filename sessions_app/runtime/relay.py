"""The cross-node relay: this process's one listener on the channel layer, and its sends.

Not one channel per HTTP request: one listener per process subscribes to the
groups of the streams whose events this node needs from others (a group per
session and stream: its GET streams and resumed streams, never a POST's), and
to ``mcp.nodes``, where any node asks every other to act (end a session,
cancel a request). What to do with each message type is registered with `on()`
by the layer above, so the relay knows nothing of streams or requests.

Messages carry their origin node, so a node ignores its own echoes. The layer
is at-most-once: the database is the truth, and replay covers any gap.

Stream messages (stored events) go out from one sender task, in order, so the
node that stored them never waits on Redis; what queued for a stream while the
previous send was under way goes in one message. Change signals (a listen
stream's "this changed") go out from the same task, and one queued twice
before it went is sent once: a busy node tells a change per Redis round trip,
not per calculation.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from .tasks import TaskSet
from .throttle import LogEvery

logger = logging.getLogger(__name__)

NODES_GROUP = "mcp.nodes"
MAX_QUEUED = 10_000  # stream items waiting for the sender; beyond that they are dropped (replay has them)
MAX_ITEMS_PER_MESSAGE = 200
Handler = Callable[[dict[str, Any]], Awaitable[None]]
StreamKey = tuple[str, str, str]  # message type, session, stream


def stream_group(session_id: str, stream: str) -> str:
    return f"mcp.{session_id}.{stream}"


class Relay:
    def __init__(self, *, enabled: bool, node_id: str) -> None:
        self.enabled = enabled  # False: no other node exists to tell (the in-memory layer)
        self.node_id = node_id
        self._handlers: dict[str, Handler] = {}
        self._channel: str | None = None
        self._groups: set[str] = set()
        self._tasks = TaskSet()
        self._queued: dict[StreamKey, list[Any]] = {}
        self._queued_count = 0
        self._signals: dict[str, dict[str, Any]] = {}  # broadcasts waiting for the sender, by their JSON
        self._sender: asyncio.Task | None = None
        self._log_dropped = LogEvery(logger)

    def on(self, message_type: str, handler: Handler) -> None:
        """Handle messages of `message_type` from other nodes."""
        self._handlers[message_type] = handler

    # --- sending ---------------------------------------------------------------------
    def send_to_stream_soon(self, message_type: str, session_id: str, stream: str, items: list[Any]) -> None:
        """To whichever other nodes hold the stream open, by the sender task: `{"type", "session", "stream",
        "items"}`, items in the order they were queued (several calls may go in one message)."""
        if not self.enabled:
            return
        if self._queued_count + len(items) > MAX_QUEUED:
            self._log_dropped(logging.WARNING, "relay sends are backing up; dropping stream messages (replay has them)")
            return
        self._queued.setdefault((message_type, session_id, stream), []).extend(items)
        self._queued_count += len(items)
        self._wake_sender()

    def signal_soon(self, message: dict[str, Any]) -> None:
        """broadcast() by the sender task, for messages that say "this changed" (JSON-able): one equal to a
        message still waiting to go is not queued again, since that one tells the change as well."""
        if self.enabled:
            self._signals.setdefault(json.dumps(message, sort_keys=True), message)
            self._wake_sender()

    def _wake_sender(self) -> None:
        if self._sender is None or self._sender.done():
            self._sender = self._tasks.spawn(self._send_queued())

    async def _send_queued(self) -> None:
        while self._queued or self._signals:
            signals, self._signals = list(self._signals.values()), {}
            for message in signals:
                await self._group_send(NODES_GROUP, message)
            queued, self._queued, self._queued_count = self._queued, {}, 0
            for (message_type, session_id, stream), items in queued.items():
                group = stream_group(session_id, stream)
                for start in range(0, len(items), MAX_ITEMS_PER_MESSAGE):
                    chunk = items[start : start + MAX_ITEMS_PER_MESSAGE]
                    message = {"type": message_type, "session": session_id, "stream": stream, "items": chunk}
                    await self._group_send(group, message)

    async def flush(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) until what was queued for streams is sent (a draining node)."""
        sender = self._sender
        if sender is not None and not sender.done():
            await asyncio.wait([sender], timeout=timeout)

    async def broadcast(self, message: dict[str, Any]) -> None:
        """To every other node."""
        await self._group_send(NODES_GROUP, message)

    def broadcast_soon(self, message: dict[str, Any]) -> None:
        """broadcast() in a task of its own, not tied to the HTTP exchange that asked for it."""
        if self.enabled:
            self._tasks.spawn(self.broadcast(message))

    async def _group_send(self, group: str, message: dict[str, Any]) -> None:
        if not self.enabled:
            return
        try:
            await get_channel_layer().group_send(group, {**message, "origin": self.node_id})
        except Exception as exc:  # stored already, or best effort: replay and keep-alives recover
            logger.warning("channel layer send of %s to %s failed: %s", message.get("type"), group, exc)

    # --- subscriptions (called by the hub) ----------------------------------------------
    def join(self, session_id: str, stream: str) -> None:
        group = stream_group(session_id, stream)
        self._groups.add(group)
        if self._channel is not None:
            self._tasks.spawn(self._group_call("group_add", group))

    def leave(self, session_id: str, stream: str) -> None:
        group = stream_group(session_id, stream)
        self._groups.discard(group)
        if self._channel is not None:
            self._tasks.spawn(self._group_call("group_discard", group))

    async def _group_call(self, method: str, group: str) -> None:
        channel = self._channel
        if channel is None:
            return  # the listener re-adds every group when it reconnects
        try:
            await getattr(get_channel_layer(), method)(group, channel)
        except Exception as exc:
            logger.warning("%s %s failed: %s", method, group, exc)

    # --- listening ---------------------------------------------------------------------
    def reset(self) -> None:
        """A new event loop (a process serves from one; tests may start several): forget the old channel."""
        self._channel = None
        self._groups = set()
        self._queued, self._queued_count, self._sender, self._signals = {}, 0, None, {}

    async def listen(self) -> None:
        """Receive and handle messages for as long as the node lives, resubscribing after failures."""
        layer = get_channel_layer()
        failing = False
        while True:
            try:
                if self._channel is None:
                    self._channel = await self._subscribe(layer)
                    if failing:
                        logger.info("node %s is listening on the channel layer again", self.node_id)
                    failing = False
                await self._handle(await layer.receive(self._channel))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failing:
                    logger.error("node %s channel-layer listener failed: %s", self.node_id, exc)
                failing = True
                self._channel = None
                await asyncio.sleep(1)

    async def _subscribe(self, layer) -> str:
        channel = await layer.new_channel("mcpnode.")
        await layer.group_add(NODES_GROUP, channel)
        for group in list(self._groups):
            await layer.group_add(group, channel)
        return channel

    async def _handle(self, message: dict[str, Any]) -> None:
        if message.get("origin") == self.node_id:
            return  # delivered locally already
        handler = self._handlers.get(message.get("type", ""))
        if handler is not None:
            await handler(message)


relay = Relay(enabled=settings.MCP_RELAY, node_id=settings.MCP_NODE_ID)
