"""The subscriptions/listen streams this node holds, and the changes that reach them from any node.

A change (`tools`, `prompts`, `resources` list changed, or `resource` updated with its URI) is
published once: fanned out to this node's listen streams, and broadcast on the relay so every other
node fans it out to its own. Nothing is stored: listen has no replay (clients re-listen and refetch).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from .relay import relay

logger = logging.getLogger(__name__)

LISTEN_CHANGE = "mcp.listen_change"
CHANGE_KINDS = ("tools", "prompts", "resources", "resource")


class ListenStream(Protocol):
    async def change(self, kind: str, uri: str | None) -> None: ...

    async def close(self, retry_ms: int | None = None) -> None: ...


class ListenRegistry:
    def __init__(self) -> None:
        self._streams: set[ListenStream] = set()

    def add(self, stream: ListenStream) -> None:
        self._streams.add(stream)

    def discard(self, stream: ListenStream) -> None:
        self._streams.discard(stream)

    def count(self) -> int:
        return len(self._streams)

    async def fan_out(self, kind: str, uri: str | None) -> None:
        for stream in list(self._streams):
            try:
                await stream.change(kind, uri)
            except Exception as exc:  # one broken stream must not starve the others
                logger.warning("listen stream delivery failed: %s", exc)

    async def close_all(self) -> int:
        streams = list(self._streams)
        for stream in streams:
            await stream.close()
        return len(streams)


listeners = ListenRegistry()


async def publish_change(kind: str, uri: str | None = None) -> None:
    """A change every listen stream that asked for it must hear, on every node (the others' by the relay's
    sender, which tells changes queued again before it went once)."""
    await listeners.fan_out(kind, uri)
    relay.signal_soon({"type": LISTEN_CHANGE, "kind": kind, "uri": uri})


async def on_listen_change(message: dict[str, Any]) -> None:
    """The relay's handler for LISTEN_CHANGE from another node."""
    kind, uri = message.get("kind"), message.get("uri")
    if kind in CHANGE_KINDS:
        await listeners.fan_out(kind, uri if isinstance(uri, str) else None)
