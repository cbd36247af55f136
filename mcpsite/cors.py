"""CORS for /mcp (Django's middleware, and so django-cors-headers, does not run for consumers).

CORS_ORIGIN names the origins browsers may call /mcp from ("*" for any that
passed Origin validation). Preflights are answered here; every response gets
the allow and expose headers, so a browser client can read Mcp-Session-Id.
"""

from __future__ import annotations

from django.conf import settings

from sessions_app.httpio import header_map

ALLOW_METHODS = b"GET, POST, DELETE, OPTIONS"
ALLOW_HEADERS = b"Content-Type, Accept, Authorization, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID"
EXPOSE_HEADERS = (
    b"Mcp-Session-Id, MCP-Protocol-Version, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, "
    b"RateLimit-Policy"
)


def cors_allows(origin: str) -> bool:
    allowed = settings.CORS_ORIGIN
    return "*" in allowed or origin in allowed


def cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-expose-headers", EXPOSE_HEADERS),
        (b"vary", b"Origin"),
    ]


def _allowed_headers(headers: dict[str, str]) -> bytes:
    """The MCP headers, plus whatever else the preflight asks for (an allowed origin may send its own)."""
    requested = headers.get("access-control-request-headers", "")
    extra = [h.strip() for h in requested.split(",") if h.strip() and h.strip().isascii()]
    return b", ".join([ALLOW_HEADERS, *(h.encode() for h in extra[:20])]) if extra else ALLOW_HEADERS


class Cors:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = header_map(scope)
        origin = headers.get("origin")
        allowed = origin is not None and cors_allows(origin)
        if scope["method"] == "OPTIONS" and origin is not None and "access-control-request-method" in headers:
            if not allowed:
                await send({"type": "http.response.start", "status": 403, "headers": [(b"vary", b"Origin")]})
                await send({"type": "http.response.body", "body": b""})
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": cors_headers(origin)
                    + [
                        (b"access-control-allow-methods", ALLOW_METHODS),
                        (b"access-control-allow-headers", _allowed_headers(headers)),
                        (b"access-control-max-age", b"86400"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        if not allowed:
            return await self.app(scope, receive, send)

        async def send_with_cors(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + cors_headers(origin)}
            await send(message)

        return await self.app(scope, receive, send_with_cors)
