"""The relay tells other nodes of a change once per send, however many times it changed meanwhile.

Every calculation changes calculator://stats, and listen streams on every node must hear of it: one broadcast
per calculation was a Redis PUBLISH (and, on every node, a message to decode) per call. A signal queued again
before the last one went out is the same signal, so it is not queued twice; one queued after it went is sent.
Here on the in-memory channel layer, which the relay talks to as it does to Redis.
"""

from __future__ import annotations

import asyncio

from channels.layers import get_channel_layer

from sessions_app.runtime.relay import NODES_GROUP, Relay


async def received(layer, channel: str) -> list[dict]:
    messages = []
    while True:
        try:
            messages.append(await asyncio.wait_for(layer.receive(channel), 0.2))
        except TimeoutError:
            return messages


async def test_a_change_signalled_many_times_before_the_send_goes_once_and_a_later_one_again():
    layer = get_channel_layer()
    channel = await layer.new_channel("test.")
    await layer.group_add(NODES_GROUP, channel)
    relay = Relay(enabled=True, node_id="n1")

    for _ in range(50):
        relay.signal_soon({"type": "mcp.listen_change", "kind": "resource", "uri": "calculator://stats"})
    relay.signal_soon({"type": "mcp.listen_change", "kind": "tools", "uri": None})
    await relay.flush(5)
    first = await received(layer, channel)
    assert [(m["kind"], m["uri"], m["origin"]) for m in first] == [
        ("resource", "calculator://stats", "n1"),
        ("tools", None, "n1"),
    ]

    relay.signal_soon({"type": "mcp.listen_change", "kind": "resource", "uri": "calculator://stats"})
    await relay.flush(5)
    assert [m["uri"] for m in await received(layer, channel)] == ["calculator://stats"]
