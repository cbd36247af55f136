"""The conformance suite's fixture resources: static text and binary, a template, a watched resource."""

from __future__ import annotations

import json

from tools_app.registry import ToolContext, registry

from .media import RED_PIXEL_PNG

WATCHED_URI = "test://watched-resource"


@registry.resource("test://static-text", name="static-text", mime_type="text/plain")
async def static_text(ctx: ToolContext) -> str:
    """A static text resource for testing"""
    return "This is the content of the static text resource."


@registry.resource("test://static-binary", name="static-binary", mime_type="image/png")
async def static_binary(ctx: ToolContext) -> bytes:
    """A static binary resource (a 1x1 PNG) for testing"""
    return RED_PIXEL_PNG


@registry.resource("test://template/{id}/data", name="template-data", mime_type="application/json")
async def template_data(ctx: ToolContext, id: str) -> str:
    """A resource template with one parameter, id"""
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"}, separators=(",", ":"))


@registry.resource(WATCHED_URI, name="watched-resource", mime_type="text/plain")
async def watched_resource(ctx: ToolContext) -> str:
    """A resource clients may subscribe to (resources/subscribe)"""
    return "Watched resource content"
