"""Host and Origin validation in front of /mcp, against DNS rebinding.

A Host outside `allowed_hosts` (Django's ALLOWED_HOSTS patterns) gets 421; a present Origin that
is neither a localhost origin nor in `allowed_origins` ("*" for any) gets 403, the 2025-11-25 rule
for a present-but-invalid Origin. A request without Origin is not from a browser and passes.

An Origin must be a serialized origin, `scheme://host[:port]` (RFC 6454 section 6.2): no userinfo,
path, query, fragment, backslash or space. Anything else is refused, even with "*": a URL-ish value
such as `http://evil.com\\@localhost` is read differently by different parsers.
"""

from __future__ import annotations

import logging
import re

from django.http.request import split_domain_port, validate_host

from sessions_app.wire.jsonrpc import INVALID_REQUEST, HttpError

from .headers import ASGIApp, Receive, Scope, Send, header_map
from .responses import send_error

logger = logging.getLogger(__name__)

LOCAL_HOSTNAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_SERIALIZED_ORIGIN = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<host>[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{1,5}))?",
    re.ASCII | re.IGNORECASE,
)


def parse_origin(value: str) -> tuple[str, str] | None:
    """(scheme, hostname) of a serialized origin, lower-cased, brackets of an IPv6 host removed; else None."""
    match = _SERIALIZED_ORIGIN.fullmatch(value)
    if match is None or (match["port"] is not None and int(match["port"]) > 65535):
        return None
    host = match["host"].lower()
    return match["scheme"].lower(), host[1:-1] if host.startswith("[") else host


def _string_list(name: str, value: list[str]) -> list[str]:
    # A bare string would be read as a list of one-character patterns.
    if isinstance(value, str) or not all(isinstance(item, str) for item in value):
        raise TypeError(f"{name} must be a list of strings, not {value!r}")
    return list(value)


class HostOriginGuard:
    def __init__(self, app: ASGIApp, *, allowed_hosts: list[str], allowed_origins: list[str]) -> None:
        self.app = app
        self.allowed_hosts = _string_list("allowed_hosts", allowed_hosts)
        self.allowed_origins = frozenset(_string_list("allowed_origins", allowed_origins))
        self.any_origin = "*" in self.allowed_origins

    def host_allowed(self, host: str) -> bool:
        # Django's pattern: host[:port] only, so userinfo ("u@host"), paths and spaces give no domain.
        domain, port = split_domain_port(host)
        port_ok = not port or int(port) <= 65535
        return bool(domain) and port_ok and validate_host(domain, self.allowed_hosts)

    def origin_allowed(self, origin: str) -> bool:
        if origin in self.allowed_origins and origin != "*":
            return True  # listed verbatim (e.g. "null", if an operator chooses to)
        parsed = parse_origin(origin)
        if parsed is None:
            return False
        scheme, hostname = parsed
        return self.any_origin or (scheme in {"http", "https"} and hostname in LOCAL_HOSTNAMES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = header_map(scope)
        host = headers.get("host", "")
        if not self.host_allowed(host):
            logger.warning("refused %s %s: Host %r is not allowed", scope["method"], scope["path"], host[:100])
            await send_error(send, HttpError(421, INVALID_REQUEST, "Misdirected Request: Invalid Host header"))
            return
        origin = headers.get("origin")
        if origin is not None and not self.origin_allowed(origin):
            logger.warning("refused %s %s: Origin %r is not allowed", scope["method"], scope["path"], origin[:100])
            await send_error(send, HttpError(403, INVALID_REQUEST, "Forbidden: Origin not allowed"))
            return
        await self.app(scope, receive, send)
