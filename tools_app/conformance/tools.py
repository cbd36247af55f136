"""The conformance suite's fixture tools (names and texts from its scenarios' descriptions).

Used at both revisions: test_simple_text, test_image_content, test_audio_content,
test_embedded_resource, test_multiple_content_types, test_error_handling,
test_tool_with_progress, json_schema_2020_12_tool, test_x_mcp_header.
2025-11-25 (stateful): test_tool_with_logging, test_reconnection.
2026-07-28 diagnostics (server-stateless): test_missing_capability,
test_streaming_elicitation, test_logging_tool, test_trigger_tool_change,
test_trigger_prompt_change. They run in the stateful era too, as documented on each.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from pydantic import Field

from sessions_app.runtime import notifications
from tools_app.registry import ToolContext, ToolError, registry

from .media import RED_PIXEL_PNG_B64, SILENCE_WAV_B64

STEP_PAUSE_SECONDS = 0.05  # "about 50 ms apart" (tools-call-with-logging, tools-call-with-progress)
RECONNECT_PAUSE_SECONDS = 0.2  # test_reconnection: time for the client to come back

IMAGE = {"type": "image", "data": RED_PIXEL_PNG_B64, "mimeType": "image/png"}

# json-schema-2020-12: the suite's own fixture schema, listed byte for byte (SEP-1613, SEP-2106).
JSON_SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


@registry.tool(description="Returns a simple text response")
async def test_simple_text() -> str:
    return "This is a simple text response for testing."


@registry.tool(description="Returns an image (a 1x1 red PNG)")
async def test_image_content() -> list[dict[str, Any]]:
    return [IMAGE]


@registry.tool(description="Returns audio (a short silent WAV)")
async def test_audio_content() -> list[dict[str, Any]]:
    return [{"type": "audio", "data": SILENCE_WAV_B64, "mimeType": "audio/wav"}]


@registry.tool(description="Returns an embedded text resource")
async def test_embedded_resource() -> list[dict[str, Any]]:
    text = "This is an embedded resource content."
    resource = {"uri": "test://embedded-resource", "mimeType": "text/plain", "text": text}
    return [{"type": "resource", "resource": resource}]


@registry.tool(description="Returns text, an image and an embedded resource")
async def test_multiple_content_types() -> list[dict[str, Any]]:
    data = json.dumps({"test": "data", "value": 123}, separators=(",", ":"))
    resource = {"uri": "test://mixed-content-resource", "mimeType": "application/json", "text": data}
    return [{"type": "text", "text": "Multiple content types test:"}, IMAGE, {"type": "resource", "resource": resource}]


@registry.tool(description="Always answers an error result")
async def test_error_handling() -> str:
    raise ToolError("This tool intentionally returns an error for testing")


@registry.tool(description="Reports progress 0, 50 and 100 of 100 when the request has a progressToken")
async def test_tool_with_progress(ctx: ToolContext) -> str:
    for step, progress in enumerate((0, 50, 100)):
        if step:
            await asyncio.sleep(STEP_PAUSE_SECONDS)
        await ctx.progress(progress, 100, f"Completed step {progress} of 100")
    return f"Progress test completed (token {ctx.progress_token!r})"


@registry.tool(description="Sends three log messages at info level while it runs")
async def test_tool_with_logging(ctx: ToolContext) -> str:
    await _three_logs(ctx)
    return "Logging test completed: sent 3 log messages"


@registry.tool(description="Sends log messages; in 2026-07-28 only when the request's _meta has a logLevel")
async def test_logging_tool(ctx: ToolContext) -> str:
    await _three_logs(ctx)
    return "Logging tool completed"


async def _three_logs(ctx: ToolContext) -> None:
    for step, text in enumerate(("Tool execution started", "Tool processing data", "Tool execution completed")):
        if step:
            await asyncio.sleep(STEP_PAUSE_SECONDS)
        await ctx.log("info", text)


@registry.tool(
    description="Tool with JSON Schema 2020-12 features",
    input_schema=JSON_SCHEMA_2020_12,
)
async def json_schema_2020_12_tool(**arguments: Any) -> str:
    return "Received: " + json.dumps(arguments, sort_keys=True, separators=(",", ":"))


@registry.tool(description="Echoes its Region argument, which clients mirror in the Mcp-Param-Region header")
async def test_x_mcp_header(
    region: Annotated[str, Field(description="A region", json_schema_extra={"x-mcp-header": "Region"})] = "<none>",
) -> str:
    return f"Region: {region}"


@registry.tool(
    description="Logs, closes its SSE stream mid-call (2025-11-25, SEP-1699), then logs and answers after "
    "the client resumes with Last-Event-ID"
)
async def test_reconnection(ctx: ToolContext) -> str:
    await ctx.log("info", "Before disconnect")
    await ctx.close_stream()
    await asyncio.sleep(RECONNECT_PAUSE_SECONDS)
    await ctx.log("info", "After reconnect")
    return "Reconnection test completed"


@registry.tool(
    description="Needs the client's sampling capability: without it, error -32021", requires={"sampling": {}}
)
async def test_missing_capability(ctx: ToolContext) -> str:
    # Checked before the call from `requires` (tools_app.handlers): 400/-32021 in 2026-07-28, the
    # same error in the stateful era, where the capabilities come from initialize.
    return "The client declared the sampling capability"


@registry.tool(
    description="Streams only notifications related to the call before its result (the server-stateless stream check)"
)
async def test_streaming_elicitation(ctx: ToolContext) -> str:
    for progress in (1, 2, 3):
        await ctx.progress(progress, 3, f"Streaming step {progress} of 3")
        await asyncio.sleep(STEP_PAUSE_SECONDS)
    return "Streaming completed"


# The trigger tools below send list_changed: advertise it.
registry.announce_list_changes("tools", "prompts")


@registry.tool(description="Announces notifications/tools/list_changed")
async def test_trigger_tool_change(ctx: ToolContext) -> str:
    await notifications.tools_list_changed()  # listen streams (2026-07-28), on every node
    await ctx.notify_session("notifications/tools/list_changed")  # this session's GET stream
    return "Sent notifications/tools/list_changed"


@registry.tool(description="Announces notifications/prompts/list_changed")
async def test_trigger_prompt_change(ctx: ToolContext) -> str:
    await notifications.prompts_list_changed()
    await ctx.notify_session("notifications/prompts/list_changed")
    return "Sent notifications/prompts/list_changed"
