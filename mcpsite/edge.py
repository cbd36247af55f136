"""ASGI middleware in front of the /mcp consumer (Django middleware does not run for consumers).

Host and Origin validation against DNS rebinding: a Host outside ALLOWED_HOSTS
gets 421, a present Origin that is neither a localhost origin nor listed in
MCP_ALLOWED_ORIGINS gets 403 (the 2025-11-25 rule for a present-but-invalid Origin).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from sessions_app.httpio import header_map, send_error
from sessions_app.jsonrpc import INVALID_REQUEST, HttpError

logger = logging.getLogger(__name__)

LOCAL_HOSTNAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def host_allowed(host: str) -> bool:
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def origin_allowed(origin: str) -> bool:
    allowed = settings.MCP_ALLOWED_ORIGINS
    if "*" in allowed or origin in allowed:
        return True
    try:
        parts = urlsplit(origin)
        hostname = parts.hostname
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and hostname in LOCAL_HOSTNAMES


class EdgeGuard:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = header_map(scope)
        host = headers.get("host", "")
        if not host_allowed(host):
            logger.warning("refused %s %s: Host %r is not allowed", scope["method"], scope["path"], host[:100])
            return await send_error(send, HttpError(421, INVALID_REQUEST, "Misdirected Request: Invalid Host header"))
        origin = headers.get("origin")
        if origin is not None and not origin_allowed(origin):
            logger.warning("refused %s %s: Origin %r is not allowed", scope["method"], scope["path"], origin[:100])
            return await send_error(send, HttpError(403, INVALID_REQUEST, "Forbidden: Origin not allowed"))
        return await self.app(scope, receive, send)
