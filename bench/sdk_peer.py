"""The official Python SDK's own Streamable HTTP server (MCPServer under uvicorn), for bench/memory.py and
bench/compare.py.

It offers the same `start-notification-stream` and `calculate` tools as mcpsite (for `calculate`, the same
arguments and answer text), in stateful SSE mode, with the SDK's in-memory event store.

    uv run python bench/sdk_peer.py PORT [--event-store] [--no-session-cap]
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections import deque

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId


class InMemoryEventStore(EventStore):
    """The SDK's example event store: the last 100 events of each stream, in memory."""

    def __init__(self, per_stream: int = 100) -> None:
        self.per_stream = per_stream
        self.streams: dict[StreamId, deque] = {}
        self.index: dict[EventId, tuple[StreamId, object]] = {}
        self.ids = itertools.count(1)

    async def store_event(self, stream_id: StreamId, message) -> EventId:
        event_id = str(next(self.ids))
        events = self.streams.setdefault(stream_id, deque())
        if len(events) == self.per_stream:
            self.index.pop(events.popleft(), None)
        events.append(event_id)
        self.index[event_id] = (stream_id, message)
        return event_id

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        if last_event_id not in self.index:
            return None
        stream_id, _ = self.index[last_event_id]
        after = False
        for event_id in self.streams.get(stream_id, ()):
            if after and self.index[event_id][1] is not None:
                await send_callback(EventMessage(self.index[event_id][1], event_id))
            after = after or event_id == last_event_id
        return stream_id


server = MCPServer("sdk-peer")
OPERATIONS = {"add": float.__add__, "subtract": float.__sub__, "multiply": float.__mul__}


@server.tool(name="start-notification-stream")
async def start_notification_stream(interval: float, count: int, caller: str, ctx: Context) -> str:
    for i in range(1, count + 1):
        await ctx.info(f"[{i}/{count}] Event from '{caller}' - Use Last-Event-ID to resume if disconnected")
        if i < count:
            await asyncio.sleep(interval)
    return f"Sent {count} notifications with {interval}s interval for caller: {caller}"


@server.tool(name="calculate", description="Performs arithmetic calculations")
async def calculate(a: float, b: float, op: str) -> str:
    if op == "divide":
        if b == 0:
            raise ValueError("Division by zero")
        result = a / b
    else:
        result = OPERATIONS[op](float(a), float(b))
    return f"{a:g} {op} {b:g} = {result:g}"


if __name__ == "__main__":
    store = InMemoryEventStore() if "--event-store" in sys.argv[2:] else None
    cap = {"max_sessions": None} if "--no-session-cap" in sys.argv[2:] else {}  # initialize benchmarks
    app = server.streamable_http_app(event_store=store, **cap)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
