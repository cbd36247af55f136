"""Host and Origin validation in front of /mcp, against DNS rebinding.

A Host outside `allowed_hosts` (Django's ALLOWED_HOSTS patterns) gets 421; a present Origin that
is neither a localhost origin nor in `allowed_origins` ("*" for any) gets 403, the 2025-11-25 rule
for a present-but-invalid Origin. A request without Origin is not from a browser and passes.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.http.request import split_domain_port, validate_host

from sessions_app.wire.jsonrpc import INVALID_REQUEST, HttpError

from .headers import ASGIApp, Receive, Scope, Send, header_map
from .responses import send_error

logger = logging.getLogger(__name__)

LOCAL_HOSTNAMES = frozenset({"localhost", "127.0.0.1", "::1"})


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
        domain, _port = split_domain_port(host)
        return bool(domain) and validate_host(domain, self.allowed_hosts)

    def origin_allowed(self, origin: str) -> bool:
        if self.any_origin or origin in self.allowed_origins:
            return True
        try:
            parts = urlsplit(origin)
            hostname = parts.hostname
        except ValueError:
            return False
        return parts.scheme in {"http", "https"} and hostname in LOCAL_HOSTNAMES

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
