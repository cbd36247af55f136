"""Resources: fixed URIs and URI templates (RFC 6570 level 1, `{name}` segments)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sessions_app.runtime.context import ToolContext

from .access import Guard
from .invoke import call_user_function

_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

Completer = Callable[[ToolContext, str], Any] | list[str]


class ResourceNotFound(Exception):
    """Raised by a resource function when its URI names nothing (this session may read)."""


def contents(uri: str, mime_type: str | None, value: Any) -> list[dict[str, Any]]:
    """Turn what a resource function returned into `contents` entries."""
    if isinstance(value, list) and value and all(isinstance(item, dict) and "uri" in item for item in value):
        return value
    entry: dict[str, Any] = {"uri": uri}
    if mime_type:
        entry["mimeType"] = mime_type
    if isinstance(value, bytes):
        entry["blob"] = base64.b64encode(value).decode()
    elif isinstance(value, str):
        entry["text"] = value
    else:
        entry["text"] = json.dumps(value, indent=2, ensure_ascii=False)
    return [entry]


def with_optional(entry: dict[str, Any], offering: Resource | ResourceTemplate) -> dict[str, Any]:
    """A definition with the optional keys an offering has values for."""
    for key, value in (
        ("title", offering.title),
        ("description", offering.description),
        ("mimeType", offering.mime_type),
    ):
        if value:
            entry[key] = value
    return entry


@dataclass
class Resource:
    uri: str
    name: str
    fn: Callable[..., Any]
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    session_scoped: bool = False  # its meaning is "this session": not offered to stateless requests
    cache: dict[str, Any] | None = None  # resources/read caching hints (2026-07-28): ttlMs, cacheScope
    guard: Guard | None = None  # the permission and scopes a caller needs (tools_app.access)

    def definition(self) -> dict[str, Any]:
        return with_optional({"uri": self.uri, "name": self.name}, self)

    async def read(self, ctx: ToolContext, uri: str) -> list[dict[str, Any]]:
        return contents(uri, self.mime_type, await call_user_function(self.fn, ctx))


@dataclass
class ResourceTemplate:
    uri_template: str
    name: str
    fn: Callable[..., Any]
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    complete: dict[str, Completer] = field(default_factory=dict)
    session_scoped: bool = False
    cache: dict[str, Any] | None = None
    guard: Guard | None = None
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex, last = "", 0
        for match in _VARIABLE.finditer(self.uri_template):
            regex += re.escape(self.uri_template[last : match.start()]) + f"(?P<{match.group(1)}>[^/?#]+)"
            last = match.end()
        self.pattern = re.compile(regex + re.escape(self.uri_template[last:]) + r"\Z")

    def match(self, uri: str) -> dict[str, str] | None:
        found = self.pattern.match(uri)
        return found.groupdict() if found else None

    def definition(self) -> dict[str, Any]:
        return with_optional({"uriTemplate": self.uri_template, "name": self.name}, self)

    async def read(self, ctx: ToolContext, uri: str, variables: dict[str, str]) -> list[dict[str, Any]]:
        return contents(uri, self.mime_type, await call_user_function(self.fn, ctx, **variables))
