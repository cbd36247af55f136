"""The runtime's side of the stateless (2026-07-28) era: the envelope-derived state, method set, result shape.

A modern request has no session. Its `StatelessState` is made from the request's
`_meta` envelope, lives as long as the request, and is never stored: it stands
where a stateful request's `SessionState` stands, with `id` None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from ..wire.envelope import SERVER_INFO_KEY, Envelope

# The 2026-07-28 request set; anything else (initialize, ping, logging/setLevel,
# resources/subscribe, resources/unsubscribe, unknown methods) is 404 / -32601.
MODERN_METHODS = frozenset(
    {
        "server/discover",
        "subscriptions/listen",
        "tools/list",
        "tools/call",
        "prompts/list",
        "prompts/get",
        "resources/list",
        "resources/read",
        "resources/templates/list",
        "completion/complete",
    }
)

# Caching hints (SEP-2549) by method, unless the handler set its own (resources/read does, per resource).
# The lists are the same for every client (per-session resources are left out of the modern era), so
# they are public; they change only with a deployment, so a minute is safe. discover likewise.
PUBLIC_MINUTE = {"ttlMs": 60_000, "cacheScope": "public"}
CACHE_HINTS: dict[str, dict[str, Any]] = {
    "server/discover": PUBLIC_MINUTE,
    "tools/list": PUBLIC_MINUTE,
    "prompts/list": PUBLIC_MINUTE,
    "resources/list": PUBLIC_MINUTE,
    "resources/templates/list": PUBLIC_MINUTE,
    "resources/read": {"ttlMs": 0, "cacheScope": "private"},
}


@dataclass(slots=True)
class StatelessState:
    """A modern request's client, from its envelope: what a session would say, never stored."""

    protocol_version: str
    client_capabilities: dict[str, Any] = field(default_factory=dict)
    client_name: str = ""
    client_version: str = ""
    log_level: str | None = None  # None: no notifications/message at all (the 2026 rule)
    id: None = None
    live: bool = True

    @classmethod
    def from_envelope(cls, version: str, envelope: Envelope) -> StatelessState:
        return cls(
            version, envelope.client_capabilities, envelope.client_name, envelope.client_version, envelope.log_level
        )


def server_info() -> dict[str, str]:
    return {"name": settings.MCP_SERVER_NAME, "version": settings.MCP_SERVER_VERSION}


def shape_result(method: str, result: dict[str, Any]) -> dict[str, Any]:
    """Every modern result: resultType, the caching hints where required, serverInfo in _meta."""
    complete = result.get("resultType", "complete") == "complete"  # input_required carries no caching hints
    shaped = {**(CACHE_HINTS.get(method, {}) if complete else {}), **result}
    shaped.setdefault("resultType", "complete")
    meta = dict(shaped.get("_meta") or {})
    meta.setdefault(SERVER_INFO_KEY, server_info())
    shaped["_meta"] = meta
    return shaped


@dataclass
class ToolFacts:
    """What the stateless transport asks about a tool before running it; filled in by the registry's app."""

    input_schema: Callable[[str], dict[str, Any] | None] = lambda name: None
    required_capabilities: Callable[[str], dict[str, Any]] = lambda name: {}


tool_facts = ToolFacts()
