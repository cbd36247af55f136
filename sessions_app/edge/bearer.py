"""`BearerAuth`: /mcp as an OAuth 2.0 protected resource (the MCP authorization specification).

Every request but a CORS preflight must carry `Authorization: Bearer <token>`. The token is checked
by the `verifier` handed in (the built-in authorization server's database, a JWKS, or an
introspection endpoint: this module knows none of them) against this resource's identifier
(RFC 8707). Refusals, answered here so nothing behind runs or stores anything:

- no Bearer credential: 401 with `WWW-Authenticate: Bearer resource_metadata="..."` (RFC 9728);
- a malformed Bearer header: 400 `invalid_request`;
- an unknown, expired, revoked token, or one issued for another resource: 401 `invalid_token`;
- a token without the required scopes: 403 `insufficient_scope` with `scope="..."`.

An accepted request goes on with the `Principal` in a copy of the scope, under "auth" (the caller's
scope is not written to).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from sessions_app.wire.bearer import MalformedAuthorization, bearer_token, challenge, metadata_url, resource_url
from sessions_app.wire.jsonrpc import INVALID_REQUEST, HttpError

from .headers import ASGIApp, Receive, Scope, Send, header_map
from .responses import send_error

logger = logging.getLogger(__name__)

SCOPE_KEY = "auth"


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: a stable `subject` (sessions are bound to it), the token's scopes, and
    the verifier's user object (a Django user; this layer does not look inside it)."""

    subject: str
    scopes: frozenset[str] = frozenset()
    user: Any = None
    client_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


class InvalidToken(Exception):
    """The token is unknown, expired, revoked, or not for this resource; the message says which."""


class TokenVerifier(Protocol):
    async def verify(self, token: str, resource: str) -> Principal: ...


def subject_of(principal: Principal | None) -> str:
    """Who a request comes from, as sessions and request states are bound to it ("" when /mcp is open)."""
    return principal.subject if principal is not None else ""


def principal_of(scope: Scope) -> Principal | None:
    """The principal BearerAuth accepted for this request; None when /mcp is not protected."""
    return scope.get(SCOPE_KEY)


class BearerAuth:
    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: TokenVerifier,
        resource: str | None = None,
        resource_path: str = "/mcp",
        required_scopes: list[str] | tuple[str, ...] = (),
    ) -> None:
        """`resource`: this server's resource identifier; None derives it from each request's scheme and Host
        (plus `resource_path`). `required_scopes`: what every token must carry (403 otherwise)."""
        self.app = app
        self.verifier = verifier
        self.resource = resource
        self.resource_path = resource_path
        self.required_scopes = frozenset(required_scopes)
        self.scope_text = " ".join(sorted(self.required_scopes))

    def resource_for(self, scope: Scope, headers: dict[str, str]) -> str:
        if self.resource is not None:
            return self.resource
        return resource_url(scope.get("scheme", "http"), headers.get("host", "localhost"), self.resource_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") == "OPTIONS":  # preflights carry no credentials
            await self.app(scope, receive, send)
            return
        headers = header_map(scope)
        resource = self.resource_for(scope, headers)
        try:
            token = bearer_token(headers.get("authorization"))
        except MalformedAuthorization as exc:
            await self.refuse(scope, send, resource, 400, "invalid_request", str(exc))
            return
        if token is None:
            await self.refuse(scope, send, resource, 401, None, "Unauthorized: a Bearer token is required")
            return
        try:
            principal = await self.verifier.verify(token, resource)
        except InvalidToken as exc:
            await self.refuse(scope, send, resource, 401, "invalid_token", str(exc))
            return
        if not self.required_scopes <= principal.scopes:
            await self.refuse(scope, send, resource, 403, "insufficient_scope", f"the token needs {self.scope_text}")
            return
        await self.app({**scope, SCOPE_KEY: principal}, receive, send)

    async def refuse(
        self, scope: Scope, send: Send, resource: str, status: int, error: str | None, description: str
    ) -> None:
        logger.info("refused %s %s: %d %s", scope.get("method"), scope.get("path"), status, description[:200])
        value = challenge(
            metadata_url(resource),
            error=error,
            description=description if error else None,
            scope=self.scope_text or None,
        )
        data = {"error": error, "error_description": description} if error else None
        await send_error(send, HttpError(status, INVALID_REQUEST, description, data, {"WWW-Authenticate": value}))
