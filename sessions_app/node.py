"""This process as one node of many: its heartbeat, and its ear on the channel layer.

One listener per process (not one channel per HTTP request) subscribes to the
groups of the streams this node holds open, and to ``mcp.nodes``, where any
node asks every other to end a session's streams or cancel a request. Events
from other nodes are handed to the local hub, like local ones.

The heartbeat is a database row refreshed every MCP_HEARTBEAT_SECONDS. A node
is alive while its row is younger than MCP_NODE_LEASE_SECONDS; a client
resuming the stream of a request whose node stopped beating is told the
request was lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import datetime, timedelta, timezone

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from . import cachecalls, fanout
from .models import NodeHeartbeat

logger = logging.getLogger(__name__)

NODES_GROUP = "mcp.nodes"


def _beat(node_id: str, draining: bool, streams: dict[str, list[str]], running: int) -> None:
    NodeHeartbeat.objects.update_or_create(
        node_id=node_id,
        defaults={
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "last_seen": datetime.now(timezone.utc),
            "draining": draining,
            "streams": streams,
            "running": running,
        },
    )


def open_streams() -> dict[str, list[str]]:
    """The streams this process holds open, by session (at most a few thousand listed)."""
    held: dict[str, list[str]] = {}
    for session_id, stream, _ in fanout.hub.listeners()[:5000]:
        held.setdefault(session_id, []).append(stream)
    return held


async def beat_now(node_id: str, draining: bool) -> None:
    from .running import running

    await beat(node_id, draining, open_streams(), running.count())


def _alive(node_id: str) -> bool:
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=settings.MCP_NODE_LEASE_SECONDS)
    return NodeHeartbeat.objects.filter(node_id=node_id, last_seen__gte=cutoff).exists()


def _forget(node_id: str) -> None:
    NodeHeartbeat.objects.filter(node_id=node_id).delete()


beat = database_sync_to_async(_beat)
node_alive = database_sync_to_async(_alive)
forget = database_sync_to_async(_forget)


class Node:
    def __init__(self) -> None:
        self.node_id = settings.MCP_NODE_ID
        self.draining = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task] = []
        self._channel: str | None = None
        self._groups: set[str] = set()
        self._subscribed = asyncio.Event()
        self._pending: set[asyncio.Task] = set()

    # --- lifecycle ---------------------------------------------------------------
    def ensure_started(self) -> None:
        """Start the heartbeat (and the listener, with a shared layer) on the running loop, once."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._loop = loop
        self._groups = set()
        self._channel = None
        fanout.hub.on_first_listener = self._join_stream
        fanout.hub.on_last_listener = self._leave_stream
        self._tasks = [loop.create_task(self._heartbeat(), name="mcp-node-heartbeat")]
        if settings.MCP_PURGE_INTERVAL > 0:
            self._tasks.append(loop.create_task(self._purge_periodically(), name="mcp-node-purge"))
        if fanout.layer_is_shared():
            self._tasks.append(loop.create_task(self._listen(), name="mcp-node-listener"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        try:
            await forget(self.node_id)
        except Exception as exc:
            logger.warning("could not remove the heartbeat of node %s: %s", self.node_id, exc)

    async def _heartbeat(self) -> None:
        failing = False
        while True:
            try:
                await beat_now(self.node_id, self.draining)
                if failing:
                    logger.info("node %s heartbeat restored", self.node_id)
                failing = False
            except Exception as exc:
                if not failing:
                    logger.error("node %s heartbeat failed: %s", self.node_id, exc)
                failing = True
            await asyncio.sleep(settings.MCP_HEARTBEAT_SECONDS)

    async def _purge_periodically(self) -> None:
        from .purge import purge

        interval = settings.MCP_PURGE_INTERVAL
        while True:
            await asyncio.sleep(interval)
            try:
                # One node per interval: whoever takes the lock first.
                if await cachecalls.call("add", "mcp:purge-lock", self.node_id, interval):
                    # A thread of its own: requests and heartbeats share the one ORM thread, and a
                    # long purge there would stall them (and let this node's lease lapse).
                    await database_sync_to_async(purge, thread_sensitive=False)()
            except Exception as exc:
                logger.warning("periodic purge failed: %s", exc)

    # --- channel layer -------------------------------------------------------------
    async def _listen(self) -> None:
        layer = get_channel_layer()
        failing = False
        while True:
            try:
                if self._channel is None:
                    self._channel = await layer.new_channel("mcpnode.")
                    await layer.group_add(NODES_GROUP, self._channel)
                    for group in list(self._groups):
                        await layer.group_add(group, self._channel)
                    self._subscribed.set()
                    if failing:
                        logger.info("node %s is listening on the channel layer again", self.node_id)
                    failing = False
                message = await layer.receive(self._channel)
                await self._handle(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failing:
                    logger.error("node %s channel-layer listener failed: %s", self.node_id, exc)
                failing = True
                self._channel = None
                self._subscribed.clear()
                await asyncio.sleep(1)

    async def _handle(self, message: dict) -> None:
        if message.get("origin") == self.node_id:
            return  # delivered locally already
        kind = message.get("type")
        if kind == "mcp.event":
            event = fanout.event_from_layer(message)
            await fanout.hub.deliver(message["session"], event.stream, event)
        elif kind == "mcp.end_session":
            from .running import running

            running.cancel_session(message["session"])
            await fanout.hub.end_session(message["session"], message.get("reason", ""))
        elif kind == "mcp.cancel":
            from .running import running

            running.cancel(message["session"], message["request_id"])

    def _join_stream(self, session_id: str, stream: str) -> None:
        group = fanout.stream_group(session_id, stream)
        self._groups.add(group)
        if self._channel is not None:
            asyncio.get_running_loop().create_task(self._group_call("group_add", group))

    def _leave_stream(self, session_id: str, stream: str) -> None:
        group = fanout.stream_group(session_id, stream)
        self._groups.discard(group)
        if self._channel is not None:
            asyncio.get_running_loop().create_task(self._group_call("group_discard", group))

    async def _group_call(self, method: str, group: str) -> None:
        channel = self._channel
        if channel is None:
            return  # the listener re-adds every group when it reconnects
        try:
            await getattr(get_channel_layer(), method)(group, channel)
        except Exception as exc:
            logger.warning("%s %s failed: %s", method, group, exc)

    def broadcast_soon(self, message: dict) -> None:
        """broadcast() in a task of its own, not tied to the HTTP exchange that asked for it."""
        task = asyncio.get_running_loop().create_task(self.broadcast(message))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def broadcast(self, message: dict) -> None:
        """Tell every other node (cancel a request, end a session's streams)."""
        if not fanout.layer_is_shared():
            return
        try:
            await get_channel_layer().group_send(NODES_GROUP, {**message, "origin": self.node_id})
        except Exception as exc:
            logger.warning("broadcasting %s failed: %s", message.get("type"), exc)


node = Node()


async def owner_alive(session_id: str, stream: str, owner: str | None) -> bool:
    """Is the request behind a stream still running somewhere?"""
    from .running import running

    if owner is None or owner == settings.MCP_NODE_ID:
        return running.stream_running(session_id, stream)
    return await node_alive(owner)
