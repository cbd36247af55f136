"""The ASGI types this package is written against, and read-only access to a request's headers.

`header_map` parses scope["headers"] on every call and writes nothing back: a cache in the scope
would be shared state between layers that no signature shows, for a saving of microseconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from sessions_app.wire.versions import CONTENT_TYPE_JSON, CONTENT_TYPE_SSE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def header_map(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name; a repeated header's values joined with ", "."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def accepts(headers: dict[str, str]) -> tuple[bool, bool]:
    """(accepts JSON, accepts SSE), with wildcards counted."""
    media = {part.split(";")[0].strip().lower() for part in headers.get("accept", "").split(",")}
    wildcard = "*/*" in media
    return (
        wildcard or CONTENT_TYPE_JSON in media or "application/*" in media,
        wildcard or CONTENT_TYPE_SSE in media or "text/*" in media,
    )


def is_json_content(headers: dict[str, str]) -> bool:
    return headers.get("content-type", "").split(";")[0].strip().lower() == CONTENT_TYPE_JSON
