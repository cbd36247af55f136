"""Offerings of an installed app, found by autodiscovery (used by tests/test_registry.py)."""

import asyncio
import threading
from typing import Annotated

from pydantic import Field

from sessions_app.models import McpSession
from tools_app.registry import ToolContext, ToolError, registry
from tools_app.resources import ResourceNotFound


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        return False


@registry.tool(description="Counts this server's sessions with the ORM, from sync code")
def count_sessions(ctx: ToolContext, label: Annotated[str, Field(min_length=1)]) -> str:
    count = McpSession.objects.count()  # sync ORM: fails on the event loop
    return f"{label}: {count} sessions, on loop: {_on_loop()}, thread: {threading.current_thread().name}"


@registry.tool(description="Fails the way a tool author would")
async def refuse(reason: str) -> str:
    raise ToolError(f"refused: {reason}")


@registry.tool(description="Crashes with an unexpected exception")
async def crash() -> str:
    raise KeyError("boom")


@registry.tool(description="Waits until cancelled, reporting whether it saw the cancellation")
async def wait_for_cancel(ctx: ToolContext) -> str:
    try:
        await asyncio.sleep(30)
    finally:
        await ctx.log("info", f"cancelled={ctx.cancelled}")
    return "never"


@registry.resource("notes://{day}", mime_type="application/json", complete={"day": ["today", "tomorrow"]})
def notes(ctx: ToolContext, day: str) -> dict:
    if day not in ("today", "tomorrow"):
        raise ResourceNotFound(day)
    return {"day": day, "sessions": McpSession.objects.count(), "on_loop": _on_loop()}


@registry.prompt(description="Summarise a text", complete={"style": ["short", "long"]})
def summarise(text: str, style: str | None = None) -> str:
    return f"Summarise this in a {style or 'short'} style: {text}"


@registry.tool(description="Answers with a value JSON cannot carry, as a careless tool might")
async def unencodable() -> list:
    return [{"type": "text", "text": "fine", "_meta": {"tags": {"a", "b"}}}]
