"""CORS for /mcp (Django's middleware, and so django-cors-headers, does not run for consumers).

`origins` names the origins browsers may call /mcp from ("*" for any that passed Origin
validation). Preflights are answered here; every response to an allowed origin gets the allow and
expose headers, so a browser client can read Mcp-Session-Id, and `Vary: Origin` merged into the
response's own Vary so that caches keep one answer per origin.
"""

from __future__ import annotations

from .headers import ASGIApp, Message, Receive, Scope, Send, header_map

Headers = list[tuple[bytes, bytes]]

ALLOW_METHODS = b"GET, POST, DELETE, OPTIONS"
ALLOW_HEADERS = b"Content-Type, Accept, Authorization, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID"
EXPOSE_HEADERS = (
    b"Mcp-Session-Id, MCP-Protocol-Version, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, "
    b"RateLimit-Policy, WWW-Authenticate"
)
MAX_EXTRA_HEADERS = 20


def merge_vary(headers: Headers) -> Headers:
    """`headers` with Origin in its Vary: added to the first Vary header, or as one if there is none."""
    at = [i for i, (name, _value) in enumerate(headers) if name.lower() == b"vary"]
    if not at:
        return [*headers, (b"vary", b"Origin")]
    tokens = {token.strip().lower() for i in at for token in headers[i][1].split(b",")}
    if b"origin" in tokens or b"*" in tokens:
        return list(headers)
    merged = list(headers)
    name, value = merged[at[0]]
    merged[at[0]] = (name, value + b", Origin")
    return merged


def _allowed_headers(headers: dict[str, str]) -> bytes:
    """The MCP headers, plus whatever else the preflight asks for (an allowed origin may send its own)."""
    requested = headers.get("access-control-request-headers", "")
    extra = [h.strip() for h in requested.split(",") if h.strip() and h.strip().isascii()]
    return b", ".join([ALLOW_HEADERS, *(h.encode() for h in extra[:MAX_EXTRA_HEADERS])]) if extra else ALLOW_HEADERS


class Cors:
    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        # A bare string would be read as a list of one-character origins.
        if isinstance(origins, str) or not all(isinstance(origin, str) for origin in origins):
            raise TypeError(f"Cors origins must be a list of strings, not {origins!r}")
        self.app = app
        self.origins = frozenset(origins)
        self.any_origin = "*" in self.origins
        self.simple_headers: Headers = [(b"access-control-expose-headers", EXPOSE_HEADERS)]
        self.preflight_headers: Headers = [
            *self.simple_headers,
            (b"vary", b"Origin"),
            (b"access-control-allow-methods", ALLOW_METHODS),
        ]

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin in self.origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = header_map(scope)
        origin = headers.get("origin")
        allowed = origin is not None and self.allows(origin)
        if scope["method"] == "OPTIONS" and origin is not None and "access-control-request-method" in headers:
            if allowed:
                await self._preflight(send, origin, headers)
            else:
                await self._refuse_preflight(send)
            return
        if not allowed:
            await self.app(scope, receive, send)
            return
        allow_origin = (b"access-control-allow-origin", origin.encode("latin-1"))

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = [*message.get("headers", []), allow_origin, *self.simple_headers]
                message = {**message, "headers": merge_vary(own)}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, send: Send, origin: str, headers: dict[str, str]) -> None:
        response_headers = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            *self.preflight_headers,
            (b"access-control-allow-headers", _allowed_headers(headers)),
            (b"access-control-max-age", b"86400"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": response_headers})
        await send({"type": "http.response.body", "body": b""})

    async def _refuse_preflight(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 403, "headers": [(b"vary", b"Origin")]})
        await send({"type": "http.response.body", "body": b""})
