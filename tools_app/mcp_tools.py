"""The notification stream of the reference server, and the optional sample tool (the calculator is its own app)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from django.conf import settings
from pydantic import Field, WithJsonSchema

from .registry import ToolContext, registry

NOTIFICATION_LOGGER = "notification_stream"
TEST_RESOURCE_URI = "http:///test_resource"
# Bounds of one call's work: at most this many notifications, this long between two.
MAX_NOTIFICATIONS = 10_000
MAX_INTERVAL_SECONDS = 60


@registry.tool(
    "start-notification-stream",
    description="Sends a stream of notifications with configurable count and interval",
)
async def start_notification_stream(
    ctx: ToolContext,
    interval: Annotated[
        float, Field(ge=0, le=MAX_INTERVAL_SECONDS, description="Interval between notifications in seconds")
    ],
    count: Annotated[
        int | float,
        Field(ge=0, le=MAX_NOTIFICATIONS),
        WithJsonSchema({"type": "number", "description": "Number of notifications to send"}),
    ],
    caller: Annotated[str, Field(description="Identifier of the caller to include in notifications")],
) -> str:
    # Printed as the seed server prints them: interval as a float, count as sent.
    i = 1
    while i <= count:
        await ctx.log(
            "info",
            f"[{i}/{count}] Event from '{caller}' - Use Last-Event-ID to resume if disconnected",
            logger=NOTIFICATION_LOGGER,
        )
        if i < count:
            await asyncio.sleep(interval)
        i += 1
    await ctx.resource_updated(TEST_RESOURCE_URI)
    return f"Sent {count} notifications with {interval}s interval for caller: {caller}"


if settings.SAMPLE_TOOL_NAME:

    @registry.tool(settings.SAMPLE_TOOL_NAME, description="Sample educational tool for learning MCP concepts")
    async def sample_tool(value: Annotated[str, Field(description="Value to print")]) -> str:
        return f"test string print: {value}"
